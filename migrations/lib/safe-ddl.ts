/**
 * Building blocks that make the messaging migrations safe on a live database
 * with millions of rows (README: Migration safety and the squawk lint):
 *  - every DDL statement runs in a short transaction of its own with a
 *    `lock_timeout`, retried a bounded number of times when the lock is busy, so
 *    a migration never queues application queries behind it for long;
 *  - indexes on big tables are built CONCURRENTLY, and an invalid index left by
 *    an interrupted build is dropped and rebuilt on the next run;
 *  - constraints are added NOT VALID, then validated without blocking writes;
 *  - backfills run in small committed batches that resume where they stopped.
 * Backfills and index builds report their progress (./progress.ts).
 * Every helper is idempotent, so a migration killed at any point re-runs to the
 * same final schema.
 *
 * Migrations using these helpers export `config = { transaction: false }`.
 */
import type { Knex } from 'knex';
import { migrationSettings } from '../../functions/shared/config';
import { trackBackfill, trackIndexBuild } from './progress';

export interface DdlOptions {
  /** Longest wait for a lock before giving up and retrying. */
  lockTimeout?: string;
  /** Longest time a single statement may run. */
  statementTimeout?: string;
  /** Attempts when the lock could not be taken in time. */
  attempts?: number;
}

const LOCK_NOT_AVAILABLE = '55P03';
// The tunables (MIGRATION_LOCK_TIMEOUT, MIGRATION_STATEMENT_TIMEOUT, MIGRATION_LOCK_ATTEMPTS,
// MIGRATION_BATCH_SIZE), validated when the migrations load: a malformed one fails at once, naming it.
const SETTINGS = migrationSettings();
const DEFAULTS: Required<DdlOptions> = {
  lockTimeout: SETTINGS.lockTimeout,
  statementTimeout: SETTINGS.statementTimeout,
  attempts: SETTINGS.lockAttempts,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const DEADLOCK_DETECTED = '40P01';

/**
 * Busy: the lock timeout ran out, or the DDL was chosen as a deadlock victim (a migration that
 * locks several live tables in one short transaction can cross an application transaction that
 * takes them in another order). Either way the transaction rolled back whole: try again.
 */
function isLockTimeout(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === LOCK_NOT_AVAILABLE || code === DEADLOCK_DETECTED;
}

async function withLockRetry<T>(options: Required<DdlOptions>, describe: string, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isLockTimeout(error) || attempt >= options.attempts) {
        if (isLockTimeout(error)) {
          throw new Error(
            `${describe}: could not take the lock within ${options.lockTimeout} after ${attempt} attempts; ` +
              'a long-running transaction holds it. Re-run the migration when it has finished.',
            { cause: error },
          );
        }
        throw error;
      }
      // Exponential backoff with jitter, capped at 5 s.
      await sleep(Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }
}

/** Runs statements in one short transaction with a lock timeout, retrying when the lock is busy. */
export async function ddl(knex: Knex, statements: string | string[], options: DdlOptions = {}): Promise<void> {
  const settings = { ...DEFAULTS, ...options };
  const list = Array.isArray(statements) ? statements : [statements];
  await withLockRetry(settings, firstLine(list[0] ?? ''), () =>
    knex.transaction(async (trx) => {
      await trx.raw(`SET LOCAL lock_timeout = '${settings.lockTimeout}'`);
      await trx.raw(`SET LOCAL statement_timeout = '${settings.statementTimeout}'`);
      for (const statement of list) await trx.raw(statement);
    }),
  );
}

