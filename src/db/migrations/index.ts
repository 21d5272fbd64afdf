import type { Migration, MigrationProvider } from 'kysely';
import { initialMigration } from './20261125_000000_initial.js';
import { tokenClassesMigration } from './20261206_110000_token_classes.js';
import { supportRefundsCodesMigration } from './20261206_120000_support_refunds_codes.js';
import { packagePriceModeMigration } from './20261206_140000_package_price_mode.js';
import { statsRollupsMigration } from './20261206_150000_stats_rollups.js';
import { reservationsByRequestMigration } from './20261207_110000_reservations_by_request.js';

/** Every migration, by name, in order. Names are timestamps; files are frozen once released. */
export function migrationProvider(dialect: 'sqlite' | 'postgres'): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '20261125_000000_initial': initialMigration(dialect),
        '20261206_110000_token_classes': tokenClassesMigration(),
        '20261206_120000_support_refunds_codes': supportRefundsCodesMigration(dialect),
        '20261206_140000_package_price_mode': packagePriceModeMigration(),
        '20261206_150000_stats_rollups': statsRollupsMigration(dialect),
        '20261207_110000_reservations_by_request': reservationsByRequestMigration(dialect),
      };
    },
  };
}

export const LATEST_MIGRATION = '20261207_110000_reservations_by_request';
