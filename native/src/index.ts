export * from './bpf.js';
export * from './bpf-events.js';
export * from './fanotify.js';
