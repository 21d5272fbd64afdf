/**
 * A shop as the version before price modes left it, for the upgrade tests: the database migrated to just
 * before the price-mode migration, with rows written as the old code wrote them.
 */
import assert from 'node:assert/strict';
import { Migrator } from 'kysely';
import type { DbHandle } from '../../src/db/dialect.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import { catalogFields } from '../../src/catalog/sync.js';

/** The last migration before `20261206_140000_package_price_mode`. */
export const BEFORE_PRICE_MODE = '20261206_120000_support_refunds_codes';
export const OLD_TIME = '2026-11-30 12:00:00';

/**
 * Migrates an empty database to BEFORE_PRICE_MODE and writes GPT-4 into the catalog and two packages:
 * #1 priced by the formula at 25 % ($3.00 cost → $3.75), #2 at the operator's explicit --price 7.00.
 */
export async function writeShopBeforePriceModes(handle: DbHandle): Promise<void> {
  const migrator = new Migrator({ db: handle.db, provider: migrationProvider(handle.dialect) });
  assert.equal((await migrator.migrateTo(BEFORE_PRICE_MODE)).error, undefined);
  const gpt4 = catalogFields(loadFixtureModels().find((m) => m.id === 'openai/gpt-4')!)!;
  await handle.db
    .insertInto('ai_models')
    .values({ ...gpt4, is_active: 1, created_at: OLD_TIME, updated_at: OLD_TIME, synced_at: OLD_TIME })
    .execute();
  const old = { model: 'openai/gpt-4', validity_days: 30, is_available: 1, hold_reason: null, category_id: null, subcategory_id: null, created_at: OLD_TIME, updated_at: OLD_TIME };
  await handle.db
    .insertInto('ai_token_packages')
    .values([
      { ...old, tokens: 100_000, description: 'GPT-4 Premium Access - 100k tokens', cost: 3_000_000, price: 3_750_000 },
      { ...old, tokens: 200_000, description: 'GPT-4 200k, promo', cost: 6_000_000, price: 7_000_000 },
    ])
    .execute();
}
