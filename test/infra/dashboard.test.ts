/**
 * The operations dashboard of the API stack (infra/constructs/operations-dashboard.ts),
 * read back from the synthesized template: every panel the issue asks for, each
 * metric named as the thing that emits it names it (the HTTP API stage, every
 * route's handler, every function, the cluster of the Data stack, the
 * verification's and the migrations' EMF metrics), and no cross-stack import.
 * The route metrics are checked against what a handler really prints.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// The test config silences EMF output; one test here reads it (set before observability.ts builds its Metrics).
// The route handler probed below validates its configuration when it loads (its database is injected).
const metricsDisabled = vi.hoisted(() => {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.DATABASE_URL ??= 'postgresql://nobody@127.0.0.1:1/unused';
  return previous;
});
import { ROUTES } from '../../functions/http/routes';
import { DATA_API_ERRORS_METRIC, DATA_API_RETRIES_METRIC, useDatabase } from '../../functions/database/from-config';
import { DEAD_LETTERED_EVENTS_METRIC, EVENTS_FAILED_METRIC, EVENTS_PUBLISHED_METRIC, OLDEST_PENDING_EVENT_METRIC } from '../../functions/events/relay-metrics';
import {
  MIGRATION_RUNS_METRIC,
  MIGRATION_SLICES_METRIC,
  MIGRATIONS_APPLIED_METRIC,
  RUN_OUTCOMES,
  SLICE_OUTCOMES,
} from '../../functions/handlers/migrate';
import { CHECK_FAILED_METRIC, INVARIANT_VIOLATIONS_METRIC, VERIFICATION_FAILED_METRIC } from '../../functions/handlers/scheduled-verification';
import { ROUTE_METRICS } from '../../infra/constructs/operations-dashboard';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/names';
import { onlyResource, synthesize, type SynthesizedApp } from './synth';

type Widget = { type: string; properties: Record<string, any> };
/** A metric line of a widget: [namespace, name, dimension, value, ..., { options }], or [{ expression }]. */
type MetricLine = unknown[];

const apps: Record<string, SynthesizedApp> = {};

beforeAll(() => {
  apps.dev = synthesize({}, { nag: false });
  apps.prod = synthesize({ stage: 'prod', jwtIssuer: 'https://login.example.com/', jwtAudience: 'ems-api' }, { nag: false });
});
afterAll(() => {
  if (metricsDisabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = metricsDisabled;
});

/** The dashboard body with every token written as `{{Ref:Id}}` / `{{GetAtt:Id.Attr}}`, parsed. */
function dashboardOf(app: SynthesizedApp): { name: string; widgets: Widget[]; raw: string } {
  const [, dashboard] = onlyResource(app.apiTemplate, 'AWS::CloudWatch::Dashboard');
  const body = dashboard.Properties!.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const parts = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  const raw = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const p = part as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::ImportValue'?: unknown };
      if (p.Ref) return `{{Ref:${p.Ref}}}`;
      if (p['Fn::GetAtt']) return `{{GetAtt:${p['Fn::GetAtt'].join('.')}}}`;
      return `{{${JSON.stringify(part).replace(/"/g, "'")}}}`;
    })
    .join('');
  return { name: dashboard.Properties!.DashboardName as string, widgets: (JSON.parse(raw) as { widgets: Widget[] }).widgets, raw };
}

const metricLines = (widgets: Widget[]): MetricLine[] => widgets.flatMap((w) => (w.properties.metrics as MetricLine[] | undefined) ?? []);
/** The metric lines naming `namespace`/`name`, as { dimension: value } maps (the first line of a group may be abbreviated with "..."). */
function metricsNamed(widgets: Widget[], namespace: string, name: string): Record<string, string>[] {
  return metricLines(widgets)
    .filter((line) => line[0] === namespace && line[1] === name)
    .map((line) => {
      const dims: Record<string, string> = {};
      const rest = line.slice(2).filter((x) => typeof x === 'string') as string[];
      for (let i = 0; i + 1 < rest.length; i += 2) dims[rest[i]!] = rest[i + 1]!;
      return dims;
    });
}
const logQueries = (widgets: Widget[]) => widgets.filter((w) => w.type === 'log').map((w) => w.properties as { query: string; title: string });
const refOf = (app: SynthesizedApp, construct: { node: { defaultChild?: unknown } }) => `{{Ref:${app.api.getLogicalId(construct.node.defaultChild as never)}}}`;

