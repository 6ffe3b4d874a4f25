/**
 * The event relay: publishes the outbox (migration 8, `messaging_outbox`) in id order, at least
 * once, and marks what was published. Consumers deduplicate by `outboxId` (the idempotency key:
 * a relay that publishes and then dies before marking publishes the same ids again) and order one
 * company's events by it.
 *
 * One run: read up to `maxRows` pending events; publish them in batches within PutEvents' limits
 * (10 entries, 256 KB), one event per company per call (so one company's events go out in order);
 * mark the published ones; record a failed entry's attempt and error and hold
 * back that company's later events until it goes through (so a company's events are not published
 * past one that failed); dead-letter an event after `maxAttempts` failed tries (kept in the outbox,
 * never retried, counted for the alarm); prune published events older than the retention.
 */
import type { Database } from '../database/port';

export const EVENT_SOURCE = 'enhanced-messaging';
/** PutEvents' limits: entries per call, and bytes per call (the sum over its entries). */
export const MAX_ENTRIES_PER_CALL = 10;
export const MAX_BYTES_PER_CALL = 256 * 1024;

export interface OutboxEvent {
  readonly id: string;
  readonly companyId: string | null;
  readonly eventType: string;
  readonly occurredAt: string;
  readonly transactionId: string;
  readonly actor: string;
  readonly reason: string | null;
  readonly detail: Record<string, unknown>;
  readonly publishAttempts: number;
}

/**
 * An id read as text (the outbox's company) in the form the details give ids: a uuid as its string,
 * an integer or bigint id (digits only, which no uuid is) as a JSON number.
 */
const inDetailForm = (id: string | null): string | number | null => (id !== null && /^[0-9]+$/.test(id) ? Number(id) : id);

/** What the consumers receive as the EventBridge event's `detail`. */
export function eventDetail(event: OutboxEvent): Record<string, unknown> {
  return {
    outboxId: event.id,
    companyId: inDetailForm(event.companyId),
    occurredAt: event.occurredAt,
    transactionId: event.transactionId,
    actor: event.actor,
    reason: event.reason,
    ...event.detail,
  };
}

export interface PublishEntry {
  readonly event: OutboxEvent;
  readonly detailType: string;
  readonly detail: string;
  readonly time: Date;
}

/** One PutEvents call: per entry, undefined when accepted, or why it was not. */
export type Publisher = (entries: readonly PublishEntry[]) => Promise<(string | undefined)[]>;

/** PutEvents' size of an entry (the service's rule: UTF-8 bytes of Source, DetailType, Detail, and 14 for a Time). */
export function entrySize(entry: PublishEntry): number {
  return 14 + Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(entry.detailType) + Buffer.byteLength(entry.detail);
}

export interface RelayOptions {
  readonly maxRows?: number;
  readonly maxAttempts?: number;
  /** Published events older than this are deleted (PostgreSQL interval). */
  readonly retention?: string;
  readonly pruneRows?: number;
}

export interface RelayResult {
  readonly published: readonly string[];
  readonly failed: readonly string[];
  readonly deadLettered: readonly string[];
  readonly pruned: number;
  /** Age of the oldest event still to publish, after the run (0 when none). */
  readonly oldestPendingSeconds: number;
  readonly deadLetteredTotal: number;
}

interface OutboxRow {
  id: string;
  company_id: string | null;
  event_type: string;
  occurred_at: string;
  transaction_id: string;
  actor: string;
  reason: string | null;
  detail: Record<string, unknown> | string;
  publish_attempts: number;
}

function toEvent(row: OutboxRow): OutboxEvent {
  return {
    id: row.id,
    companyId: row.company_id,
    eventType: row.event_type,
    occurredAt: row.occurred_at,
    transactionId: row.transaction_id,
    actor: row.actor,
    reason: row.reason,
    // node-postgres parses jsonb; the Data API returns its text.
    detail: typeof row.detail === 'string' ? (JSON.parse(row.detail) as Record<string, unknown>) : row.detail,
    publishAttempts: Number(row.publish_attempts),
  };
}

