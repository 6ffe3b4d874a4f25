/**
 * The API's success bodies: exactly the JSON each route's SQL function returns
 * (migrations/sql/api/), strict (no other field). They give the handlers their result types and
 * the OpenAPI document its components; no handler validates its answer with them, so they live
 * apart from the request schemas and no Lambda bundle builds them (an API bundle's cold load,
 * bench step g). The tests check every answer against the document.
 */
import * as z from 'zod/mini';
import type { RouteId } from './routes';

const id = z.guid();
const priority = () => z.int().check(z.gte(1), z.lte(1000));
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

/** Each route's success body. */
export const RESPONSES_BY_ROUTE = {
  getListingRecipient: Recipient,
  getConversationOwnershipHistory: OwnershipHistory,
  sendMessage: StoredMessage,
  getCompanyStats: CompanyStats,
  removeMember: RemovalSummary,
  reactivateMember: ReactivationSummary,
  listMessageHandlers: MessageHandlers,
  updateMessageHandlers: MessageHandlers,
  health: Health,
} as const satisfies Record<RouteId, z.ZodMiniType>;
