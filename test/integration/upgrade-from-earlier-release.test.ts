/**
 * Upgrading a database the previous release installed: before the entity id domains, every
 * messaging function said `uuid` in its signature, and the outbox lock was exclusive. The previous
 * release's own sources (from git: the release this one follows, as it landed) install the
 * database; this release's runner then upgrades it. The result must be what a new install has:
 * domains, no function with a uuid signature (so later migrations and rollbacks find what they
 * expect), the verification green, the routing working, and a rollback of everything clean.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { apiRoutes } from '../../functions/domain/api-routes';
import { planMessagingMigrations } from '../../functions/migration-runner/dry-run';
import { runMessagingMigrations } from '../../functions/migration-runner/runner';
import { verifyInstallation } from '../../functions/verification/verify';
import { ID_DOMAINS } from '../../migrations/lib/id-domains';
import { reread, schemaCatalog, snapshotTables } from '../helpers/catalog';
import { commandEnv, runCommand } from '../helpers/cli';
import { databasesDroppedAfterAll, type TestDatabase } from '../helpers/database';
import { BASE_TABLES } from '../helpers/existing-marketplace';
import { failOnce } from '../helpers/failure-injection';
import { ALL_MIGRATION_NAMES, recordedMigrations, rollbackAll } from '../helpers/migrations';

/** The last release before the id domains (main as it landed on 2026-11-30). */
const PREVIOUS_RELEASE = 'c113d00';

