/**
 * 8. Ownership and membership events, written to an outbox in the same transaction as the change.
 *
 * Moves happen inside the database on every path (the API, the marketplace's plain SQL, the
 * hand-overs triggers make), so only the database can report them all, in the transaction that
 * makes them: a rolled-back change reports nothing. Triggers write one row per membership change
 * and, per statement that changes holders, one row per (company, from, to) and page of 1000 ids
 * (migrations/sql/events/). The relay publishes them in id order (README: Events).
 */
import type { Knex } from 'knex';
import { MISSING_OBJECTS_SQL, missingObjectsParameters } from './lib/expected-objects';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await ddl(knex, [
    `CREATE TABLE IF NOT EXISTS messaging_outbox (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       occurred_at timestamptz NOT NULL DEFAULT now(),
       -- The events of one transaction (one change and what it caused) share it.
       transaction_id bigint NOT NULL,
       -- No foreign key: an event outlives what it reports, and reporting must not lock companies.
       company_id ems_company_id,
       event_type text NOT NULL,
       actor text NOT NULL,
       reason text,
       detail jsonb NOT NULL,
       published_at timestamptz,
       -- The relay's failed tries; past its limit an event is dead-lettered: kept, not retried, alarmed on.
       -- squawk-ignore prefer-bigint-over-int -- counts tries up to the relay's limit (5): never near 2^31
       publish_attempts integer NOT NULL DEFAULT 0,
       last_error text,
       dead_lettered_at timestamptz
     )`,
    // What the relay reads: the unpublished rows in id order (a new, empty table: no concurrent build needed).
    `CREATE INDEX IF NOT EXISTS messaging_outbox_unpublished_idx ON messaging_outbox (id) WHERE published_at IS NULL AND dead_lettered_at IS NULL`,
  ]);
  await ddl(knex, readSqlFile('history/20261130150000/ems_emit_event.sql'));
  // The search_path the prune function pins (SET ... FROM CURRENT): this schema, pg_temp last.
  await ddl(knex, [
    `SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true)`,
    readSqlFile('events/ems_outbox_prune.sql'),
  ]);
  // One short transaction per table the triggers go on: a migration under load never holds one
  // table's lock while it waits for another's.
  for (const file of ['events/sellers_membership_events.sql', 'events/listed_cars_ownership_events.sql', 'events/conversations_ownership_events.sql']) {
    await ddl(knex, readSqlFile(file));
  }
  await ddl(knex, readSqlFile('roles/ems_event_relay_grants.sql'));
  const missing = await knex.raw(MISSING_OBJECTS_SQL.replace(/\$\d/g, '?'), missingObjectsParameters({ companyScopedRouting: true, apiRouteFunctions: true, eventsOutbox: true }));
  const rows = missing.rows as { kind: string; name: string }[];
  if (rows.length > 0) throw new Error(`Events outbox validation failed, missing: ${rows.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
}

export async function down(knex: Knex): Promise<void> {
  await ddl(knex, 'DROP TRIGGER IF EXISTS conversations_ownership_events ON conversations');
  await ddl(knex, 'DROP TRIGGER IF EXISTS listed_cars_ownership_events ON listed_cars');
  await ddl(knex, ['DROP TRIGGER IF EXISTS sellers_membership_events ON sellers', 'DROP TRIGGER IF EXISTS sellers_membership_events_on_delete ON sellers']);
  await ddl(knex, [
    'DROP FUNCTION IF EXISTS conversations_ownership_events()',
    'DROP FUNCTION IF EXISTS listed_cars_ownership_events()',
    'DROP FUNCTION IF EXISTS sellers_membership_events()',
    'DROP FUNCTION IF EXISTS ems_emit_event',
    'DROP FUNCTION IF EXISTS ems_outbox_prune(interval, integer)',
    `-- squawk-ignore ban-drop-table -- the rollback removes what this migration made; npm run migrate:messaging -- --rollback exports the events first
     DROP TABLE IF EXISTS messaging_outbox`,
  ]);
}
