export * from './codec.js';
export * from './controller.js';
export * from './enrollment.js';
export * from './errors.js';
export * from './inventory.js';
export * from './observation.js';
export * from './scan.js';
export * from './subjects.js';
