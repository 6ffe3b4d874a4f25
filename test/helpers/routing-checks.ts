/**
 * Checks and tools shared by the routing property, race and stress tests:
 *  - the company-scoped routing invariant (COMPANY_SCOPED_INVARIANT_SQL: the tests' own
 *    definition, independent of the verification's), the conversation ownership chains and
 *    the member audit chains;
 *  - a Database wrapper that records, per committed transaction (a statement on its own
 *    included), its xid and a snapshot taken as its last statement before COMMIT
 *    (commit-order proofs);
 *  - a gate that holds several transactions (or single statements) before their first
 *    statement and releases them together (real overlap in race tests).
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import type { Database, Row } from '../../functions/database/port';
import { DomainError } from '../../functions/domain/errors';
import type { Id } from '../../functions/http/response-schemas';

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

/** The refusal code of an expected refusal, or undefined when `error` is anything else. */
export function refusalCode(error: unknown): string | undefined {
  if (error instanceof DomainError) return error.code;
  const e = error as { detail?: unknown; message?: unknown };
  // The plain-SQL path: the guard trigger's exception, untranslated.
  if (e?.detail === 'ems:last_admin' && typeof e.message === 'string' && /last active owner or admin/.test(e.message)) return 'last_admin';
  return undefined;
}

/* ------------------------------------------------------------------ */
/* Company-scoped invariant and chain checks                           */
/* ------------------------------------------------------------------ */

/**
 * THE company-scoped routing invariant of the tests (README "How routing works"), one row per
 * violation, over the whole database:
 *  - every active listing is held (`current_owner_id`) by someone the holder rule allows: an
 *    active member of the listing's company, or, for an independent listing (company_id NULL),
 *    its own seller (`seller_id`) while active;
 *  - every open conversation is held (`conversations.seller_id`) by someone the rule allows for
 *    ITS listing (whatever the listing's status), or by nobody (NULL: unassigned, allowed: its
 *    next buyer message goes to the listing's recipient).
 * Columns: kind ('listing' | 'conversation'), id, listing_id, company_id (the listing's),
 * holder_id, holder_status, holder_company_id, and violation, the class of the row (the first
 * that applies): `<kind>_unheld` (an active listing held by nobody), `<kind>_holder_inactive`
 * (the holder is not an active seller, or no such seller), `<kind>_holder_not_its_seller` (an
 * independent listing held by someone other than its seller), `<kind>_holder_outside_company`
 * (a company listing held by someone who is not a member of that company).
 *
 * A second definition ON PURPOSE: it is written here, from the README, independently of
 * functions/verification/verify.ts (INVARIANT_VIOLATIONS_SQL) and of the SQL's own holder rule
 * (ems_holder_rule), and must stay so: a bug in one definition is then caught by the other
 * (tests assert this one; verifyInstallation asserts that one). Do not import either here.
 */
export const COMPANY_SCOPED_INVARIANT_SQL = `
  WITH held AS (
    SELECT 'listing'::text AS kind, l.id, l.id AS listing_id, l.company_id, l.seller_id AS listing_seller_id,
           l.current_owner_id AS holder_id
      FROM listed_cars l
     WHERE l.status = 'active'
    UNION ALL
    SELECT 'conversation'::text, c.id, c.listing_id, l.company_id, l.seller_id, c.seller_id
      FROM conversations c JOIN listed_cars l ON l.id = c.listing_id
     WHERE c.status = 'open' AND c.seller_id IS NOT NULL -- NULL: unassigned, allowed
  ), judged AS (
    SELECT h.*, s.member_status AS holder_status, s.company_id AS holder_company_id,
           (s.member_status = 'active'
            AND CASE WHEN h.company_id IS NULL THEN s.id = h.listing_seller_id
                     ELSE s.company_id IS NOT NULL AND s.company_id = h.company_id END) AS allowed
      FROM held h LEFT JOIN sellers s ON s.id = h.holder_id
  )
  SELECT kind, id, listing_id, company_id, holder_id, holder_status, holder_company_id,
         kind || CASE WHEN holder_id IS NULL THEN '_unheld'
                      WHEN holder_status IS DISTINCT FROM 'active' THEN '_holder_inactive'
                      WHEN company_id IS NULL THEN '_holder_not_its_seller'
                      ELSE '_holder_outside_company' END AS violation
    FROM judged
   WHERE allowed IS NOT TRUE
   ORDER BY kind, id`;

export interface InvariantViolation {
  kind: 'listing' | 'conversation';
  id: string;
  listing_id: string;
  company_id: string | null;
  holder_id: string | null;
  holder_status: string | null;
  holder_company_id: string | null;
  violation: string;
}

