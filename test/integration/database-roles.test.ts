/**
 * Least privilege in the database (migration 7, functions/migration-runner/login-roles.ts): the API's
 * login user may call the route functions and nothing else, the verification's user only reads,
 * the login users are made idempotently, and the verification notices when the grants drift.
 * Against the real server: the users are the ones global-setup provisioned, as a deploy does.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { LOCAL_API_USER } from '../../functions/local/login-users';
import { connectionStringAs, provisionLoginUsers, scramVerifier } from '../../functions/migration-runner/login-roles';
import { verifyInstallation } from '../../functions/verification/verify';
import { ROUTE_CALLER_ROLE } from '../../migrations/lib/database-roles';
import { readSqlFile } from '../../migrations/lib/sql-files';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
let api: pg.Client;
let verifier: pg.Client;
let world: { company: string; owner: string; ownerEmail: string; member: string; listing: string; buyerEmail: string };

const connect = async (url: string) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
};

/** The SQLSTATE a statement fails with, or 'ok'. */
async function outcome(client: pg.Client, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await client.query(sql, params);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

beforeAll(async () => {
  t = await createMigratedDatabase();
  const company = await m.company(t.db);
  const owner = await m.seller(t.db, company, 'owner');
  const member = await m.seller(t.db, company, 'member');
  const listing = await m.listing(t.db, member, company);
  const buyer = await m.buyer(t.db);
  world = { company, owner, ownerEmail: `${owner}@sellers.test`, member, listing, buyerEmail: `${buyer}@buyers.test` };
  api = await connect(t.apiUrl);
  verifier = await connect(t.verifierUrl);
});
afterAll(async () => {
  await api?.end();
  await verifier?.end();
  await t?.drop();
});

describe("the API's login user (member of ems_route_caller)", () => {
  it('answers every kind of route through its function: read, write with audit, refusal', async () => {
    const recipient = await api.query(`SELECT api_get_listing_recipient($1, 'true', $2) AS r`, [world.buyerEmail, world.listing]);
    expect(recipient.rows[0].r).toMatchObject({ recipientId: world.member });
    const removed = await api.query(`SELECT api_remove_member($1, 'true', $2, 'left') AS r`, [world.ownerEmail, world.member]);
    expect(removed.rows[0].r).toMatchObject({ sellerId: world.member });
    const [audit] = await t.db.query<{ action: string }>('SELECT action FROM company_member_audit WHERE seller_id = $1', [world.member]);
    expect(audit?.action).toBe('removed');
    // A refusal of the error contract, not a permission error.
    const refused = await outcome(api, `SELECT api_remove_member($1, 'true', $2, 'again')`, [world.ownerEmail, world.member]);
    expect(refused).toBe('P0001');
    await t.db.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [world.member]);
  });

  it('cannot write or read any table directly, however the statement is written', async () => {
    expect(await outcome(api, `UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [world.member])).toBe('42501');
    expect(await outcome(api, `INSERT INTO company_member_audit (seller_id) VALUES ($1)`, [world.member])).toBe('42501');
    expect(await outcome(api, `DELETE FROM conversations`)).toBe('42501');
    for (const table of ['sellers', 'buyers', 'listed_cars', 'conversations', 'messages', 'companies', 'company_member_audit', 'knex_migrations']) {
      expect(await outcome(api, `SELECT * FROM ${table} LIMIT 1`), table).toBe('42501');
    }
    for (const view of ['listing_message_routing', 'active_company_members', 'active_company_message_handlers']) {
      expect(await outcome(api, `SELECT * FROM ${view} LIMIT 1`), view).toBe('42501');
    }
    expect(await outcome(api, 'CREATE TABLE stash (id int)')).toBe('42501');
  });

  it('cannot reach the work functions behind the routes, which skip the authorization', async () => {
    const calls = [
      [`SELECT ems_remove_member($1, $2, 'x', 'y')`, [world.company, world.member]],
      [`SELECT update_conversation_ownership(gen_random_uuid(), $1, 'manual_transfer')`, [world.owner]],
      [`SELECT * FROM get_listing_message_recipient($1)`, [world.listing]],
      [`SELECT get_member_statistics($1)`, [world.company]],
    ] as const;
    for (const [sql, params] of calls) expect(await outcome(api, sql, [...params]), sql).toBe('42501');
    const [still] = await t.db.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [world.member]);
    expect(still?.member_status).toBe('active');
  });

  it('cannot make a temporary table stand in for one a route reads (the search_path is pinned)', async () => {
    const session = await connect(t.apiUrl);
    try {
      // A forged "sellers" row making the buyer an owner of the company, in the caller's own pg_temp.
      await session.query(`CREATE TEMP TABLE sellers AS SELECT $1::uuid AS id, $2::uuid AS company_id, 'x'::text AS name,
                             $3::text AS email, 'owner'::text AS role, 'active'::text AS member_status, now() AS created_at`,
        [world.owner, world.company, world.buyerEmail]);
      expect(await outcome(session, `SELECT api_get_company_stats($1, 'true')`, [world.buyerEmail])).toBe('P0001');
    } finally {
      await session.end();
    }
  });

  it('a clone made as multi-user rotation makes it (a new login, member of the user) has the same rights, no more', async () => {
    const clone = `${LOCAL_API_USER.username}_clone_${randomBytes(3).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    await t.db.query(`CREATE ROLE ${clone} WITH LOGIN PASSWORD '${password}'`);
    await t.db.query(`GRANT ${LOCAL_API_USER.username} TO ${clone}`);
    const session = await connect(connectionStringAs(t.url, { username: clone, password }));
    try {
      const health = await session.query(`SELECT api_health($1::text[]) AS r`, [[]]);
      expect(health.rows[0].r).toMatchObject({ status: 'ok' });
      expect(await outcome(session, `UPDATE sellers SET member_status = 'removed'`)).toBe('42501');
    } finally {
      await session.end();
      await t.db.query(`DROP ROLE ${clone}`);
    }
  });
});

describe("the verification's login user (member of ems_reader)", () => {
  it('runs the whole verification green', async () => {
    const db = new PgDatabase(t.verifierUrl, { max: 2, applicationName: 'ems-test-verifier' });
    try {
      const report = await verifyInstallation(db);
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.checks.find((c) => c.name === 'database roles')?.detail).toMatch(/callable by ems_route_caller only/);
    } finally {
      await db.close();
    }
  });

  it('cannot write, even after switching its transactions to read-write, nor read e-mail addresses or messages', async () => {
    expect(await outcome(verifier, `UPDATE listed_cars SET status = 'sold'`)).toBe('25006');
    const session = await connect(t.verifierUrl);
    try {
      await session.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
      expect(await outcome(session, `UPDATE listed_cars SET status = 'sold'`)).toBe('42501');
      expect(await outcome(session, `DELETE FROM company_member_audit`)).toBe('42501');
      expect(await outcome(session, `SELECT api_remove_member($1, 'true', $2, 'x')`, [world.ownerEmail, world.member])).toBe('42501');
      expect(await outcome(session, `SELECT email FROM sellers`)).toBe('42501');
      expect(await outcome(session, `SELECT seller_email FROM active_company_message_handlers`)).toBe('42501');
      expect(await outcome(session, `SELECT body FROM messages`)).toBe('42501');
      expect(await outcome(session, `SELECT email FROM buyers`)).toBe('42501');
    } finally {
      await session.end();
    }
  });
});

describe('the verification notices grants that drifted', () => {
  it('a route function re-created from its file without re-securing it, and a table grant to the route role', async () => {
    const fresh = await createMigratedDatabase();
    try {
      await fresh.db.query(readSqlFile('api/api_health.sql'));
      await fresh.db.query(`GRANT UPDATE ON sellers TO ${ROUTE_CALLER_ROLE}`);
      const report = await verifyInstallation(fresh.db);
      const roles = report.checks.find((c) => c.name === 'database roles')!;
      expect(roles.ok).toBe(false);
      expect(roles.detail).toContain("route function api_health does not run with its owner's rights");
      expect(roles.detail).toContain('route function api_health has no pinned search_path');
      expect(roles.detail).toContain('ems_route_caller holds UPDATE on sellers');
    } finally {
      await fresh.drop();
    }
  });
});

describe('provisioning the login users (on deploy)', () => {
  const adminUrl = () => t.url;

  it('is idempotent, and a second run with a new password (a replaced secret) makes the old one stop working', async () => {
    const username = `ems_test_login_${randomBytes(3).toString('hex')}`;
    const first = { username, password: randomBytes(18).toString('base64url'), memberOf: ROUTE_CALLER_ROLE } as const;
    const second = { ...first, password: randomBytes(18).toString('base64url') };
    try {
      await provisionLoginUsers(adminUrl(), [first]);
      await provisionLoginUsers(adminUrl(), [first]);
      const before = await connect(connectionStringAs(t.url, first));
      await before.end();
      await provisionLoginUsers(adminUrl(), [second]);
      await expect(connect(connectionStringAs(t.url, first))).rejects.toThrow(/password authentication failed/);
      const after = await connect(connectionStringAs(t.url, second));
      expect(await outcome(after, 'SELECT * FROM sellers')).toBe('42501');
      await after.end();
      // Only its verifier is stored: the password itself appears in no catalog.
      const [stored] = await t.db.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [username]);
      expect(stored?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
      expect(stored?.rolpassword).not.toContain(second.password);
    } finally {
      await t.db.query(`DROP ROLE IF EXISTS ${username}`);
    }
  });

  it('refuses, changing nothing, a privileged role, the connected user, a malformed name or a weak password', async () => {
    const [me] = await t.db.query<{ name: string; password: string | null }>('SELECT current_user AS name, rolpassword AS password FROM pg_authid WHERE rolname = current_user');
    const cases = [
      [{ username: me!.name, password: 'x'.repeat(20), memberOf: ROUTE_CALLER_ROLE }, /connected user or a privileged role/],
      [{ username: 'Robert"; DROP TABLE sellers; --', password: 'x'.repeat(20), memberOf: ROUTE_CALLER_ROLE }, /not a plain lower-case role name/],
      [{ username: 'ems_short_password', password: 'short', memberOf: ROUTE_CALLER_ROLE }, /shorter than 16/],
      [{ username: 'ems_route_caller', password: 'x'.repeat(20), memberOf: ROUTE_CALLER_ROLE }, /group role/],
    ] as const;
    for (const [user, message] of cases) await expect(provisionLoginUsers(adminUrl(), [user]), user.username).rejects.toThrow(message);
    const [after] = await t.db.query<{ password: string | null }>('SELECT rolpassword AS password FROM pg_authid WHERE rolname = current_user');
    expect(after?.password).toBe(me!.password);
    const [made] = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'ems_short_password'`);
    expect(made?.n).toBe(0);
  });

  it('computes the verifier PostgreSQL itself checks a login against', async () => {
    const username = `ems_test_scram_${randomBytes(3).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    try {
      await t.db.query(`CREATE ROLE ${username} LOGIN PASSWORD '${scramVerifier(password)}'`);
      const session = await connect(connectionStringAs(t.url, { username, password }));
      await session.end();
    } finally {
      await t.db.query(`DROP ROLE IF EXISTS ${username}`);
    }
  });
});

describe("the marketplace's own database role, when it is not the migration user", () => {
  const ROLE = `ems_test_marketplace_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const documented = (role: string) => [
    `GRANT SELECT, INSERT, UPDATE, DELETE ON sellers, listed_cars, conversations, companies, buyers, messages TO ${role}`,
    `GRANT INSERT ON company_member_audit, messaging_outbox TO ${role}`,
    `GRANT SELECT, INSERT ON conversation_ownership_log TO ${role}`,
    `GRANT SELECT ON company_message_handlers TO ${role}`,
  ];
  afterAll(async () => {
    await t.db.query(`DROP OWNED BY ${ROLE}`).catch(() => undefined);
    await t.db.query(`DROP ROLE IF EXISTS ${ROLE}`);
  });

  it("with the README's grants it removes a member by plain SQL; without INSERT on the outbox the removal fails and changes nothing", async () => {
    await t.db.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${password}'`);
    for (const grant of documented(ROLE)) await t.db.query(grant);
    const session = await connect(connectionStringAs(t.url, { username: ROLE, password }));
    try {
      const company = await m.company(t.db);
      await m.seller(t.db, company, 'owner');
      const member = await m.seller(t.db, company, 'member');
      const listing = await m.listing(t.db, member, company);
      await m.conversation(t.db, listing, await m.buyer(t.db), member);
      expect(await outcome(session, `UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member])).toBe('ok');

      const other = await m.seller(t.db, company, 'member');
      await m.listing(t.db, other, company);
      await t.db.query(`REVOKE INSERT ON messaging_outbox FROM ${ROLE}`);
      expect(await outcome(session, `UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [other])).toBe('42501');
      const [still] = await t.db.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [other]);
      expect(still?.member_status).toBe('active');
    } finally {
      await session.end();
    }
  });
});
