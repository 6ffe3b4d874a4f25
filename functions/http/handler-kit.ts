/**
 * What every API handler shares: parse and validate the API Gateway (HTTP API,
 * payload 2.0) event with zod, read the token's identity, call one domain
 * function (one SQL function: it identifies and authorizes the caller), map its
 * result or error. Handlers stay a few lines long.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { getDatabase } from '../database/from-config';
import type { Database } from '../database/port';
import type { Identity } from '../domain/api-routes';
import { PayloadTooLargeError, UnauthorizedError, ValidationError } from '../domain/errors';
import { EVENTS_PENDING_LOG_FIELD, wakesEventRelay } from '../events/wake-up';
import { config } from '../shared/config';
import { logger, metrics, startInvocation } from '../shared/observability';
import { json, mapError } from './responses';
import { routeById, type RouteDefinition, type RouteId, type RouteOf, type RouteResult } from './routes';
import { requestSchemas, type RequestSchemas } from './schemas';

/** API Gateway's event with the claims its JWT authorizer (or the local server) verified. */
export type ApiEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { jwt?: { claims?: Record<string, string | number | boolean | string[]> } };
  };
};

/** What a route's handler gets: its path parameters and body as its schemas parse them, the caller, the database. */
export interface HandlerInput<R extends RouteDefinition> {
  readonly params: z.output<RequestSchemas[R['params']]>;
  readonly body: z.output<RequestSchemas[R['body']]>;
  /** What the verified token says of its bearer (the database identifies and authorizes them); no identity on a public route. */
  readonly who: Identity;
  readonly db: Database;
}

