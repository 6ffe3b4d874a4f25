/**
 * Progress of the long steps (migrations/lib/progress.ts): a batched backfill reports rows done of
 * the total, with a rate and the time left, at most once per interval (never per batch), and ends on
 * its total; a concurrent index build reports its phase from pg_stat_progress_create_index; the
 * runner passes both to its `log`, and EMS_QUIET_MIGRATIONS=1 keeps it quiet. Against the real
 * PostgreSQL; no assertion on speed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations } from '../../functions/migration-runner/runner';
import { type BackfillProgress, type IndexProgress, type ProgressEvent, withProgress } from '../../migrations/lib/progress';
import { backfillInBatches, createIndexConcurrently } from '../../migrations/lib/safe-ddl';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { seedBulkMarketplace } from '../helpers/existing-marketplace';
import { createBaseSchemaOnly, withKnex } from '../helpers/migrations';
import { createTemplateDatabase, type TemplateDatabase } from '../helpers/template-database';

const databases: { drop: () => Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

const ROWS = 100_000;

describe('a backfill of 100,000 rows in batches of 1,000', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    databases.push(t);
    await t.db.query(`CREATE TABLE progress_demo (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), filled integer)`);
    await t.db.query(`INSERT INTO progress_demo (filled) SELECT NULL FROM generate_series(1, ${ROWS})`);
  });

  it('reports rows done of the total with a rate and the time left, increasing, at most once per interval, ending on the total', async () => {
    const intervalMs = 150;
    const events: ProgressEvent[] = [];
    const started = Date.now();
    const changed = await withKnex(t.url, (knex) =>
      withProgress({ intervalMs, report: (event) => events.push(event) }, () =>
        backfillInBatches(knex, { table: 'progress_demo', set: 'filled = 1', needsUpdate: 't.filled IS NULL', batchSize: 1000 }),
      ),
    );
    const elapsedMs = Date.now() - started;
    expect(changed).toBe(ROWS);

    const lines = events.map((e) => e.line);
    const backfill = events as (ProgressEvent & BackfillProgress)[];
    // A hundred batches: far more than the lines, which are time-based.
    expect(lines.length, lines.join('\n')).toBeGreaterThanOrEqual(2);
    expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(Math.floor(elapsedMs / intervalMs) + 2);
    expect(backfill.every((e) => e.kind === 'backfill' && e.table === 'progress_demo' && e.rowsTotal === ROWS)).toBe(true);
    for (const [i, e] of backfill.entries()) if (i > 0) expect(e.rowsDone).toBeGreaterThan(backfill[i - 1]!.rowsDone);
    expect(backfill.slice(0, -1).every((e) => !e.finished && e.rowsDone < ROWS)).toBe(true);
    expect(backfill.at(-1)).toMatchObject({ finished: true, rowsDone: ROWS, rowsTotal: ROWS });

    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(/^progress_demo backfill: [\d,]+ of 100,000 rows \(\d{1,2}%\), [\d,]+ rows\/s, about \d+ (s|min \d+ s) left$/);
    }
    expect(lines.at(-1)).toMatch(/^progress_demo backfill: 100,000 of 100,000 rows \(100%\) in \d+\.\d s, [\d,]+ rows\/s$/);
    // Consecutive lines are at least an interval apart.
    for (const [i, e] of events.entries()) if (i > 0 && !e.finished) expect(e.elapsedMs - events[i - 1]!.elapsedMs).toBeGreaterThanOrEqual(intervalMs);
  });

  it('a backfill resumed with part of the rows done counts only the rest', async () => {
    await t.db.query(`UPDATE progress_demo SET filled = NULL WHERE id IN (SELECT id FROM progress_demo ORDER BY id DESC LIMIT 2500)`);
    const events: ProgressEvent[] = [];
    await withKnex(t.url, (knex) =>
      withProgress({ intervalMs: 1, report: (event) => events.push(event) }, () =>
        backfillInBatches(knex, { table: 'progress_demo', set: 'filled = 2', needsUpdate: 't.filled IS NULL', batchSize: 10_000 }),
      ),
    );
    expect(events.at(-1)).toMatchObject({ kind: 'backfill', finished: true, rowsDone: 2500, rowsTotal: 2500 });
  });

  it('nobody listening (EMS_QUIET_MIGRATIONS=1 outside a runner): no line, no count', async () => {
    expect(process.env.EMS_QUIET_MIGRATIONS).toBe('1');
    await t.db.query(`UPDATE progress_demo SET filled = NULL WHERE id IN (SELECT id FROM progress_demo ORDER BY id LIMIT 10)`);
    const statements: string[] = [];
    const info = console.info;
    const printed: unknown[] = [];
    console.info = (...args: unknown[]) => printed.push(args);
    try {
      await withKnex(t.url, async (knex) => {
        knex.on('query', (q: { sql: string }) => statements.push(q.sql));
        await backfillInBatches(knex, { table: 'progress_demo', set: 'filled = 3', needsUpdate: 't.filled IS NULL', batchSize: 50_000 });
      });
    } finally {
      console.info = info;
    }
    expect(printed).toEqual([]);
    expect(statements.some((sql) => /count\(\*\)::bigint AS n FROM progress_demo/.test(sql))).toBe(false);
    expect(statements.length).toBeGreaterThan(0);
  });
});

describe('a concurrent index build', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    databases.push(t);
    await t.db.query(`CREATE TABLE progress_demo (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), filled integer)`);
    await t.db.query(`INSERT INTO progress_demo (filled) SELECT g FROM generate_series(1, 20000) g`);
  });

  it('reports its phase from pg_stat_progress_create_index while it waits for a writer, then that it is built', async () => {
    // A transaction that has written to the table: the build waits for it before it starts, whatever the machine's speed.
    const writer = new pg.Client({ connectionString: t.url });
    await writer.connect();
    await writer.query('BEGIN');
    await writer.query(`UPDATE progress_demo SET filled = filled WHERE id = (SELECT id FROM progress_demo LIMIT 1)`);
    const events: (ProgressEvent & IndexProgress)[] = [];
    let sawWaiting: () => void;
    const waiting = new Promise<void>((resolve) => (sawWaiting = resolve));
    try {
      const build = withKnex(t.url, (knex) =>
        withProgress(
          {
            intervalMs: 100,
            report: (event) => {
              events.push(event as ProgressEvent & IndexProgress);
              if (events.filter((e) => e.phase?.startsWith('waiting for writers')).length >= 2) sawWaiting();
            },
          },
          () => createIndexConcurrently(knex, 'progress_demo_filled_idx', 'ON progress_demo (filled)', { lockTimeout: '60s' }),
        ),
      );
      await Promise.race([waiting, build]);
      await writer.query('COMMIT');
      await build;
    } finally {
      await writer.end();
    }
    const lines = events.map((e) => e.line);
    expect(lines.length, lines.join('\n')).toBeGreaterThanOrEqual(3);
    expect(lines).toContainEqual(
      expect.stringMatching(/^index progress_demo_filled_idx on progress_demo: waiting for writers before build, 0 of 1 transactions, \d+\.\d s$/),
    );
    expect(events.at(-1)).toMatchObject({ kind: 'index', finished: true, index: 'progress_demo_filled_idx', table: 'progress_demo' });
    expect(lines.at(-1)).toMatch(/^index progress_demo_filled_idx on progress_demo: built in \d+\.\d s$/);
    const [index] = await t.db.query<{ valid: boolean }>(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'progress_demo_filled_idx'::regclass`);
    expect(index!.valid).toBe(true);
    // The reading session is gone with the build.
    const readers = await t.db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_stat_progress_create_index%' AND pid <> pg_backend_pid()`);
    expect(readers).toEqual([]);
  });
});

describe('the runner', () => {
  let template: TemplateDatabase;
  beforeAll(async () => {
    template = await createTemplateDatabase(async (url, db) => {
      await createBaseSchemaOnly(url);
      await seedBulkMarketplace(db, { companies: 5, sellersPerCompany: 4, listings: 1500, conversations: 100 });
    });
    databases.push(template);
  });

  const migrate = async (quiet: '0' | '1') => {
    const t = await template.copy();
    databases.push(t);
    const lines: string[] = [];
    const before = process.env.EMS_QUIET_MIGRATIONS;
    process.env.EMS_QUIET_MIGRATIONS = quiet;
    try {
      const report = await runMessagingMigrations({ connectionString: t.url, log: (line) => lines.push(line), progressIntervalMs: 1 });
      expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    } finally {
      process.env.EMS_QUIET_MIGRATIONS = before;
    }
    return lines;
  };

  it("logs the backfill's and the index builds' progress through its log", async () => {
    const lines = await migrate('0');
    expect(lines).toContainEqual(expect.stringMatching(/^listed_cars backfill: 1,500 of 1,500 rows \(100%\) in \d+\.\d s, [\d,]+ rows\/s$/));
    expect(lines).toContainEqual(expect.stringMatching(/^index listed_cars_current_owner_active_idx on listed_cars: /));
    // Between "Applying" and "Applied" of its migration.
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    expect(at(/^listed_cars backfill:/)).toBeGreaterThan(at(/^Applying 20250622121000_messaging_ownership_tracking\.js/));
    expect(at(/^listed_cars backfill:/)).toBeLessThan(at(/^Applied 20250622121000_messaging_ownership_tracking\.js/));
  });

  it('EMS_QUIET_MIGRATIONS=1: not one progress line', async () => {
    const lines = await migrate('1');
    expect(lines.filter((line) => /backfill:|^index |still at work/.test(line))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^Applied 20250622121000_messaging_ownership_tracking\.js/));
  });
});
