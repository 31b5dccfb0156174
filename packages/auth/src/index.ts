export * from './documents.js';
export * from './keys.js';
export * from './passwords.js';
export * from './permissions.js';
export * from './rateLimit.js';
export * from './tokens.js';
