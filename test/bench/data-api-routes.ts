/**
 * The API as deployed on AWS, where every Data API call is an HTTPS round trip: each route's
 * handler on the RDS Data API adapter, driven through the real SDK client against the local
 * Data API endpoint (test/helpers/data-api-endpoint.ts).
 *  1. Data API calls per request, for every route, answering and refusing: on a fresh adapter
 *     (cold) and again (warm), counted at the endpoint by operation.
 *  2. End-to-end time per route with the endpoint adding `latencyMs` to every call (the network),
 *     beside a floor handler that makes exactly one ExecuteStatement, measured interleaved.
 */
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DataApiDatabase } from '../../functions/database/data-api-adapter';
import { useDatabase } from '../../functions/database/from-config';
import type { Database } from '../../functions/database/port';
import type { ApiEvent } from '../../functions/http/handler-kit';
import { ROUTES, type RouteId } from '../../functions/http/routes';
import { resetConfig } from '../../functions/shared/config';
import { apiEvent, claimsFor, type EventOptions } from '../helpers/api-events';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint } from '../helpers/data-api-endpoint';
import * as m from '../helpers/marketplace';
import { median } from './stats';

type Handler = (event: ApiEvent) => Promise<APIGatewayProxyStructuredResultV2>;

export interface RouteCalls {
  readonly route: RouteId;
  readonly caller: string;
  readonly status: number;
  readonly cold: readonly string[];
  readonly warm: readonly string[];
}

export interface RouteLatency {
  readonly route: RouteId;
  readonly medianMs: number;
  readonly floorMedianMs: number;
  readonly ratio: number;
}

export interface DataApiFigures {
  readonly latencyMs: number;
  readonly calls: readonly RouteCalls[];
  readonly latency: readonly RouteLatency[];
}

