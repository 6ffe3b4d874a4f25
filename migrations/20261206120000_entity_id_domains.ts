/**
 * 9. The entity id domains on a database that installed the messaging system before they existed.
 *
 * Since this release, migration 1 starts by recording the marketplace's id types as one domain per
 * entity (migrations/sql/ids/ems_id_domains.sql: uuid, bigint or integer, read off the base
 * tables), and every messaging column, function and view is declared with them. A database that
 * applied migration 1 earlier has uuid ids (the only type those releases took) and no domains; the
 * API and any function re-created from its file now name the domains, so they are created here,
 * from the same file. Where migration 1 created them this does nothing.
 *
 * The definitions such a database already has keep `uuid` in their signatures: a domain over uuid
 * and uuid are interchangeable for every caller (a domain argument matches a uuid parameter), so
 * nothing is re-created. A later migration that re-creates one of them drops it by name first
 * (`DROP FUNCTION name`, one definition each), never `CREATE OR REPLACE` alone, which would add
 * a second definition beside the uuid one.
 */
import type { Knex } from 'knex';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await ddl(knex, readSqlFile('ids/ems_id_domains.sql'));
}

export async function down(): Promise<void> {
  // The domains stay: on a database installed since this release, migration 1's objects use them
  // (its down drops them last).
}
