/** `migrate:messaging --rollback`: asks first, exports the history, says where, then drops. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { removeMember } from '../../functions/domain/company-members';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

const run = promisify(execFile);
let t: TestDatabase;
let exportDir: string;

async function rollbackCli(...args: string[]) {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'functions/migration-runner/cli.ts', '--rollback', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: t.url },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

const tableExists = async (name: string) =>
  (await t.db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]))[0]!.exists;

beforeAll(async () => {
  t = await createMigratedDatabase();
  exportDir = await mkdtemp(path.join(os.tmpdir(), 'ems-export-'));
  const companyId = await m.company(t.db);
  await m.seller(t.db, companyId, 'owner');
  const member = await m.seller(t.db, companyId, 'member');
  const listingId = await m.listing(t.db, member, companyId);
  await m.conversation(t.db, listingId, await m.buyer(t.db));
  await removeMember(t.db, { companyId, sellerId: member, actor: 'test', reason: 'left' });
});
afterAll(async () => {
  await t?.drop();
  await rm(exportDir, { recursive: true, force: true });
});

it('without --yes and without a terminal it refuses (a usage error, exit 2) and changes nothing', async () => {
  const result = await rollbackCli('--export-dir', exportDir);
  expect(result.code).toBe(2);
  expect(result.output).toContain('pass --yes');
  expect(await tableExists('conversation_ownership_log')).toBe(true);
});

it('with --yes it exports the audit and ownership history, says where, and then rolls back', async () => {
  const audit = await t.db.query('SELECT id, action, actor, reason FROM company_member_audit ORDER BY id');
  const log = await t.db.query('SELECT id, reason, previous_owner_id, new_owner_id FROM conversation_ownership_log ORDER BY id');
  const result = await rollbackCli('--yes', '--export-dir', exportDir);
  expect(result.code, result.output).toBe(0);
  expect(result.output).toContain(`Exported the messaging history to ${exportDir}`);

  const lines = async (file: string) =>
    (await readFile(path.join(exportDir, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const exportedAudit = await lines('company_member_audit.ndjson');
  expect(exportedAudit.map(({ id, action, actor, reason }) => ({ id, action, actor, reason }))).toEqual(audit);
  const exportedLog = await lines('conversation_ownership_log.ndjson');
  expect(exportedLog.map(({ id, reason, previous_owner_id, new_owner_id }) => ({ id, reason, previous_owner_id, new_owner_id }))).toEqual(log);
  expect((await lines('seller_membership.ndjson')).some((s) => s.member_status === 'removed')).toBe(true);

  for (const table of ['company_member_audit', 'conversation_ownership_log', 'company_message_handlers']) {
    expect(await tableExists(table)).toBe(false);
  }
  const names = await t.db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
  expect(names.map((n) => n.name)).toEqual(['20250101000000_base_marketplace_schema.js']);
});
