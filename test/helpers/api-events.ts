/**
 * Events for invoking handlers directly, the one fixture builder: API Gateway HTTP API (payload
 * 2.0) events for the route handlers, and the event relay's (its schedule's, and a CloudWatch Logs
 * subscription's).
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
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

/** What an EventBridge schedule rule sends its target (the relay's every minute). */
export function scheduledEvent(ruleArn = 'arn:aws:events:us-east-1:123456789012:rule/EnhancedMessaging-test-Api-EventsSchedule'): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [ruleArn],
    detail: {},
  };
}

/**
 * What a CloudWatch Logs subscription filter sends a Lambda destination: `{ awslogs: { data } }`,
 * the data a gzipped, base64-encoded DATA_MESSAGE with the log group's matching lines.
 */
export function logsSubscriptionEvent(options: { logGroup: string; filterName: string; messages: readonly string[] }): { awslogs: { data: string } } {
  const now = Date.now();
  const message = {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: options.logGroup,
    logStream: `${new Date(now).toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    subscriptionFilters: [options.filterName],
    logEvents: options.messages.map((text, i) => ({ id: String(BigInt(now) * 1_000_000n + BigInt(i)), timestamp: now, message: text })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(message)).toString('base64') } };
}
