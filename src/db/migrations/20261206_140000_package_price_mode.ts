/**
 * Frozen once released: never import app code. How a package is priced: 'formula' (cost × markup, bulk
 * discount, margin floor — repriced when the settings or the upstream rates change) or 'fixed' (the
 * operator's explicit price, kept). Packages stored before this migration were priced by the formula
 * unless their creator typed --price, which was not recorded: they start as 'unknown', and the next
 * reprice (daemon start, `arb package reprice --all`, `arb models --sync`) decides each one — 'formula'
 * when its stored price is the formula's price at the settings of that run, else 'fixed' (its price is
 * kept and the decision is logged). A row inserted without a mode is undecided in the same way.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export function packagePriceModeMigration(): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('ai_token_packages')
        .addColumn('price_mode', 'text', (c) =>
          c
            .notNull()
            .defaultTo('unknown')
            .check(sql`price_mode in ('formula', 'fixed', 'unknown')`),
        )
        .execute();
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.alterTable('ai_token_packages').dropColumn('price_mode').execute();
    },
  };
}
