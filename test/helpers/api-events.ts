/** API Gateway HTTP API (payload 2.0) events for invoking handlers directly: the one fixture builder. */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ApiEvent } from '../../functions/http/handler-kit';
import { ROUTES, type RouteId } from '../../functions/http/routes';

export interface EventOptions {
  pathParameters?: Record<string, string>;
  body?: unknown;
  /** Raw body text, sent as is (for malformed JSON). */
  rawBody?: string;
  /** Claims the JWT authorizer verified; omit for an anonymous call. */
  claims?: Record<string, string | number | boolean | string[]>;
}

export function apiEvent(routeId: RouteId, options: EventOptions = {}): ApiEvent {
  const route = ROUTES.find((r) => r.id === routeId)!;
  const rawPath = route.path.replace(/\{(\w+)\}/g, (_, name: string) => options.pathParameters?.[name] ?? `missing-${name}`);
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: options.pathParameters,
    requestContext: {
      accountId: '123456789012',
      apiId: 'test',
      domainName: 'test.execute-api.local',
      domainPrefix: 'test',
      http: { method: route.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
      ...(options.claims ? { authorizer: { jwt: { claims: options.claims } } } : {}),
    },
    body,
    isBase64Encoded: false,
  };
}

export const claimsFor = (email: string) => ({ email, sub: email, iss: 'https://issuer.test', aud: 'enhanced-messaging-api' });

export function parse(result: APIGatewayProxyStructuredResultV2): { status: number; body: any } {
  return { status: result.statusCode ?? 0, body: result.body ? JSON.parse(result.body) : undefined };
}

/** A request to a route that reaches its SQL function: from a caller no account has, refused there with 403 (health: answered, 200). */
export function requestReachingTheDatabase(routeId: RouteId): EventOptions {
  const someId = randomUUID();
  const requests: Record<RouteId, EventOptions> = {
    getListingRecipient: { pathParameters: { listingId: someId } },
    getConversationOwnershipHistory: { pathParameters: { conversationId: someId } },
    sendMessage: { body: { listingId: someId, body: 'Still available?' } },
    getCompanyStats: {},
    removeMember: { pathParameters: { sellerId: someId }, body: { reason: 'left' } },
    reactivateMember: { pathParameters: { sellerId: someId }, body: { restoreListings: true } },
    listMessageHandlers: {},
    updateMessageHandlers: { body: { handlers: [{ sellerId: someId, priority: 1 }] } },
    health: {},
  };
  return { ...requests[routeId], claims: claimsFor('nobody@nowhere.test') };
}
