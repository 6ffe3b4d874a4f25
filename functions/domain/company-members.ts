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
import type * as wire from '../http/response-schemas';
import type { Id } from '../http/response-schemas';
import { ConflictError, NotFoundError } from './errors';
import { callFunction, inTransaction } from './transactions';

// The JSON the SQL functions return, declared once as the API's schemas (functions/http/schemas.ts).
export type Person = wire.Wire<'Person'>;
export type RemovalSummary = wire.Wire<'RemovalSummary'>;
export type ReactivationSummary = wire.Wire<'ReactivationSummary'>;

export async function removeMember(
  db: Database,
  input: { companyId: Id; sellerId: Id; actor: string; reason: string },
): Promise<RemovalSummary> {
  return callFunction<RemovalSummary>(db, 'ems_remove_member($1::ems_company_id, $2::ems_seller_id, $3::text, $4::text)', [
    input.companyId,
    input.sellerId,
    input.actor,
    input.reason,
  ]);
}

export async function reactivateMember(
  db: Database,
  input: { companyId: Id; sellerId: Id; actor: string; restoreListings: boolean; reason?: string },
): Promise<ReactivationSummary> {
  return callFunction<ReactivationSummary>(db, 'ems_reactivate_member($1::ems_company_id, $2::ems_seller_id, $3::text, $4::boolean, $5::text)', [
    input.companyId,
    input.sellerId,
    input.actor,
    input.restoreListings,
    input.reason ?? null,
  ]);
}

/** Hands a listing and its open conversations to another active member of its company ('manual_transfer'). */
export async function transferListing(
  db: Database,
  input: { companyId: Id; listingId: Id; toSellerId: Id; actor: string },
): Promise<{ listingId: Id; newOwnerId: Id; conversationsMoved: number }> {
  return inTransaction(db, { actor: input.actor, reason: 'manual_transfer' }, async (tx) => {
    // Lock order: seller, then listing, then conversations. Every id is cast to its domain: through
    // the Data API an integer id arrives as a bigint, which no function of an integer domain takes.
    const [target] = await tx.query<{ id: string }>(
      `SELECT id FROM sellers WHERE id = $1::ems_seller_id AND company_id = $2::ems_company_id AND member_status = 'active' FOR SHARE`,
      [input.toSellerId, input.companyId],
    );
    if (!target) throw new ConflictError('inactive_recipient', `seller ${input.toSellerId} is not an active member of company ${input.companyId}`);
    const [listing] = await tx.query<{ id: string }>(
      `SELECT id FROM listed_cars WHERE id = $1::ems_listing_id AND company_id = $2::ems_company_id FOR UPDATE`,
      [input.listingId, input.companyId],
    );
    if (!listing) throw new NotFoundError('listing', input.listingId);
    await tx.query(
      `UPDATE listed_cars
          SET current_owner_id = $2::ems_seller_id, current_owner_type = 'seller',
              status = CASE WHEN status = 'pending_reassignment' THEN 'active' ELSE status END, updated_at = now()
        WHERE id = $1::ems_listing_id`,
      [input.listingId, input.toSellerId],
    );
    const moved = await tx.query<{ moved: boolean }>(
      `SELECT update_conversation_ownership(c.id, $2::ems_seller_id, 'manual_transfer') AS moved
         FROM (SELECT id FROM conversations WHERE listing_id = $1::ems_listing_id AND status = 'open' ORDER BY id) c`,
      [input.listingId, input.toSellerId],
    );
    return { listingId: input.listingId, newOwnerId: input.toSellerId, conversationsMoved: moved.filter((m) => m.moved).length };
  });
}
