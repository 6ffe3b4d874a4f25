/**
 * The guide's EnhancedMessageService: buyer messages routed so they only ever
 * reach an active member of the listing's company, the recipient of a listing,
 * and the ownership history of a conversation. Each is one SQL function
 * (migrations/sql/routing/); the routing guarantee itself is enforced by the
 * `messages` trigger, which locks the recipient until the message commits.
 */
import type { Database } from '../database/port';
import { NotFoundError } from './errors';
import { callFunction } from './transactions';

export interface Recipient {
  readonly listingId: string;
  readonly recipientId: string | null;
  readonly recipientName: string | null;
  readonly recipientType: string | null;
  readonly routingReason: string;
  readonly companyId: string | null;
}

export interface StoredMessage {
  readonly messageId: string;
  readonly conversationId: string;
  readonly listingId: string;
  readonly recipient: { readonly id: string; readonly name: string };
  readonly conversationOpened: boolean;
  readonly conversationReopened: boolean;
  readonly createdAt: string;
}

export interface OwnershipChange {
  readonly previousOwnerId: string | null;
  readonly newOwnerId: string | null;
  readonly newOwnerName: string | null;
  readonly reason: string;
  readonly actor: string;
  readonly changedAt: string;
}

export async function getRecipient(db: Database, listingId: string): Promise<Recipient> {
  const recipient = await callFunction<Recipient | null>(db, 'ems_recipient_json($1::uuid)', [listingId]);
  if (!recipient) throw new NotFoundError('listing', listingId);
  return recipient;
}

export async function sendBuyerMessage(
  db: Database,
  input: { buyerId: string; listingId: string; body: string },
): Promise<StoredMessage> {
  return callFunction<StoredMessage>(db, 'ems_send_buyer_message($1::uuid, $2::uuid, $3::text)', [input.buyerId, input.listingId, input.body]);
}

export async function getOwnershipHistory(db: Database, conversationId: string): Promise<OwnershipChange[]> {
  const history = await callFunction<OwnershipChange[] | null>(db, 'ems_ownership_history($1::uuid)', [conversationId]);
  if (!history) throw new NotFoundError('conversation', conversationId);
  return history;
}