/** A small company of its own, so every route has something to answer about. */
async function fixtures(db: Database) {
  const companyId = await m.company(db, `Data API bench ${Date.now()}`);
  await m.seller(db, companyId, 'owner');
  const admin = await m.seller(db, companyId, 'admin');
  const member = await m.seller(db, companyId, 'member');
  const buyer = await m.buyer(db);
  const listingId = await m.listing(db, member, companyId);
  const conversationId = await m.conversation(db, listingId, buyer);
  const email = async (table: 'sellers' | 'buyers', id: string) =>
    (await db.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = $1`, [id]))[0]!.email;
  return { db, companyId, member, listingId, conversationId, adminEmail: await email('sellers', admin), buyerEmail: await email('buyers', buyer) };
}

type World = Awaited<ReturnType<typeof fixtures>>;

/** One request per route that answers, and one that is refused, each with a fresh target where the route changes something. */
async function requests(w: World): Promise<[RouteId, string, EventOptions][]> {
  const admin = claimsFor(w.adminEmail);
  const buyer = claimsFor(w.buyerEmail);
  const freshMember = () => m.seller(w.db, w.companyId, 'member');
  const removedMember = async () => {
    const id = await freshMember();
    await w.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [id]);
    return id;
  };
  return [
    ['getListingRecipient', 'buyer', { pathParameters: { listingId: w.listingId }, claims: buyer }],
    ['getListingRecipient', 'stranger (403)', { pathParameters: { listingId: w.listingId }, claims: claimsFor('nobody@nowhere.test') }],
    ['getConversationOwnershipHistory', 'buyer', { pathParameters: { conversationId: w.conversationId }, claims: buyer }],
    ['sendMessage', 'buyer', { body: { listingId: w.listingId, body: 'Still available?' }, claims: buyer }],
    ['sendMessage', 'admin (403)', { body: { listingId: w.listingId, body: 'Still available?' }, claims: admin }],
    ['getCompanyStats', 'admin', { claims: admin }],
    ['removeMember', 'admin', { pathParameters: { sellerId: await freshMember() }, body: { reason: 'bench' }, claims: admin }],
    ['removeMember', 'admin, unknown member (404)', { pathParameters: { sellerId: '9b2f6a0e-1c1d-4f7e-9a0b-0c1d2e3f4a5b' }, body: { reason: 'bench' }, claims: admin }],
    ['reactivateMember', 'admin', { pathParameters: { sellerId: await removedMember() }, body: { restoreListings: true }, claims: admin }],
    ['reactivateMember', 'admin, already active (409)', { pathParameters: { sellerId: w.member }, body: { restoreListings: true }, claims: admin }],
    ['listMessageHandlers', 'admin', { claims: admin }],
    ['updateMessageHandlers', 'admin', { body: { handlers: [{ sellerId: w.member, priority: 5 }] }, claims: admin }],
    ['health', 'anyone', {}],
  ];
}

export async function measureDataApiRoutes(
  url: string,
  database: string,
  /** apiUrl: the API's own login user, as the deployed functions log in (default: `url`'s user). */
  options: { latencyMs: number; samples: number; apiUrl?: string },
): Promise<DataApiFigures> {
  const { PgDatabase } = await import('../../functions/database/pg-adapter');
  const direct = new PgDatabase(url, { max: 2, applicationName: 'ems-bench-data-api-fixtures' });
  const counting = await startDataApiEndpoint({ connectionString: options.apiUrl ?? url });
  const slow = await startDataApiEndpoint({ connectionString: options.apiUrl ?? url, latencyMs: options.latencyMs });
  const adapter = (endpoint: typeof counting) =>
    new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database, client: endpoint.client() });
  // The handlers read their configuration when they load; the database itself is the adapter below.
  process.env.DATABASE_URL = url;
  resetConfig();
  try {
    const handlers = {} as Record<RouteId, Handler>;
    for (const route of ROUTES) {
      handlers[route.id] = ((await import(`../../${route.entry.replace(/\.ts$/, '')}`)) as { handler: Handler }).handler;
    }
    const w = await fixtures(direct);

    const calls: RouteCalls[] = [];
    const operations = async (work: () => Promise<unknown>) => {
      const before = counting.requests.length;
      await work();
      return counting.requests.slice(before).map((r) => r.operation);
    };
    for (const [route, caller] of (await requests(w)).map(([r, c]) => [r, c] as const)) {
      // Cold: a new adapter (a new SDK client, as after a cold start); warm: the same adapter again, a fresh target.
      useDatabase(adapter(counting));
      let status = 0;
      const send = async () => {
        const fresh = (await requests(w)).find(([r, c]) => r === route && c === caller)!;
        status = (await handlers[route](apiEvent(route, fresh[2]))).statusCode ?? 0;
      };
      const cold = await operations(send);
      const warm = await operations(send);
      calls.push({ route, caller, status, cold, warm });
    }

    const latency: RouteLatency[] = [];
    const db = adapter(slow);
    useDatabase(db);
    const floor = () => db.query('SELECT 1 AS one');
    for (const route of ROUTES.map((r) => r.id)) {
      const routeMs: number[] = [];
      const floorMs: number[] = [];
      for (let i = 0; i < options.samples + 2; i += 1) {
        const [, , event] = (await requests(w)).find(([r]) => r === route)!;
        const time = async (work: () => Promise<unknown>) => {
          const s = performance.now();
          await work();
          return performance.now() - s;
        };
        const a = await time(() => handlers[route](apiEvent(route, event)));
        const b = await time(floor);
        if (i < 2) continue; // warm-up
        routeMs.push(a);
        floorMs.push(b);
      }
      const routeMedian = median(routeMs);
      const floorMedian = median(floorMs);
      latency.push({ route, medianMs: routeMedian, floorMedianMs: floorMedian, ratio: routeMedian / floorMedian });
    }
    return { latencyMs: options.latencyMs, calls, latency };
  } finally {
    await counting.close();
    await slow.close();
    await direct.close();
  }
}
