/**
 * 9. The entity id domains on a database that installed the messaging system before they existed.
 *
 * Since this release, migration 1 starts by recording the marketplace's id types as one domain per
 * entity (migrations/sql/ids/ems_id_domains.sql: uuid, bigint or integer, read off the base
 * tables), and every messaging function names them. A database that applied the messaging
 * migrations earlier has uuid ids (the only type those releases took) and functions whose
 * signatures say `uuid` (the runner gave it the domains before the first migration it ran, see
 * migrations/index.ts). Here the functions migrations 5 and 6 made are re-created from their files
 * with the domains in their signatures, with the route functions' security, in one transaction
 * (lib/id-signatures.ts), so the database
 * ends with the definitions a new install has and every later migration and rollback finds what it
 * expects. (Its tables keep their uuid columns: a domain over uuid holds the same values.) On a
 * database installed with the domains this does nothing.
 */
import type { Knex } from 'knex';
import * as companyScopedRouting from './20261130120000_company_scoped_routing';
import * as apiRouteFunctions from './20261130130000_api_route_functions';
import { routeFunctionSecurity } from './lib/database-roles';
import { replaceUuidSignatures } from './lib/id-signatures';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

/** The files of the functions migrations 5 and 6 made, in the order they made them. */
const FUNCTION_FILES = [...companyScopedRouting.SQL_FILES, ...apiRouteFunctions.SQL_FILES];

export async function up(knex: Knex): Promise<void> {
  // The domains themselves: recorded by the runner before this migration ran (migrations/index.ts).
  const replaced = await replaceUuidSignatures(knex, FUNCTION_FILES);
  if (replaced.functions.length === 0) return;
  // Every function of migrations 5 and 6 but the trigger functions (whose signatures name no id):
  // those with a uuid definition replaced, the others re-created in place from the same files, since
  // the route functions read the caller's columns as ems_api_caller.sql now names them. Re-creating a
  // route function resets its SECURITY DEFINER and SET options: they are set again, by name.
  const files = FUNCTION_FILES.filter((file) => !/CREATE\s+OR\s+REPLACE\s+TRIGGER/i.test(readSqlFile(file)));
  const schema = (await knex.raw('SELECT current_schema() AS name')).rows[0].name as string;
  await ddl(knex, [...replaced.drop, ...files.map((file) => readSqlFile(file)), ...replaced.restore, ...routeFunctionSecurity(schema)]);
}

export async function down(): Promise<void> {
  // Nothing to undo: the domains and the definitions are those of a new install (migration 1's
  // down drops the domains last).
}
