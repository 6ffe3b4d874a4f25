/**
 * The RDS Data API adapter through the real AWS SDK v3 client, against a local
 * endpoint that speaks the Data API protocol over a real, migrated PostgreSQL
 * (test/helpers/data-api-endpoint.ts). The pg adapter on the same database is
 * the reference: the domain must not be able to tell the two apart.
 */
import { randomUUID } from 'node:crypto';
import { ExecuteStatementCommand, BeginTransactionCommand, RollbackTransactionCommand } from '@aws-sdk/client-rds-data';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DataApiDatabase,
  DataApiError,
  DataApiResultTooLargeError,
  type DataApiCallEvent,
  parseDataApiErrorMessage,
  toDataApiStatement,
} from '../../functions/database/data-api-adapter';
import { countDataApiCall, DATA_API_ERRORS_METRIC, DATA_API_RETRIES_METRIC } from '../../functions/database/from-config';
import type { Database } from '../../functions/database/port';
import { getCompanyStats } from '../../functions/domain/company';
import { reactivateMember, removeMember } from '../../functions/domain/company-members';
import { ConflictError, DomainError, UnavailableError } from '../../functions/domain/errors';
import { getOwnershipHistory, getRecipient, sendBuyerMessage } from '../../functions/domain/messaging';
import { translateDatabaseError } from '../../functions/domain/transactions';
import { verifyInstallation } from '../../functions/verification/verify';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
let endpoint: DataApiEndpoint;
let dataApi: DataApiDatabase;

const FAST_RETRY = { baseDelayMs: 2, maxDelayMs: 10, maxTotalWaitMs: 200 };

function dataApiDatabase(retry: ConstructorParameters<typeof DataApiDatabase>[0]['retry'] = FAST_RETRY): DataApiDatabase {
  return new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name, client: endpoint.client(), retry });
}

beforeAll(async () => {
  t = await createMigratedDatabase();
  endpoint = await startDataApiEndpoint({ connectionString: t.url });
  dataApi = dataApiDatabase();
  await t.db.query(`CREATE TABLE data_api_scratch (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL)`);
  await t.db.query(`CREATE TABLE data_api_types (
    id uuid PRIMARY KEY, at timestamptz, amount numeric(12, 2), big bigint, doc jsonb, flag boolean,
    note text, missing text, day date, tags text[], ratio float8)`);
});

afterAll(async () => {
  await dataApi?.close();
  await endpoint?.close();
  await t?.drop();
});

const executeRequests = () => endpoint.requests.filter((r) => r.operation === 'ExecuteStatement');
const lastExecute = () => executeRequests().at(-1)!.body as { sql: string; parameters?: unknown[] };

async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown> & Error;
  }
  throw new Error('expected a rejection');
}

