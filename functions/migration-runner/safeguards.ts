/**
 * What every path that applies a messaging migration goes through, the runner and the knex CLI
 * (`npx knex migrate:latest`, `migrate:up <file>.js`, whose config is functions/database/knex-config.ts):
 *
 *  - the pre-flight (./preflight.ts), before the first messaging migration a process applies: a
 *    database it cannot be installed on is refused with the whole report, before any change (the
 *    runner runs it itself, earlier, and turns this one off);
 *  - the undo journal (migrations/lib/undo-journal.ts): the schema before each migration is
 *    recorded, and a migration that FAILS is undone before the failure is reported, so the
 *    marketplace's tables are left as they were. A run that is INTERRUPTED (killed, the time limit
 *    of a deploy slice, a lost session, a lock it could not take in time) is not undone: its
 *    journal row stays, and the next run carries on from where it stopped (every step is
 *    idempotent) or, should that run fail, undoes everything since the first attempt.
 */
import type { Knex } from 'knex';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { closeJournalEntry, openJournalEntry, UNDO_JOURNAL_TABLE, undoMigration, type UndoResult } from '../../migrations/lib/undo-journal';
import { snapshotSchema, withKnexConnection, type Query } from '../../migrations/lib/schema-snapshot';
import { PreflightRefusal, runPreflight } from './preflight';

export interface SafeguardOptions {
  /** Run the pre-flight before the first messaging migration (default true). */
  readonly preflight?: boolean;
  /** knex's migrations table, where the pre-flight reads what is applied. */
  readonly migrationsTable?: string;
  /** An error that interrupted the migration rather than failed it, beyond those every path knows (the runner's time limit). */
  readonly interrupted?: (error: unknown) => boolean;
}

/** A messaging migration that failed, with what its undo did. */
export class MigrationFailedError extends Error {
  constructor(
    readonly migration: string,
    readonly undo: { readonly result?: UndoResult; readonly error?: unknown },
    options: { cause: unknown },
  ) {
    super(`${(options.cause as Error)?.message ?? String(options.cause)}\n${describeUndo(undo)}`, options);
    this.name = 'MigrationFailedError';
  }
}

function describeUndo(undo: MigrationFailedError['undo']): string {
  if (undo.error !== undefined) {
    return (
      `Undoing it failed too (${(undo.error as Error)?.message ?? String(undo.error)}): what it changed stays, and ${UNDO_JOURNAL_TABLE} ` +
      'keeps the schema from before it. Run the migrations again to carry on, or to undo it.'
    );
  }
  const { restored, leftovers } = undo.result!;
  if (leftovers.length > 0) {
    return (
      `Undone, except for ${leftovers.join(', ')}: ${UNDO_JOURNAL_TABLE} keeps what they were before it. ` +
      'Run the migrations again to carry on, or to undo the rest.'
    );
  }
  if (restored.length === 0) return 'Nothing of it stayed: the schema is as it was before it, and it is not recorded as applied.';
  return `Undone: the ${restored.length} object(s) it had created or changed are as they were before it, and it is not recorded as applied.`;
}

const CONNECTION_LOST =
  /Connection terminated|terminating connection|server closed the connection|Connection ended unexpectedly|the database system is (shutting down|starting up|in recovery mode)/i;
// A lost session or server, and a lock not taken in time (55P03 lock_not_available, 40P01 a deadlock
// victim: the DDL helpers retry both, then give up, the step rolled back whole).
const INTERRUPTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', '57P01', '57P02', '57P03', '55P03', '40P01']);

/**
 * A stop that is not the migration's fault and that the next run carries on from: the session or
 * the server went away, a busy table's lock could not be had (an undo would wait for the same
 * lock), or the runner's time limit came (DeadlineReachedError).
 */
export function isInterruption(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error || (typeof e === 'object' && e !== null); e = (e as { cause?: unknown }).cause) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (name === 'DeadlineReachedError') return true;
    if (typeof code === 'string' && (INTERRUPTION_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof message === 'string' && CONNECTION_LOST.test(message)) return true;
    if ((e as { cause?: unknown }).cause === e) break;
  }
  return false;
}

/** knex clients (one per knex instance) whose pre-flight passed: it runs once per process and database. */
const preflightPassed = new WeakSet<object>();

async function appliedMigrations(query: Query, table: string): Promise<string[]> {
  const [present] = await query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  if (!present!.present) return [];
  return (await query<{ name: string }>(`SELECT name FROM ${table}`)).map((r) => r.name);
}

/** `source` with every messaging migration's up() behind the pre-flight and the undo journal. */
export function safeguardedMigrationSource<M>(source: Knex.MigrationSource<M>, options: SafeguardOptions = {}): Knex.MigrationSource<M> {
  const migrationsTable = options.migrationsTable ?? 'knex_migrations';
  return {
    getMigrations: (extensions) => source.getMigrations(extensions),
    getMigrationName: (migration) => source.getMigrationName(migration),
    getMigration: async (migration) => {
      const original = await source.getMigration(migration);
      const name = source.getMigrationName(migration);
      // The baseline creates the base tables on an empty database only: nothing of the marketplace's to guard.
      if (name === MIGRATION_NAMES[0]) return original;
      return {
        ...original,
        up: async (knex: Knex) => {
          if (options.preflight !== false && !preflightPassed.has(knex.client)) {
            const report = await withKnexConnection(knex, async (query) =>
              runPreflight(query, { applied: await appliedMigrations(query, migrationsTable) }),
            );
            if (report.problems.length > 0) throw new PreflightRefusal(report);
            preflightPassed.add(knex.client);
          }
          const attemptBefore = await withKnexConnection(knex, snapshotSchema);
          const entry = await withKnexConnection(knex, (query) => openJournalEntry(query, name, attemptBefore));
          try {
            await original.up(knex);
          } catch (error) {
            if (isInterruption(error) || options.interrupted?.(error)) throw error;
            let undo: MigrationFailedError['undo'];
            try {
              const result = await undoMigration(knex, name, entry.before, attemptBefore);
              if (result.leftovers.length === 0) await withKnexConnection(knex, (query) => closeJournalEntry(query, name));
              undo = { result };
            } catch (undoError) {
              undo = { error: undoError };
            }
            throw new MigrationFailedError(name, undo, { cause: error });
          }
          await withKnexConnection(knex, (query) => closeJournalEntry(query, name));
        },
      } as Knex.Migration;
    },
  };
}
