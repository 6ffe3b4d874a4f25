/**
 * The event relay (functions/events/relay.ts) through the real EventBridge client against a local
 * stand-in that speaks PutEvents (test/infra/fake-aws.ts), on a real database: in order, at least
 * once with the outbox id as the key, within PutEvents' limits, held back per company behind a
 * failure, dead-lettered past its attempts, pruned after its retention. The database is reached
 * both ways the relay runs: node-postgres (npm start) and the Data API as the relay's login user;
 * the relay Lambda itself runs as Lambda runs it, woken by its schedule or by a route's log line.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { EVENTS_PENDING_LOG_FIELD } from '../../functions/events/wake-up';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataApiDatabase } from '../../functions/database/data-api-adapter';
import type { Database } from '../../functions/database/port';
import { eventBridgePublisher } from '../../functions/events/publishers';
import { batchesOf, entrySize, MAX_BYTES_PER_CALL, relayOutbox, type PublishEntry } from '../../functions/events/relay';
import { logsSubscriptionEvent, scheduledEvent } from '../helpers/api-events';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { dataApiEnvironment, invokeInFreshProcess, lambdaContext, type Invocation } from '../helpers/lambda-sandbox';
import * as m from '../helpers/marketplace';
import { startFakeAws, type FakeAws } from './fake-aws';

const BUS = 'enhanced-messaging-test';
let t: TestDatabase;
let aws: FakeAws;
let publish: ReturnType<typeof eventBridgePublisher>;

beforeAll(async () => {
  t = await createMigratedDatabase();
  aws = await startFakeAws();
  publish = eventBridgePublisher(new EventBridgeClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } }), BUS);
});
afterAll(async () => {
  await aws?.close();
  await t?.drop();
});
beforeEach(async () => {
  aws.putEvents.length = 0;
  aws.refuseEntry = undefined;
  // Each test starts from an empty outbox.
  await t.db.query('DELETE FROM messaging_outbox');
});

/** A removal: member.removed, listings.handed_over, conversations.moved in `companyId`. */
async function removal() {
  const companyId = await m.company(t.db);
  await m.seller(t.db, companyId, 'owner');
  const member = await m.seller(t.db, companyId, 'member');
  const listing = await m.listing(t.db, member, companyId);
  await m.conversation(t.db, listing, await m.buyer(t.db), member);
  await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member]);
  return { companyId, member };
}

const outboxIds = async () => (await t.db.query<{ id: string }>('SELECT id::text FROM messaging_outbox ORDER BY id')).map((r) => r.id);

