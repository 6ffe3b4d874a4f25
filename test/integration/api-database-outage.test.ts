/**
 * PostgreSQL restarts while the local API serves: requests during the outage
 * get 503 with Retry-After (not a hang, not a 500), the server recovers by
 * itself, and a removal is all or nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseUrl, startRestartablePostgres } from '../../functions/database/local-postgres';
import { useDatabase } from '../../functions/database/from-config';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { DEMO, loadDemoData, type DemoData } from '../../functions/local/demo-data';
import { localTokens, type LocalTokens } from '../../functions/local/jwt';
import { startLocalServer, type LocalServer } from '../../functions/local/server';
import { runMessagingMigrations } from '../../functions/migration-runner/runner';
import { resetConfig } from '../../functions/shared/config';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

let cluster: Awaited<ReturnType<typeof startRestartablePostgres>>;
let db: PgDatabase;
let server: LocalServer;
let tokens: LocalTokens;
let keyDir: string;
let url: string;
/** The demo data, with the ids the database gave it. */
let demo: DemoData;

beforeAll(async () => {
  cluster = await startRestartablePostgres();
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE outage');
  await admin.end();
  url = databaseUrl(cluster.adminUrl, 'outage');
  const report = await runMessagingMigrations({ connectionString: url, createBaseSchema: true });
  expect(report.ok).toBe(true);
  db = new PgDatabase(url, { max: 4 });
  demo = await loadDemoData(db);
  process.env.DATABASE_URL = url;
  resetConfig();
  useDatabase(db);
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'ems-jwt-'));
  tokens = await localTokens(path.join(keyDir, 'key.json'));
  server = await startLocalServer({ port: 0, tokens });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
  await cluster?.destroy();
  await rm(keyDir, { recursive: true, force: true });
});

async function get(route: string, token?: string) {
  const response = await fetch(`${server.url}${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20_000) });
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as { error: { code: string } } };
}

it('answers 503 with Retry-After while the database is down, then recovers by itself', async () => {
  const buyer = await tokens.sign(DEMO.buyers.bob.email);
  const route = `/messages/listing/${demo.listings.mariaVolvo.id}/recipient`;
  expect((await get(route, buyer)).status).toBe(200);

  await cluster.stop();
  for (const r of [route, '/health']) {
    const during = await get(r, r === route ? buyer : undefined);
    expect(during.status).toBe(503);
    expect(during.retryAfter).toBe('2');
    expect(during.body.error.code).toBe('unavailable');
  }

  await cluster.restart();
  let recovered = 0;
  for (let i = 0; i < 50 && recovered !== 200; i += 1) {
    recovered = (await get(route, buyer)).status;
    if (recovered !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  expect(recovered).toBe(200);
  expect((await get('/health')).status).toBe(200);
});

it('a removal cut off by the outage is all or nothing', async () => {
  const admin = await tokens.sign(DEMO.sellers.olivia.email);
  const removal = fetch(`${server.url}/company/members/${demo.sellers.maria.id}/remove`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'outage test' }),
  }).then((r) => r.status);
  await cluster.stop(); // fast shutdown: the server aborts whatever is in flight
  const status = await removal;
  expect([200, 503]).toContain(status);
  await cluster.restart();
  const check = new PgDatabase(url, { max: 1 });
  try {
    const [member] = await check.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [demo.sellers.maria.id]);
    const moved = await check.query(`SELECT 1 FROM listed_cars WHERE original_seller_id = $1 AND current_owner_id <> $1`, [demo.sellers.maria.id]);
    const audit = await check.query('SELECT 1 FROM company_member_audit WHERE seller_id = $1', [demo.sellers.maria.id]);
    if (member!.member_status === 'removed') {
      expect(moved.length).toBe(2);
      expect(audit.length).toBe(1);
    } else {
      expect(moved.length).toBe(0);
      expect(audit.length).toBe(0);
    }
  } finally {
    await check.close();
  }
});
