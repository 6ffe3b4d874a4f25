/**
 * The API's schemas: requests (validated by the handlers) and success responses (the JSON each
 * route's SQL function returns, migrations/sql/api/). The handlers' types and the OpenAPI
 * document (`npm run openapi`) both come from here.
 *
 * zod/mini with its English messages only: every API bundle loads these schemas on a cold start,
 * and mini's schemas are plain objects where classic zod's carry their methods, which made up most
 * of a handler's own load time (bench step g). Same checks, same messages, same JSON Schema.
 */
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';

// What classic zod does on load; mini leaves it to the application (without it: "Invalid input").
z.config(en());

const uuid = (what: string) => z.uuid({ message: `${what} must be a UUID` });
/** A string trimmed before its length is checked. */
const text = (min: number, max: number, tooShort?: string) => z.string().check(z.trim(), z.minLength(min, tooShort), z.maxLength(max));
const priority = () => z.int().check(z.gte(1), z.lte(1000));

/** For a route whose path has no parameters. */
export const NoParams = z.strictObject({});
/** For a route that reads no body (whatever is sent is ignored). */
export const NoBody = z.undefined();

export const ListingParams = z.strictObject({ listingId: uuid('listingId') });
export const ConversationParams = z.strictObject({ conversationId: uuid('conversationId') });
export const SellerParams = z.strictObject({ sellerId: uuid('sellerId') });

export const RemoveMemberBody = z.strictObject({
  reason: text(1, 500, 'reason is required'),
});

export const ReactivateMemberBody = z.strictObject({
  restoreListings: z._default(z.boolean(), false),
  reason: z.optional(text(1, 500)),
});

export const MessageHandlersBody = z.strictObject({
  handlers: z
    .array(
      z.strictObject({
        sellerId: uuid('sellerId'),
        priority: z.optional(priority()),
        active: z.optional(z.boolean()),
      }),
    )
    .check(z.minLength(1), z.maxLength(50)),
});

export const SendMessageBody = z.strictObject({
  listingId: uuid('listingId'),
  body: text(1, 5000, 'body must not be empty'),
});

// --- Success responses: exactly what the route's SQL function returns (strict: no other field) ---

const id = z.guid();
const count = z.int().check(z.nonnegative());
/** ISO 8601 in UTC with milliseconds (ems_iso_time). */
const timestamp = z.iso.datetime();

/** Who holds listings (listed_cars.current_owner_type; migration 20250622121000's OWNER_TYPES). */
export const OWNER_TYPES = ['seller', 'company_handler', 'company_admin', 'company_owner', 'unassigned'] as const;
/** Why a conversation changed hands (conversation_ownership_log_reason_check; migration 20261130120000's OWNERSHIP_LOG_REASONS). */
export const OWNERSHIP_LOG_REASONS = [
  'conversation_started',
  'member_removed',
  'member_reactivated',
  'handler_changed',
  'manual_transfer',
  'owner_inactive',
  'member_left_company',
  'routed_to_recipient',
] as const;

export const Person = z.strictObject({ id, name: z.string() });

/** get_listing_message_recipient (migrations/sql/routing/). */
export const Recipient = z.strictObject({
  listingId: id,
  recipientId: z.nullable(id),
  recipientName: z.nullable(z.string()),
  recipientType: z.nullable(z.enum(['seller', 'company_handler', 'company_admin', 'company_owner'])),
  routingReason: z.enum([
    'owner_active',
    'owner_inactive_company_handler',
    'owner_inactive_company_admin',
    'owner_inactive_company_owner',
    'listing_not_active',
    'no_active_recipient',
  ]),
  companyId: z.nullable(id),
});

export const OwnershipChange = z.strictObject({
  previousOwnerId: z.nullable(id),
  newOwnerId: z.nullable(id),
  newOwnerName: z.nullable(z.string()),
  reason: z.enum(OWNERSHIP_LOG_REASONS),
  actor: z.string(),
  changedAt: timestamp,
});

export const OwnershipHistory = z.strictObject({ conversationId: id, history: z.array(OwnershipChange) });

export const StoredMessage = z.strictObject({
  messageId: id,
  conversationId: id,
  listingId: id,
  recipient: Person,
  conversationOpened: z.boolean(),
  conversationReopened: z.boolean(),
  createdAt: timestamp,
});

export const CompanyStats = z.strictObject({
  companyId: id,
  members: z.strictObject({ total: count, active: count, removed: count, suspended: count, activeAdmins: count }),
  activeListingsByOwnerType: z.partialRecord(z.enum(OWNER_TYPES), count),
  conversationsMovedLast30Days: count,
  handlers: z.array(z.strictObject({ sellerId: id, name: z.string(), priority: priority(), openConversations: count })),
  membershipChanges: z
    .array(z.strictObject({ day: z.iso.date(), removals: count, reactivations: count }))
    .check(z.describe('Per day, last 30 days, days with activity only.')),
});

export const RemovalSummary = z.strictObject({
  sellerId: id,
  companyId: id,
  status: z.literal('removed'),
  listingsMoved: count,
  conversationsMoved: count,
  movedTo: z.nullable(Person).check(z.describe('Who now receives what the member held; null when nobody in the company can.')),
});

export const ReactivationSummary = z.strictObject({
  sellerId: id,
  companyId: id,
  status: z.literal('active'),
  listingsRestored: count,
  conversationsRestored: count,
});

export const MessageHandler = z.strictObject({
  sellerId: id,
  name: z.string(),
  priority: priority(),
  isActive: z.boolean().check(z.describe('Handles now: an active handler who is an active member.')),
  openConversations: count,
});

export const MessageHandlers = z.strictObject({ handlers: z.array(MessageHandler) });

export const Health = z.strictObject({
  status: z.literal('ok'),
  database: z.literal('reachable'),
  migrations: z.strictObject({
    applied: count,
    pending: z.array(z.string()).check(z.maxLength(0), z.describe('Always empty here: a pending migration answers 503.')),
  }),
});
