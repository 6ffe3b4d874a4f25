/**
 * Every command line, run as a user runs it (`npm run -s <script> -- ...`, `npm start`), against
 * one migrated database: `--help` prints the usage and exits 0, an unknown flag or a missing
 * value exits 2 with the problem and the usage, a malformed tunable exits 2 naming it, and none
 * of them touches anything (row counts and contents of every table, knex_migrations, and the
 * number of sessions the server has seen on the database, fingerprinted before and after). A
 * closed port exits 3 with one line naming host and port. The runner's pre-flight says what it
 * found of the base tables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, PROJECT_ROOT } from '../../functions/database/local-postgres';
import type { Database } from '../../functions/database/port';
import { commandEnv, runCommand, type CommandResult } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
let client: pg.Client;
let keyDir: string;
let env: NodeJS.ProcessEnv;

/** Each command line and how it is typed (npm's own output silenced, as `-s` does). */
const COMMANDS = {
  'migrate:messaging': 'npm run -s migrate:messaging --',
  'migrate:messaging --rollback': 'npm run -s migrate:messaging -- --rollback',
  verify: 'npm run -s verify --',
  token: 'npm run -s token --',
  bench: 'npm run -s bench --',
  openapi: 'npm run -s openapi --',
  start: 'npm start -s --',
} as const;
type Command = keyof typeof COMMANDS;

const run = (command: Command, args: string, extra: Record<string, string> = {}): Promise<CommandResult> =>
  runCommand(`${COMMANDS[command]} ${args}`, { ...env, ...extra }, { timeoutMs: 60_000 });

/** Runs `work` over `items`, a few at a time (each command is a Node.js start-up). */
async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>, width = 4): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/** The database through the test's one session (a pool would open sessions of its own and blur the count). */
const viaClient = (): Database => ({
  query: async <T extends object>(sql: string, params?: readonly unknown[]) => (await client.query(sql, params as unknown[])).rows as T[],
  transaction: () => Promise.reject(new Error('not used here')),
  close: async () => undefined,
});

/** Row count and content digest of every table (knex's included), the migrations recorded, the objects in the schema. */
async function fingerprint() {
  const tables = (
    await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
    )
  ).rows.map((r) => r.name);
  const rows: Record<string, string> = {};
  for (const table of tables) {
    const { n, digest } = (
      await client.query<{ n: number; digest: string | null }>(
        `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${pg.escapeIdentifier(table)} t`,
      )
    ).rows[0]!;
    rows[table] = `${n} rows, ${digest ?? 'empty'}`;
  }
  const migrations = (await client.query('SELECT id, name, batch FROM knex_migrations ORDER BY id')).rows;
  const { objects } = (
    await client.query<{ objects: number }>(`SELECT count(*)::int AS objects FROM pg_class WHERE relnamespace = current_schema()::regnamespace`)
  ).rows[0]!;
  const benchDatabases = (await client.query(`SELECT datname FROM pg_database WHERE datname LIKE 'ems\\_bench\\_%' ORDER BY 1`)).rows;
  return { rows, migrations, objects, benchDatabases };
}

/** Client sessions the server has seen on the database since it was created (pg_stat_database.sessions). */
async function sessionsSeen(): Promise<number> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ sessions: string }>('SELECT sessions FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0]!.sessions);
}