/** Every violation of COMPANY_SCOPED_INVARIANT_SQL in the whole database. */
export async function invariantViolations(db: Database): Promise<InvariantViolation[]> {
  return db.query<InvariantViolation>(COMPANY_SCOPED_INVARIANT_SQL);
}

/** The violations of COMPANY_SCOPED_INVARIANT_SQL about the listings of the given company (or companies). */
export async function invariantViolationsIn(db: Database, companyIds: string | readonly string[]): Promise<InvariantViolation[]> {
  return db.query<InvariantViolation>(`SELECT v.* FROM (${COMPANY_SCOPED_INVARIANT_SQL}) v WHERE v.company_id = ANY ($1::ems_company_id[])`, [
    typeof companyIds === 'string' ? [companyIds] : companyIds,
  ]);
}

/** Companies (one id or several), or explicit rows: what a chain check looks at. */
export type ChainScope = string | readonly string[] | { readonly listings?: readonly string[]; readonly sellers?: readonly string[] };

function scopeParameters(scope: ChainScope): [string[], string[], string[]] {
  if (typeof scope === 'string') return [[scope], [], []];
  if (Array.isArray(scope)) return [[...(scope as readonly string[])], [], []];
  const rows = scope as { listings?: readonly string[]; sellers?: readonly string[] };
  return [[], [...(rows.listings ?? [])], [...(rows.sellers ?? [])]];
}

/**
 * Every conversation in scope (of the companies' listings, or of the given listings) has an
 * unbroken ownership chain: ordered by id, the first row starts it (previous NULL,
 * 'conversation_started'), each row's previous owner is the row before's new owner, no row is a
 * no-op, changed_at never goes back, and the last row's new owner is the conversation's current seller.
 */
export async function ownershipChainProblems(db: Database, scope: ChainScope): Promise<Row[]> {
  const [companies, listings] = scopeParameters(scope);
  return db.query(
    `WITH convs AS (
       SELECT c.id, c.seller_id FROM conversations c JOIN listed_cars l ON l.id = c.listing_id
        WHERE l.company_id = ANY ($1::ems_company_id[]) OR c.listing_id = ANY ($2::ems_listing_id[])
     ), log AS (
       SELECT g.*, row_number() OVER w AS n, lag(g.new_owner_id) OVER w AS before_new, lag(g.changed_at) OVER w AS before_at,
              lead(g.id) OVER w AS next_id
         FROM conversation_ownership_log g JOIN convs ON convs.id = g.conversation_id
       WINDOW w AS (PARTITION BY g.conversation_id ORDER BY g.id)
     )
     SELECT c.id AS conversation_id, 'no log rows' AS problem, NULL::bigint AS log_id FROM convs c
      WHERE NOT EXISTS (SELECT 1 FROM log WHERE log.conversation_id = c.id)
     UNION ALL
     SELECT conversation_id, 'first row does not start the conversation', id FROM log
      WHERE n = 1 AND (previous_owner_id IS NOT NULL OR reason <> 'conversation_started')
     UNION ALL
     SELECT conversation_id, 'conversation_started after the first row', id FROM log WHERE n > 1 AND reason = 'conversation_started'
     UNION ALL
     SELECT conversation_id, 'broken chain: previous_owner_id is not the prior new_owner_id', id FROM log
      WHERE n > 1 AND previous_owner_id IS DISTINCT FROM before_new
     UNION ALL
     SELECT conversation_id, 'no-op row: previous owner = new owner', id FROM log
      WHERE n > 1 AND previous_owner_id IS NOT DISTINCT FROM new_owner_id
     UNION ALL
     SELECT conversation_id, 'changed_at goes back', id FROM log WHERE n > 1 AND changed_at < before_at
     UNION ALL
     SELECT log.conversation_id, 'last row is not the current owner', log.id FROM log JOIN convs c ON c.id = log.conversation_id
      WHERE log.next_id IS NULL AND log.new_owner_id IS DISTINCT FROM c.seller_id`,
    [companies, listings],
  );
}

/**
 * Per member in scope (members of the companies now, or the given sellers), all their audit
 * rows (whatever company each names) ordered by id form a consistent history: the first starts
 * from 'active' (members are created active), each starts from the status the previous one left,
 * the action matches the change (a 'left_company' row is a move while active: active to active;
 * any other row changes the status, and its action names the new status), and the last one's
 * status is the member's current status.
 */
