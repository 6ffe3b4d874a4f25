/**
 * Member removal and reactivation (the guide's company controller
 * `_handleMemberMessaging()` / `_handleMemberReactivationMessaging()`).
 *
 * The moving itself happens in the database (triggers of migration 3), so a
 * plain `UPDATE sellers SET member_status = 'removed'` from the marketplace's
 * own code has exactly the same effect; these functions add the checks and the
 * summary a caller needs.
 */
import type { Database } from '../database/port';
import { ConflictError, NotFoundError } from './errors';
import { inTransaction } from './transactions';

export interface Person {
  readonly id: string;
  readonly name: string;
}

export interface RemovalSummary {
  readonly sellerId: string;
  readonly companyId: string;
  readonly status: 'removed';
  readonly listingsMoved: number;
  readonly conversationsMoved: number;
  /** Who now receives what the member held; null when nobody in the company can. */
  readonly movedTo: Person | null;
}

export interface ReactivationSummary {
  readonly sellerId: string;
  readonly companyId: string;
  readonly status: 'active';
  readonly listingsRestored: number;
  readonly conversationsRestored: number;
}

interface MemberRow {
  id: string;
  member_status: string;
}

/**
 * Locks the member's row and reads it, so the status we check is the one we change (plain SQL may
 * change it concurrently). The lock order of every membership change, plain SQL included: the
 * member's row first, then (the database's trigger takes them) the company rows.
 */
async function lockMember(tx: Database, companyId: string, sellerId: string): Promise<MemberRow> {
  const [member] = await tx.query<MemberRow>(
    'SELECT id, member_status FROM sellers WHERE id = $1 AND company_id = $2 FOR NO KEY UPDATE',
    [sellerId, companyId],
  );
  if (member) return member;
  const company = await tx.query('SELECT id FROM companies WHERE id = $1', [companyId]);
  if (company.length === 0) throw new NotFoundError('company', companyId);
  throw new NotFoundError('member', sellerId);
}

interface AuditRow {
  listings_moved: number;
  listings_restored: number;
  conversations_moved: number;
  moved_to_seller_id: string | null;
  moved_to_name: string | null;
}

async function thisTransactionsAudit(tx: Database, sellerId: string): Promise<AuditRow> {
  const [audit] = await tx.query<AuditRow>(
    `SELECT a.listings_moved, a.listings_restored, a.conversations_moved, a.moved_to_seller_id, s.name AS moved_to_name
       FROM company_member_audit a LEFT JOIN sellers s ON s.id = a.moved_to_seller_id
      WHERE a.seller_id = $1 AND a.transaction_id = pg_current_xact_id()
      ORDER BY a.id DESC LIMIT 1`,
    [sellerId],
  );
  if (!audit) throw new Error(`no audit row was written for seller ${sellerId}: is migration 1 installed?`);
  return audit;
}

export async function removeMember(
  db: Database,
  input: { companyId: string; sellerId: string; actor: string; reason: string },
): Promise<RemovalSummary> {
  return inTransaction(db, { actor: input.actor, reason: input.reason }, async (tx) => {
    const member = await lockMember(tx, input.companyId, input.sellerId);
    if (member.member_status === 'removed') {
      throw new ConflictError('already_removed', `member ${input.sellerId} is already removed`);
    }
    await tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [input.sellerId]);
    const audit = await thisTransactionsAudit(tx, input.sellerId);
    return {
      sellerId: input.sellerId,
      companyId: input.companyId,
      status: 'removed',
      listingsMoved: audit.listings_moved,
      conversationsMoved: audit.conversations_moved,
      movedTo: audit.moved_to_seller_id ? { id: audit.moved_to_seller_id, name: audit.moved_to_name ?? '' } : null,
    };
  });
}

export async function reactivateMember(
  db: Database,
  input: { companyId: string; sellerId: string; actor: string; restoreListings: boolean; reason?: string },
): Promise<ReactivationSummary> {
  return inTransaction(db, { actor: input.actor, reason: input.reason, restoreListings: input.restoreListings }, async (tx) => {
    const member = await lockMember(tx, input.companyId, input.sellerId);
    if (member.member_status === 'active') {
      throw new ConflictError('already_active', `member ${input.sellerId} is already active`);
    }
    await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [input.sellerId]);
    const audit = await thisTransactionsAudit(tx, input.sellerId);
    return {
      sellerId: input.sellerId,
      companyId: input.companyId,
      status: 'active',
      listingsRestored: audit.listings_restored,
      conversationsRestored: audit.conversations_moved,
    };
  });
}

/** Hands a listing and its open conversations to another active member of its company ('manual_transfer'). */
export async function transferListing(
  db: Database,
  input: { companyId: string; listingId: string; toSellerId: string; actor: string },
): Promise<{ listingId: string; newOwnerId: string; conversationsMoved: number }> {
  return inTransaction(db, { actor: input.actor, reason: 'manual_transfer' }, async (tx) => {
    // Lock order: seller, then listing, then conversations.
    const [target] = await tx.query<{ id: string }>(
      `SELECT id FROM sellers WHERE id = $1 AND company_id = $2 AND member_status = 'active' FOR SHARE`,
      [input.toSellerId, input.companyId],
    );
    if (!target) throw new ConflictError('inactive_recipient', `seller ${input.toSellerId} is not an active member of company ${input.companyId}`);
    const [listing] = await tx.query<{ id: string }>(
      `SELECT id FROM listed_cars WHERE id = $1 AND company_id = $2 FOR UPDATE`,
      [input.listingId, input.companyId],
    );
    if (!listing) throw new NotFoundError('listing', input.listingId);
    await tx.query(
      `UPDATE listed_cars
          SET current_owner_id = $2, current_owner_type = 'seller',
              status = CASE WHEN status = 'pending_reassignment' THEN 'active' ELSE status END, updated_at = now()
        WHERE id = $1`,
      [input.listingId, input.toSellerId],
    );
    const moved = await tx.query<{ moved: boolean }>(
      `SELECT update_conversation_ownership(c.id, $2, 'manual_transfer') AS moved
         FROM (SELECT id FROM conversations WHERE listing_id = $1 AND status = 'open' ORDER BY id) c`,
      [input.listingId, input.toSellerId],
    );
    return { listingId: input.listingId, newOwnerId: input.toSellerId, conversationsMoved: moved.filter((m) => m.moved).length };
  });
}
