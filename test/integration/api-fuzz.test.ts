/**
 * Property-based requests over every route through the local server: random
 * paths, methods, headers, ids and bodies. Never a 5xx, never a stack trace or
 * SQL in a body, the database unchanged by every refused request, and no token,
 * password or connection string in the logs. EMS_LONG_TESTS=1 runs 10× more.
 * Most random requests end at the router or the authorizer, so a second property sends requests
 * the router and the authorizer let through (a real route and method, a valid token, ids of the
 * demo data, route-shaped bodies): they reach the handlers' SQL functions, with the same checks.
 *
 * Everything runs twice: with the handlers on node-postgres and on the RDS Data API adapter
 * (through the real SDK client against the local Data API endpoint). The database is observed
 * (fingerprints) over node-postgres either way.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO } from '../../functions/local/demo-data';
import type { LocalServer } from '../../functions/local/server';
import { ROUTES } from '../../functions/http/routes';
import { logger } from '../../functions/shared/observability';
import type { TestDatabase } from '../helpers/database';
import { ADAPTERS } from '../helpers/adapters';
import { startLocalApi, type LocalApi } from '../helpers/local-api';
import { contentFingerprint } from '../helpers/snapshot';

const RUNS = process.env.EMS_LONG_TESTS === '1' ? 2000 : 200;

let api: LocalApi;
let t: TestDatabase;
let server: LocalServer;
let validTokens: string[] = [];
/** What the adapter's run logged (reset per adapter). */
const logLines: string[] = [];

/** Ids of the demo data, by kind: filled in once an adapter's database has it (the database assigns them). */
const DEMO_IDS: Record<string, string[]> = { listingId: [], sellerId: [], conversationId: [] };
/** An id of the demo data, of `kind` (any kind when not given). */
const demoId = (kind?: string) =>
  fc.nat({ max: 1000 }).map((i) => {
    const ids = (kind === undefined ? undefined : DEMO_IDS[kind]) ?? Object.values(DEMO_IDS).flat();
    return ids[i % ids.length] ?? '';
  });

const nasty = fc.oneof(
  demoId(),
  fc.constantFrom(
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
  '00000000-0000-4000-8000-000000000000',
  ),
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

/** Ids of the demo data (requests about things that exist), by kind, mostly of the kind asked for. */
const someId = (kind: string) =>
  fc.oneof(
    { weight: 4, arbitrary: demoId(kind) },
    { weight: 1, arbitrary: demoId() },
    { weight: 1, arbitrary: idLike },
  );
/** Text for a message body or a reason: mostly valid, sometimes any code point (NUL too), blank or too long. */
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1 }) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: fc.constantFrom(' ', 'x'.repeat(5001)) },
);

/** Bodies shaped like each route's own, with odd values. */
const BODY_OF_ROUTE: Partial<Record<string, fc.Arbitrary<unknown>>> = {
  sendMessage: fc.record({ listingId: someId('listingId'), body: text }),
  removeMember: fc.record({ reason: text }),
  reactivateMember: fc.record({ restoreListings: fc.boolean(), reason: fc.option(text, { nil: undefined }) }, { requiredKeys: ['restoreListings'] }),
  updateMessageHandlers: fc.record({
    handlers: fc.array(
      fc.record(
        { sellerId: someId('sellerId'), priority: fc.oneof(fc.integer({ min: -1, max: 1001 }), fc.double()), active: fc.boolean() },
        { requiredKeys: ['sellerId'] },
      ),
      { maxLength: 3 },
    ),
  }),
};
/** validTokens' indices by the kind of caller a route serves (bob; olivia and henry, owners). */
const CALLERS_OF: Partial<Record<string, number[]>> = { buyer: [0], company_admin: [1, 3] };
/** A real route and its method, mostly the caller it serves, an id mostly of something that exists, a body mostly shaped like its own. */
const routedArb = fc.constantFrom(...ROUTES).chain((route) =>
  fc.record({
    route: fc.constant(route),
    token: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(CALLERS_OF[route.access] ?? [0, 1, 2, 3])) }, { weight: 1, arbitrary: fc.nat({ max: 3 }) }),
    id: someId(/\{(\w+)\}/.exec(route.path)?.[1] ?? ''),
    body: fc.oneof(
      { weight: 4, arbitrary: BODY_OF_ROUTE[route.id]?.map((v) => JSON.stringify(v)) ?? fc.constant(undefined) },
      { weight: 1, arbitrary: bodyArb },
    ),
  }),
);

const headersArb = fc.dictionary(
  fc.constantFrom('x-forwarded-for', 'content-type', 'accept', 'x-custom'),
  fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
);

const authArb = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...[0, 1, 2, 3]).map((i) => `Bearer ${validTokens[i]}`),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, 'x')}`),
  fc.constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'bearer  ', 'Token abc'),
);

for (const adapter of ADAPTERS) {
  describe(`through ${adapter}`, () => {
    beforeAll(async () => {
      logLines.length = 0;
      api = await startLocalApi({ adapter });
      ({ t, server } = api);
      DEMO_IDS.listingId = Object.values(api.demo.listings).map((l) => l.id);
      DEMO_IDS.sellerId = Object.values(api.demo.sellers).map((s) => s.id);
      DEMO_IDS.conversationId = Object.values(api.demo.conversations).map((c) => c.id);
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

    /** The database's contents after the last request that was not refused. */
    let before: Record<string, string>;

    /** One request and the checks every request must pass. */
    async function request(method: string, route: string, body: string | undefined, authorization: string | undefined, headers: Record<string, string>) {
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
    }

    it(`${RUNS} random requests: no 5xx, no leaks, nothing written when refused`, async () => {
      before = await contentFingerprint(t.db);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
          pathArb,
          bodyArb,
          authArb,
          headersArb,
          request,
        ),
        { numRuns: RUNS },
      );
    });

    // Most random requests end at the router or the authorizer; these reach a handler and its database calls.
    it(`${RUNS} random requests on a real route with a valid token: the same checks`, async () => {
      before = await contentFingerprint(t.db);
      const statements = () => api.endpoint?.requests.filter((r) => r.operation === 'ExecuteStatement').length ?? 0;
      const statementsBefore = statements();
      await fc.assert(
        fc.asyncProperty(
          routedArb,
          headersArb,
          ({ route, token, id, body }, headers) =>
            request(route.method, route.path.replace(/\{\w+\}/g, encodeURIComponent(id)), body, `Bearer ${validTokens[token]}`, headers),
        ),
        { numRuns: RUNS },
      );
      // The handlers really ran on the adapter named: under 'data-api' their statements reached the endpoint.
      if (api.endpoint) expect(statements() - statementsBefore).toBeGreaterThan(RUNS / 2);
    });

    it('logs never contain a token, a password or a connection string', () => {
      const logs = logLines.join('');
      expect(logs).toContain('request handled'); // the capture works
      for (const token of validTokens) expect(logs).not.toContain(token.split('.')[2]);
      expect(logs).not.toMatch(/postgres(ql)?:\/\//);
      expect(logs).not.toContain(new URL(t.url).password);
      expect(logs).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);
    });
  });
}
