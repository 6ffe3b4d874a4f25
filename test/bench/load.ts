/**
 * The application load that runs while the migrations do: a few connections
 * each running a paced mix of the marketplace's reads and writes on
 * `listed_cars` and `conversations`, every statement timed client-side; and a
 * separate connection sampling, every ~50 ms, which sessions wait for a lock
 * (pg_locks not granted, with `waitstart`) and who blocks them.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { max, percentile, pick, round, sleep } from './stats';

export const LOAD_APPLICATION_NAME = 'ems-bench-load';

export interface LoadPools {
  /** Active listings with their seller (targets of reads, price updates and new conversations). */
  readonly listings: { id: string; seller_id: string; company_id: string | null }[];
  readonly conversationIds: string[];
  readonly buyerIds: string[];
}

export interface LoadOptions {
  readonly url: string;
  readonly workers: number;
  /** Statements per second per worker (paced; a slow statement is not made up for). */
  readonly ratePerWorker: number;
  readonly pools: LoadPools;
}

type Kind =
  | 'select_listing'
  | 'update_listing_price'
  | 'insert_listing'
  | 'select_conversation'
  | 'update_conversation_last_message'
  | 'insert_conversation';

// Weights of the mix (sum 100).
const MIX: readonly [Kind, number][] = [
  ['select_listing', 30],
  ['update_listing_price', 20],
  ['insert_listing', 5],
  ['select_conversation', 15],
  ['update_conversation_last_message', 15],
  ['insert_conversation', 15],
];

function nextKind(): Kind {
  let r = Math.random() * 100;
  for (const [kind, weight] of MIX) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'select_listing';
}

interface Sample {
  kind: Kind;
  ms: number;
  startedAt: number;
}

export interface LoadResult {
  readonly durationMs: number;
  readonly statements: number;
  readonly statementsPerSecond: number;
  readonly failed: number;
  readonly failures: { kind: string; message: string; code?: string }[];
  readonly clientLatencyMs: { p50: number; p99: number; max: number };
  readonly slowest: { kind: string; ms: number; atMs: number } | null;
  readonly byKind: Record<string, { n: number; p50: number; p99: number; max: number; failed: number }>;
}

export interface RunningLoad {
  stop(): Promise<LoadResult>;
}

async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  return client;
}

export async function startLoad(options: LoadOptions): Promise<RunningLoad> {
  const { pools } = options;
  if (pools.listings.length === 0 || pools.conversationIds.length === 0 || pools.buyerIds.length === 0) {
    throw new Error('the load needs listings, conversations and buyers to work on');
  }
  const clients = await Promise.all(Array.from({ length: options.workers }, () => connect(options.url, LOAD_APPLICATION_NAME)));
  const samples: Sample[] = [];
  const failures: { kind: Kind; message: string; code?: string }[] = [];
  const started = performance.now();
  let stopping = false;
  const intervalMs = 1000 / options.ratePerWorker;

  const run = async (client: pg.Client, kind: Kind): Promise<void> => {
    switch (kind) {
      case 'select_listing':
        await client.query('SELECT * FROM listed_cars WHERE id = $1', [pick(pools.listings).id]);
        return;
      case 'update_listing_price':
        await client.query('UPDATE listed_cars SET price_cents = price_cents + $2, updated_at = now() WHERE id = $1', [
          pick(pools.listings).id,
          Math.round(Math.random() * 20_000) - 10_000,
        ]);
        return;
      case 'insert_listing': {
        const owner = pick(pools.listings);
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
           VALUES ($1, $2, 'Skoda', 'Octavia', 2021, 1990000, 'active') RETURNING id`,
          [owner.seller_id, owner.company_id],
        );
        pools.listings.push({ id: rows[0]!.id, seller_id: owner.seller_id, company_id: owner.company_id });
        return;
      }
      case 'select_conversation':
        await client.query('SELECT * FROM conversations WHERE id = $1', [pick(pools.conversationIds)]);
        return;
      case 'update_conversation_last_message':
        await client.query('UPDATE conversations SET last_message_at = now() WHERE id = $1', [pick(pools.conversationIds)]);
        return;
      case 'insert_conversation': {
        const listing = pick(pools.listings);
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO conversations (listing_id, buyer_id, seller_id, status) VALUES ($1, $2, $3, 'open') RETURNING id`,
          [listing.id, pick(pools.buyerIds), listing.seller_id],
        );
        pools.conversationIds.push(rows[0]!.id);
        return;
      }
    }
  };

  const worker = async (client: pg.Client): Promise<void> => {
    while (!stopping) {
      const kind = nextKind();
      const t0 = performance.now();
      try {
        await run(client, kind);
      } catch (error) {
        const e = error as { message?: string; code?: string };
        failures.push({ kind, message: e.message ?? String(error), code: e.code });
      }
      const ms = performance.now() - t0;
      samples.push({ kind, ms, startedAt: t0 - started });
      if (ms < intervalMs) await sleep(intervalMs - ms);
    }
  };

  const workers = clients.map((c) => worker(c));

  return {
    stop: async () => {
      stopping = true;
      await Promise.all(workers);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      const durationMs = performance.now() - started;
      const all = samples.map((s) => s.ms);
      const slowest = samples.reduce<Sample | null>((a, s) => (!a || s.ms > a.ms ? s : a), null);
      const byKind: LoadResult['byKind'] = {};
      for (const [kind] of MIX) {
        const ms = samples.filter((s) => s.kind === kind).map((s) => s.ms);
        byKind[kind] = {
          n: ms.length,
          p50: round(percentile(ms, 50)),
          p99: round(percentile(ms, 99)),
          max: round(max(ms)),
          failed: failures.filter((f) => f.kind === kind).length,
        };
      }
      return {
        durationMs: round(durationMs, 0),
        statements: samples.length,
        statementsPerSecond: round(samples.length / (durationMs / 1000), 1),
        failed: failures.length,
        failures: failures.slice(0, 20),
        clientLatencyMs: { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)), max: round(max(all)) },
        slowest: slowest ? { kind: slowest.kind, ms: round(slowest.ms), atMs: round(slowest.startedAt, 0) } : null,
        byKind,
      };
    },
  };
}

