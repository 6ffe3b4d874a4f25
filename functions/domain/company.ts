/** Company statistics and the company's message handlers. */
import type { Database } from '../database/port';
import type * as wire from '../http/response-schemas';
import type { Id } from '../http/response-schemas';
import { callFunction } from './transactions';

// The JSON the SQL functions return, declared once as the API's schemas (functions/http/schemas.ts).
export type CompanyStats = wire.Wire<'CompanyStats'>;

export async function getCompanyStats(db: Database, companyId: Id): Promise<CompanyStats> {
  return callFunction<CompanyStats>(db, 'ems_company_stats($1::ems_company_id)', [companyId]);
}

export type MessageHandler = wire.Wire<'MessageHandler'>;

export async function listMessageHandlers(db: Database, companyId: Id): Promise<MessageHandler[]> {
  return callFunction<MessageHandler[]>(db, 'ems_message_handlers($1::ems_company_id)', [companyId]);
}

export interface HandlerChange {
  readonly sellerId: Id;
  /** 1 (first) to 1000. */
  readonly priority?: number;
  /** false: stop handling; what the handler held as handler moves down the chain. */
  readonly active?: boolean;
}

/**
 * Adds, re-prioritises or deactivates handlers in one transaction: all changes
 * apply, or none. A handler must be an active member of the company.
 */
export async function updateMessageHandlers(
  db: Database,
  input: { companyId: Id; actor: string; changes: readonly HandlerChange[] },
): Promise<MessageHandler[]> {
  return callFunction<MessageHandler[]>(db, 'ems_update_message_handlers($1::ems_company_id, $2::text, $3::jsonb)', [
    input.companyId,
    input.actor,
    JSON.stringify(input.changes),
  ]);
}
