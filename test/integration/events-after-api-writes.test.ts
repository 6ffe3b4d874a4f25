/**
 * The event relay woken right after the API's membership writes (functions/events/wake-up.ts):
 * - the handler's one 'request handled' line carries the field the stack's subscription filters
 *   match, on a marked route's success only (not on its refusals, not on an unmarked route), and
 *   the filter's pattern is the one that selects that field being true;
 * - `npm start`'s relay publishes a removal made through the local server right after the answer,
 *   without its schedule (here an hour, so only the wake-up can run it).
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { consolePublisher } from '../../functions/events/publishers';
import { EVENTS_PENDING_LOG_FIELD } from '../../functions/events/wake-up';
import type { ApiEvent } from '../../functions/http/handler-kit';
import { DEMO } from '../../functions/local/demo-data';
import { startLocalRelay, type LocalRelay } from '../../functions/local/local-relay';
import { logger } from '../../functions/shared/observability';
import { EVENTS_PENDING_FILTER_PATTERN } from '../../infra/constructs/event-relay';
import { apiEvent, claimsFor, parse } from '../helpers/api-events';
import { startLocalApi, type LocalApi } from '../helpers/local-api';
import * as m from '../helpers/marketplace';

type Handler = (event: ApiEvent) => Promise<APIGatewayProxyStructuredResultV2>;

let api: LocalApi;
let relayDb: PgDatabase;
let relay: LocalRelay;
/** What the local relay printed (one line per event published). */
const published: string[] = [];
let wakeUps = 0;

beforeAll(async () => {
  api = await startLocalApi({
    onEventsWritten: () => {
      wakeUps += 1;
      relay.wake();
    },
  });
  relayDb = new PgDatabase(api.t.relayUrl, { max: 1, applicationName: 'ems-test-relay' });
  relay = startLocalRelay({ db: relayDb, publish: consolePublisher((line) => published.push(line)), intervalMs: 60 * 60 * 1000 });
  // Only what these tests write is left to publish.
  relay.wake();
  await relay.idle();
  published.length = 0;
});
afterAll(async () => {
  await relay?.stop();
  await relayDb?.close();
  await api?.close();
});

describe("the 'request handled' line", () => {
  let removeMember: Handler;
  let sendMessage: Handler;
  const printed: string[] = [];

  beforeAll(async () => {
    removeMember = ((await import('../../functions/handlers/remove-member')) as { handler: Handler }).handler;
    sendMessage = ((await import('../../functions/handlers/send-message')) as { handler: Handler }).handler;
    logger.setLogLevel('INFO');
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
    logger.setLogLevel('SILENT');
  });

  /** The handler's answer and the one 'request handled' line it printed, parsed. */
  async function handled(handler: Handler, event: ApiEvent) {
    printed.length = 0;
    const answer = parse(await handler(event));
    const lines = printed
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.message === 'request handled');
    expect(lines).toHaveLength(1);
    return { status: answer.status, line: lines[0]! };
  }

  async function dealership() {
    const companyId = await m.company(api.t.db);
    const owner = await m.seller(api.t.db, companyId, 'owner');
    const member = await m.seller(api.t.db, companyId, 'member');
    const listing = await m.listing(api.t.db, member, companyId);
    const buyer = await m.buyer(api.t.db);
    return { owner: claimsFor(`${owner}@sellers.test`), member, listing, buyer: claimsFor(`${buyer}@buyers.test`) };
  }

  it('a removal that succeeded carries the field, true: what the subscription filter matches', async () => {
    const d = await dealership();
    const { status, line } = await handled(removeMember, apiEvent('removeMember', { pathParameters: { sellerId: d.member }, body: { reason: 'left' }, claims: d.owner }));
    expect(status).toBe(200);
    expect(line).toMatchObject({ route: 'removeMember', status: 200 });
    // `{ $.eventsMayBePending IS TRUE }` matches a top-level JSON true, and the line has exactly that.
    expect(EVENTS_PENDING_FILTER_PATTERN.logPatternString).toBe(`{ $.${EVENTS_PENDING_LOG_FIELD} IS TRUE }`);
    expect(line[EVENTS_PENDING_LOG_FIELD]).toBe(true);
  });

  it('a refused removal (403, 404) does not', async () => {
    const d = await dealership();
    const stranger = await handled(removeMember, apiEvent('removeMember', { pathParameters: { sellerId: d.member }, body: { reason: 'left' }, claims: claimsFor('nobody@nowhere.test') }));
    const unknown = await handled(removeMember, apiEvent('removeMember', { pathParameters: { sellerId: d.listing }, body: { reason: 'left' }, claims: d.owner }));
    expect([stranger.status, unknown.status]).toEqual([403, 404]);
    for (const { line } of [stranger, unknown]) expect(line).not.toHaveProperty(EVENTS_PENDING_LOG_FIELD);
  });

  it('a route not marked in the route table does not, even on success (POST /messages: the schedule publishes its rare moves)', async () => {
    const d = await dealership();
    const { status, line } = await handled(sendMessage, apiEvent('sendMessage', { body: { listingId: d.listing, body: 'Still available?' }, claims: d.buyer }));
    expect(status).toBe(201);
    expect(line).not.toHaveProperty(EVENTS_PENDING_LOG_FIELD);
  });
});

describe('npm start: the relay right after a write through the local server', () => {
  const post = (path: string, token: string, body: unknown) =>
    fetch(`${api.server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('publishes the removal made by POST /company/members/{id}/remove without waiting for its schedule', async () => {
    const token = await api.tokens.sign(DEMO.sellers.olivia.email);
    const before = wakeUps;
    const response = await post(`/company/members/${api.demo.sellers.maria.id}/remove`, token, { reason: 'left the company' });
    expect(response.status).toBe(200);
    expect(wakeUps).toBe(before + 1);
    const maria = `member.removed seller ${api.demo.sellers.maria.id} company ${api.demo.sellers.maria.companyId}`;
    await vi.waitFor(() => expect(published.filter((l) => l.includes(maria))).toHaveLength(1), { timeout: 5000 });
    await relay.idle();
    expect(published.filter((l) => l.includes(` from ${api.demo.sellers.maria.id} `)).map((l) => l.split(' ')[2])).toEqual(['listings.handed_over', 'conversations.moved']);
    expect((await api.t.db.query('SELECT 1 FROM messaging_outbox WHERE published_at IS NULL')).length).toBe(0);
  });

  it('a refused write does not wake it', async () => {
    const token = await api.tokens.sign(DEMO.sellers.holly.email);
    const before = wakeUps;
    const response = await post(`/company/members/${api.demo.sellers.maria.id}/reactivate`, token, { restoreListings: true });
    expect(response.status).toBe(403);
    expect(wakeUps).toBe(before);
  });
});