function releaseAvailable(): boolean {
  try {
    execFileSync('git', ['cat-file', '-e', `${PREVIOUS_RELEASE}^{commit}`], { cwd: PROJECT_ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const database = databasesDroppedAfterAll();
let release: string;

beforeAll(() => {
  if (!releaseAvailable()) return;
  release = mkdtempSync(path.join(os.tmpdir(), 'ems-previous-release-'));
  execFileSync('sh', ['-c', `git archive ${PREVIOUS_RELEASE} | tar -x -C '${release}'`], { cwd: PROJECT_ROOT });
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(release, 'node_modules'));
});
afterAll(() => {
  if (release) rmSync(release, { recursive: true, force: true });
});

/** Runs the previous release's knex CLI in its own checkout. */
async function previousRelease(t: TestDatabase, args: string) {
  const result = await runCommand(`node_modules/.bin/knex ${args}`, commandEnv(t.url), { cwd: release, timeoutMs: 120_000 });
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

async function uuidSignatures(t: TestDatabase): Promise<string[]> {
  const rows = await t.db.query<{ signature: string }>(
    `SELECT oid::regprocedure::text AS signature FROM pg_proc
      WHERE pronamespace = current_schema()::regnamespace
        AND (prorettype = 'uuid'::regtype OR 'uuid'::regtype = ANY (coalesce(proallargtypes, proargtypes::oid[])))`,
  );
  return rows.map((r) => r.signature);
}

/** A company with an owner and a member who holds an active listing. */
async function someData(t: TestDatabase): Promise<{ owner: string; member: string }> {
  const [company] = await t.db.query<{ id: string }>(`INSERT INTO companies (name) VALUES ('Upgrade Cars') RETURNING id`);
  const [owner] = await t.db.query<{ id: string }>(`INSERT INTO sellers (company_id, name, email, role) VALUES ($1, 'Olga', 'olga@up.test', 'owner') RETURNING id`, [company!.id]);
  const [member] = await t.db.query<{ id: string }>(`INSERT INTO sellers (company_id, name, email, role) VALUES ($1, 'Max', 'max@up.test', 'member') RETURNING id`, [company!.id]);
  await t.db.query(`INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status) VALUES ($1, $2, 'Volvo', 'V70', 2012, 900000, 'active')`, [
    member!.id,
    company!.id,
  ]);
  return { owner: owner!.id, member: member!.id };
}

async function expectUpgradedLikeANewInstall(t: TestDatabase, people: { owner: string; member: string }) {
  const report = await runMessagingMigrations({ connectionString: t.url });
  expect(report.failure, report.failure?.message).toBeUndefined();
  expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
  expect((await planMessagingMigrations({ connectionString: t.url })).notes.join('\n')).not.toContain('An earlier release');
  const domains = await t.db.query<{ typname: string; base: string }>(
    `SELECT typname, format_type(typbasetype, typtypmod) AS base FROM pg_type WHERE typtype = 'd' AND typname = ANY ($1::text[]) ORDER BY typname`,
    [[...ID_DOMAINS]],
  );
  expect(domains.map((d) => [d.typname, d.base])).toEqual([...ID_DOMAINS].sort().map((name) => [name, 'uuid']));
  expect(await uuidSignatures(t)).toEqual([]);
  const verification = await verifyInstallation(t.db);
  expect(verification.checks.filter((c) => !c.ok)).toEqual([]);
  // The routing works on the re-created functions: the member leaves, the owner takes the listing.
  await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [people.member]);
  expect(await t.db.query(`SELECT current_owner_id FROM listed_cars WHERE seller_id = $1`, [people.member])).toEqual([{ current_owner_id: people.owner }]);
  // And so does every route function, as the API's login user (their bodies read the caller as ems_api_caller now answers).
  const api = new PgDatabase(t.apiUrl, { max: 1, applicationName: 'ems-test-api' });
  try {
    const owner = { identity: 'olga@up.test', emailVerified: 'true' };
    expect((await apiRoutes.reactivateMember(api, owner, people.member, true, 'back')).listingsRestored).toBe(1);
    expect((await apiRoutes.updateMessageHandlers(api, owner, [{ sellerId: people.member, priority: 5 }])).handlers).toEqual([
      expect.objectContaining({ sellerId: people.member, priority: 5 }),
    ]);
    expect((await apiRoutes.listMessageHandlers(api, owner)).handlers).toHaveLength(1);
    expect((await apiRoutes.removeMember(api, owner, people.member, 'left again')).listingsMoved).toBe(1);
    expect(await apiRoutes.health(api)).toMatchObject({ status: 'ok' });
  } finally {
    await api.close();
  }
  // Everything rolls back, and installs again.
  await t.db.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [people.member]);
  await rollbackAll(t.url);
  expect(await t.db.query(`SELECT typname FROM pg_type WHERE typname = ANY ($1::text[])`, [[...ID_DOMAINS]])).toEqual([]);
  const again = await runMessagingMigrations({ connectionString: t.url });
  expect(again.failure, again.failure?.message).toBeUndefined();
}

describe.runIf(releaseAvailable())(`a database installed by the previous release (${PREVIOUS_RELEASE}, uuid signatures)`, () => {
  it('with all its eight migrations: migrations 9 and 10 make it what a new install is', async () => {
    const t = await database();
    await previousRelease(t, 'migrate:latest');
    const people = await someData(t);
    expect((await uuidSignatures(t)).length).toBeGreaterThan(20);
    // The dry run says what migration 9 does here, which a new install's footprint (nothing) does not.
    const plan = await planMessagingMigrations({ connectionString: t.url });
    expect(plan.pending.map((m) => m.name)).toEqual(ALL_MIGRATION_NAMES.slice(9));
    expect(plan.notes.join('\n')).toMatch(/An earlier release installed this database: \d+ messaging functions are declared with uuid \(.*get_listing_message_recipient.*\)/);
    await expectUpgradedLikeANewInstall(t, people);
  });

  it('rolled back by this release without upgrading first: every migration goes, and a new install is green', async () => {
    const t = await database();
    await previousRelease(t, 'migrate:latest');
    await someData(t);
    await rollbackAll(t.url);
    expect(await recordedMigrations(t.db)).toEqual([]);
    const left = await t.db.query(`SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace`);
    expect(left).toEqual([]);
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure, report.failure?.message).toBeUndefined();
    expect(await uuidSignatures(t)).toEqual([]);
  });

  it("stopped at the guide's four migrations, migration 5 failing part-way: undone to exactly the previous release's schema, then upgraded", async () => {
    const t = await database();
    for (const name of ALL_MIGRATION_NAMES.slice(0, 5)) await previousRelease(t, `migrate:up ${name}`);
    const people = await someData(t);
    // After migration 5 has replaced the uuid-signature functions with domain-signature ones.
    const removeTrap = await failOnce(t, '%DROP CONSTRAINT IF EXISTS conversation_ownership_log_conversation_id_fkey%');
    const catalog = await schemaCatalog(t.db);
    const rows = await snapshotTables(t.db, BASE_TABLES);

    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure?.message).toContain('injected failure');
    expect(report.failure?.message).toMatch(/\nUndone: /);
    expect(await schemaCatalog(t.db)).toEqual(catalog);
    expect(await reread(t.db, rows)).toEqual(rows);
    // The previous release's routing still works as it did.
    expect(await t.db.query(`SELECT count(*)::int AS n FROM listed_cars l CROSS JOIN LATERAL get_listing_message_recipient(l.id) r`)).toEqual([{ n: 1 }]);

    await removeTrap();
    await expectUpgradedLikeANewInstall(t, people);
  });

  it("stopped at the guide's four migrations: migrations 5 to 10 replace its functions, none is left beside its successor", async () => {
    const t = await database();
    for (const name of ALL_MIGRATION_NAMES.slice(0, 5)) await previousRelease(t, `migrate:up ${name}`);
    const people = await someData(t);
    await expectUpgradedLikeANewInstall(t, people);
  });
});