describe('the operations dashboard', () => {
  it('is one dashboard per stage, in the API stack, named after the stage, importing nothing from the Data stack', () => {
    for (const [stage, app] of Object.entries(apps)) {
      const { name, raw } = dashboardOf(app);
      expect(name).toBe(`EnhancedMessaging-${stage}`);
      expect(raw).not.toContain('ImportValue');
      const [dashboardId] = onlyResource(app.apiTemplate, 'AWS::CloudWatch::Dashboard');
      expect((app.apiTemplate.toJSON().Outputs as Record<string, { Value: unknown }>).DashboardName?.Value).toEqual({ Ref: dashboardId });
    }
  });

  it('shows the API stage: requests, 4xx, 5xx and latency', () => {
    const app = apps.dev!;
    const { widgets } = dashboardOf(app);
    const apiId = refOf(app, app.api.httpApi.api);
    for (const metric of ['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency']) {
      expect(metricsNamed(widgets, 'AWS/ApiGateway', metric), metric).toContainEqual({ ApiId: apiId, Stage: '$default' });
    }
  });

  it('shows requests, 4xx, 5xx and latency for every route of the route table', () => {
    const { widgets } = dashboardOf(apps.dev!);
    for (const metric of Object.values(ROUTE_METRICS)) {
      const routes = metricsNamed(widgets, METRICS_NAMESPACE, metric).map((d) => {
        expect(d.service).toBe(SERVICE_NAME);
        return d.route;
      });
      expect(routes.sort(), metric).toEqual(ROUTES.map((r) => r.id).sort());
    }
    const [table] = logQueries(widgets).filter((q) => q.title.includes('access log'));
    expect(table!.query).toMatch(/stats count\(\*\) as requests.* by routeKey, status/);
    expect(table!.query).toContain(`SOURCE '${refOf(apps.dev!, apps.dev!.api.httpApi.accessLogs)}'`);
  });

  it('shows the errors, duration and cold starts of every function of the stack', () => {
    const app = apps.dev!;
    const { widgets } = dashboardOf(app);
    const functions = [...Object.values(app.api.httpApi.handlers), app.api.verification.handler];
    for (const metric of ['Errors', 'Duration']) {
      const names = metricsNamed(widgets, 'AWS/Lambda', metric).map((d) => d.FunctionName);
      expect(names.sort(), metric).toEqual(functions.map((fn) => refOf(app, fn.function)).sort());
    }
    const [coldStarts] = logQueries(widgets).filter((q) => q.title.startsWith('Cold starts'));
    expect(coldStarts!.query).toContain('count(@initDuration) as cold_starts');
    for (const fn of functions) expect(coldStarts!.query).toContain(`SOURCE '${refOf(app, fn.logGroup)}'`);
  });

  it("shows the Aurora cluster's capacity and ACU utilization, naming the Data stack's cluster, and the database errors the handlers saw", () => {
    for (const app of Object.values(apps)) {
      const { widgets } = dashboardOf(app);
      const [, cluster] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
      const identifier = cluster.Properties!.DBClusterIdentifier;
      for (const metric of ['ServerlessDatabaseCapacity', 'ACUUtilization', 'DatabaseConnections']) {
        expect(metricsNamed(widgets, 'AWS/RDS', metric), metric).toContainEqual({ DBClusterIdentifier: identifier });
      }
      const [errors] = logQueries(widgets).filter((q) => q.title.startsWith('Database errors'));
      expect(errors!.query).toContain('filter level = "ERROR" or status >= 500');
      for (const fn of Object.values(app.api.httpApi.handlers)) expect(errors!.query).toContain(`SOURCE '${refOf(app, fn.logGroup)}'`);
    }
  });

  it("shows the Data API's retries and service errors by error type, as the adapter counts them", () => {
    const raw = JSON.stringify(dashboardOf(apps.dev!).widgets);
    for (const metric of [DATA_API_RETRIES_METRIC, DATA_API_ERRORS_METRIC]) {
      expect(raw).toContain(`SEARCH('{${METRICS_NAMESPACE},service,errorType} MetricName=\\"${metric}\\" service=\\"${SERVICE_NAME}\\"'`);
    }
  });

  it('shows the verification: its alarms, failed checks by check and invariant violations by class', () => {
    const app = apps.dev!;
    const { widgets, raw } = dashboardOf(app);
    const alarmWidget = widgets.find((w) => w.type === 'alarm')!;
    const alarms = [
      app.api.verification.verificationAlarm,
      app.api.verification.errorsAlarm,
      app.api.verification.deadLettersAlarm,
      app.api.events.backlogAlarm,
      app.api.events.deadLetteredAlarm,
      app.api.events.errorsAlarm,
    ];
    expect(alarmWidget.properties.alarms).toEqual(alarms.map((a) => `{{GetAtt:${app.api.getLogicalId(a.node.defaultChild as never)}.Arn}}`));
    expect(metricsNamed(widgets, METRICS_NAMESPACE, VERIFICATION_FAILED_METRIC)).toContainEqual({ service: SERVICE_NAME });
    expect(raw).toContain(`SEARCH('{${METRICS_NAMESPACE},service,check} MetricName=\\"${CHECK_FAILED_METRIC}\\" service=\\"${SERVICE_NAME}\\"'`);
    expect(raw).toContain(`SEARCH('{${METRICS_NAMESPACE},service,violation} MetricName=\\"${INVARIANT_VIOLATIONS_METRIC}\\"`);
  });

  it("shows the events: published and refused per relay run, the oldest unpublished event's age, the dead-lettered ones", () => {
    const { widgets } = dashboardOf(apps.dev!);
    for (const metric of [EVENTS_PUBLISHED_METRIC, EVENTS_FAILED_METRIC, OLDEST_PENDING_EVENT_METRIC, DEAD_LETTERED_EVENTS_METRIC]) {
      expect(metricsNamed(widgets, METRICS_NAMESPACE, metric), metric).toContainEqual({ service: SERVICE_NAME });
    }
  });

  it('shows the deploy-time migrations: runs and slices by outcome, migrations applied', () => {
    const { widgets } = dashboardOf(apps.dev!);
    expect(metricsNamed(widgets, METRICS_NAMESPACE, MIGRATION_RUNS_METRIC)).toEqual(RUN_OUTCOMES.map((outcome) => ({ service: SERVICE_NAME, outcome })));
    expect(metricsNamed(widgets, METRICS_NAMESPACE, MIGRATION_SLICES_METRIC)).toEqual(SLICE_OUTCOMES.map((outcome) => ({ service: SERVICE_NAME, outcome })));
    expect(metricsNamed(widgets, METRICS_NAMESPACE, MIGRATIONS_APPLIED_METRIC)).toEqual([{ service: SERVICE_NAME }]);
  });
});

