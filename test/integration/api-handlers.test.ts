/**
 * The Lambda handlers invoked directly with API Gateway v2 events: the
 * authorization matrix (each role × each route × own / other company) and a
 * matrix of malformed requests that must all get a 4xx and write nothing.
 * Every response here is checked against the committed OpenAPI document
 * (functions/http/openapi.json): its status documented for the route, its
 * body valid against that response's schema, its headers as described.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../functions/database/from-config';
import type { ApiEvent } from '../../functions/http/handler-kit';
import { ROUTES, type RouteDefinition, type RouteId } from '../../functions/http/routes';
import { resetConfig } from '../../functions/shared/config';
import { apiEvent, claimsFor, parse, type EventOptions } from '../helpers/api-events';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { databaseThrough, type AdapterDatabase } from '../helpers/adapters';
import type { DataApiEndpoint } from '../helpers/data-api-endpoint';
import * as m from '../helpers/marketplace';
import { contractChecker, readOpenApiDocument } from '../helpers/openapi-contract';
import { contentFingerprint } from '../helpers/snapshot';

type Handler = (event: ApiEvent) => Promise<APIGatewayProxyStructuredResultV2>;

let t: TestDatabase;
const handlers = {} as Record<RouteId, Handler>;
const HANDLER_FILES: Record<RouteId, string> = {
  getListingRecipient: 'get-listing-recipient',
  getConversationOwnershipHistory: 'get-conversation-ownership-history',
  sendMessage: 'send-message',
  getCompanyStats: 'get-company-stats',
  removeMember: 'remove-member',
  reactivateMember: 'reactivate-member',
  listMessageHandlers: 'list-message-handlers',
  updateMessageHandlers: 'update-message-handlers',
  health: 'health',
};

const contract = contractChecker();
/** What the document check saw pass, as `<route> <status>`. */
const documented = new Set<string>();

/** The handler, with every response it gives checked against the OpenAPI document: a test fails on one that is not as documented. */
function checkedAgainstDocument(routeId: RouteId, handler: Handler): Handler {
  return async (event) => {
    const response = await handler(event);
    const problems = contract.problems(routeId, response);
    if (problems.length) throw new Error(`Not as functions/http/openapi.json documents it:\n${problems.join('\n')}\nbody: ${response.body}`);
    documented.add(`${routeId} ${response.statusCode}`);
    return response;
  };
}

async function call(routeId: RouteId, options: EventOptions = {}) {
  return parse(await handlers[routeId](apiEvent(routeId, options)));
}

