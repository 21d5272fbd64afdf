#!/usr/bin/env node
// The `arb` executable. Runs the compiled CLI from dist/ (built by `npm install` / `npm run build`) so a
// cold start does not compile TypeScript; falls back to the TypeScript sources through tsx when dist/ is
// missing or ARB_FROM_SOURCE=1 (tests and development).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'bin', 'main.js');
let entry;
if (process.env.ARB_FROM_SOURCE !== '1' && existsSync(built)) {
  entry = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = await import(pathToFileURL(join(root, 'bin', 'main.ts')).href);
}
await entry.runCli(process.argv);
