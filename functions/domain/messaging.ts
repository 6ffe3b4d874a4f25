/**
 * The guide's EnhancedMessageService: buyer messages routed so they only ever
 * reach an active member of the listing's company, the recipient of a listing,
 * and the ownership history of a conversation. Each is one SQL function
 * (migrations/sql/routing/); the routing guarantee itself is enforced by the
 * `messages` trigger, which locks the recipient until the message commits.
 */
import type { Database } from '../database/port';
import type * as wire from '../http/response-schemas';
import type { Id } from '../http/response-schemas';
import { NotFoundError } from './errors';
import { callFunction } from './transactions';

// The JSON the SQL functions return, declared once as the API's schemas (functions/http/schemas.ts).
export type Recipient = wire.Wire<'Recipient'>;
export type StoredMessage = wire.Wire<'StoredMessage'>;
export type OwnershipChange = wire.Wire<'OwnershipChange'>;

export async function getRecipient(db: Database, listingId: Id): Promise<Recipient> {
  const recipient = await callFunction<Recipient | null>(db, 'ems_recipient_json($1::ems_listing_id)', [listingId]);
  if (!recipient) throw new NotFoundError('listing', listingId);
  return recipient;
}

export async function sendBuyerMessage(
  db: Database,
  input: { buyerId: Id; listingId: Id; body: string },
): Promise<StoredMessage> {
  return callFunction<StoredMessage>(db, 'ems_send_buyer_message($1::ems_buyer_id, $2::ems_listing_id, $3::text)', [input.buyerId, input.listingId, input.body]);
}

export async function getOwnershipHistory(db: Database, conversationId: Id): Promise<OwnershipChange[]> {
  const history = await callFunction<OwnershipChange[] | null>(db, 'ems_ownership_history($1::ems_conversation_id)', [conversationId]);
  if (!history) throw new NotFoundError('conversation', conversationId);
  return history;
}
