export * from './keys.js';
export * from './passwords.js';
export * from './permissions.js';
export * from './rateLimit.js';
export * from './tokens.js';
export * from './documents.js';
