/**
 * The guide's EnhancedMessageService: buyer messages routed so they can never
 * reach a member who is not active, the recipient of a listing, and the
 * ownership history of a conversation.
 *
 * The routing guarantee itself is enforced by the `messages` trigger (migration
 * 3), which locks the recipient until the message commits.
 */
import type { Database } from '../database/port';
import type { Caller } from './callers';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors';
import { inTransaction } from './transactions';

export const MAX_MESSAGE_LENGTH = 5000;

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

interface RecipientRow {
  listing_id: string;
  recipient_id: string | null;
  recipient_name: string | null;
  recipient_type: string | null;
  routing_reason: string;
  company_id: string | null;
}

const toRecipient = (row: RecipientRow): Recipient => ({
  listingId: row.listing_id,
  recipientId: row.recipient_id,
  recipientName: row.recipient_name,
  recipientType: row.recipient_type,
  routingReason: row.routing_reason,
  companyId: row.company_id,
});

const iso = (value: unknown): string => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString());

export async function getRecipient(db: Database, listingId: string): Promise<Recipient> {
  const [row] = await db.query<RecipientRow>('SELECT * FROM get_listing_message_recipient($1)', [listingId]);
  if (!row) throw new NotFoundError('listing', listingId);
  return toRecipient(row);
}

export async function sendBuyerMessage(
  db: Database,
  input: { buyerId: string; listingId: string; body: string },
): Promise<StoredMessage> {
  const body = input.body.trim();
  if (body.length === 0) throw new ValidationError('message body must not be empty');
  if (body.length > MAX_MESSAGE_LENGTH) throw new ValidationError(`message body must be at most ${MAX_MESSAGE_LENGTH} characters`);

  return inTransaction(db, { actor: `buyer:${input.buyerId}` }, async (tx) => {
    const [buyer] = await tx.query('SELECT id FROM buyers WHERE id = $1', [input.buyerId]);
    if (!buyer) throw new NotFoundError('buyer', input.buyerId);
    const [listing] = await tx.query<{ status: string }>('SELECT status FROM listed_cars WHERE id = $1', [input.listingId]);
    if (!listing) throw new NotFoundError('listing', input.listingId);
    if (listing.status !== 'active') {
      throw new ConflictError('listing_not_active', `listing ${input.listingId} is ${listing.status} and takes no new messages`);
    }
    // One conversation per buyer and listing, even when two first messages race.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))`, [input.listingId, input.buyerId]);
    const [existing] = await tx.query<{ id: string; status: string }>(
      `SELECT id, status FROM conversations WHERE listing_id = $1 AND buyer_id = $2
        ORDER BY (status = 'open') DESC, created_at DESC LIMIT 1`,
      [input.listingId, input.buyerId],
    );
    let conversationId = existing?.id;
    if (!conversationId) {
      const [created] = await tx.query<{ id: string; seller_id: string | null }>(
        `INSERT INTO conversations (listing_id, buyer_id) VALUES ($1, $2) RETURNING id, seller_id`,
        [input.listingId, input.buyerId],
      );
      if (!created?.seller_id) {
        throw new ConflictError('no_recipient', `nobody can receive messages about listing ${input.listingId} right now`);
      }
      conversationId = created.id;
    }
    const [message] = await tx.query<{ id: string; recipient_id: string; created_at: Date; recipient_name: string }>(
      `WITH stored AS (
         INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES ($1, 'buyer', $2, $3)
         RETURNING id, recipient_id, created_at
       )
       SELECT stored.*, s.name AS recipient_name FROM stored JOIN sellers s ON s.id = stored.recipient_id`,
      [conversationId, input.buyerId, body],
    );
    return {
      messageId: message!.id,
      conversationId,
      listingId: input.listingId,
      recipient: { id: message!.recipient_id, name: message!.recipient_name },
      conversationOpened: !existing,
      conversationReopened: existing?.status === 'closed',
      createdAt: iso(message!.created_at),
    };
  });
}

export async function getOwnershipHistory(db: Database, conversationId: string): Promise<OwnershipChange[]> {
  const [conversation] = await db.query('SELECT id FROM conversations WHERE id = $1', [conversationId]);
  if (!conversation) throw new NotFoundError('conversation', conversationId);
  const rows = await db.query<{
    previous_owner_id: string | null;
    new_owner_id: string | null;
    new_owner_name: string | null;
    reason: string;
    actor: string;
    changed_at: Date;
  }>(
    `SELECT l.previous_owner_id, l.new_owner_id, s.name AS new_owner_name, l.reason, l.actor, l.changed_at
       FROM conversation_ownership_log l LEFT JOIN sellers s ON s.id = l.new_owner_id
      WHERE l.conversation_id = $1 ORDER BY l.id`,
    [conversationId],
  );
  return rows.map((r) => ({
    previousOwnerId: r.previous_owner_id,
    newOwnerId: r.new_owner_id,
    newOwnerName: r.new_owner_name,
    reason: r.reason,
    actor: r.actor,
    changedAt: iso(r.changed_at),
  }));
}

/** The recipient of a listing as `caller` may see it: buyers any listing, sellers their own company's or their own. */
export async function getRecipientFor(db: Database, caller: Caller, listingId: string): Promise<Recipient> {
  const recipient = await getRecipient(db, listingId);
  if (caller.kind === 'seller') {
    const [listing] = await db.query<{ seller_id: string; company_id: string | null }>(
      'SELECT seller_id, company_id FROM listed_cars WHERE id = $1',
      [listingId],
    );
    const sameCompany = caller.companyId !== null && listing?.company_id === caller.companyId;
    if (!sameCompany && listing?.seller_id !== caller.id) throw new NotFoundError('listing', listingId);
  }
  return recipient;
}

/** A conversation's history for its buyer, or for the owner/admins of the listing's company. */
export async function getOwnershipHistoryFor(db: Database, caller: Caller, conversationId: string): Promise<OwnershipChange[]> {
  const [conversation] = await db.query<{ buyer_id: string; company_id: string | null }>(
    `SELECT c.buyer_id, l.company_id FROM conversations c JOIN listed_cars l ON l.id = c.listing_id WHERE c.id = $1`,
    [conversationId],
  );
  if (!conversation) throw new NotFoundError('conversation', conversationId);
  const allowed =
    caller.kind === 'buyer'
      ? conversation.buyer_id === caller.id
      : caller.role !== 'member' && caller.companyId !== null && caller.companyId === conversation.company_id;
  if (!allowed) {
    if (caller.kind === 'seller' && caller.companyId === conversation.company_id) {
      throw new ForbiddenError("Only the buyer and the company's owner or admins can read this history");
    }
    throw new NotFoundError('conversation', conversationId);
  }
  return getOwnershipHistory(db, conversationId);
}
