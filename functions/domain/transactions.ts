/**
 * Domain transactions: who is acting (recorded by the database triggers in the
 * audit and ownership log), retry of serialization failures and deadlocks, and
 * translation of the database's refusals (RAISE ... DETAIL 'ems:<code>') into typed errors.
 */
import type { Database } from '../database/port';
import { isRefusalCode } from '../shared/refusals';
import { DomainError, refusal, UnavailableError } from './errors';

export interface TransactionContext {
  /** Who acts: a seller id, a user e-mail or a system name; stored in audit rows. */
  readonly actor: string;
  readonly reason?: string;
  /** For reactivations: give back the listings the fallback still holds. */
  readonly restoreListings?: boolean;
}

interface DatabaseErrorShape {
  code?: string;
  detail?: string;
  message?: string;
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);
const MAX_ATTEMPTS = 4;

export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const e = error as DatabaseErrorShape;
  const tag = e.detail?.startsWith('ems:') ? e.detail.slice(4) : undefined;
  if (tag !== undefined && isRefusalCode(tag)) return refusal(tag, (e.message ?? '').replace(/^ERROR:\s*/, ''));
  if (e.code && UNAVAILABLE.has(e.code)) return new UnavailableError();
  // node-postgres reports a lost or refused connection without a SQLSTATE.
  if (/Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Client has encountered a connection error/i.test(e.message ?? '')) {
    return new UnavailableError();
  }
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` again when PostgreSQL chose it as a deadlock victim or could not serialise it (it rolled back whole). */
export async function retryingConflicts<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const code = (error as DatabaseErrorShape).code;
      if (code && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
        await sleep(10 * 2 ** attempt * Math.random());
        continue;
      }
      throw translateDatabaseError(error);
    }
  }
}

/**
 * One SQL function call that returns a JSON value, as one statement: one round trip (one Data API
 * ExecuteStatement), atomic on its own, so it is retried whole on a deadlock or serialization failure.
 */
export async function callFunction<T>(db: Database, call: string, params: readonly unknown[]): Promise<T> {
  const rows = await retryingConflicts(() => db.query<{ result: T }>(`SELECT ${call} AS result`, params));
  return rows[0]!.result;
}

export async function inTransaction<T>(db: Database, context: TransactionContext, work: (tx: Database) => Promise<T>): Promise<T> {
  return retryingConflicts(() =>
    db.transaction(async (tx) => {
      await tx.query(
        `SELECT set_config('ems.actor', $1::text, true), set_config('ems.reason', $2::text, true), set_config('ems.restore_listings', $3::text, true)`,
        [context.actor, context.reason ?? '', context.restoreListings ? 'on' : 'off'],
      );
      return work(tx);
    }),
  );
}
