/**
 * 10. Ownership events in per-company order without a lock that can deadlock.
 *
 * Migration 8 kept one company's events in commit order by making every transaction that wrote an
 * event for a company take that company's outbox lock exclusively until it ended. That lock is
 * taken late (when a trigger reports a change, after the change's row locks), so a removal that had
 * reported its member and went on to lock a conversation, and a buyer message that held that
 * conversation and went on to report its move, waited for each other: a deadlock, one side rolled
 * back (40P01). Now writers take the lock in shared mode, which never waits for another writer,
 * and the relay reads a company's events only when it can take the lock exclusively, without
 * waiting (migrations/sql/events/ems_outbox_pending.sql). README: Events.
 */
import type { Knex } from 'knex';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  // Dropped by name first: where migration 8 ran before the id domains, its signature names uuid.
  // One transaction: a trigger never finds the function missing.
  await ddl(knex, ['DROP FUNCTION IF EXISTS ems_emit_event', readSqlFile('events/ems_emit_event.sql'), readSqlFile('events/ems_outbox_pending.sql')]);
}

export async function down(knex: Knex): Promise<void> {
  await ddl(knex, [
    'DROP FUNCTION IF EXISTS ems_outbox_pending',
    'DROP FUNCTION IF EXISTS ems_emit_event',
    readSqlFile('history/20261130150000/ems_emit_event.sql'),
  ]);
}
