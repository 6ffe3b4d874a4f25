/**
 * Every route through real HTTP against `npm start`'s server, started here on
 * a free port with its own database, including the curl examples it prints.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { openApiDocument } from '../../functions/http/openapi';
import { DEMO, loadDemoData, type DemoData } from '../../functions/local/demo-data';
import { localTokens, type LocalTokens } from '../../functions/local/jwt';
import { LOCAL_API_USER } from '../../functions/local/login-users';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const run = promisify(execFile);

let t: TestDatabase;
let server: ChildProcess;
let output = '';
let baseUrl: string;
let tokens: LocalTokens;
let keyDir: string;
/** The demo data npm start loaded, with the ids the database gave it (found again by what names each row). */
let demo: DemoData;

async function request(method: string, route: string, options: { token?: string; body?: unknown; rawBody?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${route}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  t = await createTestDatabase();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'ems-jwt-'));
  const keyFile = path.join(keyDir, 'key.json');
  // Port 0: the server takes a free port itself and prints it. A port found free here and handed
  // over could be taken by another test file's server before npm start binds it (EADDRINUSE).
  server = spawn('npm', ['start', '--', '--with-base-schema'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: t.url, PORT: '0', LOCAL_JWT_KEY_FILE: keyFile, POWERTOOLS_LOG_LEVEL: 'WARN' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  const servingOn = /is serving on (http:\/\/127\.0\.0\.1:\d+)\s/;
  while (!servingOn.test(output)) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  baseUrl = servingOn.exec(output)![1]!;
  tokens = await localTokens(keyFile);
  demo = await loadDemoData(t.db);
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await t?.drop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('reports the migrations, then prints the URL and ready-to-paste curl examples', () => {
    expect(output).toContain('Verification passed.');
    expect(output).toContain(`serving on ${baseUrl}`);
    expect(output).toMatch(/BUYER=\S+\.\S+\.\S+/);
    expect(output).toContain(`curl -s ${baseUrl}/health`);
    // With the ids the database gave the demo data.
    expect(output).toContain(`${baseUrl}/messages/listing/${demo.listings.mariaVolvo.id}/recipient`);
    expect(output).toContain(`${baseUrl}/company/members/${demo.sellers.maria.id}/remove`);
    expect(output).toContain(`${baseUrl}/messages/conversation/${demo.conversations.bobMariaVolvo.id}/ownership-history`);
  });

  it('serves its OpenAPI 3.1 description, identical to the committed functions/http/openapi.json', async () => {
    const response = await request('GET', '/openapi.json');
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toContain('/messages/listing/{listingId}/recipient');
    const committed = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'functions/http/openapi.json'), 'utf8'));
    expect(committed).toEqual(openApiDocument()); // regenerate with `npm run openapi`
  });

  it('health: 200 without a token', async () => {
    expect(await request('GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it("serves as the API's own database user, as in AWS, not as DATABASE_URL's user", async () => {
    await request('GET', '/health');
    const sessions = await t.db.query<{ usename: string }>(
      `SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ems-local-api'`,
      [t.name],
    );
    expect(sessions.map((s) => s.usename)).toEqual([LOCAL_API_USER.username]);
  });
});

