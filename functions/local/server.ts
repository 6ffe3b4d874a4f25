/**
 * Serves the route table locally through the same Lambda handlers, building
 * API Gateway HTTP API (payload 2.0) events and applying the JWT checks the
 * AWS authorizer applies.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PROJECT_ROOT } from '../database/local-postgres';
import { wakesEventRelay } from '../events/wake-up';
import type { ApiEvent } from '../http/handler-kit';
import { openApiDocument } from '../http/openapi';
import { errorResponse, json } from '../http/responses';
import { ROUTES, type RouteDefinition } from '../http/routes';
import { config } from '../shared/config';
import { logger } from '../shared/observability';
import type { LocalTokens } from './jwt';

type Handler = (event: ApiEvent) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_REQUEST_BYTES = 1024 * 1024;

interface CompiledRoute {
  readonly route: RouteDefinition;
  readonly pattern: RegExp;
  readonly names: string[];
}

function compile(route: RouteDefinition): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const COMPILED = ROUTES.map((r) => compile(r));

export interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

async function loadHandler(route: RouteDefinition, cache: Map<string, Handler>): Promise<Handler> {
  let handler = cache.get(route.id);
  if (!handler) {
    const module = (await import(path.join(PROJECT_ROOT, route.entry))) as { handler: Handler };
    handler = module.handler;
    cache.set(route.id, handler);
  }
  return handler;
}

function send(res: http.ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  res.writeHead(result.statusCode ?? 200, result.headers as http.OutgoingHttpHeaders);
  res.end(result.body ?? '');
}

/** The body, or null when it is larger than the limit (read to the end so the client gets its 413). */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
      else if (size > 16 * MAX_REQUEST_BYTES) req.destroy(); // not worth draining
    });
    req.on('end', () => resolve(size > MAX_REQUEST_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface LocalServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tokens: LocalTokens;
  /** Called after an answer that may have written events (functions/events/wake-up.ts): `npm start` wakes its relay. */
  readonly onEventsWritten?: () => void;
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const handlers = new Map<string, Handler>();

  const server = http.createServer(async (req, res) => {
    try {
      // Split by hand: `new URL('//x', base)` would read a path starting with // as a host.
      const [pathname = '/', query = ''] = (req.url ?? '/').split(/\?(.*)/s, 2);
      const url = { pathname, search: query ? `?${query}` : '', searchParams: new URLSearchParams(query) };
      const method = (req.method ?? 'GET').toUpperCase();
      // The document of the ids this API takes (EMS_ID_TYPE), as its handlers validate them.
      if (method === 'GET' && url.pathname === '/openapi.json') return send(res, json(200, openApiDocument(config().EMS_ID_TYPE)));
      if (method === 'GET' && url.pathname === '/.well-known/jwks.json') return send(res, json(200, options.tokens.jwks));

      const matches = COMPILED.map((c) => ({ c, m: c.pattern.exec(url.pathname) })).filter((x) => x.m);
      if (matches.length === 0) return send(res, errorResponse(404, 'route_not_found', `No route for ${url.pathname}`));
      const match = matches.find((x) => x.c.route.method === method);
      if (!match) {
        const allow = matches.map((x) => x.c.route.method).join(', ');
        return send(res, errorResponse(405, 'method_not_allowed', `${method} is not allowed here; use ${allow}`, { allow }));
      }
      const { route, names } = match.c;
      const pathParameters: Record<string, string> = {};
      try {
        names.forEach((name, i) => (pathParameters[name] = decodeURIComponent(match.m![i + 1]!)));
      } catch {
        return send(res, errorResponse(400, 'validation_failed', 'The path is not valid URL encoding'));
      }

      let claims: Record<string, string | number | boolean | string[]> | undefined;
      if (route.access !== 'public') {
        const header = req.headers.authorization ?? '';
        const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
        const verified = token ? await options.tokens.verify(token) : null;
        // API Gateway's JWT authorizer answers 401 before the function runs.
        if (!verified) return send(res, errorResponse(401, 'unauthorized', 'A valid bearer token is required'));
        claims = verified as Record<string, string | number | boolean | string[]>;
      }

      const body = await readBody(req);
      if (body === null) return send(res, errorResponse(413, 'payload_too_large', 'The request body is too large'));

      const now = new Date();
      const event: ApiEvent = {
        version: '2.0',
        routeKey: `${route.method} ${route.path}`,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
        queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
        pathParameters: names.length ? pathParameters : undefined,
        requestContext: {
          accountId: 'local',
          apiId: 'local',
          domainName: host,
          domainPrefix: 'local',
          http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '', userAgent: req.headers['user-agent'] ?? '' },
          requestId: randomUUID(),
          routeKey: `${route.method} ${route.path}`,
          stage: '$default',
          time: now.toISOString(),
          timeEpoch: now.getTime(),
          ...(claims ? { authorizer: { jwt: { claims } } } : {}),
        },
        body: body === '' ? undefined : body,
        isBase64Encoded: false,
      };
      const handler = await loadHandler(route, handlers);
      const result = await handler(event);
      send(res, result);
      // After the answer, not awaited by it: where AWS's log subscription would invoke the relay.
      if (wakesEventRelay(route, result.statusCode)) options.onEventsWritten?.();
    } catch (error) {
      logger.error('local server failure', error as Error);
      if (!res.headersSent) send(res, errorResponse(500, 'internal_error', 'Something went wrong on our side; it has been logged.'));
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
