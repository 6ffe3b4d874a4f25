/** Company statistics and the company's message handlers. */
import type { Database } from '../database/port';
import { ConflictError, NotFoundError } from './errors';
import { inTransaction } from './transactions';

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
  const [company] = await db.query('SELECT id FROM companies WHERE id = $1', [companyId]);
  if (!company) throw new NotFoundError('company', companyId);
  const [members] = await db.query<{
    total_members: number;
    active_members: number;
    removed_members: number;
    suspended_members: number;
    active_admins: number;
  }>('SELECT * FROM get_member_statistics($1)', [companyId]);
  const listings = await db.query<{ current_owner_type: string; n: number }>(
    `SELECT current_owner_type, count(*)::int AS n FROM listed_cars
      WHERE company_id = $1 AND status = 'active' GROUP BY current_owner_type ORDER BY current_owner_type`,
    [companyId],
  );
  const [moved] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM conversation_ownership_log
      WHERE company_id = $1 AND reason <> 'conversation_started' AND changed_at > now() - interval '30 days'`,
    [companyId],
  );
  const handlers = await db.query<{ seller_id: string; seller_name: string; priority: number; open_conversations: number }>(
    `SELECT seller_id, seller_name, priority, open_conversations::int AS open_conversations
       FROM active_company_message_handlers WHERE company_id = $1 ORDER BY priority, created_at`,
    [companyId],
  );
  const changes = await db.query<{ day: string; removals: number; reactivations: number }>(
    `SELECT to_char(date_trunc('day', created_at), 'YYYY-MM-DD') AS day,
            count(*) FILTER (WHERE action IN ('removed', 'suspended', 'left_company'))::int AS removals,
            count(*) FILTER (WHERE action = 'reactivated')::int AS reactivations
       FROM company_member_audit
      WHERE company_id = $1 AND created_at > now() - interval '30 days'
      GROUP BY 1 ORDER BY 1`,
    [companyId],
  );
  return {
    companyId,
    members: {
      total: Number(members?.total_members ?? 0),
      active: Number(members?.active_members ?? 0),
      removed: Number(members?.removed_members ?? 0),
      suspended: Number(members?.suspended_members ?? 0),
      activeAdmins: Number(members?.active_admins ?? 0),
    },
    activeListingsByOwnerType: Object.fromEntries(listings.map((l) => [l.current_owner_type, l.n])),
    conversationsMovedLast30Days: moved?.n ?? 0,
    handlers: handlers.map((h) => ({ sellerId: h.seller_id, name: h.seller_name, priority: h.priority, openConversations: h.open_conversations })),
    membershipChanges: changes,
  };
}

export interface MessageHandler {
  readonly sellerId: string;
  readonly name: string;
  readonly priority: number;
  readonly isActive: boolean;
  readonly openConversations: number;
}

export async function listMessageHandlers(db: Database, companyId: string): Promise<MessageHandler[]> {
  const rows = await db.query<{ seller_id: string; name: string; priority: number; is_active: boolean; open_conversations: number }>(
    `SELECT h.seller_id, s.name, h.priority, h.is_active AND s.member_status = 'active' AS is_active,
            (SELECT count(*)::int FROM conversations c WHERE c.seller_id = h.seller_id AND c.status = 'open') AS open_conversations
       FROM company_message_handlers h JOIN sellers s ON s.id = h.seller_id
      WHERE h.company_id = $1 ORDER BY h.is_active DESC, h.priority, h.created_at`,
    [companyId],
  );
  return rows.map((r) => ({ sellerId: r.seller_id, name: r.name, priority: r.priority, isActive: r.is_active, openConversations: r.open_conversations }));
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
  await inTransaction(db, { actor: input.actor, reason: 'handler_changed' }, async (tx) => {
    const [company] = await tx.query('SELECT id FROM companies WHERE id = $1 FOR NO KEY UPDATE', [input.companyId]);
    if (!company) throw new NotFoundError('company', input.companyId);
    for (const change of input.changes) {
      if (change.active === false) {
        const updated = await tx.query(
          `UPDATE company_message_handlers SET is_active = false WHERE company_id = $1 AND seller_id = $2 RETURNING id`,
          [input.companyId, change.sellerId],
        );
        if (updated.length === 0) throw new NotFoundError('message handler', change.sellerId);
        continue;
      }
      const [member] = await tx.query(
        `SELECT id FROM sellers WHERE id = $1 AND company_id = $2 AND member_status = 'active'`,
        [change.sellerId, input.companyId],
      );
      if (!member) {
        throw new ConflictError('invalid_handler', `seller ${change.sellerId} is not an active member of this company`);
      }
      await tx.query(
        `INSERT INTO company_message_handlers (company_id, seller_id, priority, is_active)
         VALUES ($1, $2, coalesce($3::int, 100), true)
         ON CONFLICT (company_id, seller_id)
         DO UPDATE SET priority = coalesce($3::int, company_message_handlers.priority), is_active = true`,
        [input.companyId, change.sellerId, change.priority ?? null],
      );
    }
  });
  return listMessageHandlers(db, input.companyId);
}