describe('publishing the outbox', () => {
  it("publishes every pending event once, each company's in id order, on the bus, with the outbox id as its key, and marks them", async () => {
    const a = await removal();
    const b = await removal();
    const ids = await outboxIds();
    const result = await relayOutbox(t.db, publish);
    const byNumber = (x: string, y: string) => Number(x) - Number(y);
    expect([...result.published].sort(byNumber)).toEqual(ids);
    expect(aws.putEvents.map((e) => String(e.detail.outboxId)).sort(byNumber)).toEqual(ids);
    for (const company of [a.companyId, b.companyId]) {
      const theirs = aws.putEvents.filter((e) => e.detail.companyId === company);
      expect(theirs.map((e) => [e.bus, e.source, e.detailType])).toEqual([
        [BUS, 'enhanced-messaging', 'member.removed'],
        [BUS, 'enhanced-messaging', 'listings.handed_over'],
        [BUS, 'enhanced-messaging', 'conversations.moved'],
      ]);
      const theirIds = theirs.map((e) => Number(e.detail.outboxId));
      expect(theirIds).toEqual([...theirIds].sort((x, y) => x - y));
    }
    expect(aws.putEvents[0]!.detail).toMatchObject({ companyId: a.companyId, sellerId: a.member, actor: expect.any(String), transactionId: expect.any(String) });
    expect(result.oldestPendingSeconds).toBe(0);
    // Nothing twice: a second run finds nothing to publish.
    expect((await relayOutbox(t.db, publish)).published).toEqual([]);
    expect(aws.putEvents).toHaveLength(ids.length);
  });

  it('publishes again, with the same ids, what it published but could not mark (it died in between)', async () => {
    await removal();
    const ids = await outboxIds();
    const dying: Database = {
      query: (sql, params) => (sql.includes('SET published_at') ? Promise.reject(new Error('connection lost')) : t.db.query(sql, params)),
      transaction: (work) => t.db.transaction(work),
      close: async () => undefined,
    };
    await expect(relayOutbox(dying, publish)).rejects.toThrow('connection lost');
    const beforeDying = aws.putEvents.map((e) => e.detail.outboxId);
    expect(beforeDying.length).toBeGreaterThan(0);
    await relayOutbox(t.db, publish);
    // Everything published, what went out before the crash twice, under the same ids (consumers dedupe by outboxId).
    expect(aws.putEvents.map((e) => e.detail.outboxId)).toEqual([...beforeDying, ...ids]);
    expect((await relayOutbox(t.db, publish)).published).toEqual([]);
  });

  it('holds back a company behind an entry the bus refused, goes on with the others, and publishes it on a later run', async () => {
    const a = await removal();
    const b = await removal();
    aws.refuseEntry = (entry) => (entry.detail.companyId === a.companyId && entry.detailType === 'listings.handed_over' ? 'ThrottlingException' : undefined);
    const first = await relayOutbox(t.db, publish);
    // a: member.removed went out; its listings event failed, so its conversations event waits behind it.
    expect(aws.putEvents.filter((e) => e.detail.companyId === a.companyId).map((e) => e.detailType)).toEqual(['member.removed']);
    expect(aws.putEvents.filter((e) => e.detail.companyId === b.companyId).map((e) => e.detailType)).toEqual([
      'member.removed',
      'listings.handed_over',
      'conversations.moved',
    ]);
    expect(first.failed).toHaveLength(1);
    const [failed] = await t.db.query<{ publish_attempts: number; last_error: string }>('SELECT publish_attempts, last_error FROM messaging_outbox WHERE id = $1', [first.failed[0]]);
    expect(failed).toMatchObject({ publish_attempts: 1, last_error: expect.stringContaining('ThrottlingException') });
    expect(first.oldestPendingSeconds).toBeGreaterThanOrEqual(0);

    aws.refuseEntry = undefined;
    await relayOutbox(t.db, publish);
    expect(aws.putEvents.filter((e) => e.detail.companyId === a.companyId).map((e) => e.detailType)).toEqual([
      'member.removed',
      'listings.handed_over',
      'conversations.moved',
    ]);
  });

  it('dead-letters an event the bus keeps refusing: kept in the outbox, never retried, counted', async () => {
    await removal();
    aws.refuseEntry = (entry) => (entry.detailType === 'member.removed' ? 'ValidationException' : undefined);
    let result;
    for (let run = 1; run <= 3; run += 1) result = await relayOutbox(t.db, publish, { maxAttempts: 3 });
    expect(result!.deadLettered).toHaveLength(1);
    expect(result!.deadLetteredTotal).toBe(1);
    const dead = result!.deadLettered[0]!;
    // Once dead-lettered it no longer holds its company back, and is never tried again.
    await relayOutbox(t.db, publish, { maxAttempts: 3 });
    await relayOutbox(t.db, publish, { maxAttempts: 3 });
    expect(aws.putEvents.map((e) => e.detailType)).toEqual(['listings.handed_over', 'conversations.moved']);
    const [row] = await t.db.query<{ dead: boolean; publish_attempts: number }>(
      'SELECT dead_lettered_at IS NOT NULL AS dead, publish_attempts FROM messaging_outbox WHERE id = $1',
      [dead],
    );
    expect(row).toEqual({ dead: true, publish_attempts: 3 });
  });

  it('an event too big for any PutEvents call fails alone (and is dead-lettered in time); the other companies keep flowing', async () => {
    await removal();
    const other = await removal();
    // Written as no trigger would (they cap what they write): 300 KB of detail.
    const [big] = await t.db.query<{ id: string }>(
      `INSERT INTO messaging_outbox (company_id, event_type, actor, transaction_id, detail)
       VALUES ($1, 'member.role_changed', 'test', 1, jsonb_build_object('pad', repeat('x', 300000))) RETURNING id::text`,
      [other.companyId],
    );
    const result = await relayOutbox(t.db, publish, { maxAttempts: 1 });
    expect(result.deadLettered).toEqual([big!.id]);
    expect(aws.putEvents).toHaveLength(6);
    const [row] = await t.db.query<{ last_error: string }>('SELECT last_error FROM messaging_outbox WHERE id = $1', [big!.id]);
    expect(row!.last_error).toMatch(/^EntryTooLarge/);
  });

  it('a try counted by a relay that read the event earlier never brings a dead-lettered event back', async () => {
    await removal();
    aws.refuseEntry = () => 'ThrottlingException';
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const read = new Promise<void>((resolve) => (reading = resolve));
    // Relay A reads the events, then stalls in PutEvents.
    const stalled = relayOutbox(t.db, async (entries) => {
      reading();
      await gate;
      return publish(entries);
    }, { maxAttempts: 2 });
    await read;
    // Relay B, meanwhile, fails the same event twice: dead-lettered.
    await relayOutbox(t.db, publish, { maxAttempts: 2 });
    const b = await relayOutbox(t.db, publish, { maxAttempts: 2 });
    expect(b.deadLettered).toHaveLength(1);
    release();
    await stalled;
    const [row] = await t.db.query<{ dead: boolean }>('SELECT dead_lettered_at IS NOT NULL AS dead FROM messaging_outbox WHERE id = $1', [b.deadLettered[0]]);
    expect(row!.dead).toBe(true);
  });

  it('prunes published events older than the retention, and keeps the rest', async () => {
    await removal();
    await relayOutbox(t.db, publish);
    await t.db.query(`UPDATE messaging_outbox SET published_at = now() - interval '8 days' WHERE event_type = 'member.removed'`);
    const result = await relayOutbox(t.db, publish, { retention: '7 days' });
    expect(result.pruned).toBe(1);
    expect((await t.db.query('SELECT 1 FROM messaging_outbox')).length).toBe(2);
  });
});

