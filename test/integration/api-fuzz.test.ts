/**
 * Property-based requests over every route through the local server: random
 * paths, methods, headers, ids and bodies. Never a 5xx, never a stack trace or
 * SQL in a body, the database unchanged by every refused request, and no token,
 * password or connection string in the logs. EMS_LONG_TESTS=1 runs 10× more.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { DEMO } from '../../functions/local/demo-data';
import type { LocalServer } from '../../functions/local/server';
import { ROUTES } from '../../functions/http/routes';
import { logger } from '../../functions/shared/observability';
import type { TestDatabase } from '../helpers/database';
import { startLocalApi, type LocalApi } from '../helpers/local-api';
import { contentFingerprint } from '../helpers/snapshot';

const RUNS = process.env.EMS_LONG_TESTS === '1' ? 2000 : 200;

let api: LocalApi;
let t: TestDatabase;
let server: LocalServer;
let validTokens: string[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  api = await startLocalApi();
  ({ t, server } = api);
  validTokens = await Promise.all(
    [DEMO.buyers.bob.email, DEMO.sellers.olivia.email, DEMO.sellers.holly.email, DEMO.sellers.henry.email].map((e) => api.tokens.sign(e)),
  );
  logger.setLogLevel('DEBUG');
  // Captured, not printed: the structured logs are checked below.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logLines.push(String(chunk));
      return true;
    });
  }
});

afterAll(async () => {
  vi.restoreAllMocks();
  logger.setLogLevel('SILENT');
  await api?.close();
});

const nasty = fc.constantFrom(
  "' OR '1'='1",
  '1; DROP TABLE sellers; --',
  '../../etc/passwd',
  '%00',
  '\u0000',
  '𝓤𝓷𝓲𝓬𝓸𝓭𝓮',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  'null',
  '-1',
  '9'.repeat(400),
  DEMO.listings.mariaVolvo.id,
  DEMO.sellers.maria.id,
  DEMO.conversations.bobMariaVolvo.id,
  '00000000-0000-4000-8000-000000000000',
);
const idLike = fc.oneof(fc.uuid(), fc.string({ maxLength: 60 }), nasty);

const pathArb = fc.oneof(
  fc.tuple(fc.constantFrom(...ROUTES.map((r) => r.path)), idLike).map(([template, id]) =>
    template.replace(/\{\w+\}/g, encodeURIComponent(id)),
  ),
  fc.array(fc.oneof(fc.string({ maxLength: 12 }), nasty), { maxLength: 6 }).map((parts) => `/${parts.map(encodeURIComponent).join('/')}`),
);

/** Deeply nested JSON text, built as text (serialising such a value would overflow the stack here too). */
const deepJson = (depth: number) => `${'{"a":['.repeat(depth)}"x"${']}'.repeat(depth)}`;

const bodyArb = fc.oneof(
  fc.constant(undefined),
  fc.json().map((s) => s),
  fc.anything().map((v) => {
    try {
      return JSON.stringify(v) ?? 'undefined';
    } catch {
      return '{}';
    }
  }),
  fc.record({ listingId: idLike, body: fc.oneof(fc.string(), nasty, fc.integer()) }).map((v) => JSON.stringify(v)),
  fc.record({ reason: fc.oneof(fc.string(), fc.constant(null)), restoreListings: fc.oneof(fc.boolean(), fc.string()) }).map((v) => JSON.stringify(v)),
  fc.record({ handlers: fc.array(fc.record({ sellerId: idLike, priority: fc.oneof(fc.integer(), fc.double()) }), { maxLength: 3 }) }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 10, max: 20_000 }).map(deepJson),
  fc.integer({ min: 1, max: 300_000 }).map((n) => 'z'.repeat(n)),
  fc.string().map((s) => `{${s}`),
);

const authArb = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...[0, 1, 2, 3]).map((i) => `Bearer ${validTokens[i]}`),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, 'x')}`),
  fc.constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'bearer  ', 'Token abc'),
);

it(`${RUNS} random requests: no 5xx, no leaks, nothing written when refused`, async () => {
  let before = await contentFingerprint(t.db);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      pathArb,
      bodyArb,
      authArb,
      fc.dictionary(fc.constantFrom('x-forwarded-for', 'content-type', 'accept', 'x-custom'), fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''))),
      async (method, route, body, authorization, headers) => {
        const response = await fetch(`${server.url}${route}`, {
          method,
          headers: { ...headers, ...(authorization ? { authorization } : {}) },
          body: ['GET', 'HEAD'].includes(method) ? undefined : body,
        });
        const text = await response.text();
        expect(response.status, `${method} ${route} -> ${text}`).toBeLessThan(500);
        if (method !== 'HEAD') {
          const parsed = JSON.parse(text) as { error?: { code: string; message: string } };
          if (response.status >= 400) expect(parsed.error).toEqual({ code: expect.any(String), message: expect.any(String) });
          expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|SELECT |INSERT INTO|UPDATE .* SET|pg_catalog/);
        }
        if (response.status >= 400) {
          expect(await contentFingerprint(t.db)).toEqual(before);
        } else {
          before = await contentFingerprint(t.db);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

it('logs never contain a token, a password or a connection string', () => {
  const logs = logLines.join('');
  expect(logs).toContain('request handled'); // the capture works
  for (const token of validTokens) expect(logs).not.toContain(token.split('.')[2]);
  expect(logs).not.toMatch(/postgres(ql)?:\/\//);
  expect(logs).not.toContain(new URL(t.url).password);
  expect(logs).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);
});
