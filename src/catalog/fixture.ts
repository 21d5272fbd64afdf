/** The OpenRouter models snapshot shipped in fixtures/ (used by the simulator, `arb demo` and tests). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenRouterModel } from './types.js';

const FIXTURE_NAME = 'models-2026-05-01.json';

/** Path of the OpenRouter models snapshot shipped in fixtures/ (works from src/ and from dist/src/). */
export function fixtureModelsPath(): string {
  const candidates = [new URL(`../../fixtures/openrouter/${FIXTURE_NAME}`, import.meta.url), new URL(`../../../fixtures/openrouter/${FIXTURE_NAME}`, import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`OpenRouter models fixture not found (looked in ${candidates.join(', ')})`);
  return found;
}

let fixtureCache: OpenRouterModel[] | undefined;

/** The 371-model OpenRouter snapshot (a fresh deep copy each call). */
export function loadFixtureModels(): OpenRouterModel[] {
  if (!fixtureCache) {
    const parsed = JSON.parse(readFileSync(fixtureModelsPath(), 'utf8')) as { data: OpenRouterModel[] };
    fixtureCache = parsed.data;
  }
  return structuredClone(fixtureCache);
}