describe('the route metrics the dashboard graphs', () => {
  it('are the ones a route handler prints (EMF): Requests, ClientErrors / ServerErrors and Latency, by service and route', async () => {
    // GET /health, whose database fails: a refused request still counts as a request, with its error class.
    const failing = new Proxy({}, { get: (_target, key) => (key === 'then' ? undefined : async () => Promise.reject(new Error('the database is gone'))) });
    useDatabase(failing as never);
    const { handler } = await import('../../functions/handlers/health');
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await handler({ requestContext: { requestId: 'r1' }, pathParameters: {}, headers: {} } as never);
    } finally {
      stdout.mockRestore();
    }
    const emf = written
      .join('')
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, any>);
    const names = emf.flatMap((line) => line._aws.CloudWatchMetrics.flatMap((m: { Metrics: { Name: string }[] }) => m.Metrics.map((x) => x.Name)));
    expect(names).toEqual(expect.arrayContaining([ROUTE_METRICS.requests, ROUTE_METRICS.serverErrors, ROUTE_METRICS.latency]));
    for (const line of emf) {
      expect(line._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS_NAMESPACE);
      expect(line._aws.CloudWatchMetrics[0].Dimensions).toContainEqual(expect.arrayContaining(['service', 'route']));
      expect(line).toMatchObject({ service: SERVICE_NAME, route: 'health' });
    }
    expect(ROUTE_METRICS.clientErrors).toBe('ClientErrors');
  });
});
