/**
 * Seed helpers for tests: the catalog from the OpenRouter fixture, and packages through the real
 * package service (so seeded rows are exactly what `arb package create` would store).
 */
import type { DbHandle } from '../../src/db/dialect.js';
import { createConfig, type Config } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import type { OpenRouterModel } from '../../src/catalog/types.js';
import { syncModels, type SyncReport } from '../../src/catalog/sync.js';
import { createPackage, type CreatePackageInput, type Package } from '../../src/packages/packages.js';

/** SPEC defaults (25 % markup, 10 % floor, 5 % bulk from 1M tokens, 30 days). */
export function defaultTestConfig(env: Record<string, string> = {}): Config {
  return createConfig(env);
}

/** Syncs the 371-model fixture (or the given list) into ai_models. */
export async function seedCatalog(handle: DbHandle, models: OpenRouterModel[] = loadFixtureModels()): Promise<SyncReport> {
  return syncModels(handle, models);
}

/**
 * Creates a package through createPackage (default gpt-4, 100,000 tokens: cost $3.00, price $3.75);
 * syncs the fixture first when the catalog is empty.
 */
export async function seedPackage(handle: DbHandle, input: Partial<CreatePackageInput> & { config?: Config; logger?: Logger } = {}): Promise<Package> {
  const { config = defaultTestConfig(), logger, ...rest } = input;
  const any = await handle.db.selectFrom('ai_models').select('id').limit(1).executeTakeFirst();
  if (!any) await seedCatalog(handle);
  const tokens = rest.tokens ?? 100_000;
  const { package: pkg } = await createPackage({ handle, config, logger }, { model: 'gpt-4', description: `Test package ${tokens} tokens`, ...rest, tokens });
  return pkg;
}
