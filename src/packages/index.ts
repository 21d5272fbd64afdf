export * from './packages.js';
export * from './categories.js';
