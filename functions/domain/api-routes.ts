/**
 * The API's routes, each one SQL function call (`api_<route>`, migrations/sql/api/):
 * the function identifies the caller from the token's identity, authorizes, does
 * the work and returns the response body, so a request costs one database round
 * trip (one Data API ExecuteStatement on AWS). Refusals come back as the error
 * contract's codes (functions/shared/refusals.ts).
 */
import type { Database } from '../database/port';
import type { RemovalSummary, ReactivationSummary } from './company-members';
import type { CompanyStats, HandlerChange, MessageHandler } from './company';
import type { Health } from './health';
import { checkHealth } from './health';
import type { OwnershipChange, Recipient, StoredMessage } from './messaging';
import { callFunction } from './transactions';

/** What the verified token says of its bearer: the identity claim (an e-mail) and `email_verified`. */
export interface Identity {
  readonly identity: string | undefined;
  readonly emailVerified: string | undefined;
}

const as = (who: Identity) => [who.identity ?? null, who.emailVerified ?? null];

export const apiRoutes = {
  getListingRecipient: (db: Database, who: Identity, listingId: string) =>
    callFunction<Recipient>(db, 'api_get_listing_recipient($1::text, $2::text, $3::uuid)', [...as(who), listingId]),

  getConversationOwnershipHistory: (db: Database, who: Identity, conversationId: string) =>
    callFunction<{ conversationId: string; history: OwnershipChange[] }>(
      db,
      'api_get_conversation_ownership_history($1::text, $2::text, $3::uuid)',
      [...as(who), conversationId],
    ),

  sendMessage: (db: Database, who: Identity, listingId: string, body: string) =>
    callFunction<StoredMessage>(db, 'api_send_message($1::text, $2::text, $3::uuid, $4::text)', [...as(who), listingId, body]),

  getCompanyStats: (db: Database, who: Identity) => callFunction<CompanyStats>(db, 'api_get_company_stats($1::text, $2::text)', as(who)),

  removeMember: (db: Database, who: Identity, sellerId: string, reason: string) =>
    callFunction<RemovalSummary>(db, 'api_remove_member($1::text, $2::text, $3::uuid, $4::text)', [...as(who), sellerId, reason]),

  reactivateMember: (db: Database, who: Identity, sellerId: string, restoreListings: boolean, reason: string | undefined) =>
    callFunction<ReactivationSummary>(db, 'api_reactivate_member($1::text, $2::text, $3::uuid, $4::boolean, $5::text)', [
      ...as(who),
      sellerId,
      restoreListings,
      reason ?? null,
    ]),

  listMessageHandlers: (db: Database, who: Identity) =>
    callFunction<{ handlers: MessageHandler[] }>(db, 'api_list_message_handlers($1::text, $2::text)', as(who)),

  updateMessageHandlers: (db: Database, who: Identity, changes: readonly HandlerChange[]) =>
    callFunction<{ handlers: MessageHandler[] }>(db, 'api_update_message_handlers($1::text, $2::text, $3::jsonb)', [
      ...as(who),
      JSON.stringify(changes),
    ]),

  health: (db: Database): Promise<Health> => checkHealth(db),
};

