/** OpenAPI 3.1 description of the API, generated from the route table and its zod schemas. */
import { z } from 'zod';
import { ROUTES, type RouteDefinition } from './routes';

const ErrorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Malformed request (bad ids, wrong types, invalid JSON)',
  '401': 'Missing or invalid bearer token',
  '403': 'Not allowed for this caller',
  '404': 'Unknown id (or not visible to this caller)',
  '409': 'Refused by the current state (e.g. last admin, nobody to receive)',
  '413': 'Body too large',
  '503': 'Database unavailable; retry after the Retry-After header',
};

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return rest;
}

function operation(route: RouteDefinition) {
  const parameters = route.params
    ? Object.entries((jsonSchema(route.params).properties ?? {}) as Record<string, unknown>).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        schema,
      }))
    : [];
  const errors = Object.fromEntries(
    Object.entries(ERROR_RESPONSES)
      .filter(([status]) => route.access !== 'public' || !['401', '403'].includes(status))
      .map(([status, description]) => [status, { description, content: { 'application/json': { schema: ErrorBody } } }]),
  );
  return {
    operationId: route.id,
    summary: route.summary,
    ...(route.access === 'public' ? { security: [] } : {}),
    'x-access': route.access,
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } } : {}),
    responses: {
      [String(route.successStatus ?? 200)]: { description: 'Success', content: { 'application/json': { schema: { type: 'object' } } } },
      ...errors,
    },
  };
}

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Enhanced Messaging System API',
      version: '1.0.0',
      description: 'Routes buyer messages so they never reach members removed from their company.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