const emailOf = async (table: 'sellers' | 'buyers', id: string) =>
  (await t.db.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = $1`, [id]))[0]!.email;

let world: Awaited<ReturnType<typeof buildWorld>>;

async function buildWorld() {
  const companyA = await m.company(t.db, 'A Motors');
  const companyB = await m.company(t.db, 'B Cars');
  const ownerA = await m.seller(t.db, companyA, 'owner');
  const adminA = await m.seller(t.db, companyA, 'admin');
  const memberA = await m.seller(t.db, companyA, 'member');
  const removedA = await m.seller(t.db, companyA, 'member');
  const adminB = await m.seller(t.db, companyB, 'admin');
  await m.seller(t.db, companyB, 'owner');
  const buyer = await m.buyer(t.db);
  const otherBuyer = await m.buyer(t.db);
  const listingA = await m.listing(t.db, memberA, companyA);
  const conversationA = await m.conversation(t.db, listingA, buyer);
  await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [removedA]);
  const emails = {
    buyer: await emailOf('buyers', buyer),
    otherBuyer: await emailOf('buyers', otherBuyer),
    ownerA: await emailOf('sellers', ownerA),
    adminA: await emailOf('sellers', adminA),
    memberA: await emailOf('sellers', memberA),
    removedA: await emailOf('sellers', removedA),
    adminB: await emailOf('sellers', adminB),
    stranger: 'nobody@nowhere.test',
  };
  return { companyA, companyB, ownerA, adminA, memberA, removedA, adminB, buyer, listingA, conversationA, emails };
}



type Caller = keyof Awaited<ReturnType<typeof buildWorld>>['emails'];
const CALLERS: Caller[] = ['buyer', 'otherBuyer', 'ownerA', 'adminA', 'memberA', 'removedA', 'adminB', 'stranger'];

/** Expected status per caller for each route, against company A's resources. */
const MATRIX: Record<Exclude<RouteId, 'health'>, Record<Caller, number>> = {
  getListingRecipient: { buyer: 200, otherBuyer: 200, ownerA: 200, adminA: 200, memberA: 200, removedA: 403, adminB: 404, stranger: 403 },
  getConversationOwnershipHistory: { buyer: 200, otherBuyer: 404, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 404, stranger: 403 },
  sendMessage: { buyer: 201, otherBuyer: 201, ownerA: 403, adminA: 403, memberA: 403, removedA: 403, adminB: 403, stranger: 403 },
  getCompanyStats: { buyer: 403, otherBuyer: 403, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 200, stranger: 403 },
  removeMember: { buyer: 403, otherBuyer: 403, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 404, stranger: 403 },
  reactivateMember: { buyer: 403, otherBuyer: 403, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 404, stranger: 403 },
  listMessageHandlers: { buyer: 403, otherBuyer: 403, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 200, stranger: 403 },
  updateMessageHandlers: { buyer: 403, otherBuyer: 403, ownerA: 200, adminA: 200, memberA: 403, removedA: 403, adminB: 409, stranger: 403 },
};

/** A fresh target per request for the routes that change something. */
async function requestFor(routeId: Exclude<RouteId, 'health'>): Promise<EventOptions> {
  switch (routeId) {
    case 'getListingRecipient':
      return { pathParameters: { listingId: world.listingA } };
    case 'getConversationOwnershipHistory':
      return { pathParameters: { conversationId: world.conversationA } };
    case 'sendMessage':
      return { body: { listingId: world.listingA, body: 'Is it available?' } };
    case 'getCompanyStats':
    case 'listMessageHandlers':
      return {};
    case 'removeMember':
      return { pathParameters: { sellerId: await m.seller(t.db, world.companyA, 'member') }, body: { reason: 'left' } };
    case 'reactivateMember': {
      const sellerId = await m.seller(t.db, world.companyA, 'member');
      await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [sellerId]);
      return { pathParameters: { sellerId }, body: { restoreListings: true } };
    }
    case 'updateMessageHandlers':
      return { body: { handlers: [{ sellerId: world.memberA, priority: 5 }] } };
  }
}

/**
 * Everything below runs twice: with the handlers on node-postgres (local, tests)
 * and on the RDS Data API adapter (AWS), driven through the real SDK client
 * against the local Data API endpoint. Results must be identical.
 */
for (const adapter of ['pg', 'data-api'] as const) {
  describe(`through ${adapter}`, () => {
    let endpoint: DataApiEndpoint | undefined;
    let through: AdapterDatabase | undefined;
    beforeAll(async () => {
      t = await createMigratedDatabase();
      // The handlers log in as the API's user, as in AWS: every route must work with EXECUTE on its function alone.
      process.env.DATABASE_URL = t.apiUrl;
      resetConfig();
      through = await databaseThrough(adapter, t, { as: 'api' });
      endpoint = through.endpoint;
      useDatabase(through.db);
      documented.clear();
      for (const [id, file] of Object.entries(HANDLER_FILES)) {
        const { handler } = (await import(`../../functions/handlers/${file}`)) as { handler: Handler };
        handlers[id as RouteId] = checkedAgainstDocument(id as RouteId, handler);
      }
      world = await buildWorld();
    });
    afterAll(async () => {
      await through?.close();
      await t?.drop();
    });

  describe('authorization matrix', () => {
    for (const routeId of Object.keys(MATRIX) as (keyof typeof MATRIX)[]) {
      for (const caller of CALLERS) {
        const expected = MATRIX[routeId][caller];
        it(`${routeId} as ${caller} → ${expected}`, async () => {
          const request = await requestFor(routeId);
          const response = await call(routeId, { ...request, claims: claimsFor(world.emails[caller]) });
          expect(response.status, JSON.stringify(response.body)).toBe(expected);
          if (expected >= 400) expect(response.body.error).toEqual({ code: expect.any(String), message: expect.any(String) });
        });
      }
      it(`${routeId} without a token → 401`, async () => {
        const response = await call(routeId, await requestFor(routeId));
        expect(response.status).toBe(401);
      });
    }

    it("an admin's stats are their own company's, never another's", async () => {
      const response = await call('getCompanyStats', { claims: claimsFor(world.emails.adminB) });
      expect(response.body.companyId).toBe(world.companyB);
    });

    it("a removed member's still-valid token is refused at once", async () => {
      const sellerId = await m.seller(t.db, world.companyA, 'admin');
      const email = await emailOf('sellers', sellerId);
      expect((await call('getCompanyStats', { claims: claimsFor(email) })).status).toBe(200);
      await call('removeMember', { pathParameters: { sellerId }, body: { reason: 'fired' }, claims: claimsFor(world.emails.ownerA) });
      expect((await call('getCompanyStats', { claims: claimsFor(email) })).status).toBe(403);
    });

    it('health needs no token', async () => {
      expect(await call('health')).toMatchObject({ status: 200, body: { status: 'ok', migrations: { pending: [] } } });
    });
  });

  describe.runIf(adapter === 'data-api')('one Data API call per request', () => {
    // What a deployed request waits for is its Data API round trips: every route, answering or
    // refusing, is one ExecuteStatement outside any transaction.
    const calls = async (routeId: RouteId, options: EventOptions) => {
      const before = endpoint!.requests.length;
      const response = await call(routeId, options);
      return { status: response.status, operations: endpoint!.requests.slice(before).map((r) => r.operation) };
    };
    for (const routeId of Object.keys(MATRIX) as (keyof typeof MATRIX)[]) {
      for (const caller of ['ownerA', 'buyer', 'memberA', 'adminB'] as const) {
        it(`${routeId} as ${caller} (${MATRIX[routeId][caller]}): one ExecuteStatement`, async () => {
          const request = await requestFor(routeId);
          const seen = await calls(routeId, { ...request, claims: claimsFor(world.emails[caller]) });
          expect(seen).toEqual({ status: MATRIX[routeId][caller], operations: ['ExecuteStatement'] });
        });
      }
    }
    it('health: one ExecuteStatement', async () => {
      expect(await calls('health', {})).toEqual({ status: 200, operations: ['ExecuteStatement'] });
    });
  });

  describe('identity', () => {
    it('an e-mail matching two accounts (differing only in case) is refused, never resolved to either', async () => {
      const admin = await m.seller(t.db, world.companyA, 'admin');
      const email = await emailOf('sellers', admin);
      const impostor = await m.seller(t.db, world.companyB, 'member');
      await t.db.query('UPDATE sellers SET email = $2 WHERE id = $1', [impostor, email.toUpperCase()]);
      const response = await call('getCompanyStats', { claims: claimsFor(email.toUpperCase()) });
      expect(response).toMatchObject({ status: 403 });
    });

    it('a token whose identity claim holds U+0000 is refused with 401, not a 500', async () => {
      const response = await call('getCompanyStats', { claims: claimsFor(`${world.emails.adminA}\u0000`) });
      expect(response).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    });

    it('a token whose provider says the e-mail is unverified is refused', async () => {
      const response = await call('getCompanyStats', { claims: { ...claimsFor(world.emails.adminA), email_verified: 'false' } });
      expect(response).toMatchObject({ status: 403 });
      expect((await call('getCompanyStats', { claims: { ...claimsFor(world.emails.adminA), email_verified: true } })).status).toBe(200);
    });
  });

  describe('malformed requests: 4xx, a JSON error, and nothing written', () => {
    const admin = () => claimsFor(world.emails.adminA);
    const buyer = () => claimsFor(world.emails.buyer);
    const cases: [string, RouteId, () => EventOptions, number][] = [
      ['recipient: listing id not a uuid', 'getListingRecipient', () => ({ pathParameters: { listingId: 'abc' }, claims: buyer() }), 400],
      ['recipient: SQL injection in the id', 'getListingRecipient', () => ({ pathParameters: { listingId: "1' OR '1'='1" }, claims: buyer() }), 400],
      ['recipient: unknown listing', 'getListingRecipient', () => ({ pathParameters: { listingId: '9b2f6a0e-1c1d-4f7e-9a0b-0c1d2e3f4a5b' }, claims: buyer() }), 404],
      ['recipient: missing path parameter', 'getListingRecipient', () => ({ claims: buyer() }), 400],
      ['recipient: extra path parameter', 'getListingRecipient', () => ({ pathParameters: { listingId: world.listingA, extra: 'x' }, claims: buyer() }), 400],
      ['history: id with unicode', 'getConversationOwnershipHistory', () => ({ pathParameters: { conversationId: 'ü∂ƒ©' }, claims: buyer() }), 400],
      ['history: unknown conversation', 'getConversationOwnershipHistory', () => ({ pathParameters: { conversationId: '9b2f6a0e-1c1d-4f7e-9a0b-0c1d2e3f4a5b' }, claims: buyer() }), 404],
      ['message: no body', 'sendMessage', () => ({ claims: buyer() }), 400],
      ['message: body not JSON', 'sendMessage', () => ({ rawBody: '{listingId:', claims: buyer() }), 400],
      ['message: body is a JSON string', 'sendMessage', () => ({ rawBody: '"hello"', claims: buyer() }), 400],
      ['message: body is an array', 'sendMessage', () => ({ body: [1, 2], claims: buyer() }), 400],
      ['message: body is null', 'sendMessage', () => ({ rawBody: 'null', claims: buyer() }), 400],
      ['message: listingId missing', 'sendMessage', () => ({ body: { body: 'hi' }, claims: buyer() }), 400],
      ['message: listingId a number', 'sendMessage', () => ({ body: { listingId: 42, body: 'hi' }, claims: buyer() }), 400],
      ['message: text empty', 'sendMessage', () => ({ body: { listingId: world.listingA, body: '' }, claims: buyer() }), 400],
      ['message: text only spaces', 'sendMessage', () => ({ body: { listingId: world.listingA, body: '   ' }, claims: buyer() }), 400],
      ['message: text too long', 'sendMessage', () => ({ body: { listingId: world.listingA, body: 'x'.repeat(5001) }, claims: buyer() }), 400],
      ['message: text an object', 'sendMessage', () => ({ body: { listingId: world.listingA, body: { $ne: 1 } }, claims: buyer() }), 400],
      ['message: unknown field', 'sendMessage', () => ({ body: { listingId: world.listingA, body: 'hi', admin: true }, claims: buyer() }), 400],
      ['message: body over the size limit', 'sendMessage', () => ({ rawBody: JSON.stringify({ listingId: world.listingA, body: 'y'.repeat(20_000) }), claims: buyer() }), 413],
      ['message: deeply nested body', 'sendMessage', () => ({ rawBody: '['.repeat(5000) + ']'.repeat(5000), claims: buyer() }), 400],
      ['message: unknown listing', 'sendMessage', () => ({ body: { listingId: '9b2f6a0e-1c1d-4f7e-9a0b-0c1d2e3f4a5b', body: 'hi' }, claims: buyer() }), 404],
      ['remove: seller id not a uuid', 'removeMember', () => ({ pathParameters: { sellerId: 'DROP TABLE sellers' }, body: { reason: 'x' }, claims: admin() }), 400],
      ['remove: reason missing', 'removeMember', () => ({ pathParameters: { sellerId: world.memberA }, body: {}, claims: admin() }), 400],
      ['remove: reason a number', 'removeMember', () => ({ pathParameters: { sellerId: world.memberA }, body: { reason: 7 }, claims: admin() }), 400],
      ['remove: reason too long', 'removeMember', () => ({ pathParameters: { sellerId: world.memberA }, body: { reason: 'r'.repeat(501) }, claims: admin() }), 400],
      ['remove: unknown member', 'removeMember', () => ({ pathParameters: { sellerId: '9b2f6a0e-1c1d-4f7e-9a0b-0c1d2e3f4a5b' }, body: { reason: 'x' }, claims: admin() }), 404],
      ['remove: already removed', 'removeMember', () => ({ pathParameters: { sellerId: world.removedA }, body: { reason: 'x' }, claims: admin() }), 409],
      ['reactivate: restoreListings a string', 'reactivateMember', () => ({ pathParameters: { sellerId: world.removedA }, body: { restoreListings: 'yes' }, claims: admin() }), 400],
      ['reactivate: already active', 'reactivateMember', () => ({ pathParameters: { sellerId: world.memberA }, body: { restoreListings: false }, claims: admin() }), 409],
      ['handlers: empty list', 'updateMessageHandlers', () => ({ body: { handlers: [] }, claims: admin() }), 400],
      ['handlers: priority 0', 'updateMessageHandlers', () => ({ body: { handlers: [{ sellerId: world.memberA, priority: 0 }] }, claims: admin() }), 400],
      ['handlers: priority a float', 'updateMessageHandlers', () => ({ body: { handlers: [{ sellerId: world.memberA, priority: 1.5 }] }, claims: admin() }), 400],
      ['handlers: a removed member', 'updateMessageHandlers', () => ({ body: { handlers: [{ sellerId: world.removedA, priority: 1 }] }, claims: admin() }), 409],
      ['handlers: second change invalid, first not applied', 'updateMessageHandlers', () => ({ body: { handlers: [{ sellerId: world.adminA, priority: 1 }, { sellerId: world.adminB, priority: 2 }] }, claims: admin() }), 409],
      ['handlers: deactivate one that is not a handler', 'updateMessageHandlers', () => ({ body: { handlers: [{ sellerId: world.buyer, active: false }] }, claims: admin() }), 404],
    ];

    for (const [name, routeId, build, expected] of cases) {
      it(`${name} → ${expected}`, async () => {
        const before = await contentFingerprint(t.db);
        const response = await call(routeId, build());
        expect(response.status, JSON.stringify(response.body)).toBe(expected);
        expect(response.body.error).toEqual({ code: expect.any(String), message: expect.any(String) });
        expect(JSON.stringify(response.body)).not.toMatch(/SELECT|INSERT|UPDATE |at .*\.ts|node_modules/);
        expect(await contentFingerprint(t.db)).toEqual(before);
      });
    }

    it('removing the last active owner/admin → 409 last_admin, nothing written', async () => {
      const company = await m.company(t.db);
      const owner = await m.seller(t.db, company, 'owner');
      const before = await contentFingerprint(t.db);
      const response = await call('removeMember', { pathParameters: { sellerId: owner }, body: { reason: 'x' }, claims: claimsFor(await emailOf('sellers', owner)) });
      expect(response).toMatchObject({ status: 409, body: { error: { code: 'last_admin' } } });
      expect(await contentFingerprint(t.db)).toEqual(before);
    });
  });

  describe('text PostgreSQL cannot store (U+0000, unpaired surrogates): 400 naming the field, nothing written', () => {
    const admin = () => claimsFor(world.emails.adminA);
    const buyer = () => claimsFor(world.emails.buyer);
    const count = async (sql: string, params: unknown[] = []) => Number((await t.db.query<{ n: string }>(sql, params))[0]!.n);
    const messagesOn = (listingId: string) =>
      count('SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.listing_id = $1', [listingId]);
    const statusOf = async (sellerId: string) =>
      (await t.db.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [sellerId]))[0]!.member_status;
    const audits = () => count('SELECT count(*) AS n FROM company_member_audit');

    /** 400 with the error contract, the field named, no control character echoed back, the database unchanged. */
    async function expectRefused(routeId: RouteId, event: ApiEvent, field: string) {
      const before = await contentFingerprint(t.db);
      const response = parse(await handlers[routeId](event));
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body).toEqual({ error: { code: 'validation_failed', message: expect.any(String) } });
      expect(response.body.error.message).toContain(`${field}:`);
      expect(response.body.error.message).not.toMatch(/[\u0000\ud800-\udfff]/);
      expect(await contentFingerprint(t.db)).toEqual(before);
      return response;
    }

    it('POST /messages with U+0000 in the message text (raw JSON escape) → 400, no message stored', async () => {
      const listingId = await m.listing(t.db, world.memberA, world.companyA);
      const messagesBefore = await messagesOn(listingId);
      const conversationsBefore = await count('SELECT count(*) AS n FROM conversations');
      const rawBody = `{"listingId":"${listingId}","body":"a\\u0000b"}`;
      expect(JSON.parse(rawBody)).toEqual({ listingId, body: 'a\u0000b' }); // valid JSON
      const response = await expectRefused('sendMessage', apiEvent('sendMessage', { rawBody, claims: buyer() }), 'body');
      expect(response.body.error.message).toMatch(/U\+0000/);
      expect(await messagesOn(listingId)).toBe(messagesBefore);
      expect(await count('SELECT count(*) AS n FROM conversations')).toBe(conversationsBefore);
      // The same request without the NUL goes through: the refusal is about the character alone.
      const ok = await call('sendMessage', { body: { listingId, body: 'ab' }, claims: buyer() });
      expect(ok.status, JSON.stringify(ok.body)).toBe(201);
      expect(await messagesOn(listingId)).toBe(messagesBefore + 1);
    });

    it('POST /messages with an unpaired UTF-16 surrogate in the message text → 400, nothing stored (never silently U+FFFD)', async () => {
      const listingId = await m.listing(t.db, world.memberA, world.companyA);
      const messagesBefore = await messagesOn(listingId);
      const rawBody = `{"listingId":"${listingId}","body":"broken \\ud800 text"}`;
      const response = await expectRefused('sendMessage', apiEvent('sendMessage', { rawBody, claims: buyer() }), 'body');
      expect(response.body.error.message).toMatch(/surrogate/);
      expect(await messagesOn(listingId)).toBe(messagesBefore);
    });

    it('POST /company/members/{sellerId}/remove with U+0000 in reason → 400, the member stays active', async () => {
      const sellerId = await m.seller(t.db, world.companyA, 'member');
      const listingId = await m.listing(t.db, sellerId, world.companyA);
      await m.conversation(t.db, listingId, world.buyer);
      const auditsBefore = await audits();
      const event = apiEvent('removeMember', { pathParameters: { sellerId }, rawBody: '{"reason":"left\\u0000the company"}', claims: admin() });
      const response = await expectRefused('removeMember', event, 'reason');
      expect(response.body.error.message).toMatch(/U\+0000/);
      expect(await statusOf(sellerId)).toBe('active');
      expect(await audits()).toBe(auditsBefore);
      const [listing] = await t.db.query<{ current_owner_id: string }>('SELECT current_owner_id FROM listed_cars WHERE id = $1', [listingId]);
      expect(listing!.current_owner_id).toBe(sellerId);
    });

    it('POST /company/members/{sellerId}/reactivate with U+0000 in reason → 400, the member stays removed', async () => {
      const sellerId = await m.seller(t.db, world.companyA, 'member');
      await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [sellerId]);
      const auditsBefore = await audits();
      const event = apiEvent('reactivateMember', {
        pathParameters: { sellerId },
        body: { restoreListings: true, reason: 'back\u0000again' },
        claims: admin(),
      });
      const response = await expectRefused('reactivateMember', event, 'reason');
      expect(response.body.error.message).toMatch(/U\+0000/);
      expect(await statusOf(sellerId)).toBe('removed');
      expect(await audits()).toBe(auditsBefore);
    });

    it('a U+0000 in a query string parameter, even one no route reads → 400 naming it', async () => {
      const event = { ...apiEvent('getCompanyStats', { claims: admin() }), rawQueryString: 'page=1%00', queryStringParameters: { page: '1\u0000' } };
      await expectRefused('getCompanyStats', event, 'page');
    });
  });

  describe('the OpenAPI document', () => {
    it("every response above was as documented, among them each route's success", () => {
      const routes: readonly RouteDefinition[] = ROUTES;
      for (const route of routes) expect([...documented]).toContain(`${route.id} ${route.successStatus ?? 200}`);
      expect(documented.size).toBeGreaterThan(routes.length); // refusals too
    });

    it('the check fails a real answer the document describes wrongly: a wrong schema, an undocumented status', async () => {
      const wrong = readOpenApiDocument();
      wrong.components.schemas.RemovalSummary.properties.listingsMoved = { type: 'string' };
      delete wrong.paths['/company/members/{sellerId}/remove'].post.responses['409'];
      const against = contractChecker(wrong);
      const sellerId = await m.seller(t.db, world.companyA, 'member');
      const event = apiEvent('removeMember', { pathParameters: { sellerId }, body: { reason: 'left' }, claims: claimsFor(world.emails.adminA) });
      const removed = await handlers.removeMember(event);
      expect(removed.statusCode).toBe(200);
      expect(against.problems('removeMember', removed)).toEqual([expect.stringMatching(/removeMember 200: body \/listingsMoved must be string/)]);
      const again = await handlers.removeMember(event);
      expect(parse(again)).toMatchObject({ status: 409, body: { error: { code: 'already_removed' } } });
      expect(against.problems('removeMember', again)).toEqual([expect.stringMatching(/removeMember: status 409 is not documented/)]);
    });
  });
  });
}
