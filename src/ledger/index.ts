export * from './keys.js';
export * from './ledger.js';
export * from './audit.js';
