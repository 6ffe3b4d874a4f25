/**
 * Stopping a migration at a deadline, cleanly, without touching the
 * migrations: while a migration's `up()` runs, the first request for a
 * database connection after the deadline fails with DeadlineReachedError.
 *
 * Every step of the migrations asks knex for a connection when it starts: each
 * short DDL transaction, each committed batch of a backfill, each concurrent
 * index build (migrations/lib/safe-ddl.ts). So the migration stops between two
 * steps, never inside one: what ran is committed, what did not has not begun,
 * and re-running the migration carries on (every step is idempotent and the
 * backfills skip the rows already done). The statement running at the deadline
 * finishes first; MIGRATION_STATEMENT_TIMEOUT bounds it.
 *
 * Only the first request after the deadline fails: the clean-up that follows
 * (a `finally` that resets a setting, knex releasing its migration lock) runs.
 */
import type { Knex } from 'knex';

export class DeadlineReachedError extends Error {
  constructor(readonly migration: string) {
    super(`Stopped ${migration} at the time limit of this run, between two steps; the next run carries on from there.`);
    this.name = 'DeadlineReachedError';
  }
}

export interface DeadlineGuard<M> {
  /** Give this to `knex.migrate.up({ migrationSource })`: each migration's `up()` runs under the guard. */
  readonly migrationSource: Knex.MigrationSource<M>;
  /** Whether the guard stopped a migration. */
  readonly fired: boolean;
}

type Migration = { up: (knex: Knex) => Promise<unknown>; down?: (knex: Knex) => Promise<unknown>; config?: unknown };

export function guardDeadline<M>(knex: Knex, source: Knex.MigrationSource<M>, deadline: number): DeadlineGuard<M> {
  const client = knex.client as { acquireConnection: () => Promise<unknown> };
  const acquire = client.acquireConnection.bind(client);
  let running: string | null = null;
  let fired = false;
  client.acquireConnection = () => {
    if (running !== null && !fired && Date.now() >= deadline) {
      fired = true;
      return Promise.reject(new DeadlineReachedError(running));
    }
    return acquire();
  };

  const migrationSource: Knex.MigrationSource<M> = {
    getMigrations: (extensions) => source.getMigrations(extensions),
    getMigrationName: (migration) => source.getMigrationName(migration),
    getMigration: async (migration) => {
      const original = (await source.getMigration(migration)) as Migration;
      const name = source.getMigrationName(migration);
      return {
        ...original,
        up: async (k: Knex) => {
          running = name;
          try {
            return await original.up(k);
          } finally {
            running = null;
          }
        },
      } as Knex.Migration;
    },
  };

  return {
    migrationSource,
    get fired() {
      return fired;
    },
  };
}
