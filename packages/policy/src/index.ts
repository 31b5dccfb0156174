export * from './compile.js';
export * from './defaults.js';
export * from './diff.js';
export * from './enforcement.js';
export * from './evaluate.js';
export * from './ip.js';
export * from './learn.js';
export * from './select.js';