describe('HTTP status codes', () => {
  const listing = () => demo.listings.hollyMini.id;
  it('401 without a token, or with a tampered, expired, not-yet-valid, alg:none, wrong-issuer, wrong-audience or wrong-key token', async () => {
    const good = await tokens.sign(DEMO.buyers.beth.email);
    const [header, payload, signature] = good.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ email: DEMO.sellers.henry.email })).toString('base64url')}.${signature}`;
    const expired = await tokens.sign(DEMO.buyers.beth.email, { expiresIn: '-1m' });
    const wrongAudience = await tokens.sign(DEMO.buyers.beth.email, { audience: 'someone-else' });
    const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    const wrongIssuer = await tokens.sign(DEMO.buyers.beth.email, { issuer: 'https://evil.example' });
    const notYetValid = await tokens.sign(DEMO.buyers.beth.email, { notBefore: '10m' });
    const otherKey = await (await localTokens(path.join(keyDir, 'another-key.json'))).sign(DEMO.buyers.beth.email);
    for (const token of [undefined, tampered, expired, wrongAudience, noneAlg, wrongIssuer, notYetValid, otherKey, 'garbage']) {
      const response = await request('GET', `/messages/listing/${listing()}/recipient`, { token });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('unauthorized');
    }
  });

  it('200, 400, 404 on the recipient route', async () => {
    const token = await tokens.sign(DEMO.buyers.beth.email);
    expect((await request('GET', `/messages/listing/${listing()}/recipient`, { token })).status).toBe(200);
    expect((await request('GET', '/messages/listing/not-a-uuid/recipient', { token })).status).toBe(400);
    expect((await request('GET', '/messages/listing/%E0%A4%A/recipient', { token })).status).toBe(400);
    expect((await request('GET', '/messages/listing/7d9f1c2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f/recipient', { token })).status).toBe(404);
  });

  it('403 for a member reading company stats; 409 for the last admin removing himself', async () => {
    const member = await tokens.sign(DEMO.sellers.holly.email);
    expect((await request('GET', '/company/stats/enhanced', { token: member })).status).toBe(403);
    const henry = await tokens.sign(DEMO.sellers.henry.email);
    const response = await request('POST', `/company/members/${demo.sellers.henry.id}/remove`, { token: henry, body: { reason: 'retiring' } });
    expect(response).toMatchObject({ status: 409, body: { error: { code: 'last_admin' } } });
  });

  it('404 for an unknown route, 405 with Allow for a wrong method, 400 for bad JSON, 413 for a huge body', async () => {
    const token = await tokens.sign(DEMO.buyers.beth.email);
    expect((await request('GET', '/nope')).status).toBe(404);
    const wrongMethod = await request('DELETE', '/messages');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect((await request('POST', '/messages', { token, rawBody: '{"listingId":' })).status).toBe(400);
    expect((await request('POST', '/messages', { token, rawBody: JSON.stringify({ listingId: listing, body: 'x'.repeat(2_000_000) }) })).status).toBe(413);
  });
});

describe("the guide's removal story, end to end over HTTP", () => {
  it("a buyer's message about a removed member's listing reaches the company's handler, and the history shows the move", async () => {
    const buyer = await tokens.sign(DEMO.buyers.beth.email);
    const admin = await tokens.sign(DEMO.sellers.adam.email);
    const listingId = demo.listings.mikeAudi.id;

    const before = await request('POST', '/messages', { token: buyer, body: { listingId, body: 'Is the A4 still available?' } });
    expect(before).toMatchObject({ status: 201, body: { recipient: { id: demo.sellers.mike.id } } });

    const removal = await request('POST', `/company/members/${demo.sellers.mike.id}/remove`, { token: admin, body: { reason: 'left the company' } });
    expect(removal).toMatchObject({ status: 200, body: { status: 'removed', movedTo: { id: demo.sellers.hannah.id } } });

    const recipient = await request('GET', `/messages/listing/${listingId}/recipient`, { token: buyer });
    expect(recipient.body).toMatchObject({ recipientId: demo.sellers.hannah.id, recipientType: 'company_handler' });

    const after = await request('POST', '/messages', { token: buyer, body: { listingId, body: 'Hello again?' } });
    expect(after).toMatchObject({ status: 201, body: { conversationId: before.body.conversationId, recipient: { id: demo.sellers.hannah.id } } });

    const history = await request('GET', `/messages/conversation/${before.body.conversationId}/ownership-history`, { token: buyer });
    expect(history.body.history.map((h: { newOwnerId: string; reason: string }) => [h.newOwnerId, h.reason])).toEqual([
      [demo.sellers.mike.id, 'conversation_started'],
      [demo.sellers.hannah.id, 'member_removed'],
    ]);

    const mike = await tokens.sign(DEMO.sellers.mike.email);
    expect((await request('GET', `/messages/listing/${listingId}/recipient`, { token: mike })).status).toBe(403);

    // The server's event relay prints the removal and the hand-overs it caused (in AWS: the bus).
    const printed = (type: string) => new RegExp(`^event \\d+ ${type.replace('.', '\\.')} .*${demo.sellers.mike.id}`, 'm');
    const deadline = Date.now() + 15_000;
    while (!printed('member.removed').test(output) || !printed('conversations.moved').test(output)) {
      if (Date.now() > deadline) throw new Error(`no event printed for the removal:\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toMatch(printed('listings.handed_over'));
  });
});

describe('the printed curl examples', () => {
  it('each one works as shown (in the order printed)', async () => {
    const buyer = /BUYER=(\S+)/.exec(output)![1]!;
    const admin = /ADMIN=(\S+)/.exec(output)![1]!;
    const block = output.slice(output.indexOf('Try:'));
    const commands = block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('curl '));
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const command of commands) {
      const { stdout } = await run('bash', ['-c', `${command.replace(/^curl -s/, "curl -s -w '\\n%{http_code}'")}`], {
        env: { ...process.env, BUYER: buyer, ADMIN: admin },
      });
      const status = Number(stdout.trim().split('\n').at(-1));
      expect(status, `${command}\n${stdout}`).toBeGreaterThanOrEqual(200);
      expect(status, `${command}\n${stdout}`).toBeLessThan(300);
    }
  });
});

describe('Ctrl-C', () => {
  it('stops the server cleanly', async () => {
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      server.once('exit', (code, signal) => resolve({ code, signal })),
    );
    process.kill(-server.pid!, 'SIGINT'); // what Ctrl-C in a terminal does: the whole process group
    const { code, signal } = await exited;
    // The server shut down by itself (npm, receiving the same SIGINT, may report the signal).
    expect(output).toContain('SIGINT: stopping...');
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    await expect(fetch(`${baseUrl}/health`)).rejects.toThrow();
  });
});
