/**
 * 6. Every live definition from its .sql file, and one SQL function per API route.
 *
 * Migrations 1-3 wrote some definitions inside TypeScript strings; they are
 * re-created here, unchanged, from migrations/sql/, so the files are where each
 * rule is read, linted and changed (a change ships as a new migration that
 * re-creates it from its file). Then one SQL function per API route, so a
 * request costs one database round trip (on AWS each Data API call is an HTTPS
 * request): each `api_<route>` function
 * identifies the caller from the token's identity, authorizes, does the work
 * and returns the response body as JSON; refusals are raised with a code of the
 * error contract (functions/shared/refusals.ts). The work itself is in `ems_*`
 * functions that the domain services (functions/domain/) call with an explicit
 * company and actor, so the API and the services run the same SQL.
 */
import type { Knex } from 'knex';
import { MISSING_OBJECTS_SQL, missingObjectsParameters } from './lib/expected-objects';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

// Definitions of migrations 1-3, as they were, now in their files (down leaves them: they are the same).
const UNCHANGED_FILES = [
  'membership/ems_current_actor.sql',
  'membership/active_company_members.sql',
  'membership/company_message_handlers_validate.sql',
  'membership/company_message_handlers_release.sql',
  'ownership/listed_cars_track_ownership.sql',
  'ownership/conversation_ownership_log_fill_company.sql',
  'ownership/conversations_log_start.sql',
  'routing/active_company_message_handlers.sql',
  'routing/listing_message_routing.sql',
];

// SQL-language bodies are checked against what exists: helpers first.
export const SQL_FILES = [
  'api/ems_refuse.sql',
  'api/ems_iso_time.sql',
  'api/ems_api_caller.sql',
  'routing/ems_recipient_json.sql',
  'routing/ems_ownership_history.sql',
  'routing/ems_send_buyer_message.sql',
  'membership/ems_lock_company_member.sql',
  'membership/ems_remove_member.sql',
  'membership/ems_reactivate_member.sql',
  'membership/ems_message_handlers.sql',
  'membership/ems_update_message_handlers.sql',
  'api/ems_company_stats.sql',
  'api/api_get_listing_recipient.sql',
  'api/api_get_conversation_ownership_history.sql',
  'api/api_send_message.sql',
  'api/api_get_company_stats.sql',
  'api/api_remove_member.sql',
  'api/api_reactivate_member.sql',
  'api/api_list_message_handlers.sql',
  'api/api_update_message_handlers.sql',
  'api/api_health.sql',
];

/** The route functions and what only they use, by name (one definition each), in reverse order. */
const FUNCTIONS = [
  'api_health',
  'api_update_message_handlers',
  'api_list_message_handlers',
  'api_reactivate_member',
  'api_remove_member',
  'api_get_company_stats',
  'api_send_message',
  'api_get_conversation_ownership_history',
  'api_get_listing_recipient',
  'ems_company_stats',
  'ems_update_message_handlers',
  'ems_message_handlers',
  'ems_reactivate_member',
  'ems_remove_member',
  'ems_lock_company_member',
  'ems_send_buyer_message',
  'ems_ownership_history',
  'ems_recipient_json',
  'ems_api_caller',
  'ems_iso_time',
  'ems_refuse',
];

export async function up(knex: Knex): Promise<void> {
  // One short transaction per file that locks a table (its trigger), so a migration under load never
  // holds one table's lock while it waits for another's; the rest (functions only) together.
  for (const file of UNCHANGED_FILES) await ddl(knex, readSqlFile(file));
  await ddl(knex, SQL_FILES.map((file) => readSqlFile(file)));
  const missing = await knex.raw(MISSING_OBJECTS_SQL.replace(/\$\d/g, '?'), missingObjectsParameters({ companyScopedRouting: true, apiRouteFunctions: true }));
  const rows = missing.rows as { kind: string; name: string }[];
  if (rows.length > 0) throw new Error(`API route functions validation failed, missing: ${rows.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
}

export async function down(knex: Knex): Promise<void> {
  await ddl(knex, FUNCTIONS.map((name) => `DROP FUNCTION IF EXISTS ${name}`));
}
