/**
 * The API's success bodies: exactly the JSON each route's SQL function returns
 * (migrations/sql/api/), strict (no other field). They give the handlers their result types and
 * the OpenAPI document its components; no handler validates its answer with them, so they live
 * apart from the request schemas and no Lambda bundle builds them (an API bundle's cold load,
 * bench step g). The tests check every answer against the document.
 */
import * as z from 'zod/mini';
import type { IdType } from '../shared/config';
import type { RouteId } from './routes';
import { MAX_ID } from './schemas';

/**
 * An id as the SQL answers it (jsonb of the marketplace's own column): a JSON string for uuid ids, a
 * JSON number for integer and bigint ones (README: Id types). Which one a deployment answers
 * follows EMS_ID_TYPE; the types say either.
 */
export type Id = string | number;

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

/** The success bodies, their ids of the schema `id`: named as in the OpenAPI document's components.schemas. */
function build(id: z.ZodMiniType<Id>) {
  const Person = z.strictObject({ id, name: z.string() });

  /** get_listing_message_recipient (migrations/sql/routing/). */
  const Recipient = z.strictObject({
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

  const OwnershipChange = z.strictObject({
    previousOwnerId: z.nullable(id),
    newOwnerId: z.nullable(id),
    newOwnerName: z.nullable(z.string()),
    reason: z.enum(OWNERSHIP_LOG_REASONS),
    actor: z.string(),
    changedAt: timestamp,
  });

  const OwnershipHistory = z.strictObject({ conversationId: id, history: z.array(OwnershipChange) });

  const StoredMessage = z.strictObject({
    messageId: id,
    conversationId: id,
    listingId: id,
    recipient: Person,
    conversationOpened: z.boolean(),
    conversationReopened: z.boolean(),
    createdAt: timestamp,
  });

  const CompanyStats = z.strictObject({
    companyId: id,
    members: z.strictObject({ total: count, active: count, removed: count, suspended: count, activeAdmins: count }),
    activeListingsByOwnerType: z.partialRecord(z.enum(OWNER_TYPES), count),
    conversationsMovedLast30Days: count,
    handlers: z.array(z.strictObject({ sellerId: id, name: z.string(), priority: priority(), openConversations: count })),
    membershipChanges: z
      .array(z.strictObject({ day: z.iso.date(), removals: count, reactivations: count }))
      .check(z.describe('Per day, last 30 days, days with activity only.')),
  });

  const RemovalSummary = z.strictObject({
    sellerId: id,
    companyId: id,
    status: z.literal('removed'),
    listingsMoved: count,
    conversationsMoved: count,
    movedTo: z.nullable(Person).check(z.describe('Who now receives what the member held; null when nobody in the company can.')),
  });

  const ReactivationSummary = z.strictObject({
    sellerId: id,
    companyId: id,
    status: z.literal('active'),
    listingsRestored: count,
    conversationsRestored: count,
  });

  const MessageHandler = z.strictObject({
    sellerId: id,
    name: z.string(),
    priority: priority(),
    isActive: z.boolean().check(z.describe('Handles now: an active handler who is an active member.')),
    openConversations: count,
  });

  const MessageHandlers = z.strictObject({ handlers: z.array(MessageHandler) });

  const Health = z.strictObject({
    status: z.literal('ok'),
    database: z.literal('reachable'),
    migrations: z.strictObject({
      applied: count,
      pending: z.array(z.string()).check(z.maxLength(0), z.describe('Always empty here: a pending migration answers 503.')),
    }),
  });

  return { Person, Recipient, OwnershipChange, OwnershipHistory, StoredMessage, CompanyStats, RemovalSummary, ReactivationSummary, MessageHandler, MessageHandlers, Health };
}

export type ResponseSchemas = ReturnType<typeof build>;
/** A success body (or part of one) by its name, with ids of either form. */
export type Wire<Name extends keyof ResponseSchemas> = z.output<ResponseSchemas[Name]>;

/** An id as `idType` answers it. */
function idSchema(idType: IdType): z.ZodMiniType<Id> {
  return idType === 'uuid' ? z.guid() : z.int().check(z.gte(1), z.lte(MAX_ID[idType]));
}

/** Each route's success body. */
export function responsesByRoute(schemas: ResponseSchemas) {
  return {
    getListingRecipient: schemas.Recipient,
    getConversationOwnershipHistory: schemas.OwnershipHistory,
    sendMessage: schemas.StoredMessage,
    getCompanyStats: schemas.CompanyStats,
    removeMember: schemas.RemovalSummary,
    reactivateMember: schemas.ReactivationSummary,
    listMessageHandlers: schemas.MessageHandlers,
    updateMessageHandlers: schemas.MessageHandlers,
    health: schemas.Health,
  } as const satisfies Record<RouteId, z.ZodMiniType>;
}
export type ResponsesByRoute = ReturnType<typeof responsesByRoute>;

const built = new Map<IdType, ResponseSchemas>();

/** The success bodies with ids of `idType` (the OpenAPI document's), built on first use and kept. */
export function responseSchemas(idType: IdType): ResponseSchemas {
  let schemas = built.get(idType);
  if (!schemas) built.set(idType, (schemas = build(idSchema(idType))));
  return schemas;
}