/** Batches in id order within PutEvents' limits; an entry too big to send at all is its own batch (and fails). */
export function batchesOf(entries: readonly PublishEntry[]): PublishEntry[][] {
  const batches: PublishEntry[][] = [];
  let current: PublishEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (current.length > 0 && (current.length === MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export async function relayOutbox(db: Database, publish: Publisher, options: RelayOptions = {}): Promise<RelayResult> {
  const maxRows = options.maxRows ?? 100;
  const maxAttempts = options.maxAttempts ?? 5;
  // Only what may be published now: a company with a transaction still running that writes its
  // events is left for the next run (migrations/sql/events/ems_outbox_pending.sql).
  const rows = await db.query<OutboxRow>(`SELECT * FROM ems_outbox_pending($1::int)`, [maxRows]);
  const published: string[] = [];
  const failed: string[] = [];
  const deadLettered: string[] = [];
  // A company whose event failed in this run: its later events wait, so they are not published past it.
  const held = new Set<string>();
  const companyKey = (event: OutboxEvent) => event.companyId ?? 'independent';

  // Each event's entry is built once; the loop below only chooses which go in the next call.
  const entryOf = new Map<OutboxEvent, PublishEntry>(
    rows.map(toEvent).map((event) => [event, { event, detailType: event.eventType, detail: JSON.stringify(eventDetail(event)), time: new Date(event.occurredAt) }]),
  );
  const pending = [...entryOf.keys()];
  while (pending.length > 0) {
    // One event per company per call: PutEvents accepts or refuses each entry on its own, so a
    // company's later event in the same call could go out past an earlier one it refused.
    const seen = new Set<string>();
    const ready = pending.filter((event) => {
      const key = companyKey(event);
      if (held.has(key) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (ready.length === 0) break;
    const [batch] = batchesOf(ready.map((event) => entryOf.get(event)!));
    // An entry over PutEvents' whole-call limit can never go (and would make the call fail for all):
    // it fails alone. Anything else that makes the call throw (throttling, an outage) ends the run with
    // no attempt counted, so a long outage dead-letters nothing.
    const tooBig = batch!.length === 1 && entrySize(batch![0]!) > MAX_BYTES_PER_CALL;
    const answers = tooBig ? [`EntryTooLarge: ${entrySize(batch![0]!)} bytes, over PutEvents' ${MAX_BYTES_PER_CALL}`] : await publish(batch!);
    const ok: string[] = [];
    for (const [i, entry] of batch!.entries()) {
      pending.splice(pending.indexOf(entry.event), 1);
      const error = answers[i];
      if (error === undefined) {
        ok.push(entry.event.id);
        continue;
      }
      held.add(companyKey(entry.event));
      // Decided on the row as it is now, not as this run read it (another relay may have counted a
      // try meanwhile), and never undone: a dead-lettered event stays dead.
      const [marked] = await db.query<{ dead: boolean }>(
        `UPDATE messaging_outbox SET publish_attempts = publish_attempts + 1, last_error = $2,
                dead_lettered_at = coalesce(dead_lettered_at, CASE WHEN publish_attempts + 1 >= $3::int THEN now() END)
          WHERE id = $1::bigint AND published_at IS NULL
          RETURNING dead_lettered_at IS NOT NULL AS dead`,
        [entry.event.id, error.slice(0, 1000), maxAttempts],
      );
      (marked?.dead ? deadLettered : failed).push(entry.event.id);
    }
    if (ok.length > 0) {
      // Marked once PutEvents accepted them: dying before this line publishes them again (at least once).
      await db.query(`UPDATE messaging_outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [`{${ok.join(',')}}`]);
      published.push(...ok);
    }
  }

  const [prunedRow] = await db.query<{ n: number }>(`SELECT ems_outbox_prune($1::interval, $2::int) AS n`, [
    options.retention ?? '7 days',
    options.pruneRows ?? 5000,
  ]);
  const [state] = await db.query<{ oldest: number | string | null; dead: number | string }>(
    `SELECT extract(epoch FROM now() - min(occurred_at) FILTER (WHERE published_at IS NULL AND dead_lettered_at IS NULL))::float8 AS oldest,
            count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead
       FROM messaging_outbox WHERE published_at IS NULL`,
  );
  return {
    published,
    failed,
    deadLettered,
    pruned: Number(prunedRow?.n ?? 0),
    oldestPendingSeconds: Math.max(0, Math.round(Number(state?.oldest ?? 0))),
    deadLetteredTotal: Number(state?.dead ?? 0),
  };
}