export async function auditChainProblems(db: Database, scope: ChainScope): Promise<Row[]> {
  const [companies, , sellers] = scopeParameters(scope);
  return db.query(
    `WITH a AS (
       SELECT a.*, lag(a.new_status) OVER w AS before_new, lead(a.id) OVER w AS next_id, row_number() OVER w AS n
         FROM company_member_audit a JOIN sellers s ON s.id = a.seller_id
        WHERE s.company_id = ANY ($1::ems_company_id[]) OR s.id = ANY ($2::ems_seller_id[])
       WINDOW w AS (PARTITION BY a.seller_id ORDER BY a.id)
     )
     SELECT seller_id, id, 'first audit row does not start from active' AS problem FROM a WHERE n = 1 AND previous_status <> 'active'
     UNION ALL
     SELECT seller_id, id, 'previous_status is not the prior new_status' FROM a WHERE n > 1 AND previous_status <> before_new
     UNION ALL
     SELECT seller_id, id, 'no-op audit row' FROM a WHERE previous_status = new_status AND action <> 'left_company'
     UNION ALL
     SELECT seller_id, id, 'left_company row is not a move while active' FROM a
      WHERE action = 'left_company' AND (previous_status <> 'active' OR new_status <> 'active')
     UNION ALL
     SELECT seller_id, id, 'action does not match new_status' FROM a
      WHERE action <> 'left_company'
        AND action <> CASE new_status WHEN 'active' THEN 'reactivated' WHEN 'suspended' THEN 'suspended' ELSE 'removed' END
     UNION ALL
     SELECT a.seller_id, a.id, 'last audit row is not the current status' FROM a JOIN sellers s ON s.id = a.seller_id
      WHERE a.next_id IS NULL AND a.new_status <> s.member_status`,
    [companies, sellers],
  );
}

/* ------------------------------------------------------------------ */
/* Commit snapshots                                                    */
/* ------------------------------------------------------------------ */

export interface CommitSnapshot {
  /** pg_current_xact_id() of the transaction (it wrote, so it has one). */
  readonly xid: string;
  /** pg_current_snapshot() taken as the transaction's last statement before COMMIT. */
  readonly snapshot: string;
}

/**
 * Wraps a Database: every transaction that completes its work runs one more statement,
 * reading its xid and a snapshot, right before COMMIT. A transaction X committed before a
 * transaction Y committed if X is visible in Y's final snapshot; if neither is visible in
 * the other's final snapshot, their commit order is unknown. Use one recorder per
 * sequential worker: `last` is the snapshot of the most recent committed transaction.
 */
export class CommitSnapshotRecorder implements Database {
  last: CommitSnapshot | undefined;

  constructor(private readonly inner: Database) {}