describe('the event catalog (functions/http/events.schema.json)', () => {
  it('describes every event the outbox publishes, each detail-type by its own schema', async () => {
    const schema = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'functions/http/events.schema.json'), 'utf8')) as { $defs: Record<string, unknown> };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(schema, 'events');
    const d = await removal();
    await t.db.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [d.member]);
    await t.db.query(`UPDATE sellers SET role = 'admin' WHERE id = $1`, [d.member]);
    const other = await m.company(t.db);
    await m.seller(t.db, other, 'owner');
    await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [d.member, other]);
    await t.db.query(`UPDATE sellers SET member_status = 'suspended' WHERE id = $1`, [d.member]);
    await relayOutbox(t.db, publish);
    const types = new Set(aws.putEvents.map((e) => e.detailType));
    expect([...types].sort()).toEqual(
      ['conversations.moved', 'listings.handed_over', 'member.joined_company', 'member.left_company', 'member.reactivated', 'member.removed', 'member.role_changed', 'member.suspended'].sort(),
    );
    for (const event of aws.putEvents) {
      const validate = ajv.getSchema(`events#/$defs/${event.detailType}`);
      expect(validate, `no schema for ${event.detailType}`).toBeDefined();
      expect(validate!(event.detail), `${event.detailType}: ${JSON.stringify(validate!.errors)}`).toBe(true);
    }
    expect(Object.keys(schema.$defs).filter((k) => /^(member|listings|conversations)\./.test(k)).sort()).toEqual([...types].sort());
  });
});

describe("PutEvents' limits", () => {
  const entry = (bytes: number): PublishEntry => ({
    event: { id: '1', companyId: null, eventType: 'x', occurredAt: '', transactionId: '1', actor: 'a', reason: null, detail: {}, publishAttempts: 0 },
    detailType: 'conversations.moved',
    detail: 'x'.repeat(bytes),
    time: new Date(),
  });

  it('batches at most 10 entries and 256 KB, keeping the order', () => {
    const small = Array.from({ length: 23 }, () => entry(100));
    expect(batchesOf(small).map((b) => b.length)).toEqual([10, 10, 3]);
    const big = Array.from({ length: 5 }, () => entry(100_000));
    const batches = batchesOf(big);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    for (const batch of batches) expect(batch.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
  });

  it('a removal of 2,500 conversations (three 1,000-id pages, about 40 KB each) goes out within the limits', async () => {
    const d = await removal();
    const [listing] = await t.db.query<{ id: string }>('SELECT id FROM listed_cars WHERE company_id = $1', [d.companyId]);
    await t.db.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [d.member]);
    await t.db.query('UPDATE listed_cars SET current_owner_id = $2 WHERE id = $1', [listing!.id, d.member]);
    const buyer = await m.buyer(t.db);
    await t.db.query('INSERT INTO conversations (listing_id, buyer_id, seller_id) SELECT $1, $2, $3 FROM generate_series(1, 2500)', [listing!.id, buyer, d.member]);
    await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member]);
    const result = await relayOutbox(t.db, publish, { maxRows: 1000 });
    expect(result.failed).toEqual([]);
    const moved = aws.putEvents.filter((e) => e.detailType === 'conversations.moved' && e.detail.count === 2500);
    expect(moved.map((e) => (e.detail.conversationIds as string[]).length)).toEqual([1000, 1000, 500]);
  });
});

