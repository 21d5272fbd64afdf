export * from './database.js';
export * from './dialect.js';
