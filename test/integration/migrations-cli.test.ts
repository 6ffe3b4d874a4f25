/**
 * The guide's knex commands, run verbatim as child processes from the
 * repository root against a fresh database (DATABASE_URL), and the names they
 * record compared with the runner's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations } from '../../functions/migration-runner/runner';
import { GUIDE_VERIFICATION_SQL, verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { EXPECTED_TABLES } from '../../migrations/lib/expected-objects';
import { commandEnv, runCommand, type CommandResult } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { BASE_TABLES } from '../helpers/existing-marketplace';
import { guideCommands, readGuide } from '../helpers/guide';
import { ALL_MIGRATION_NAMES, recordedMigrations } from '../helpers/migrations';

const guide = readGuide();
// The guide names the first four; migrations added since (rule changes) follow them, and come off first.
const GUIDE_MIGRATION_NAMES = MESSAGING_MIGRATION_NAMES.slice(0, 4);
const UP_COMMANDS = MESSAGING_MIGRATION_NAMES.map((name) => `npx knex migrate:up ${name}`);
const DOWN_COMMANDS = [...MESSAGING_MIGRATION_NAMES].reverse().map((name) => `npx knex migrate:down ${name}`);
const LATEST_VERSION = MESSAGING_MIGRATION_NAMES.at(-1)!.slice(0, 14);

let cli: TestDatabase;
let viaRunner: TestDatabase;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  [cli, viaRunner] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  env = commandEnv(cli.url);
});
afterAll(async () => {
  await cli?.drop();
  await viaRunner?.drop();
});

/** Runs a guide command and requires exit code 0 (showing the output when it is not). */
async function run(command: string, options: { viaBin?: boolean } = { viaBin: true }): Promise<CommandResult> {
  const result = await runCommand(command, env, options);
  expect(result.code, `${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function existingTables(names: readonly string[]): Promise<string[]> {
  const rows = await cli.db.query<{ t: string }>(`SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL ORDER BY t`, [[...names]]);
  return rows.map((r) => r.t);
}

async function guideChecksFindEverything(): Promise<boolean> {
  const counts = await Promise.all(Object.values(GUIDE_VERIFICATION_SQL).map(async (sql) => (await cli.db.query(sql)).length));
  return counts.join(',') === '3,1,3,3,3';
}

describe('the guide knex commands, verbatim', () => {
  it.skipIf(guide === null)('the guide lists exactly these commands', () => {
    expect(guideCommands(guide!, 'npx knex migrate:up ')).toEqual(GUIDE_MIGRATION_NAMES.map((name) => `npx knex migrate:up ${name}`));
    expect(guideCommands(guide!, 'npx knex migrate:down ')).toEqual([...GUIDE_MIGRATION_NAMES].reverse().map((name) => `npx knex migrate:down ${name}`));
    expect(UP_COMMANDS.slice(0, 4)).toEqual(GUIDE_MIGRATION_NAMES.map((name) => `npx knex migrate:up ${name}`));
    for (const command of ['npx knex migrate:latest', 'npx knex migrate:status', 'npx knex migrate:list', 'npx knex migrate:currentVersion', 'npx knex migrate:rollback --all']) {
      expect(guideCommands(guide!, command), command).toContain(command);
    }
  });

  it('`npx knex migrate:latest` on a fresh database applies the baseline and the four migrations, green', async () => {
    await run('npx knex migrate:latest', { viaBin: false });
    expect(await recordedMigrations(cli.db)).toEqual(ALL_MIGRATION_NAMES);
    const report = await verifyInstallation(cli.db);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('`npx knex migrate:status` and `npx knex migrate:list` list every migration as completed, none pending', async () => {
    for (const command of ['npx knex migrate:status', 'npx knex migrate:list']) {
      const { stdout } = await run(command);
      expect(stdout, command).toContain(`Found ${ALL_MIGRATION_NAMES.length} Completed Migration file/files.`);
      for (const name of ALL_MIGRATION_NAMES) expect(stdout, command).toContain(name);
      expect(stdout, command).toContain('No Pending Migration files Found.');
    }
  });

  it('`npx knex migrate:currentVersion` prints the version of the latest migration', async () => {
    const { stdout } = await run('npx knex migrate:currentVersion', { viaBin: false });
    expect(LATEST_VERSION).toMatch(/^\d{14}$/);
    expect(stdout).toContain(`Current Version: ${LATEST_VERSION}`);
  });

  it('the CLI and the runner record identical names and checksums in knex_migrations', async () => {
    const report = await runMessagingMigrations({ connectionString: viaRunner.url, createBaseSchema: true });
    expect(report.ok).toBe(true);
    expect(await recordedMigrations(viaRunner.db)).toEqual(await recordedMigrations(cli.db));
    const checksums = 'SELECT name, checksum FROM knex_migrations_checksums ORDER BY name';
    expect(await viaRunner.db.query(checksums)).toEqual(await cli.db.query(checksums));
  });

  it('`npx knex migrate:rollback --all` removes the messaging tables and keeps the base tables', async () => {
    await run('npx knex migrate:rollback --all');
    expect(await recordedMigrations(cli.db)).toEqual([]);
    expect(await existingTables(EXPECTED_TABLES)).toEqual([]);
    expect(await existingTables(BASE_TABLES)).toEqual([...BASE_TABLES].sort());
  });

  it('`npx knex migrate:up <file>.js` for each guide file in order records exactly that name', async () => {
    for (const [i, command] of UP_COMMANDS.entries()) {
      await run(command, { viaBin: i > 0 });
      const recorded = await recordedMigrations(cli.db);
      expect(recorded.at(-1), command).toBe(MESSAGING_MIGRATION_NAMES[i]);
      expect(recorded, command).toEqual(MESSAGING_MIGRATION_NAMES.slice(0, i + 1));
    }
    expect(await existingTables(EXPECTED_TABLES)).toEqual([...EXPECTED_TABLES].sort());
    expect(await guideChecksFindEverything()).toBe(true);
  });

  it('`npx knex migrate:down <file>.js` for each guide file in reverse order removes exactly that name', async () => {
    for (const [i, command] of DOWN_COMMANDS.entries()) {
      await run(command);
      expect(await recordedMigrations(cli.db), command).toEqual(MESSAGING_MIGRATION_NAMES.slice(0, MESSAGING_MIGRATION_NAMES.length - 1 - i));
    }
    expect(await existingTables(EXPECTED_TABLES)).toEqual([]);
    const [{ n }] = (await cli.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name IN ('member_status', 'current_owner_id', 'current_owner_type', 'original_seller_id')`,
    )) as [{ n: number }];
    expect(n).toBe(0);
  });

  it('`npm run migrate` applies everything again, green, with the same names as the runner', async () => {
    await run('npm run migrate', { viaBin: false });
    expect(await recordedMigrations(cli.db)).toEqual(ALL_MIGRATION_NAMES);
    expect(await guideChecksFindEverything()).toBe(true);
    const report = await verifyInstallation(cli.db);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });
});