describe('Data API adapter: statements and types', () => {
  it('rewrites $n to named parameters outside literals, dollar quotes and comments, keeping :: casts', async () => {
    const id = randomUUID();
    const other = randomUUID();
    const sql = `SELECT '$1' AS literal, $$ $1 :p1 $$ AS dollar, $1::text AS cast_text, $2 AS id, 'a::b' AS colons,
                        E'it\\'s $2' AS escaped, "x$1" AS quoted, CAST($3 AS uuid) AS cast_id -- $4 in a comment
                   FROM (SELECT 1 AS "x$1") s /* $5 in a block comment */`;
    const viaDataApi = await dataApi.query(sql, ['x', id, other]);
    expect(viaDataApi).toEqual([{ literal: '$1', dollar: ' $1 :p1 ', cast_text: 'x', id, colons: 'a::b', escaped: "it's $2", quoted: 1, cast_id: other }]);
    expect(viaDataApi).toEqual(await t.db.query(sql, ['x', id, other]));

    const sent = lastExecute();
    expect(sent.sql).toContain(':p1::text AS cast_text, :p2 AS id');
    expect(sent.sql).toContain(`'$1' AS literal, $$ $1 :p1 $$`);
    expect(sent.sql).toContain('CAST(:p3 AS uuid) AS cast_id -- $4 in a comment');
    // A bare uuid-shaped string gets the UUID hint; where the SQL casts the parameter, the cast decides.
    expect(sent.parameters).toEqual([
      { name: 'p1', value: { stringValue: 'x' } },
      { name: 'p2', value: { stringValue: id }, typeHint: 'UUID' },
      { name: 'p3', value: { stringValue: other } },
    ]);
  });

  it('round-trips uuid, timestamptz, numeric, bigint, jsonb, booleans, null, dates, text[] and unicode text as the pg adapter reads them', async () => {
    const id = randomUUID();
    const at = new Date('2024-02-29T23:59:58.123Z');
    const doc = { a: 1, nested: { b: [1, 'two', null] }, quote: `"it's"`, emoji: '🚗' };
    const note = `it's "quoted" — ünïcødé 🚗 back\\slash $1 :p1 ::text '' E'\\n' ${randomUUID()}`;
    const tags = ['a', 'b "c"', 'ü,{x}', 'NULL'];
    const [inserted] = await dataApi.query(
      `INSERT INTO data_api_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10::text[], $11) RETURNING *`,
      [id, at, 1234.5, Number.MAX_SAFE_INTEGER, doc, true, note, null, '2024-03-01', tags, 0.25],
    );
    expect(lastExecute().parameters).toEqual([
      { name: 'p1', value: { stringValue: id }, typeHint: 'UUID' },
      { name: 'p2', value: { stringValue: '2024-02-29 23:59:58.123' }, typeHint: 'TIMESTAMP' },
      { name: 'p3', value: { doubleValue: 1234.5 } },
      { name: 'p4', value: { longValue: Number.MAX_SAFE_INTEGER } },
      { name: 'p5', value: { stringValue: JSON.stringify(doc) }, typeHint: 'JSON' },
      { name: 'p6', value: { booleanValue: true } },
      { name: 'p7', value: { stringValue: note } },
      { name: 'p8', value: { isNull: true } },
      { name: 'p9', value: { stringValue: '2024-03-01' } },
      { name: 'p10', value: { stringValue: '{"a","b \\"c\\"","ü,{x}","NULL"}' } },
      { name: 'p11', value: { doubleValue: 0.25 } },
    ]);
    expect(inserted).toEqual({
      id,
      at,
      amount: 1234.5,
      big: Number.MAX_SAFE_INTEGER,
      doc,
      flag: true,
      note,
      missing: null,
      day: new Date(2024, 2, 1),
      tags,
      ratio: 0.25,
    });

    const read = `SELECT t.*, (SELECT count(*) FROM data_api_types WHERE id = $1) AS n, t.amount * 2 AS doubled, NOT t.flag AS negated
                    FROM data_api_types t WHERE t.id = $1`;
    const [viaDataApi] = await dataApi.query(read, [id]);
    const [viaPg] = await t.db.query(read, [id]);
    expect(viaDataApi).toEqual(viaPg);
    expect(viaDataApi).toMatchObject({ n: 1, doubled: 2469, negated: false });
    expect((viaDataApi as { at: Date }).at).toBeInstanceOf(Date);
  });

  it('passes a uuid-shaped string to a text-only function only when the SQL casts it (the Data API types it uuid)', async () => {
    const actor = randomUUID();
    const error = await rejection(dataApi.transaction((tx) => tx.query(`SELECT set_config('ems.actor', $1, true)`, [actor])));
    expect(error).toBeInstanceOf(DataApiError);
    expect(error).toMatchObject({ code: '42883', message: 'function set_config(unknown, uuid, boolean) does not exist' });
    // node-postgres sends it untyped, so the same SQL works there ...
    await expect(t.db.transaction((tx) => tx.query(`SELECT set_config('ems.actor', $1, true)`, [actor]))).resolves.toHaveLength(1);
    // ... and with an explicit cast it works through both.
    const cast = `SELECT set_config('ems.actor', $1::text, true) AS actor`;
    expect(await dataApi.transaction((tx) => tx.query(cast, [actor]))).toEqual([{ actor }]);
  });

  it('refuses a SQL that uses more $n than it was given, before calling the service', async () => {
    const before = endpoint.requests.length;
    await expect(dataApi.query('SELECT $1::int + $2::int', [1])).rejects.toMatchObject({ code: '08P01' });
    expect(endpoint.requests.length).toBe(before);
    expect(() => toDataApiStatement('SELECT $2', [1, 2])).not.toThrow();
  });
});

