/**
 * Progress of the steps whose time grows with the data: the batched backfills and the concurrent
 * index builds of ./safe-ddl.ts. A backfill of a million listings takes most of a minute; without
 * this, all an operator sees is "Applying ...".
 *
 * Lines are time-based, never per batch: nothing for a step shorter than the interval, then at
 * most one line per interval, and a last one when the step ends (so a short step stays silent and
 * a long one always ends on its total).
 *
 * Where the lines go is the caller's: the runner (`npm run migrate:messaging`, the migration
 * Lambda) sets its `log` for the migrations it applies (`withProgress`), which AsyncLocalStorage
 * carries through knex into the helpers, so two runners in one process keep their own lines.
 * Outside a runner (`npx knex migrate:latest`, `migrate:up`) they go to stdout like the
 * migrations' status report; EMS_QUIET_MIGRATIONS=1 silences both.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { migrationSettings } from '../../functions/shared/config';

/** A step that reports progress, as it starts. */
export interface LongStep {
  readonly kind: 'backfill' | 'index';
  readonly table: string;
  /** The index's name; for a backfill, the table's. */
  readonly name: string;
  /** A backfill: the rows it changes (its `needsUpdate` condition, the table aliased `t`). */
  readonly condition?: string;
}

export interface BackfillProgress {
  readonly kind: 'backfill';
  readonly table: string;
  readonly rowsDone: number;
  /** Counted once as the backfill starts: the rows its condition matches. */
  readonly rowsTotal: number;
  readonly rowsPerSecond: number;
  /** At the current average rate; null before the first row. */
  readonly secondsLeft: number | null;
}

export interface IndexProgress {
  readonly kind: 'index';
  readonly table: string;
  readonly index: string;
  /** pg_stat_progress_create_index's phase; null when the server shows none (between two commands). */
  readonly phase: string | null;
  readonly blocksDone: number;
  readonly blocksTotal: number;
  readonly tuplesDone: number;
  readonly tuplesTotal: number;
  /** The transactions a waiting phase waits for. */
  readonly lockersDone: number;
  readonly lockersTotal: number;
}

export type ProgressEvent = (BackfillProgress | IndexProgress) & {
  readonly elapsedMs: number;
  /** The step has ended: the last line of it. */
  readonly finished: boolean;
  /** The event as one line of text. */
  readonly line: string;
};

export interface ProgressSink {
  readonly report: (event: ProgressEvent) => void;
  readonly intervalMs: number;
  /** Every long step as it starts, however short it turns out (no line of its own). */
  readonly started?: (step: LongStep) => void;
}

/** Often enough to see a step move, rarely enough for a Lambda's log. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;

const context = new AsyncLocalStorage<ProgressSink | null>();

/** Runs `work` with its long steps reporting to `sink` (null: none, whatever the environment). */
export function withProgress<T>(sink: ProgressSink | null, work: () => Promise<T>): Promise<T> {
  return context.run(sink, work);
}