/** One domain call, answering the route's success body. */
export type HandlerRun<Id extends RouteId> = (input: HandlerInput<RouteOf<Id>>) => Promise<RouteResult<Id>>;
/** Counts worth a metric in the result (e.g. listings moved by a removal). */
export type HandlerMetrics<Id extends RouteId> = (result: RouteResult<Id>) => Record<string, number>;

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'value'}: ${issue.message}`)
    .join('; ');
}

function parseWith(schema: z.ZodMiniType, value: unknown, where: string): unknown {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`Invalid ${where}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Text PostgreSQL cannot store as sent: U+0000 (text refuses NUL, so the statement fails) and an
 * unpaired UTF-16 surrogate (not Unicode; UTF-8 encoding would silently store U+FFFD instead).
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unstorable(text: string): string | undefined {
  const found = UNSTORABLE.exec(text)?.[0];
  if (found === undefined) return undefined;
  const code = `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return found === '\u0000' ? 'must not contain the character U+0000 (NUL)' : `must not contain an unpaired UTF-16 surrogate (${code})`;
}

/** A field name as it may appear in an error message: escaped (JSON style) if it holds such characters itself. */
const printable = (name: string) => (unstorable(name) ? JSON.stringify(name) : name);

/**
 * The one check for every request's text (path parameters, query string, JSON body: every string
 * and every field name, at any depth), before any schema or the database sees it: a 400 naming the
 * field. Iterative, so a deeply nested body cannot overflow the stack.
 */
function assertStorableText(value: unknown, where: string): void {
  interface Entry { readonly value: unknown; readonly name?: string; readonly parent?: Entry }
  const pathOf = (entry: Entry): string => {
    const names: string[] = [];
    for (let e: Entry | undefined = entry; e?.name !== undefined; e = e.parent) names.unshift(printable(e.name));
    if (names.length > 8) names.splice(3, names.length - 7, '…'); // a deeply nested field: its start and end say enough
    return names.length ? names.join('.') : 'value';
  };
  const stack: Entry[] = [{ value }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const nameProblem = entry.name === undefined ? undefined : unstorable(entry.name);
    if (nameProblem) throw new ValidationError(`Invalid ${where}: ${pathOf(entry)}: the field name ${nameProblem}`);
    if (typeof entry.value === 'string') {
      const problem = unstorable(entry.value);
      if (problem) throw new ValidationError(`Invalid ${where}: ${pathOf(entry)}: ${problem}`);
    } else if (Array.isArray(entry.value)) {
      for (let i = entry.value.length - 1; i >= 0; i--) stack.push({ value: entry.value[i], name: String(i), parent: entry });
    } else if (entry.value !== null && typeof entry.value === 'object') {
      for (const [name, field] of Object.entries(entry.value).reverse()) stack.push({ value: field, name, parent: entry });
    }
  }
}

function readJsonBody(event: ApiEvent): unknown {
  if (event.body === undefined || event.body === null || event.body === '') throw new ValidationError('A JSON body is required');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text) > config().MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(config().MAX_BODY_BYTES);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError('The body is not valid JSON');
  }
  assertStorableText(body, 'body');
  return body;
}

/**
 * The handler of a route of the route table: access, schemas and status come from there, and so do
 * the types of `run`'s input and result (`routeHandler('removeMember', ...)` needs no annotation).
 */
export function routeHandler<Id extends RouteId>(id: Id, run: HandlerRun<Id>, countMetrics?: HandlerMetrics<Id>) {
  // Validate the environment when the function loads: a missing variable fails the cold start, by name.
  const { EMS_ID_TYPE } = config();
  // The database (on AWS, the Data API's SDK client) is built while the function initializes, as AWS
  // advises for SDK clients, not by its first request. A failure is the first request's to report.
  getDatabase().catch(() => undefined);
  const route = routeById(id);
  // The route's schemas, for the ids of the configured type, built once as the function loads.
  // (Each is built as it is read: only these two.)
  const schemas = requestSchemas(EMS_ID_TYPE);
  const parsers = { params: schemas[route.params], body: route.body === 'NoBody' ? undefined : schemas[route.body] };
  // Typed above by the route; below, one implementation for every route.
  return defineHandler(route, parsers, run as AnyRun, countMetrics as AnyMetrics | undefined);
}

/** `run` and `countMetrics` of whichever route: `routeHandler` gives them their route's types. */
type AnyRun = (input: Omit<HandlerInput<RouteDefinition>, 'params' | 'body'> & { readonly params: unknown; readonly body: unknown }) => Promise<unknown>;
type AnyMetrics = (result: never) => Record<string, number>;

/** A route's request schemas: its path parameters', and its body's unless it reads none. */
interface Parsers {
  readonly params: z.ZodMiniType;
  readonly body: z.ZodMiniType | undefined;
}

/** The handler of a route: parse, identify, one call, map. */
function defineHandler(route: RouteDefinition, parsers: Parsers, run: AnyRun, countMetrics?: AnyMetrics) {
  return async (event: ApiEvent, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    startInvocation(context);
    // This request's own fields go on each of its log lines and its metrics are flushed in one
    // synchronous step at the end, rather than kept on the shared logger and metrics across awaits:
    // `npm start`'s server runs many requests at once in one process, where such state would be
    // another request's (and Powertools warned "Dimension "route" has already been added").
    // correlation_id is API Gateway's request id, the requestId of the access log.
    const fields = { route: route.id, correlation_id: event.requestContext?.requestId };
    const counts: Record<string, number> = {};
    const started = Date.now();
    let response: APIGatewayProxyStructuredResultV2;
    try {
      assertStorableText(event.pathParameters ?? {}, 'path parameters');
      assertStorableText(event.queryStringParameters ?? {}, 'query string');
      const params = parseWith(parsers.params, event.pathParameters ?? {}, 'path parameters');
      const body = parsers.body === undefined ? undefined : parseWith(parsers.body, readJsonBody(event), 'body');
      const db = await getDatabase();
      const claims = event.requestContext?.authorizer?.jwt?.claims ?? {};
      const identity = claims[config().JWT_IDENTITY_CLAIM];
      const emailVerified = claims.email_verified;
      // An identity no account can have (the database cannot even compare it): no usable identity.
      if (typeof identity === 'string' && unstorable(identity)) throw new UnauthorizedError('The token carries no usable identity claim');
      const who: Identity = {
        identity: route.access === 'public' || typeof identity !== 'string' ? undefined : identity,
        emailVerified: emailVerified === undefined ? undefined : String(emailVerified),
      };
      const result = await run({ params, body, who, db });
      Object.assign(counts, countMetrics?.(result as never));
      response = json(route.successStatus ?? 200, result);
    } catch (error) {
      const mapped = mapError(error);
      if (mapped.unexpected) logger.error({ message: 'unexpected error', ...fields }, error instanceof Error ? error : String(error));
      else logger.info('request refused', { ...fields, status: mapped.response.statusCode, body: mapped.response.body });
      counts[(mapped.response.statusCode ?? 0) >= 500 ? 'ServerErrors' : 'ClientErrors'] = 1;
      response = mapped.response;
    }
    const ms = Date.now() - started;
    metrics.addDimension('route', route.id);
    for (const [name, value] of Object.entries(counts)) metrics.addMetric(name, MetricUnit.Count, value);
    metrics.addMetric('Requests', MetricUnit.Count, 1);
    metrics.addMetric('Latency', MetricUnit.Milliseconds, ms);
    metrics.publishStoredMetrics();
    // A membership or ownership write: the field wakes the event relay through the log group's
    // subscription filter (functions/events/wake-up.ts), so the request makes no call of its own.
    const wake = wakesEventRelay(route, response.statusCode) ? { [EVENTS_PENDING_LOG_FIELD]: true } : {};
    logger.info('request handled', { ...fields, status: response.statusCode, ms, ...wake });
    return response;
  };
}