describe('Data API adapter: transactions', () => {
  const labels = async (prefix: string) =>
    (await t.db.query<{ label: string }>(`SELECT label FROM data_api_scratch WHERE label LIKE $1 ORDER BY id`, [`${prefix}%`])).map((r) => r.label);

  it('commits what the work wrote; a nested transaction joins the outer one', async () => {
    const prefix = `commit-${randomUUID()}`;
    const result = await dataApi.transaction(async (tx) => {
      await tx.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-outer`]);
      await tx.transaction((inner) => inner.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-inner`]));
      return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM data_api_scratch WHERE label LIKE $1', [`${prefix}%`]))[0]!.n;
    });
    expect(result).toBe(2);
    expect(await labels(prefix)).toEqual([`${prefix}-outer`, `${prefix}-inner`]);
    expect(endpoint.openTransactions).toBe(0);
    const operations = endpoint.requests.slice(-5).map((r) => r.operation);
    expect(operations).toEqual(['BeginTransaction', 'ExecuteStatement', 'ExecuteStatement', 'ExecuteStatement', 'CommitTransaction']);
  });

  it('rolls back when the work throws: nothing is written and no transaction stays open', async () => {
    const prefix = `rollback-${randomUUID()}`;
    const failure = new Error('the work failed');
    await expect(
      dataApi.transaction(async (tx) => {
        await tx.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-a`]);
        await tx.transaction((inner) => inner.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-b`]));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await labels(prefix)).toEqual([]);
    expect(endpoint.requests.at(-1)!.operation).toBe('RollbackTransaction');
    expect(endpoint.openTransactions).toBe(0);
  });

  it('rolls back after a failed statement and reports the statement error', async () => {
    const prefix = `failed-${randomUUID()}`;
    const error = await rejection(
      dataApi.transaction(async (tx) => {
        await tx.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-a`]);
        await tx.query('INSERT INTO data_api_scratch (label) VALUES (NULL)');
      }),
    );
    expect(error).toMatchObject({ code: '23502', dataApiErrorType: 'DatabaseErrorException' });
    expect(await labels(prefix)).toEqual([]);
    expect(endpoint.openTransactions).toBe(0);
  });

  it('sends the statements of one transaction one at a time, as the service requires', async () => {
    // The service refuses a second request while one of the same transaction runs ...
    const client = endpoint.client();
    const base = { resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name };
    const { transactionId } = await client.send(new BeginTransactionCommand(base));
    const settled = await Promise.allSettled([
      client.send(new ExecuteStatementCommand({ ...base, transactionId, sql: 'SELECT pg_sleep(0.2)' })),
      new Promise((resolve) => setTimeout(resolve, 50)).then(() => client.send(new ExecuteStatementCommand({ ...base, transactionId, sql: 'SELECT 1' }))),
    ]);
    expect(settled[0].status).toBe('fulfilled');
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: { name: 'DatabaseErrorException', message: 'Transaction is still running a query' } });
    await client.send(new RollbackTransactionCommand({ ...base, transactionId }));

    // ... so the adapter queues them, like node-postgres does on its client.
    const prefix = `queued-${randomUUID()}`;
    const [, , counted] = await dataApi.transaction((tx) =>
      Promise.all([
        tx.query('SELECT pg_sleep(0.05)'),
        tx.query('INSERT INTO data_api_scratch (label) VALUES ($1)', [`${prefix}-x`]),
        tx.query<{ n: number }>('SELECT count(*) AS n FROM data_api_scratch WHERE label LIKE $1', [`${prefix}%`]),
      ]),
    );
    expect(counted).toEqual([{ n: 1 }]);
  });
});

describe('Data API adapter: service errors', () => {
  it('retries DatabaseResumingException with backoff until the database answers', async () => {
    endpoint.failNext(2, 'DatabaseResumingException');
    const before = executeRequests().length;
    expect(await dataApi.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(executeRequests().length - before).toBe(3);

    endpoint.failNext(1, 'DatabaseResumingException', { operation: 'BeginTransaction' });
    expect(await dataApi.transaction((tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
  });

  it('gives up after maxAttempts with SQLSTATE 57P03, which the domain turns into a 503', async () => {
    const impatient = dataApiDatabase({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    endpoint.failNext(3, 'DatabaseResumingException');
    const error = await rejection(impatient.query('SELECT 1'));
    expect(error).toMatchObject({ code: '57P03', dataApiErrorType: 'DatabaseResumingException' });
    expect(error.message).toMatch(/resuming after being auto-paused/);
    expect(translateDatabaseError(error)).toBeInstanceOf(UnavailableError);
    expect(await impatient.query('SELECT 1 AS one')).toEqual([{ one: 1 }]); // the faults are used up
  });

  it('tells its observer of each retry and each service error, never of an SQL error; the functions count them as EMF metrics by error type', async () => {
    const events: DataApiCallEvent[] = [];
    const observed = new DataApiDatabase({
      resourceArn: LOCAL_RESOURCE_ARN,
      secretArn: LOCAL_SECRET_ARN,
      database: t.name,
      client: endpoint.client(),
      retry: FAST_RETRY,
      observe: (event) => events.push(event),
    });
    endpoint.failNext(2, 'DatabaseResumingException');
    await observed.query('SELECT 1');
    expect(events.map((e) => [e.kind, e.errorType])).toEqual([
      ['retry', 'DatabaseResumingException'],
      ['retry', 'DatabaseResumingException'],
    ]);
    events.length = 0;
    await expect(observed.query(`SELECT ems_refuse('not_found', 'no such thing')`)).rejects.toMatchObject({ code: 'P0001' });
    await expect(observed.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
    expect(events).toEqual([]);
    endpoint.failNext(1, 'ServiceUnavailableError');
    await expect(observed.query('SELECT 1')).rejects.toMatchObject({ dataApiErrorType: 'ServiceUnavailableError' });
    expect(events).toEqual([{ kind: 'error', errorType: 'ServiceUnavailableError' }]);

    // What the deployed functions do with them (functions/database/from-config.ts).
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    // The test run turns EMF off (vitest.config.mts); this Metrics is built with it on.
    const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      const target = new Metrics({ namespace: 'EnhancedMessaging', serviceName: 'enhanced-messaging' });
      countDataApiCall({ kind: 'retry', errorType: 'DatabaseResumingException', attempt: 1, delayMs: 5 }, target);
      countDataApiCall({ kind: 'error', errorType: 'ServiceUnavailableError' }, target);
    } finally {
      spy.mockRestore();
      process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    }
    const emf = written.join('').split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toEqual([
      expect.objectContaining({ [DATA_API_RETRIES_METRIC]: 1, errorType: 'DatabaseResumingException', service: 'enhanced-messaging' }),
      expect.objectContaining({ [DATA_API_ERRORS_METRIC]: 1, errorType: 'ServiceUnavailableError', service: 'enhanced-messaging' }),
    ]);
  });

  it('turns a result over the 1 MB response limit into an error that says to page the query', async () => {
    const big = `SELECT repeat('x', 1024) AS filler FROM generate_series(1, 1100)`;
    const error = await rejection(dataApi.query(big));
    expect(error).toBeInstanceOf(DataApiResultTooLargeError);
    expect(error.message).toMatch(/exceeded the RDS Data API's 1 MB response limit: page the query/);
    expect((error.cause as Error).message).toBe('Database returned more than the allowed response size limit');
    expect(await dataApi.query<{ n: number }>(`SELECT count(*) AS n FROM (${big} LIMIT 500) s`)).toEqual([{ n: 500 }]);

    // Inside a transaction the service also ends the transaction: the work fails, nothing stays open.
    await expect(dataApi.transaction((tx) => tx.query(big))).rejects.toBeInstanceOf(DataApiResultTooLargeError);
    expect(endpoint.openTransactions).toBe(0);
  });

  it("delivers RAISE ... DETAIL 'ems:last_admin' with code P0001 and that detail, as node-postgres does", async () => {
    const companyId = await m.company(dataApi);
    const owner = await m.seller(dataApi, companyId, 'owner');
    const removeLastAdmin = (db: Database) => db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [owner]);

    const viaDataApi = await rejection(removeLastAdmin(dataApi));
    const viaPg = await rejection(removeLastAdmin(t.db));
    expect(viaDataApi).toBeInstanceOf(DataApiError);
    expect(viaDataApi).toMatchObject({ code: 'P0001', detail: 'ems:last_admin', hint: 'Make another member an admin first.' });
    for (const field of ['message', 'code', 'detail', 'hint', 'where', 'severity'] as const) expect(viaDataApi[field]).toBe(viaPg[field]);
    const translated = translateDatabaseError(viaDataApi);
    expect(translated).toBeInstanceOf(ConflictError);
    expect(translated).toEqual(translateDatabaseError(viaPg));
  });

  it('reads SQL errors reported as BadRequestException (Serverless v1) the same way', async () => {
    const v1 = await startDataApiEndpoint({ connectionString: t.url, sqlErrorType: 'BadRequestException' });
    try {
      const db = new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name, client: v1.client() });
      const error = await rejection(db.query('SELECT * FROM no_such_table'));
      expect(error).toMatchObject({ code: '42P01', message: 'relation "no_such_table" does not exist', position: '15', dataApiErrorType: 'BadRequestException' });
    } finally {
      await v1.close();
    }
  });

  it('parses the JDBC-style message the service sends, multi-line fields included', () => {
    expect(
      parseDataApiErrorMessage(
        'ERROR: deadlock detected\n  Detail: Process 82 waits for ShareLock on transaction 755; blocked by process 83.\n' +
          'Process 83 waits for ShareLock on transaction 754; blocked by process 82.\n  Hint: See server log for query details.\n' +
          '  Where: while updating tuple (0,2) in relation "parent"; SQLState: 40P01',
      ),
    ).toEqual({
      severity: 'ERROR',
      message: 'deadlock detected',
      code: '40P01',
      detail: 'Process 82 waits for ShareLock on transaction 755; blocked by process 83.\nProcess 83 waits for ShareLock on transaction 754; blocked by process 82.',
      hint: 'See server log for query details.',
      position: undefined,
      where: 'while updating tuple (0,2) in relation "parent"',
    });
    expect(parseDataApiErrorMessage('ERROR: duplicate key value violates unique constraint "x"; SQLState: 23505')).toMatchObject({
      message: 'duplicate key value violates unique constraint "x"',
      code: '23505',
      detail: undefined,
    });
  });
});

describe('Data API adapter: parity with the pg adapter in the domain', () => {
  interface Scenario {
    companyId: string;
    owner: string;
    admin: string;
    handler: string;
    member: string;
    listing: string;
    buyer: string;
  }

  async function prepare(db: Database): Promise<Scenario> {
    const companyId = await m.company(db, 'Parity Motors');
    const owner = await m.seller(db, companyId, 'owner', { name: 'Olga Owner', createdAt: '2020-01-01' });
    const admin = await m.seller(db, companyId, 'admin', { name: 'Adam Admin', createdAt: '2020-02-01' });
    const handler = await m.seller(db, companyId, 'member', { name: 'Hanna Handler', createdAt: '2020-03-01' });
    await db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
    const member = await m.seller(db, companyId, 'member', { name: 'Mia Member', createdAt: '2021-01-01' });
    const listing = await m.listing(db, member, companyId);
    const buyer = await m.buyer(db);
    return { companyId, owner, admin, handler, member, listing, buyer };
  }

  const ACTOR = 'admin@parity.test';

  async function outcome<T>(work: () => Promise<T>): Promise<T | { refused: Record<string, unknown> }> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DomainError) return { refused: { type: error.name, code: error.code, status: error.httpStatus, message: error.message } };
      throw error;
    }
  }

  /** The same domain calls, in the same order, through one adapter. */
  async function journey(db: Database, s: Scenario) {
    const first = await sendBuyerMessage(db, { buyerId: s.buyer, listingId: s.listing, body: 'Is the V60 still "available"? — ünïcødé 🚗' });
    return {
      recipientBefore: await getRecipient(db, s.listing),
      first,
      second: await sendBuyerMessage(db, { buyerId: s.buyer, listingId: s.listing, body: "Can I test-drive it on Friday? It's urgent." }),
      removal: await removeMember(db, { companyId: s.companyId, sellerId: s.member, actor: ACTOR, reason: 'left the company' }),
      removedAgain: await outcome(() => removeMember(db, { companyId: s.companyId, sellerId: s.member, actor: ACTOR, reason: 'twice' })),
      recipientAfterRemoval: await getRecipient(db, s.listing),
      historyAfterRemoval: await getOwnershipHistory(db, first.conversationId),
      statsAfterRemoval: await getCompanyStats(db, s.companyId),
      reactivation: await reactivateMember(db, { companyId: s.companyId, sellerId: s.member, actor: ACTOR, restoreListings: true, reason: 'came back' }),
      recipientAfterReactivation: await getRecipient(db, s.listing),
      history: await getOwnershipHistory(db, first.conversationId),
      adminRemoval: await removeMember(db, { companyId: s.companyId, sellerId: s.admin, actor: ACTOR, reason: 'moved on' }),
      lastAdminRefused: await outcome(() => removeMember(db, { companyId: s.companyId, sellerId: s.owner, actor: ACTOR, reason: 'no one left' })),
      unknownListing: await outcome(() => getRecipient(db, randomUUID())),
      stats: await getCompanyStats(db, s.companyId),
    };
  }

  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

  /** Names instead of the scenario's ids, placeholders for other ids, times and days (they differ between runs). */
  function normalise(value: unknown, s: Scenario): unknown {
    const names = new Map(Object.entries(s).map(([name, id]) => [id, `<${name}>`]));
    const others = new Map<string, string>();
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') {
        if (ISO.test(v)) return '<time>';
        if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return '<day>';
        return v.replace(UUID, (id) => names.get(id) ?? others.get(id) ?? (others.set(id, `<id-${others.size + 1}>`), others.get(id)!));
      }
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
      return v;
    };
    return walk(value);
  }

  let viaPg: Scenario;

  it('removal, reactivation, routing, history and statistics give the same results through both adapters', async () => {
    viaPg = await prepare(t.db);
    const viaDataApi = await prepare(dataApi);
    const fromPg = await journey(t.db, viaPg);
    const fromDataApi = await journey(dataApi, viaDataApi);

    expect(normalise(fromDataApi, viaDataApi)).toEqual(normalise(fromPg, viaPg));
    // The journey did what it should (so the comparison is not between two identical failures).
    expect(fromDataApi.removal).toMatchObject({ listingsMoved: 1, conversationsMoved: 1, movedTo: { id: viaDataApi.handler, name: 'Hanna Handler' } });
    expect(fromDataApi.reactivation).toMatchObject({ status: 'active', listingsRestored: 1, conversationsRestored: 1 });
    expect(fromDataApi.lastAdminRefused).toEqual({ refused: expect.objectContaining({ type: 'ConflictError', code: 'last_admin', status: 409 }) });
    expect(fromDataApi.removedAgain).toEqual({ refused: expect.objectContaining({ code: 'already_removed', status: 409 }) });
    expect(fromDataApi.first.createdAt).toMatch(ISO);
    expect(fromDataApi.stats.members).toMatchObject({ total: 4, removed: 1, suspended: 0 });
  });

  it('reads the same rows, values and types through both adapters (same data, no normalising)', async () => {
    const s = viaPg;
    const [conversation] = await t.db.query<{ id: string }>('SELECT id FROM conversations WHERE listing_id = $1', [s.listing]);
    const reads: [string, unknown[]][] = [
      ['SELECT * FROM sellers WHERE company_id = $1 ORDER BY created_at, id', [s.companyId]],
      ['SELECT * FROM listed_cars WHERE company_id = $1 ORDER BY id', [s.companyId]],
      ['SELECT * FROM conversations WHERE listing_id = $1 ORDER BY id', [s.listing]],
      ['SELECT * FROM messages WHERE conversation_id = $1 ORDER BY created_at, id', [conversation!.id]],
      ['SELECT * FROM company_member_audit WHERE company_id = $1 ORDER BY id', [s.companyId]],
      ['SELECT * FROM conversation_ownership_log WHERE conversation_id = $1 ORDER BY id', [conversation!.id]],
      ['SELECT * FROM get_member_statistics($1)', [s.companyId]],
      ['SELECT * FROM get_listing_message_recipient($1)', [s.listing]],
    ];
    for (const [sql, params] of reads) {
      const rows = await dataApi.query(sql, params);
      expect(rows.length, sql).toBeGreaterThan(0);
      expect(rows, sql).toEqual(await t.db.query(sql, params));
    }
    expect(await getCompanyStats(dataApi, s.companyId)).toEqual(await getCompanyStats(t.db, s.companyId));
    expect(await getOwnershipHistory(dataApi, conversation!.id)).toEqual(await getOwnershipHistory(t.db, conversation!.id));
    expect(await getRecipient(dataApi, s.listing)).toEqual(await getRecipient(t.db, s.listing));
  });

  it('runs the verification (text[] parameters included) with the same report', async () => {
    const [fromDataApi, fromPg] = [await verifyInstallation(dataApi), await verifyInstallation(t.db)];
    expect(fromDataApi).toEqual(fromPg);
    expect(fromDataApi.checks.find((c) => c.name === 'triggers, indexes and columns')).toMatchObject({ ok: true });
  });

  it('a seller id as actor (what the handlers pass) works through the Data API as through pg', async () => {
    const s = await prepare(dataApi);
    await expect(removeMember(dataApi, { companyId: s.companyId, sellerId: s.member, actor: s.admin, reason: 'left' })).resolves.toMatchObject({
      status: 'removed',
    });
    const [audit] = await t.db.query<{ actor: string }>('SELECT actor FROM company_member_audit WHERE seller_id = $1', [s.member]);
    expect(audit?.actor).toBe(s.admin);
  });
});
