import type { Knex } from 'knex';
import { messagingMigrationSource } from '../../migrations';
import { safeguardedMigrationSource } from '../migration-runner/safeguards';
import { resolveDatabaseUrl } from './local-postgres';

export const MIGRATIONS_TABLE = 'knex_migrations';

/** `application_name` of plain knex CLI sessions: the runner looks for them before clearing a stale knex lock. */
export const CLI_APPLICATION_NAME = 'ems-migrations';
export const RUNNER_APPLICATION_NAME = 'ems-migration-runner';

/** Knex settings for migrations against `connectionString` (a URL, or resolved lazily). */
export function migrationKnexConfig(
  connection: string | (() => Promise<string>),
  applicationName: string = CLI_APPLICATION_NAME,
): Knex.Config {
  return {
    client: 'pg',
    connection:
      typeof connection === 'string'
        ? { connectionString: connection, application_name: applicationName }
        : async () => ({ connectionString: await connection(), application_name: applicationName }),
    // Non-transactional migrations run DDL on short transactions of their own; a
    // small pool is plenty and keeps the footprint on a live database low.
    pool: { min: 0, max: 4 },
    migrations: {
      tableName: MIGRATIONS_TABLE,
      // The pre-flight before the first messaging migration, and the undo of one that fails.
      migrationSource: safeguardedMigrationSource(messagingMigrationSource, { migrationsTable: MIGRATIONS_TABLE }),
    },
  };
}

/** What `npx knex ...` uses: DATABASE_URL, or the embedded database started on demand. */
export function cliKnexConfig(): Knex.Config {
  return migrationKnexConfig(resolveDatabaseUrl);
}