describe('through the Data API, as the relay login user', () => {
  let endpoint: DataApiEndpoint;
  beforeAll(async () => {
    endpoint = await startDataApiEndpoint({ connectionString: t.relayUrl });
  });
  afterAll(async () => endpoint?.close());

  it('publishes and marks with nothing but its grants on the outbox', async () => {
    await removal();
    const ids = await outboxIds();
    const db = new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name, client: endpoint.client() });
    const result = await relayOutbox(db, publish);
    expect(result.published).toEqual(ids);
    expect(aws.putEvents.map((e) => e.detail.outboxId)).toEqual(ids);
    await expect(db.query('SELECT * FROM sellers LIMIT 1')).rejects.toMatchObject({ code: '42501' });
    await expect(db.query(`UPDATE messaging_outbox SET detail = '{}'`)).rejects.toMatchObject({ code: '42501' });
    // Pruning goes through ems_outbox_prune, which deletes only published events: no DELETE of its own.
    await expect(db.query('DELETE FROM messaging_outbox')).rejects.toMatchObject({ code: '42501' });
    await t.db.query(`UPDATE messaging_outbox SET published_at = now() - interval '30 days' WHERE id = $1`, [ids[0]]);
    await removal();
    const pending = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messaging_outbox WHERE published_at IS NULL'))[0]!.n;
    const [pruned] = await db.query<{ n: number }>(`SELECT ems_outbox_prune('0 seconds'::interval, 1000) AS n`);
    expect(Number(pruned!.n)).toBe(ids.length);
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messaging_outbox WHERE published_at IS NULL'))[0]!.n).toBe(pending);
  });
});

describe('the relay Lambda (functions/handlers/event-relay.ts), in a fresh process as Lambda runs it', () => {
  const FUNCTION_NAME = 'EnhancedMessaging-test-Api-EventsHandler';
  let endpoint: DataApiEndpoint;
  beforeAll(async () => {
    endpoint = await startDataApiEndpoint({ connectionString: t.relayUrl });
  });
  afterAll(async () => endpoint?.close());

  const run = (invocations: readonly Invocation[]) =>
    invokeInFreshProcess({
      module: path.join(PROJECT_ROOT, 'functions/handlers/event-relay.ts'),
      nodeArgs: ['--import', 'tsx'],
      cwd: PROJECT_ROOT,
      environment: {
        ...dataApiEnvironment({ endpointUrl: endpoint.url, database: t.name, functionName: FUNCTION_NAME }),
        EVENT_BUS_NAME: BUS,
        AWS_ENDPOINT_URL_EVENTBRIDGE: aws.endpoint,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      invocations,
    });
  const relayed = (lines: readonly string[]) =>
    lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'events relayed');

  it("woken by a route's log line (a CloudWatch Logs subscription event), publishes what is pending through the EventBridge client, and says what woke it", async () => {
    const d = await removal();
    const ids = await outboxIds();
    // The line a removal's handler logs, as the subscription filter delivers it.
    const line = JSON.stringify({
      level: 'INFO',
      message: 'request handled',
      timestamp: new Date().toISOString(),
      service: 'enhanced-messaging',
      route: 'removeMember',
      status: 200,
      ms: 41,
      [EVENTS_PENDING_LOG_FIELD]: true,
    });
    const woken = logsSubscriptionEvent({
      logGroup: '/aws/lambda/EnhancedMessaging-test-Api-HttpremoveMember',
      filterName: 'wake-event-relay-removeMember',
      messages: [`2026-01-01T00:00:00.000Z\t${randomUUID()}\tINFO\t${line}`],
    });
    const result = await run([
      { event: woken, context: lambdaContext(FUNCTION_NAME) },
      // Then the schedule's run: nothing left.
      { event: scheduledEvent(), context: lambdaContext(FUNCTION_NAME) },
    ]);
    expect(aws.putEvents.map((e) => e.detail.outboxId)).toEqual(ids);
    expect(aws.putEvents.filter((e) => e.detail.companyId === d.companyId).map((e) => e.detailType)).toEqual(['member.removed', 'listings.handed_over', 'conversations.moved']);
    expect(result.stdoutByInvocation.map((printed) => relayed(printed).map((l) => [l.trigger, l.published]))).toEqual([[['api-write', ids.length]], [['schedule', 0]]]);
    expect((await t.db.query('SELECT 1 FROM messaging_outbox WHERE published_at IS NULL')).length).toBe(0);
  });

  it('refuses an event that is neither, before any work', async () => {
    await removal();
    await expect(run([{ event: { hello: 'world' }, context: lambdaContext(FUNCTION_NAME) }])).rejects.toThrow(/this event is neither/);
    expect(aws.putEvents).toEqual([]);
  });
});
