/**
 * The route table: the single source for the CDK stack (one Lambda per route,
 * HTTP API routes and authorizer), the local server, the handlers' validation
 * and access rules, and the OpenAPI description. Each route's success body is
 * in response-schemas.ts (RESPONSES_BY_ROUTE), which only types and the
 * OpenAPI document read.
 */
import type * as z from 'zod/mini';
import type { Access } from '../domain/access';
import type { ResponsesByRoute } from './response-schemas';
import type { RequestSchemaName } from './schemas';

export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface RouteDefinition {
  readonly id: string;
  readonly method: HttpMethod;
  /** API Gateway path template. */
  readonly path: string;
  /** Handler source, relative to the repository root; exports `handler`. */
  readonly entry: string;
  readonly access: Access;
  readonly summary: string;
  /** Path parameters: the name of their schema in schemas.ts (`NoParams` for a path without any), built for the configured id type. */
  readonly params: RequestSchemaName;
  /** JSON body: the name of its schema in schemas.ts (`NoBody` for a route that reads none). */
  readonly body: RequestSchemaName;
  readonly successStatus?: number;
  /**
   * A successful answer means membership or ownership changed, so the events outbox has new rows:
   * the event relay is woken right after it (functions/events/wake-up.ts; README: Events). Routes
   * that only rarely move ownership (POST /messages) are left to the relay's schedule.
   */
  readonly writesEvents?: boolean;
}

export const ROUTES = [
  {
    id: 'getListingRecipient',
    method: 'GET',
    path: '/messages/listing/{listingId}/recipient',
    entry: 'functions/handlers/get-listing-recipient.ts',
    access: 'authenticated',
    summary: "Who receives buyers' messages about a listing now, and why.",
    params: 'ListingParams',
    body: 'NoBody',
  },
  {
    id: 'getConversationOwnershipHistory',
    method: 'GET',
    path: '/messages/conversation/{conversationId}/ownership-history',
    entry: 'functions/handlers/get-conversation-ownership-history.ts',
    access: 'authenticated',
    summary: "The ordered chain of a conversation's owners, with actor, reason and time.",
    params: 'ConversationParams',
    body: 'NoBody',
  },
  {
    id: 'sendMessage',
    method: 'POST',
    path: '/messages',
    entry: 'functions/handlers/send-message.ts',
    access: 'buyer',
    summary: 'A buyer writes about a listing; the message is routed to an active member.',
    params: 'NoParams',
    body: 'SendMessageBody',
    successStatus: 201,
    // Not writesEvents: the hot route, and it moves a conversation only rarely (a message to a
    // listing whose holder changed); its events wait for the relay's schedule (at most a minute).
  },
  {
    id: 'getCompanyStats',
    method: 'GET',
    path: '/company/stats/enhanced',
    entry: 'functions/handlers/get-company-stats.ts',
    access: 'company_admin',
    summary: "The caller's company: members by status, listings by owner type, moves, handler load, removals over time.",
    params: 'NoParams',
    body: 'NoBody',
  },
  {
    id: 'removeMember',
    method: 'POST',
    path: '/company/members/{sellerId}/remove',
    entry: 'functions/handlers/remove-member.ts',
    access: 'company_admin',
    summary: "Removes a member; their active listings and open conversations move to the company's fallback recipient.",
    params: 'SellerParams',
    body: 'RemoveMemberBody',
    writesEvents: true,
  },
  {
    id: 'reactivateMember',
    method: 'POST',
    path: '/company/members/{sellerId}/reactivate',
    entry: 'functions/handlers/reactivate-member.ts',
    access: 'company_admin',
    summary: 'Reactivates a member, optionally restoring the listings the fallback still holds.',
    params: 'SellerParams',
    body: 'ReactivateMemberBody',
    writesEvents: true,
  },
  {
    id: 'listMessageHandlers',
    method: 'GET',
    path: '/company/message-handlers',
    entry: 'functions/handlers/list-message-handlers.ts',
    access: 'company_admin',
    summary: "The company's message handlers with priority and open-conversation load.",
    params: 'NoParams',
    body: 'NoBody',
  },
  {
    id: 'updateMessageHandlers',
    method: 'PUT',
    path: '/company/message-handlers',
    entry: 'functions/handlers/update-message-handlers.ts',
    access: 'company_admin',
    summary: 'Adds, re-prioritises or deactivates message handlers, all or nothing.',
    params: 'NoParams',
    body: 'MessageHandlersBody',
    // A handler deactivated hands what it holds down the chain (trigger
    // company_message_handlers_release): listings.handed_over and conversations.moved.
    writesEvents: true,
  },
  {
    id: 'health',
    method: 'GET',
    path: '/health',
    entry: 'functions/handlers/health.ts',
    access: 'public',
    summary: 'Database reachable and migrations current.',
    params: 'NoParams',
    body: 'NoBody',
  },
] as const satisfies readonly RouteDefinition[];

export type Route = (typeof ROUTES)[number];
export type RouteId = Route['id'];
export type RouteOf<Id extends RouteId> = Extract<Route, { readonly id: Id }>;

/**
 * What a route answers on success, from its response schema (its params and body: `HandlerInput` in
 * handler-kit.ts). Its ids are `Id` (response-schemas.ts): a string for uuid ids, a number for integer and bigint ones.
 */
export type RouteResult<Id extends RouteId> = z.output<ResponsesByRoute[Id]>;

export function routeById<Id extends RouteId>(id: Id): RouteOf<Id> {
  const route = ROUTES.find((r): r is RouteOf<Id> => r.id === id);
  if (!route) throw new Error(`No route ${id} in the route table`);
  return route;
}