/** Runs `work` on one pinned connection, so session settings apply to every statement in it. */
export async function onOneConnection<T>(knex: Knex, work: (run: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const connection = await knex.client.acquireConnection();
  try {
    return await work((sql) => knex.raw(sql).connection(connection));
  } finally {
    await knex.client.releaseConnection(connection);
  }
}

async function indexState(knex: Knex, name: string): Promise<'missing' | 'valid' | 'invalid'> {
  const result = await knex.raw(
    `SELECT i.indisvalid AS valid
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace`,
    [name],
  );
  const row = result.rows[0] as { valid: boolean } | undefined;
  if (!row) return 'missing';
  return row.valid ? 'valid' : 'invalid';
}

/**
 * CREATE INDEX CONCURRENTLY that survives interruption: an invalid leftover of a
 * killed build is dropped (concurrently) before building again.
 * `definition` is everything after the index name, e.g. `ON t (col) WHERE ...`.
 */
export async function createIndexConcurrently(knex: Knex, name: string, definition: string, options: DdlOptions = {}) {
  await buildIndexConcurrently(knex, name, name, `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ${definition}`, options);
}

/** The table of `... ON [ONLY] <table> ...`, as the progress lines name it. */
function indexedTable(statement: string): string {
  const table = /\bON\s+(?:ONLY\s+)?((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)/i.exec(statement)?.[1] ?? 'its table';
  return table.replace(/^public\./, '');
}

/**
 * The same, from an index's whole definition as pg_get_indexdef gives it (`CREATE [UNIQUE] INDEX
 * <name> ON ...`): how the undo of a failed migration puts back an index the migration dropped.
 */
export async function createIndexConcurrentlyAs(knex: Knex, name: string, indexDefinition: string, options: DdlOptions = {}) {
  const statement = indexDefinition.replace(/^CREATE (UNIQUE )?INDEX \S+ /, (_all, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${quoteName(name)} `);
  if (statement === indexDefinition) throw new Error(`Not an index definition: ${indexDefinition}`);
  await buildIndexConcurrently(knex, name, quoteName(name), statement, options);
}

const quoteName = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** `name` as the catalog has it, `sqlName` as the statements spell it. */
async function buildIndexConcurrently(knex: Knex, name: string, sqlName: string, statement: string, options: DdlOptions) {
  const settings = { ...DEFAULTS, ...options };
  if ((await indexState(knex, name)) === 'valid') return;
  const progress = trackIndexBuild(knex, indexedTable(statement), name);
  let built = false;
  try {
    await withLockRetry(settings, `index ${name}`, () =>
      onOneConnection(knex, async (run) => {
        // Read on every attempt: a build cut off by the lock timeout leaves an invalid index behind,
        // which `IF NOT EXISTS` would otherwise take for done.
        const state = await indexState(knex, name);
        if (state === 'valid') return;
        await run(`SET lock_timeout = '${settings.lockTimeout}'`);
        await run(`SET statement_timeout = '${settings.statementTimeout}'`);
        try {
          if (state === 'invalid') await run(`DROP INDEX CONCURRENTLY IF EXISTS ${sqlName}`);
          if (progress) progress.building(((await run('SELECT pg_backend_pid() AS pid')) as { rows: { pid: number }[] }).rows[0]!.pid);
          await run(statement);
        } finally {
          await run('RESET lock_timeout');
          await run('RESET statement_timeout');
        }
      }),
    );
    built = true;
  } finally {
    await progress?.finish(built);
  }
}

export async function dropIndexConcurrently(knex: Knex, name: string, options: DdlOptions = {}) {
  const settings = { ...DEFAULTS, ...options };
  await withLockRetry(settings, `drop index ${name}`, () =>
    onOneConnection(knex, async (run) => {
      await run(`SET lock_timeout = '${settings.lockTimeout}'`);
      await run(`SET statement_timeout = '${settings.statementTimeout}'`);
      try {
        await run(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      } finally {
        await run('RESET lock_timeout');
        await run('RESET statement_timeout');
      }
    }),
  );
}

async function constraintState(knex: Knex, table: string, name: string): Promise<'missing' | 'valid' | 'not_valid'> {
  const result = await knex.raw(
    'SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass(?) AND conname = ?',
    [table, name],
  );
  const row = result.rows[0] as { convalidated: boolean } | undefined;
  if (!row) return 'missing';
  return row.convalidated ? 'valid' : 'not_valid';
}

/**
 * Adds a CHECK or FOREIGN KEY constraint without a long lock: NOT VALID first
 * (a brief lock, no scan), then VALIDATE, which scans while allowing reads and writes.
 */
export async function addConstraintSafely(knex: Knex, table: string, name: string, definition: string, options: DdlOptions = {}) {
  if ((await constraintState(knex, table, name)) === 'missing') {
    await ddl(knex, `ALTER TABLE ${table} ADD CONSTRAINT ${name} ${definition} NOT VALID`, options);
  }
  if ((await constraintState(knex, table, name)) === 'not_valid') {
    await ddl(knex, `ALTER TABLE ${table} VALIDATE CONSTRAINT ${name}`, options);
  }
}

export async function dropConstraint(knex: Knex, table: string, name: string, options: DdlOptions = {}) {
  await ddl(knex, `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${name}`, options);
}

/**
 * Updates `table` in primary-key order, one committed batch at a time, touching
 * only rows matching `needsUpdate`. No long transaction; a killed backfill
 * simply runs again (rows already done no longer match). Returns rows changed.
 */
export async function backfillInBatches(
  knex: Knex,
  { table, set, needsUpdate, batchSize }: { table: string; set: string; needsUpdate: string; batchSize: number },
): Promise<number> {
  const progress = await trackBackfill(knex, table, needsUpdate);
  let total = 0;
  let after: string | null = null;
  for (;;) {
    // The cursor's second use is left untyped: PostgreSQL reads it as the type of `id` (uuid, bigint or integer).
    const result = await knex.raw(
      `WITH batch AS (
         SELECT id FROM ${table} WHERE (?::text IS NULL OR id > ?) ORDER BY id LIMIT ?
       ), changed AS (
         UPDATE ${table} t SET ${set} FROM batch WHERE t.id = batch.id AND (${needsUpdate}) RETURNING 1
       )
       SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last_id, (SELECT count(*)::int FROM changed) AS changed`,
      [after, after, batchSize],
    );
    const row = result.rows[0] as { last_id: string | null; changed: number };
    total += row.changed;
    if (row.last_id === null) {
      progress?.finish(total);
      return total;
    }
    progress?.advance(total);
    after = row.last_id;
  }
}

export const BACKFILL_BATCH_SIZE = SETTINGS.batchSize;

/** The statement's first line, for messages: leading `--` comments (squawk's explanations) skipped. */
function firstLine(sql: string): string {
  const lines = sql.trim().split('\n').map((line) => line.trim());
  return (lines.find((line) => line !== '' && !line.startsWith('--')) ?? lines[0]!).slice(0, 120);
}

/**
 * Makes `CHECK (column IN (values))` the definition of constraint `name`, without a long lock:
 * when the current list differs, drop and re-add it NOT VALID in one short transaction, then
 * validate without blocking writes. Idempotent (compares the quoted values of the current definition).
 */
export async function setInListCheck(knex: Knex, table: string, name: string, column: string, values: readonly string[]) {
  const current = await knex.raw('SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass(?) AND conname = ?', [
    table,
    name,
  ]);
  const definition = (current.rows[0] as { def: string } | undefined)?.def ?? '';
  const quoted = new Set((definition.match(/'[^']*'/g) ?? []).map((q) => q.slice(1, -1)));
  const same = quoted.size === values.length && values.every((v) => quoted.has(v));
  const check = `CHECK (${column} IN (${values.map((v) => `'${v}'`).join(', ')}))`;
  if (!same) {
    await ddl(knex, [`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${name}`, `ALTER TABLE ${table} ADD CONSTRAINT ${name} ${check} NOT VALID`]);
  }
  await addConstraintSafely(knex, table, name, check);
}