function currentSink(): ProgressSink | null {
  const sink = context.getStore();
  if (sink !== undefined) return sink;
  return migrationSettings().quiet ? null : { intervalMs: DEFAULT_PROGRESS_INTERVAL_MS, report: (event) => console.info(event.line) };
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const percent = (done: number, total: number) => (total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100);

function duration(totalSeconds: number): string {
  const s = Math.max(1, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function backfillLine(p: BackfillProgress, elapsedMs: number, finished: boolean): string {
  const head = `${p.table} backfill: ${count(p.rowsDone)} of ${count(p.rowsTotal)} rows (${percent(p.rowsDone, p.rowsTotal)}%)`;
  const rate = `${count(p.rowsPerSecond)} rows/s`;
  if (finished) return `${head} in ${seconds(elapsedMs)}, ${rate}`;
  return `${head}, ${rate}, ${p.secondsLeft === null ? 'time left unknown yet' : `about ${duration(p.secondsLeft)} left`}`;
}

function indexLine(p: IndexProgress, elapsedMs: number, finished: boolean): string {
  const head = `index ${p.index} on ${p.table}`;
  if (finished) return `${head}: built in ${seconds(elapsedMs)}`;
  if (p.phase === null) return `${head}: building, ${seconds(elapsedMs)}`;
  const amounts: string[] = [];
  if (p.lockersTotal > 0) amounts.push(`${count(p.lockersDone)} of ${count(p.lockersTotal)} transactions`);
  if (p.blocksTotal > 0) amounts.push(`${count(p.blocksDone)} of ${count(p.blocksTotal)} blocks (${percent(p.blocksDone, p.blocksTotal)}%)`);
  else if (p.tuplesTotal > 0) amounts.push(`${count(p.tuplesDone)} of ${count(p.tuplesTotal)} tuples (${percent(p.tuplesDone, p.tuplesTotal)}%)`);
  return `${head}: ${p.phase}${amounts.length ? `, ${amounts.join(', ')}` : ''}, ${seconds(elapsedMs)}`;
}

function emit(sink: ProgressSink, progress: BackfillProgress | IndexProgress, elapsedMs: number, finished: boolean): void {
  const line = progress.kind === 'backfill' ? backfillLine(progress, elapsedMs, finished) : indexLine(progress, elapsedMs, finished);
  sink.report({ ...progress, elapsedMs, finished, line });
}

export interface BackfillTracker {
  /** After each batch: the rows changed so far. */
  advance(rowsDone: number): void;
  finish(rowsDone: number): void;
}

/**
 * A backfill's progress, or null when nobody listens. The total is counted once, up front, with the
 * backfill's own condition rather than read from pg_class.reltuples: reltuples is -1 on a table never
 * analyzed and stale after a bulk load, and it counts every row, while a backfill resumed after an
 * interruption has only the rest to do. The count is one sequential scan, a small part of the
 * backfill's own time, and it is only taken when someone listens.
 */
export async function trackBackfill(knex: Knex, table: string, condition: string): Promise<BackfillTracker | null> {
  const sink = currentSink();
  if (!sink) return null;
  sink.started?.({ kind: 'backfill', table, name: table, condition });
  const result = await knex.raw(`SELECT count(*)::bigint AS n FROM ${table} t WHERE (${condition})`);
  let total = Number((result.rows[0] as { n: string }).n);
  const started = Date.now();
  let lastLine = started;
  let reported = false;
  const progress = (done: number): BackfillProgress => {
    // Rows the application wrote meanwhile can match too: the total is never below what is done.
    total = Math.max(total, done);
    const elapsed = (Date.now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    return { kind: 'backfill', table, rowsDone: done, rowsTotal: total, rowsPerSecond: rate, secondsLeft: rate > 0 ? (total - done) / rate : null };
  };
  return {
    advance(done) {
      const now = Date.now();
      if (now - lastLine < sink.intervalMs) return;
      reported = true;
      // Every row done: the finish line, next, says so (a 100% line just before it would repeat it).
      if (done >= total) return;
      lastLine = now;
      emit(sink, progress(done), now - started, false);
    },
    finish(done) {
      if (reported) emit(sink, progress(done), Date.now() - started, true);
    },
  };
}

interface ProgressRow {
  phase: string;
  blocks_done: string;
  blocks_total: string;
  tuples_done: string;
  tuples_total: string;
  lockers_done: string;
  lockers_total: string;
}

type RawConnection = { query: (sql: string, params?: unknown[]) => Promise<{ rows: ProgressRow[] }> };

export interface IndexTracker {
  /** The build starts on the session `pid`. */
  building(pid: number): void;
  finish(built: boolean): Promise<void>;
}

/**
 * An index build's progress, or null when nobody listens: while the session builds, reads
 * pg_stat_progress_create_index every interval. It reads on a connection of its own, opened at the
 * first line (a short build costs none) and outside knex's pool, whose connections are the
 * migration's (and the runner's time limit counts requests for them as steps).
 */
export function trackIndexBuild(knex: Knex, table: string, name: string): IndexTracker | null {
  const sink = currentSink();
  if (!sink) return null;
  sink.started?.({ kind: 'index', table, name });
  const client = knex.client as { acquireRawConnection: () => Promise<RawConnection>; destroyRawConnection: (c: RawConnection) => Promise<void> };
  let started = Date.now();
  let connection: Promise<RawConnection> | null = null;
  let polling: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let reported = false;

  const poll = async (pid: number) => {
    connection ??= client.acquireRawConnection();
    const { rows } = await (
      await connection
    ).query(
      `SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total, lockers_done, lockers_total
         FROM pg_stat_progress_create_index WHERE pid = $1`,
      [pid],
    );
    const row = rows[0];
    const n = (v: string | undefined) => Number(v ?? 0);
    reported = true;
    emit(
      sink,
      {
        kind: 'index',
        table,
        index: name,
        phase: row?.phase ?? null,
        blocksDone: n(row?.blocks_done),
        blocksTotal: n(row?.blocks_total),
        tuplesDone: n(row?.tuples_done),
        tuplesTotal: n(row?.tuples_total),
        lockersDone: n(row?.lockers_done),
        lockersTotal: n(row?.lockers_total),
      },
      Date.now() - started,
      false,
    );
  };

  return {
    building(pid) {
      clearInterval(timer);
      started = Date.now();
      timer = setInterval(() => {
        // A slow read is not stacked on another; a failed one only costs its line.
        polling ??= poll(pid)
          .catch(() => undefined)
          .finally(() => {
            polling = null;
          });
      }, sink.intervalMs);
      timer.unref();
    },
    async finish(built) {
      clearInterval(timer);
      await polling;
      if (connection) await connection.then((c) => client.destroyRawConnection(c)).catch(() => undefined);
      connection = null;
      if (built && reported) {
        emit(
          sink,
          { kind: 'index', table, index: name, phase: null, blocksDone: 0, blocksTotal: 0, tuplesDone: 0, tuplesTotal: 0, lockersDone: 0, lockersTotal: 0 },
          Date.now() - started,
          true,
        );
      }
    },
  };
}