export interface LockWait {
  readonly pid: number;
  readonly applicationName: string;
  readonly query: string;
  readonly lockType: string;
  readonly mode: string;
  readonly relation: string | null;
  readonly waitedMs: number;
  readonly blockedBy: { pid: number; applicationName: string; query: string } | null;
}

export interface LockSamplerResult {
  readonly samples: number;
  readonly intervalMs: number;
  /** Samples in which at least one load session waited on a lock (wait_event_type = 'Lock'). */
  readonly samplesWithApplicationLockWaits: number;
  readonly maxApplicationWaitMs: number;
  readonly maxOtherWaitMs: number;
  /** The longest waits seen, one per waiting statement, longest first. */
  readonly longestApplicationWaits: LockWait[];
  readonly longestOtherWaits: LockWait[];
}

interface WaitRow {
  pid: number;
  application_name: string;
  query: string;
  locktype: string;
  mode: string;
  relation: string | null;
  waitstart: Date | null;
  waited_ms: number | null;
  blocker_pid: number | null;
  blocker_app: string | null;
  blocker_query: string | null;
}

/** Samples lock waits in the current database every `intervalMs` from its own connection. */
export async function startLockSampler(url: string, intervalMs = 50): Promise<{ stop(): Promise<LockSamplerResult> }> {
  const client = await connect(url, 'ems-bench-lock-sampler');
  const waits = new Map<string, LockWait>();
  let samples = 0;
  let samplesWithApplicationLockWaits = 0;
  let stopping = false;

  const loop = (async () => {
    while (!stopping) {
      const t0 = performance.now();
      const { rows } = await client.query<WaitRow>(
        `SELECT a.pid, a.application_name, left(a.query, 300) AS query, l.locktype, l.mode,
                CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation, l.waitstart,
                extract(epoch FROM clock_timestamp() - l.waitstart) * 1000 AS waited_ms,
                b.pid AS blocker_pid, b.application_name AS blocker_app, left(b.query, 300) AS blocker_query
           FROM pg_locks l
           JOIN pg_stat_activity a ON a.pid = l.pid
           LEFT JOIN LATERAL (SELECT x.pid, x.application_name, x.query FROM pg_stat_activity x
                               WHERE x.pid = (pg_blocking_pids(a.pid))[1]) b ON true
          WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()`,
      );
      samples += 1;
      if (rows.some((r) => r.application_name === LOAD_APPLICATION_NAME)) samplesWithApplicationLockWaits += 1;
      for (const r of rows) {
        const key = `${r.pid}:${r.waitstart?.toISOString() ?? 'unknown'}`;
        const waitedMs = Number(r.waited_ms ?? 0);
        const previous = waits.get(key);
        if (!previous || waitedMs > previous.waitedMs) {
          waits.set(key, {
            pid: r.pid,
            applicationName: r.application_name,
            query: r.query,
            lockType: r.locktype,
            mode: r.mode,
            relation: r.relation,
            waitedMs: round(waitedMs, 1),
            blockedBy: r.blocker_pid ? { pid: r.blocker_pid, applicationName: r.blocker_app ?? '', query: r.blocker_query ?? '' } : null,
          });
        }
      }
      const elapsed = performance.now() - t0;
      if (elapsed < intervalMs) await sleep(intervalMs - elapsed);
    }
  })();

  return {
    stop: async () => {
      stopping = true;
      await loop;
      await client.end().catch(() => undefined);
      const all = [...waits.values()].sort((a, b) => b.waitedMs - a.waitedMs);
      const app = all.filter((w) => w.applicationName === LOAD_APPLICATION_NAME);
      const other = all.filter((w) => w.applicationName !== LOAD_APPLICATION_NAME);
      return {
        samples,
        intervalMs,
        samplesWithApplicationLockWaits,
        maxApplicationWaitMs: app[0]?.waitedMs ?? 0,
        maxOtherWaitMs: other[0]?.waitedMs ?? 0,
        longestApplicationWaits: app.slice(0, 5),
        longestOtherWaits: other.slice(0, 5),
      };
    },
  };
}