/** Sessions of processes that have exited are counted when their server process ends: give it a moment. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

beforeAll(async () => {
  t = await createTestDatabase();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'ems-cli-'));
  // A key file that must not appear: `token --help` creates no key.
  env = commandEnv(t.url, { LOCAL_JWT_KEY_FILE: path.join(keyDir, 'key.json') });
  client = new pg.Client({ connectionString: t.url, application_name: 'ems-test-fingerprint' });
  await client.connect();
}, 120_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await t?.drop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('the runner on an empty database says the truth about the base tables', () => {
  it('without --with-base-schema: exit 1, names the missing tables, claims nothing present, creates nothing', async () => {
    const result = await run('migrate:messaging', '');
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/Base tables missing: .*sellers/);
    expect(result.stdout).not.toMatch(/present/);
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = current_schema()::regnamespace`);
    expect(rows[0]!.n).toBe(0);
  });

  it('with --with-base-schema: says they are absent and created, then migrates (exit 0)', async () => {
    const result = await run('migrate:messaging', '--with-base-schema');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("the marketplace's base tables are absent: the baseline migration creates them");
    expect(result.stdout).not.toMatch(/base tables (are )?present/);
    expect(result.stdout).toContain('Verification passed.');
  }, 120_000);

  it('run again: the base tables are present, nothing to apply', async () => {
    const result = await run('migrate:messaging', '');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("the marketplace's base tables are present");
    expect(result.stdout).toContain('Applied now       nothing (up to date)');
  });
});

describe('--help, unknown flags, missing values and malformed variables touch nothing', () => {
  const commands = Object.keys(COMMANDS) as Command[];
  type Case = { command: Command; args: string; extra?: Record<string, string> };
  const help: Case[] = [...commands.map((command) => ({ command, args: '--help' })), { command: 'migrate:messaging', args: '-h' }];
  const unknown: Case[] = commands.map((command) => ({ command, args: '--no-such-flag' }));
  const missingValue: Case[] = [
    { command: 'migrate:messaging --rollback', args: '--export-dir' },
    { command: 'bench', args: '--json-out' },
    { command: 'token', args: '' },
    { command: 'migrate:messaging', args: '--yes' },
    { command: 'start', args: '--id-type serial' },
    { command: 'start', args: '--id-type' },
    { command: 'openapi', args: '--id-type text' },
  ];
  const malformed: Case[] = [
    { command: 'migrate:messaging', args: '', extra: { MIGRATION_LOCK_ATTEMPTS: 'abc' } },
    { command: 'verify', args: '', extra: { MIGRATION_LOCK_ATTEMPTS: 'abc' } },
    { command: 'start', args: '', extra: { MIGRATION_LOCK_ATTEMPTS: 'abc' } },
  ];
  let before: Awaited<ReturnType<typeof fingerprint>>;
  let sessionsBefore: number;
  let openapiBefore: string;
  const results = new Map<string, CommandResult & { ms: number }>();
  const key = (c: Case) => `${c.command} ${c.args} ${JSON.stringify(c.extra ?? {})}`;

  beforeAll(async () => {
    // A little data, so that a change anywhere would show in the counts.
    const db = viaClient();
    const companyId = await m.company(db);
    await m.seller(db, companyId, 'owner');
    const member = await m.seller(db, companyId, 'member');
    const listingId = await m.listing(db, member, companyId);
    await m.conversation(db, listingId, await m.buyer(db));
    openapiBefore = readFileSync(path.join(PROJECT_ROOT, 'functions/http/openapi.json'), 'utf8');
    await settle();
    before = await fingerprint();
    sessionsBefore = await sessionsSeen();
    await inParallel([...help, ...unknown, ...missingValue, ...malformed], async (c) => {
      const started = Date.now();
      const result = await run(c.command, c.args, c.extra);
      results.set(key(c), { ...result, ms: Date.now() - started });
    });
    await settle();
  }, 120_000);

  it.each(help)('$command $args: the usage on stdout, exit 0', (c) => {
    const result = results.get(key(c))!;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^usage: /);
    expect(result.stdout).toContain('Exit codes: 0 done, 1 failed, 2 usage');
    expect(result.stderr).toBe('');
  });

  it.each(unknown)('$command $args: the problem and the usage on stderr, exit 2', (c) => {
    const result = results.get(key(c))!;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^Unknown option '--no-such-flag'\.\n\nusage: /);
    expect(result.stdout).toBe('');
  });

  it.each(missingValue)('$command $args: a missing value or a wrong combination is a usage error, exit 2', (c) => {
    const result = results.get(key(c))!;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(/needs a value|Missing <email>|only goes with --rollback|--id-type must be one of uuid, bigint, integer/);
    expect(result.stderr).toContain('usage: ');
    expect(result.stdout).toBe('');
  });

  it.each(malformed)('$command $args with MIGRATION_LOCK_ATTEMPTS=abc: fails at once naming the variable, exit 2', (c) => {
    const result = results.get(key(c))!;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr.trim()).toBe(
      'Invalid configuration: MIGRATION_LOCK_ATTEMPTS="abc": expected a whole number of attempts from 1 to 1000',
    );
    expect(result.ms).toBeLessThan(15_000);
  });

  it('nothing changed: every table, knex_migrations, no session opened on the database, no file written', async () => {
    expect(await fingerprint()).toEqual(before);
    expect(await sessionsSeen()).toBe(sessionsBefore);
    expect(readFileSync(path.join(PROJECT_ROOT, 'functions/http/openapi.json'), 'utf8')).toBe(openapiBefore);
    expect(existsSync(path.join(keyDir, 'key.json'))).toBe(false);
  });

  it('(control) a command that does connect is seen in the session count, and `verify` passes (exit 0)', async () => {
    const result = await run('verify', '');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const deadline = Date.now() + 5000;
    while ((await sessionsSeen()) === sessionsBefore && Date.now() < deadline) await settle();
    expect(await sessionsSeen()).toBeGreaterThan(sessionsBefore);
    expect(await fingerprint()).toEqual(before);
  });
});

describe('a database that cannot be reached: exit 3, one line naming host and port', () => {
  const connecting: [Command, string][] = [
    ['migrate:messaging', ''],
    ['migrate:messaging', '--json'],
    ['migrate:messaging', '--dry-run'],
    ['migrate:messaging --rollback', '--yes'],
    ['verify', ''],
    ['bench', '--smoke'],
    ['start', ''],
  ];
  let port: number;
  const results = new Map<string, CommandResult>();

  beforeAll(async () => {
    port = await freePort(); // free a moment ago, and closed: nothing listens there
    const url = `postgres://someone:not-this-password@127.0.0.1:${port}/marketplace`;
    await inParallel(connecting, async ([command, args]) => {
      results.set(`${command} ${args}`, await run(command, args, { DATABASE_URL: url }));
    });
  }, 120_000);

  it.each(connecting)('%s %s', (command, args) => {
    const result = results.get(`${command} ${args}`)!;
    expect(result.code, result.stdout + result.stderr).toBe(3);
    const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toEqual([`Cannot connect to the database marketplace at 127.0.0.1:${port}: connection refused, nothing listens there (ECONNREFUSED).`]);
    expect(result.stdout + result.stderr).not.toContain('not-this-password');
  });
});