  /** A statement on its own (the services' one-statement calls) is recorded as the transaction it is. */
  query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.transaction((tx) => tx.query<T>(sql, params));
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    this.last = undefined;
    let taken: CommitSnapshot | undefined;
    const result = await this.inner.transaction(async (tx) => {
      const value = await work(tx);
      const [row] = await tx.query<{ xid: string; snapshot: string }>(
        `SELECT pg_current_xact_id()::text AS xid, pg_current_snapshot()::text AS snapshot`,
      );
      taken = row;
      return value;
    });
    this.last = taken; // only once COMMIT succeeded
    return result;
  }

  /** Takes the snapshot of `last` and clears it (throws if the last transaction recorded none). */
  take(): CommitSnapshot {
    const value = this.last;
    if (!value) throw new Error('no committed transaction recorded');
    this.last = undefined;
    return value;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface RecordedMessage extends CommitSnapshot {
  readonly messageId: Id;
  readonly recipientId: Id;
}

/**
 * For each recorded buyer message, proves from the audit trail that its recipient was an
 * active member when the message committed. Each audit row of the recipient is placed
 * before or after the message's commit by the final snapshots (`changes`: the snapshots of
 * every transaction that changed a member status, keyed by xid). Returns a row per message
 * that is not proven: an audit row whose order is unknown, an audit row of an unrecorded
 * transaction, audit order disagreeing with commit order, or an inactive status at commit.
 */
export async function messagesNotProvenActiveAtCommit(
  db: Database,
  messages: readonly RecordedMessage[],
  changes: readonly CommitSnapshot[],
): Promise<Row[]> {
  // Message ids travel as text (messages.id has no id domain); each row names its message as recorded.
  const recorded = new Map(messages.map((m) => [String(m.messageId), m.messageId]));
  const rows = await db.query<Row & { message_id: string }>(
    `WITH msg AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::ems_seller_id[]) AS x(message_id, xid, snap, recorded_recipient)
     ), chg AS (
       SELECT * FROM unnest($5::text[], $6::text[]) AS y(xid, snap)
     ), placed AS (
       SELECT x.message_id, m.recipient_id, a.id AS audit_id, a.new_status,
              CASE WHEN pg_visible_in_snapshot(a.transaction_id, x.snap::pg_snapshot) THEN 'before'
                   WHEN pg_visible_in_snapshot(x.xid::xid8, y.snap::pg_snapshot) THEN 'after'
                   ELSE 'unknown' END AS commit_order
         FROM msg x JOIN messages m ON m.id::text = x.message_id
         JOIN company_member_audit a ON a.seller_id = m.recipient_id
         LEFT JOIN chg y ON y.xid = a.transaction_id::text
     ), summary AS (
       SELECT message_id,
              count(*) FILTER (WHERE commit_order = 'unknown') AS unknown_order,
              max(audit_id) FILTER (WHERE commit_order = 'before') AS last_before,
              min(audit_id) FILTER (WHERE commit_order = 'after') AS first_after
         FROM placed GROUP BY message_id
     ), per_message AS (
       SELECT x.message_id, m.recipient_id, x.recorded_recipient, m.id IS NULL AS missing,
              coalesce(s.unknown_order, 0) AS unknown_order, s.last_before, s.first_after
         FROM msg x LEFT JOIN messages m ON m.id::text = x.message_id LEFT JOIN summary s ON s.message_id = x.message_id
     )
     SELECT pm.*, a.new_status AS status_at_commit
       FROM per_message pm LEFT JOIN company_member_audit a ON a.id = pm.last_before
      WHERE pm.missing OR pm.recipient_id IS DISTINCT FROM pm.recorded_recipient OR pm.unknown_order > 0
         OR pm.last_before > pm.first_after OR coalesce(a.new_status, 'active') <> 'active'`,
    [
      messages.map((m) => String(m.messageId)),
      messages.map((m) => m.xid),
      messages.map((m) => m.snapshot),
      messages.map((m) => m.recipientId),
      changes.map((c) => c.xid),
      changes.map((c) => c.snapshot),
    ],
  );
  return rows.map((row) => ({ ...row, message_id: recorded.get(row.message_id) ?? row.message_id }));
}

/* ------------------------------------------------------------------ */
/* Gate                                                                */
/* ------------------------------------------------------------------ */

/**
 * Holds transactions at their first statement (a shared advisory lock that waits for the
 * gate's exclusive one) until `open()`, so racers really run at the same time.
 */
export class Gate {
  private constructor(
    private readonly client: pg.Client,
    readonly key: number,
  ) {}

  static async closed(url: string): Promise<Gate> {
    const client = new pg.Client({ connectionString: url, application_name: 'ems-test-gate' });
    await client.connect();
    const key = randomInt(1, 2 ** 31 - 1);
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    return new Gate(client, key);
  }

  /** `inner` whose every transaction (and every statement on its own, as the transaction it is) first waits at the gate. */
  database(inner: Database): Database {
    const key = this.key;
    const transaction: Database['transaction'] = (work) =>
      inner.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock_shared($1::bigint)', [key]);
        return work(tx);
      });
    return {
      query: (sql, params) => transaction((tx) => tx.query(sql, params)),
      transaction,
      close: () => inner.close(),
    } satisfies Database;
  }

  /**
   * Waits until `count` transactions wait at the gate. With `racers`, a racer that settled
   * before reaching the gate (it failed early) counts as arrived, so its error is reported.
   */
  async waiting(count: number, racers: readonly Promise<unknown>[] = [], timeoutMs = 20_000): Promise<void> {
    let settled = 0;
    for (const racer of racers) {
      racer.then(
        () => (settled += 1),
        () => (settled += 1),
      );
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await this.client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = 0 AND objid = $1::bigint::oid AND objsubid = 1`,
        [this.key],
      );
      if ((rows[0]?.n ?? 0) + settled >= count) return;
      if (Date.now() > deadline) throw new Error(`gate: only ${rows[0]?.n ?? 0} of ${count} racers arrived`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async open(): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]);
    await this.client.end();
  }
}

/* ------------------------------------------------------------------ */
/* Deadlocks                                                           */
/* ------------------------------------------------------------------ */

/**
 * `inner`, reporting every 40P01 (deadlock_detected) it sees to `onDeadlock`, once per error,
 * including those the services then retry: a deadlock a retry hides still counts.
 */
export function observingDeadlocks(inner: Database, onDeadlock: (error: unknown) => void): Database {
  const seen = new WeakSet<object>();
  const note = (error: unknown): never => {
    if ((error as { code?: string } | null)?.code === '40P01' && typeof error === 'object' && error !== null && !seen.has(error)) {
      seen.add(error);
      onDeadlock(error);
    }
    throw error;
  };
  const wrap = (db: Database): Database => ({
    query: <T extends object = Row>(sql: string, params?: readonly unknown[]) => db.query<T>(sql, params).catch(note),
    transaction: (work) => db.transaction((tx) => work(wrap(tx))).catch(note),
    close: () => db.close(),
  });
  return wrap(inner);
}
