/**
 * The database roles of the deployed functions (migrations/sql/roles/): the API acts as a member of
 * ROUTE_CALLER_ROLE, the scheduled verification as a member of READER_ROLE; only the migrations use
 * the cluster's master user. The login users, one per function with a secret each, are made on
 * deploy (functions/migration-runner/login-roles.ts).
 */
import type { Knex } from 'knex';
import { API_ROUTE_FUNCTIONS } from './expected-objects';
import { ddl } from './safe-ddl';

export const ROUTE_CALLER_ROLE = 'ems_route_caller';
export const READER_ROLE = 'ems_reader';
export const EVENT_RELAY_ROLE = 'ems_event_relay';

const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function routeFunctionSignatures(knex: Knex): Promise<string[]> {
  const result = await knex.raw(
    `SELECT p.oid::regprocedure::text AS signature FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = ANY(?::text[]) ORDER BY 1`,
    [[...API_ROUTE_FUNCTIONS]],
  );
  return (result.rows as { signature: string }[]).map((r) => r.signature);
}

/**
 * Makes each API route function run with its owner's rights (SECURITY DEFINER), with its
 * search_path pinned to this schema and pg_temp last (a caller's temporary tables cannot stand in
 * for the ones it uses), callable by ROUTE_CALLER_ROLE and nobody else. A migration that re-creates
 * a route function (CREATE OR REPLACE resets SECURITY and SET) calls this again; the verification's
 * "database roles" check fails while one is left unsecured.
 */
export async function secureRouteFunctions(knex: Knex): Promise<void> {
  const schema = (await knex.raw('SELECT current_schema() AS name')).rows[0].name as string;
  await ddl(knex, routeFunctionSecurity(schema));
}

/** secureRouteFunctions' statements, by function name (one definition each), for a migration to run in its own transaction. */
export function routeFunctionSecurity(schema: string): string[] {
  return API_ROUTE_FUNCTIONS.flatMap((name) => [
    // ems.transfer_reason reset: a reason the caller's session set must not reach the route's events.
    `ALTER FUNCTION ${name} SECURITY DEFINER SET search_path = ${quoteIdentifier(schema)}, pg_temp SET ems.transfer_reason = ''`,
    `REVOKE ALL ON FUNCTION ${name} FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION ${name} TO ${ROUTE_CALLER_ROLE}`,
  ]);
}

/** What secureRouteFunctions did, undone: the functions as migration 6 made them. */
export async function unsecureRouteFunctions(knex: Knex): Promise<void> {
  const signatures = await routeFunctionSignatures(knex);
  await ddl(
    knex,
    signatures.flatMap((signature) => [
      `ALTER FUNCTION ${signature} SECURITY INVOKER RESET ALL`,
      `REVOKE ALL ON FUNCTION ${signature} FROM ${ROUTE_CALLER_ROLE}`,
      `GRANT EXECUTE ON FUNCTION ${signature} TO PUBLIC`,
    ]),
  );
}

/** The relations ems_reader_grants.sql grants on (revoking a table's privilege revokes its column privileges too). */
export const READER_RELATIONS = [
  'knex_migrations',
  'knex_migrations_checksums',
  'listed_cars',
  'conversations',
  'companies',
  'company_member_audit',
  'conversation_ownership_log',
  'company_message_handlers',
  'sellers',
  'listing_message_routing',
  'active_company_members',
  'active_company_message_handlers',
] as const;

/**
 * One row per way the roles differ from what migration 7 grants (none when all is in place):
 * a route function not SECURITY DEFINER, without its pinned search_path, callable by PUBLIC or not by
 * ems_route_caller; any privilege ems_route_caller holds on a table or view of this schema; any
 * privilege of ems_reader other than SELECT. Readable by every role (pg_catalog only).
 */
export const DATABASE_ROLE_PROBLEMS_SQL = `
  WITH routes AS (
    SELECT p.oid, p.proname, p.prosecdef, p.proconfig, coalesce(p.proacl, acldefault('f', p.proowner)) AS acl
      FROM pg_proc p
     WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = ANY($1::text[])
  ), relation_grants AS (
    SELECT c.relname, a.grantee, a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relacl IS NOT NULL
    UNION ALL
    SELECT c.relname || '.' || att.attname, a.grantee, a.privilege_type
      FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
     WHERE c.relnamespace = current_schema()::regnamespace AND att.attacl IS NOT NULL
  )
  SELECT 'route function ' || r.proname || ' does not run with its owner''s rights' AS problem FROM routes r WHERE NOT r.prosecdef
  UNION ALL
  SELECT 'route function ' || r.proname || ' has no pinned search_path' FROM routes r
   WHERE NOT coalesce(r.proconfig, '{}') @> ARRAY['search_path=' || quote_ident(current_schema()) || ', pg_temp']
  UNION ALL
  SELECT 'route function ' || r.proname || ' may be called by PUBLIC' FROM routes r
   WHERE EXISTS (SELECT FROM aclexplode(r.acl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
  UNION ALL
  SELECT 'route function ' || r.proname || ' may not be called by ems_route_caller' FROM routes r
   WHERE CASE WHEN to_regrole('ems_route_caller') IS NULL THEN true ELSE NOT has_function_privilege('ems_route_caller', r.oid, 'EXECUTE') END
  UNION ALL
  SELECT 'ems_route_caller holds ' || g.privilege_type || ' on ' || g.relname FROM relation_grants g
   WHERE g.grantee = to_regrole('ems_route_caller')
  UNION ALL
  SELECT 'ems_reader holds ' || g.privilege_type || ' on ' || g.relname FROM relation_grants g
   WHERE g.grantee = to_regrole('ems_reader') AND g.privilege_type <> 'SELECT'
  UNION ALL
  SELECT 'ems_event_relay holds ' || g.privilege_type || ' on ' || g.relname FROM relation_grants g
   WHERE g.grantee = to_regrole('ems_event_relay')
     AND NOT (g.relname = 'messaging_outbox' AND g.privilege_type = 'SELECT')
     AND NOT (g.relname IN ('messaging_outbox.published_at', 'messaging_outbox.publish_attempts', 'messaging_outbox.last_error',
                            'messaging_outbox.dead_lettered_at') AND g.privilege_type = 'UPDATE')
  UNION ALL
  SELECT 'role ' || missing || ' does not exist' FROM unnest(ARRAY['ems_route_caller', 'ems_reader', 'ems_event_relay']) missing
   WHERE to_regrole(missing) IS NULL
  ORDER BY 1`;
