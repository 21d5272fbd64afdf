/** The OpenRouter simulator (every protocol, faults, routing behaviour, a record of what it served): see ./simulator/index.ts. */
export * from './simulator/index.js';
