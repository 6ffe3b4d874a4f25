/**
 * OpenAPI 3.1 description of the API, generated from the route table, its zod schemas and the
 * error contract (functions/shared/refusals.ts): every success body exactly (components.schemas,
 * named as in response-schemas.ts), every error status a route can answer with the codes it can carry, and
 * every header. test/integration/api-handlers.test.ts checks every response the handler tests
 * produce against the committed document.
 */
import * as z from 'zod/mini';
import type { IdType } from '../shared/config';
import { REFUSALS } from '../shared/refusals';
import { INTERNAL_ERROR } from './responses';
import { ROUTES, type RouteDefinition, type RouteId } from './routes';
import { responsesByRoute, responseSchemas, type ResponsesByRoute } from './response-schemas';
import { requestSchemas, type RequestSchemas } from './schemas';

type JsonSchema = Record<string, unknown>;

function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

const requestJsonSchema = (schema: z.ZodMiniType) => withoutDialect(z.toJSONSchema(schema, { io: 'input' }));

/**
 * The success bodies, named as in response-schemas.ts, so a schema used inside another
 * (Person, MessageHandler, ...) is a $ref too.
 */
function namedSchemas(idType: IdType): Map<z.ZodMiniType, string> {
  const byName = Object.entries(responseSchemas(idType)).sort(([a], [b]) => (a < b ? -1 : 1));
  return new Map(byName.map(([name, schema]) => [schema, name]));
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

const HEADERS = {
  'Cache-Control': {
    description: 'Always `no-store`: every answer is for its caller, now.',
    required: true,
    schema: { type: 'string', const: 'no-store' },
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
};

/** The error statuses: each carries the error contract's codes of that status. */
const ERROR_STATUSES = {
  400: { name: 'BadRequest', title: 'Malformed request' },
  401: {
    name: 'Unauthorized',
    title:
      'No identity. (On AWS, a missing or invalid token is refused before the handler by API Gateway\'s JWT authorizer, with its own body `{"message":"Unauthorized"}`.)',
  },
  403: { name: 'Forbidden', title: 'Not allowed for this caller' },
  404: { name: 'NotFound', title: 'Unknown id, or not one the caller may see' },
  409: { name: 'Conflict', title: 'Refused by the current state' },
  413: { name: 'PayloadTooLarge', title: 'Body too large' },
  500: { name: 'InternalError', title: 'Unexpected error (logged; the body says nothing more)' },
  503: { name: 'ServiceUnavailable', title: 'Database unavailable or not migrated yet; retry after Retry-After seconds' },
} as const;

type ErrorStatus = keyof typeof ERROR_STATUSES;

function codesOf(status: number): { code: string; meaning: string }[] {
  if (status === INTERNAL_ERROR.status) return [{ code: INTERNAL_ERROR.code, meaning: INTERNAL_ERROR.meaning }];
  return Object.entries(REFUSALS)
    .filter(([, refusal]) => refusal.status === status)
    .map(([code, refusal]) => ({ code, meaning: refusal.meaning }));
}

/** `{ "error": { "code", "message" } }`, the body of every refusal (functions/http/responses.ts). */
const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.enum([...Object.keys(REFUSALS), INTERNAL_ERROR.code]).check(z.describe('A code of the error contract (functions/shared/refusals.ts).')),
    message: z.string().check(z.describe('For people; may change.')),
  }),
});

function errorResponse(status: number, title: string) {
  const codes = codesOf(status);
  return {
    description: `${title}. ${codes.map((c) => `\`${c.code}\`: ${c.meaning}`).join(' ')}`,
    headers: { 'Cache-Control': headerRef('Cache-Control'), ...(status === 503 ? { 'Retry-After': headerRef('Retry-After') } : {}) },
    content: {
      'application/json': {
        // ErrorBody, with the codes this status carries.
        schema: {
          allOf: [schemaRef('ErrorBody')],
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string', enum: codes.map((c) => c.code) } } } },
        },
      },
    },
  };
}

/** Which error statuses a route can answer (its refusals' codes come from the SQL; their statuses from the contract). */
function errorStatusesOf(route: RouteDefinition): ErrorStatus[] {
  const statuses: ErrorStatus[] = [400];
  if (route.access !== 'public') statuses.push(401, 403, 404);
  if (route.method !== 'GET') statuses.push(409); // a GET changes nothing, so no state refuses it
  if (route.body !== 'NoBody') statuses.push(413);
  statuses.push(500, 503);
  return statuses;
}

interface Schemas {
  readonly requests: RequestSchemas;
  readonly responses: ResponsesByRoute;
  readonly names: Map<z.ZodMiniType, string>;
}

function operation(route: RouteDefinition, { requests, responses, names }: Schemas) {
  const parameters = Object.entries((requestJsonSchema(requests[route.params]).properties ?? {}) as Record<string, unknown>).map(([name, schema]) => ({
    name,
    in: 'path',
    required: true,
    schema,
  }));
  const response: z.ZodMiniType = responses[route.id as RouteId];
  const responseName = names.get(response);
  const successStatus = route.successStatus ?? 200;
  return {
    operationId: route.id,
    summary: route.summary,
    ...(route.access === 'public' ? { security: [] } : {}),
    'x-access': route.access,
    ...(parameters.length ? { parameters } : {}),
    ...(route.body !== 'NoBody'
      ? { requestBody: { required: true, content: { 'application/json': { schema: requestJsonSchema(requests[route.body]) } } } }
      : {}),
    responses: {
      [String(successStatus)]: {
        description: successStatus === 201 ? 'Created' : 'Success',
        headers: { 'Cache-Control': headerRef('Cache-Control') },
        content: {
          'application/json': {
            schema: responseName ? schemaRef(responseName) : withoutDialect(z.toJSONSchema(response, { io: 'output' })),
          },
        },
      },
      ...Object.fromEntries(errorStatusesOf(route).map((status) => [String(status), { $ref: `#/components/responses/${ERROR_STATUSES[status].name}` }])),
    },
  };
}

/**
 * The document for an API whose ids are `idType` (EMS_ID_TYPE; README: Id types): uuid ids are
 * strings of format uuid; integer and bigint ids are digit strings in paths, and integers with
 * their minimum and maximum in bodies (a request body also takes the same digits as a string).
 */
export function openApiDocument(idType: IdType = 'uuid') {
  const names = namedSchemas(idType);
  const schemas: Schemas = { requests: requestSchemas(idType), responses: responsesByRoute(responseSchemas(idType)), names };
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  registry.add(ErrorBody, { id: 'ErrorBody' });
  const generated = z.toJSONSchema(registry, { io: 'output', uri: (id) => `#/components/schemas/${id}` }).schemas;
  const componentSchemas = Object.fromEntries(Object.entries(generated).map(([id, schema]) => [id, withoutDialect(schema)]));

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route, schemas);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Enhanced Messaging System API',
      version: '1.0.0',
      description: 'Routes buyer messages so they never reach members removed from their company.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: componentSchemas,
      responses: Object.fromEntries(Object.entries(ERROR_STATUSES).map(([status, { name, title }]) => [name, errorResponse(Number(status), title)])),
      headers: HEADERS,
    },
    security: [{ bearer: [] }],
    paths,
  };
}
