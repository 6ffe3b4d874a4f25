/** Company statistics and the company's message handlers. */
import type { Database } from '../database/port';
import { callFunction } from './transactions';

export interface CompanyStats {
  readonly companyId: string;
  readonly members: { total: number; active: number; removed: number; suspended: number; activeAdmins: number };
  readonly activeListingsByOwnerType: Record<string, number>;
  readonly conversationsMovedLast30Days: number;
  readonly handlers: readonly { sellerId: string; name: string; priority: number; openConversations: number }[];
  /** Per day, last 30 days, days with activity only. */
  readonly membershipChanges: readonly { day: string; removals: number; reactivations: number }[];
}

export async function getCompanyStats(db: Database, companyId: string): Promise<CompanyStats> {
  return callFunction<CompanyStats>(db, 'ems_company_stats($1::uuid)', [companyId]);
}

export interface MessageHandler {
  readonly sellerId: string;
  readonly name: string;
  readonly priority: number;
  readonly isActive: boolean;
  readonly openConversations: number;
}

export async function listMessageHandlers(db: Database, companyId: string): Promise<MessageHandler[]> {
  return callFunction<MessageHandler[]>(db, 'ems_message_handlers($1::uuid)', [companyId]);
}

export interface HandlerChange {
  readonly sellerId: string;
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
  input: { companyId: string; actor: string; changes: readonly HandlerChange[] },
): Promise<MessageHandler[]> {
  return callFunction<MessageHandler[]>(db, 'ems_update_message_handlers($1::uuid, $2::text, $3::jsonb)', [
    input.companyId,
    input.actor,
    JSON.stringify(input.changes),
  ]);
}
