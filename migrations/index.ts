/**
 * The ordered list of migrations, shared by the knex CLI, `npm run migrate:messaging`
 * and the migration Lambda (where esbuild bundles these imports statically).
 *
 * The files are TypeScript, but each is recorded in `knex_migrations` under the
 * `.js` name the migration guide uses, so `npx knex migrate:up <name>.js` works
 * verbatim and all three runners agree on what has been applied.
 */
import type { Knex } from 'knex';
import { forgetChecksum, recordChecksum } from './lib/checksums';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';
import { MIGRATION_NAMES } from './manifest';
import * as baseline from './20250101000000_base_marketplace_schema';
import * as memberManagement from './20250622120000_enhanced_member_management';
import * as ownershipTracking from './20250622121000_messaging_ownership_tracking';
import * as conversationTracking from './20250622122000_messaging_conversation_tracking';
import * as finalSetup from './20250622123000_messaging_final_setup';
import * as companyScopedRouting from './20261130120000_company_scoped_routing';
import * as apiRouteFunctions from './20261130130000_api_route_functions';
import * as databaseRoles from './20261130140000_database_roles';
import * as eventsOutbox from './20261130150000_ownership_events_outbox';
import * as entityIdDomains from './20261206120000_entity_id_domains';
import * as outboxOrder from './20261206130000_outbox_order_without_deadlocks';

/** knex reads `config.transaction` to run a migration outside a transaction. */
export type Migration = Knex.Migration & { config?: { transaction?: boolean } };

export interface NamedMigration {
  readonly name: string;
  /** knex's CLI prints pending migrations by `file`. */
  readonly file: string;
  readonly migration: Migration;
}

/**
 * Every messaging migration's SQL declares ids with the domains: a database that applied migration 1
 * before they existed (the previous release's) gets them before the next migration it runs, or rolls
 * back (idempotent; it refuses ids whose type changed since they were recorded). Not for the
 * baseline, nor for migration 1, which records them first thing itself and drops them last.
 */
async function recordIdDomains(knex: Knex, name: string): Promise<void> {
  if (name !== MIGRATION_NAMES[0] && name !== MIGRATION_NAMES[1]) await ddl(knex, readSqlFile(memberManagement.ID_DOMAINS_FILE));
}

// Each migration also records the checksum of its source when applied (see lib/checksums.ts).
const entry = (name: string, migration: Migration): NamedMigration => ({
  name,
  file: name,
  migration: {
    config: migration.config,
    up: async (knex) => {
      await recordIdDomains(knex, name);
      await migration.up(knex);
      await recordChecksum(knex, name);
    },
    down: async (knex) => {
      // A down re-creates earlier definitions from their files, which name the domains too.
      await recordIdDomains(knex, name);
      await migration.down?.(knex);
      await forgetChecksum(knex, name);
    },
  },
});

const MODULES: readonly Migration[] = [baseline, memberManagement, ownershipTracking, conversationTracking, finalSetup, companyScopedRouting, apiRouteFunctions, databaseRoles, eventsOutbox, entityIdDomains, outboxOrder];

export const MIGRATIONS: readonly NamedMigration[] = MIGRATION_NAMES.map((name, i) => entry(name, MODULES[i]!));

/** The messaging migrations in order: the guide's four, then the rule changes since (the baseline is not one of them). */
export const MESSAGING_MIGRATION_NAMES = MIGRATIONS.slice(1).map((m) => m.name);

export const messagingMigrationSource: Knex.MigrationSource<NamedMigration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (entry) => entry.name,
  getMigration: async (entry) => entry.migration,
};
