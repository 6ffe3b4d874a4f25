/**
 * 7. Least-privilege roles for the deployed functions (migrations/lib/database-roles.ts).
 *
 * The API's route functions run with their owner's rights, so the role the API logs in through,
 * ems_route_caller, needs EXECUTE on them and nothing else: it cannot read or write a table, nor
 * call any function that does, except through a route, which authorizes the caller first. The
 * scheduled verification reads through ems_reader, which may only SELECT what it checks.
 *
 * Roles belong to the cluster, not the database: `down` revokes what this migration granted in this
 * database and gives the route functions back to PUBLIC, but leaves the roles, which another
 * database of the cluster may use (DROP ROLE is the operator's, once no database grants them anything).
 */
import type { Knex } from 'knex';
import { DATABASE_ROLE_PROBLEMS_SQL, READER_RELATIONS, READER_ROLE, secureRouteFunctions, unsecureRouteFunctions } from './lib/database-roles';
import { API_ROUTE_FUNCTIONS } from './lib/expected-objects';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await ddl(knex, readSqlFile('roles/ems_group_roles.sql'));
  await secureRouteFunctions(knex);
  await ddl(knex, readSqlFile('roles/ems_reader_grants.sql'));
  const problems = await knex.raw(DATABASE_ROLE_PROBLEMS_SQL.replace('$1', '?'), [[...API_ROUTE_FUNCTIONS]]);
  const rows = problems.rows as { problem: string }[];
  if (rows.length > 0) throw new Error(`Database roles validation failed: ${rows.map((r) => r.problem).join('; ')}`);
}

export async function down(knex: Knex): Promise<void> {
  await unsecureRouteFunctions(knex);
  await ddl(knex, `REVOKE ALL ON ${READER_RELATIONS.join(', ')} FROM ${READER_ROLE}`);
}
