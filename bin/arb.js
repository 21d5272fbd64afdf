#!/usr/bin/env node
// The `arb` executable. Runs the compiled CLI from dist/ (built by `npm install` / `npm run build`) so a
// cold start does not compile TypeScript; falls back to the TypeScript sources through tsx when dist/ is
// missing or ARB_FROM_SOURCE=1 (tests and development).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'bin', 'main.js');
const fromDist = process.env.ARB_FROM_SOURCE !== '1' && existsSync(built);
// `arb --version` answers before the CLI (commander and every command group) is loaded: a third of its
// start-up (bench/cli.bench.ts); the text is commander's own
const args = process.argv.slice(2);
if (fromDist && args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  const { VERSION } = await import(pathToFileURL(join(root, 'dist', 'src', 'version.js')).href);
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}
let entry;
if (fromDist) {
  entry = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = await import(pathToFileURL(join(root, 'bin', 'main.ts')).href);
}
await entry.runCli(process.argv);
