/**
 * What an operator reads in a handler's CloudWatch output, with the real Powertools Logger and
 * Metrics (nothing mocked): the handler runs in a fresh Node.js process as in Lambda, on the Data
 * API (the real SDK client, the local endpoint, a real PostgreSQL), and what the process printed is
 * read back.
 *
 * - Lambda's context on every log line (function_request_id, cold_start, function_name), with the
 *   route and API Gateway's request id (correlation_id);
 * - one ColdStart metric, on the first invocation only;
 * - no Powertools warning, neither on a warm invocation nor with many requests at once in one
 *   process (as `npm start`'s server runs them), where each request's metrics keep their route.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { apiEvent, claimsFor } from '../helpers/api-events';
import { startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { dataApiEnvironment, invokeInFreshProcess, lambdaContext, type Invocation, type InvocationRun } from '../helpers/lambda-sandbox';
import * as m from '../helpers/marketplace';

const FUNCTION_NAME = 'EnhancedMessaging-test-Api-getListingRecipient';
const HANDLER = path.join(PROJECT_ROOT, 'functions/handlers/get-listing-recipient.ts');

let t: TestDatabase;
let endpoint: DataApiEndpoint;
let listingId: string;
let buyerEmail: string;

beforeAll(async () => {
  t = await createMigratedDatabase();
  endpoint = await startDataApiEndpoint({ connectionString: t.url });
  const companyId = await m.company(t.db);
  await m.seller(t.db, companyId, 'owner');
  const member = await m.seller(t.db, companyId, 'member');
  listingId = await m.listing(t.db, member, companyId);
  const buyer = await m.buyer(t.db);
  buyerEmail = (await t.db.query<{ email: string }>('SELECT email FROM buyers WHERE id = $1', [buyer]))[0]!.email;
});
afterAll(async () => {
  await endpoint?.close();
  await t?.drop();
});

/** The handler's source in a fresh process, with what the stack gives the function and Powertools printing everything. */
function runHandler(invocations: readonly Invocation[], options: { concurrently?: boolean } = {}): Promise<InvocationRun> {
  return invokeInFreshProcess({
    module: HANDLER,
    nodeArgs: ['--import', 'tsx'],
    cwd: PROJECT_ROOT,
    environment: {
      ...dataApiEnvironment({ endpointUrl: endpoint.url, database: t.name, functionName: FUNCTION_NAME }),
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
    },
    invocations,
    concurrently: options.concurrently,
  });
}

const statuses = (run: InvocationRun) => run.responses.map((r) => (r as { statusCode?: number }).statusCode);
const json = (lines: readonly string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
const logLines = (lines: readonly string[]) => json(lines).filter((l) => typeof l.level === 'string');
const metricDocuments = (lines: readonly string[]) => json(lines).filter((l) => l._aws !== undefined);
const metricNames = (document: Record<string, any>): string[] =>
  document._aws.CloudWatchMetrics.flatMap((c: { Metrics: { Name: string }[] }) => c.Metrics.map((metric) => metric.Name));

const asBuyer = () => ({ event: apiEvent('getListingRecipient', { pathParameters: { listingId }, claims: claimsFor(buyerEmail) }), context: lambdaContext(FUNCTION_NAME) });
const asStranger = () => ({ event: apiEvent('getListingRecipient', { pathParameters: { listingId }, claims: claimsFor('nobody@nowhere.test') }), context: lambdaContext(FUNCTION_NAME) });

describe('Powertools in a Lambda handler', () => {
  it('puts the invocation on every log line and emits ColdStart once, on the cold invocation, without a warning on the warm ones', async () => {
    const invocations = [asStranger(), asBuyer(), asStranger()];
    const run = await runHandler(invocations);
    expect(statuses(run)).toEqual([403, 200, 403]);

    run.stdoutByInvocation.forEach((printed, n) => {
      const { event, context } = invocations[n]!;
      const logs = logLines(printed);
      expect(logs.map((l) => l.message), `invocation ${n}`).toContain('request handled');
      for (const line of logs) {
        expect(line, `invocation ${n}: ${JSON.stringify(line)}`).toMatchObject({
          function_request_id: context.awsRequestId,
          function_name: FUNCTION_NAME,
          function_arn: context.invokedFunctionArn,
          cold_start: n === 0,
          route: 'getListingRecipient',
          correlation_id: (event.requestContext as { requestId: string }).requestId,
        });
      }
    });
    expect(logLines(run.stdoutByInvocation[0]!).map((l) => l.message)).toEqual(['request refused', 'request handled']);

    const coldStarts = run.stdoutByInvocation.map((printed) => metricDocuments(printed).filter((d) => metricNames(d).includes('ColdStart')));
    expect(coldStarts.map((found) => found.length)).toEqual([1, 0, 0]);
    expect(coldStarts[0]![0]).toMatchObject({ ColdStart: 1, function_name: FUNCTION_NAME, service: 'enhanced-messaging' });

    // The per-request metrics: once per invocation, with their route.
    for (const printed of run.stdoutByInvocation) {
      const requests = metricDocuments(printed).filter((d) => metricNames(d).includes('Requests'));
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ route: 'getListingRecipient', Requests: 1 });
    }

    const everything = [...run.stdout, run.stderr].join('\n');
    expect(everything).not.toContain('has already been added');
    expect(everything).not.toMatch(/No application metrics to publish/);
    expect(logLines(run.stdout).filter((l) => l.level === 'WARN')).toEqual([]);
  });

  it('keeps each request its own metrics and log fields when one process serves many at once (npm start), with no warning', async () => {
    // As the local server calls the handlers: no Lambda context, all requests in flight together.
    const invocations = Array.from({ length: 12 }, (_, i) => ({ event: (i % 2 ? asBuyer() : asStranger()).event }));
    const run = await runHandler(invocations, { concurrently: true });
    expect(statuses(run)).toEqual(invocations.map((_, i) => (i % 2 ? 200 : 403)));

    const requests = metricDocuments(run.stdout).filter((d) => metricNames(d).includes('Requests'));
    expect(requests).toHaveLength(invocations.length);
    for (const document of requests) expect(document).toMatchObject({ route: 'getListingRecipient', Requests: 1 });
    const handled = logLines(run.stdout).filter((l) => l.message === 'request handled');
    expect(handled.map((l) => l.correlation_id).sort()).toEqual(invocations.map((i) => (i.event.requestContext as { requestId: string }).requestId).sort());
    expect(metricDocuments(run.stdout).filter((d) => metricNames(d).includes('ColdStart'))).toEqual([]);

    const everything = [...run.stdout, run.stderr].join('\n');
    expect(everything).not.toContain('has already been added');
    expect(everything).not.toMatch(/No application metrics to publish/);
  });
});
