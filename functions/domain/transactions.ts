/**
 * Domain transactions: who is acting (recorded by the database triggers in the
 * audit and ownership log), retry of serialization failures and deadlocks, and
 * translation of the database's refusals (RAISE ... DETAIL 'ems:<code>') into typed errors.
 */
import type { Database } from '../database/port';
import { ConflictError, DomainError, UnavailableError } from './errors';

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
  const message = (e.message ?? '').replace(/^ERROR:\s*/, '');
  switch (tag) {
    case 'last_admin':
      return new ConflictError('last_admin', message);
    case 'no_recipient':
      return new ConflictError('no_recipient', message);
    case 'invalid_handler':
      return new ConflictError('invalid_handler', message);
    case 'inactive_recipient':
      return new ConflictError('inactive_recipient', message);
    case 'not_found':
      return new DomainError('not_found', message, 404);
    default:
      break;
  }
  if (e.code && UNAVAILABLE.has(e.code)) return new UnavailableError();
  // node-postgres reports a lost or refused connection without a SQLSTATE.
  if (/Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Client has encountered a connection error/i.test(e.message ?? '')) {
    return new UnavailableError();
  }
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function inTransaction<T>(db: Database, context: TransactionContext, work: (tx: Database) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction(async (tx) => {
        await tx.query(
          `SELECT set_config('ems.actor', $1::text, true), set_config('ems.reason', $2::text, true), set_config('ems.restore_listings', $3::text, true)`,
          [context.actor, context.reason ?? '', context.restoreListings ? 'on' : 'off'],
        );
        return work(tx);
      });
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
