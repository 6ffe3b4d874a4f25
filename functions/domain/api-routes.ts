/**
 * The API's routes, each one SQL function call (`api_<route>`, migrations/sql/api/):
 * the function identifies the caller from the token's identity, authorizes, does
 * the work and returns the response body, so a request costs one database round
 * trip (one Data API ExecuteStatement on AWS). Refusals come back as the error
 * contract's codes (functions/shared/refusals.ts).
 */
import type { Database } from '../database/port';
import type { RouteResult } from '../http/routes';
import type { HandlerChange } from './company';
import { checkHealth } from './health';
import { callFunction } from './transactions';

/** What the verified token says of its bearer: the identity claim (an e-mail) and `email_verified`. */
export interface Identity {
  readonly identity: string | undefined;
  readonly emailVerified: string | undefined;
}

const as = (who: Identity) => [who.identity ?? null, who.emailVerified ?? null];

/** Each answers what the route table says its route answers (`RouteResult`, from the route's response schema). */
export const apiRoutes = {
  getListingRecipient: (db: Database, who: Identity, listingId: string) =>
    callFunction<RouteResult<'getListingRecipient'>>(db, 'api_get_listing_recipient($1::text, $2::text, $3::ems_listing_id)', [...as(who), listingId]),

  getConversationOwnershipHistory: (db: Database, who: Identity, conversationId: string) =>
    callFunction<RouteResult<'getConversationOwnershipHistory'>>(db, 'api_get_conversation_ownership_history($1::text, $2::text, $3::ems_conversation_id)', [
      ...as(who),
      conversationId,
    ]),

  sendMessage: (db: Database, who: Identity, listingId: string, body: string) =>
    callFunction<RouteResult<'sendMessage'>>(db, 'api_send_message($1::text, $2::text, $3::ems_listing_id, $4::text)', [...as(who), listingId, body]),

  getCompanyStats: (db: Database, who: Identity) =>
    callFunction<RouteResult<'getCompanyStats'>>(db, 'api_get_company_stats($1::text, $2::text)', as(who)),

  removeMember: (db: Database, who: Identity, sellerId: string, reason: string) =>
    callFunction<RouteResult<'removeMember'>>(db, 'api_remove_member($1::text, $2::text, $3::ems_seller_id, $4::text)', [...as(who), sellerId, reason]),

  reactivateMember: (db: Database, who: Identity, sellerId: string, restoreListings: boolean, reason: string | undefined) =>
    callFunction<RouteResult<'reactivateMember'>>(db, 'api_reactivate_member($1::text, $2::text, $3::ems_seller_id, $4::boolean, $5::text)', [
      ...as(who),
      sellerId,
      restoreListings,
      reason ?? null,
    ]),

  listMessageHandlers: (db: Database, who: Identity) =>
    callFunction<RouteResult<'listMessageHandlers'>>(db, 'api_list_message_handlers($1::text, $2::text)', as(who)),

  updateMessageHandlers: (db: Database, who: Identity, changes: readonly HandlerChange[]) =>
    callFunction<RouteResult<'updateMessageHandlers'>>(db, 'api_update_message_handlers($1::text, $2::text, $3::jsonb)', [
      ...as(who),
      JSON.stringify(changes),
    ]),

  health: (db: Database): Promise<RouteResult<'health'>> => checkHealth(db),
};
