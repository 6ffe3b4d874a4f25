/**
 * The operations dashboard (CloudWatch, one per stage, named
 * `EnhancedMessaging-<stage>`): what an operator looks at first.
 *
 * - API: requests, 4xx / 5xx and latency of the HTTP API stage (AWS/ApiGateway,
 *   authorizer refusals included), then per route: requests, 4xx, 5xx and p99
 *   latency from the handlers' own EMF metrics (dimensions service + route),
 *   and a per-route, per-status table from the access log;
 * - Lambda: errors and p99 duration of every function of this stack, cold
 *   starts per function (Logs Insights over the REPORT lines' Init Duration);
 * - database: Aurora capacity (ServerlessDatabaseCapacity, ACUUtilization) and
 *   connections, the Data API's retries (Aurora resuming) and service errors by
 *   error type (the adapter's EMF metrics, functions/database/from-config.ts),
 *   and the database errors the handlers saw (their logs: unexpected errors and
 *   5xx refusals such as 503 "database resuming");
 * - events: published and refused per relay run, the oldest unpublished event's age, dead-lettered events;
 * - verification: the alarms, failed checks by check, invariant violations by class;
 * - migrations: deploy-time slices by outcome, migrations applied, runs
 *   (functions/handlers/migrate.ts EMF metrics).
 *
 * Everything the Data stack owns is named, not imported: the cluster by its
 * fixed identifier, the migrations by their metrics. The dashboard adds no
 * cross-stack export.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  MIGRATION_RUNS_METRIC,
  MIGRATION_SLICE_DURATION_METRIC,
  MIGRATION_SLICES_METRIC,
  MIGRATIONS_APPLIED_METRIC,
  RUN_OUTCOMES,
  SLICE_OUTCOMES,
} from '../../functions/handlers/migrate';
import { DATA_API_ERRORS_METRIC, DATA_API_RETRIES_METRIC } from '../../functions/database/from-config';
import {
  DEAD_LETTERED_EVENTS_METRIC,
  EVENTS_FAILED_METRIC,
  EVENTS_PUBLISHED_METRIC,
  OLDEST_PENDING_EVENT_METRIC,
} from '../../functions/events/relay-metrics';
import { CHECK_FAILED_METRIC, INVARIANT_VIOLATIONS_METRIC, VERIFICATION_FAILED_METRIC } from '../../functions/handlers/scheduled-verification';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../names';
import type { ProjectFunction } from './project-function';

export interface OperationsDashboardProps {
  readonly dashboardName: string;
  readonly httpStage: apigwv2.IHttpStage;
  readonly accessLogs: logs.ILogGroup;
  /** Route id → its handler. */
  readonly routeHandlers: Record<string, ProjectFunction>;
  readonly verification: ProjectFunction;
  readonly alarms: cloudwatch.IAlarm[];
  /** The Aurora cluster's identifier (fixed per stage: infra/constructs/messaging-database.ts). */
  readonly clusterIdentifier: string;
}

const PERIOD = Duration.minutes(5);
const FULL = 24;
const HALF = 12;
const THIRD = 8;

/** Handler-side metrics of the route handlers (functions/http/handler-kit.ts). */
export const ROUTE_METRICS = { requests: 'Requests', clientErrors: 'ClientErrors', serverErrors: 'ServerErrors', latency: 'Latency' } as const;

const header = (markdown: string) => new cloudwatch.TextWidget({ markdown, width: FULL, height: 1 });

export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const routes = Object.entries(props.routeHandlers);
    const functions: [string, ProjectFunction][] = [...routes, ['scheduled verification', props.verification]];

    const custom = (metricName: string, statistic: string, dimensions: Record<string, string> = {}, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME, ...dimensions },
        statistic,
        period: PERIOD,
        label,
      });
    const perRoute = (metricName: string, statistic: string) => routes.map(([route]) => custom(metricName, statistic, { route }, route));
    const search = (dimensions: string, metricName: string, statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${metricName}" service="${SERVICE_NAME}"', '${statistic}', ${PERIOD.toSeconds()})`,
        usingMetrics: {},
        label,
        period: PERIOD,
      });
    const aurora = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { DBClusterIdentifier: props.clusterIdentifier },
        statistic,
        period: PERIOD,
        label: `${metricName} (${statistic})`,
      });
    const stage = props.httpStage;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
    });

    this.dashboard.addWidgets(header('## API (HTTP API stage; authorizer refusals included)'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Requests',
        left: [stage.metricCount({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: 'requests' })],
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: '4xx and 5xx',
        left: [
          stage.metricClientError({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: '4xx' }),
          stage.metricServerError({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: '5xx' }),
        ],
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Latency (ms)',
        left: [
          stage.metricLatency({ statistic: cloudwatch.Stats.p(50), period: PERIOD, label: 'p50' }),
          stage.metricLatency({ statistic: cloudwatch.Stats.p(99), period: PERIOD, label: 'p99' }),
          stage.metricIntegrationLatency({ statistic: cloudwatch.Stats.p(99), period: PERIOD, label: 'integration p99' }),
        ],
        width: THIRD,
      }),
    );

    this.dashboard.addWidgets(header('## Per route (the handlers\' metrics: requests that reached a handler)'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Requests per route', left: perRoute(ROUTE_METRICS.requests, cloudwatch.Stats.SUM), width: HALF }),
      new cloudwatch.GraphWidget({ title: 'Latency p99 per route (ms)', left: perRoute(ROUTE_METRICS.latency, cloudwatch.Stats.p(99)), width: HALF }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: '4xx per route', left: perRoute(ROUTE_METRICS.clientErrors, cloudwatch.Stats.SUM), width: HALF }),
      new cloudwatch.GraphWidget({ title: '5xx per route', left: perRoute(ROUTE_METRICS.serverErrors, cloudwatch.Stats.SUM), width: HALF }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Requests by route and status (access log)',
        logGroupNames: [props.accessLogs.logGroupName],
        queryLines: [
          'fields routeKey, status, responseLatency',
          'stats count(*) as requests, pct(responseLatency, 50) as p50_ms, pct(responseLatency, 99) as p99_ms by routeKey, status',
          'sort requests desc',
          'limit 100',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: FULL,
        height: 6,
      }),
    );

    this.dashboard.addWidgets(header('## Lambda'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Errors per function',
        left: functions.map(([name, fn]) => fn.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: name })),
        width: HALF,
      }),
      new cloudwatch.GraphWidget({
        title: 'Duration p99 per function (ms)',
        left: functions.map(([name, fn]) => fn.function.metricDuration({ statistic: cloudwatch.Stats.p(99), period: PERIOD, label: name })),
        width: HALF,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Cold starts per function (REPORT lines with an Init Duration)',
        logGroupNames: functions.map(([, fn]) => fn.logGroup.logGroupName),
        queryLines: [
          'filter @type = "REPORT"',
          'stats count(*) as invocations, count(@initDuration) as cold_starts, avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by @log',
          'sort cold_starts desc',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: FULL,
        height: 6,
      }),
    );

    this.dashboard.addWidgets(header('## Database (Aurora Serverless v2, reached through the Data API)'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Capacity (ACU)',
        left: [aurora('ServerlessDatabaseCapacity', cloudwatch.Stats.AVERAGE), aurora('ServerlessDatabaseCapacity', cloudwatch.Stats.MAXIMUM)],
        leftYAxis: { min: 0 },
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'ACU utilization (% of the maximum capacity)',
        left: [aurora('ACUUtilization', cloudwatch.Stats.AVERAGE), aurora('ACUUtilization', cloudwatch.Stats.MAXIMUM)],
        leftYAxis: { min: 0, max: 100 },
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Connections',
        left: [aurora('DatabaseConnections', cloudwatch.Stats.MAXIMUM)],
        leftYAxis: { min: 0 },
        width: THIRD,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Data API retries (Aurora resuming) and service errors, by error type',
        left: [
          search('service,errorType', DATA_API_RETRIES_METRIC, 'Sum', 'retries'),
          search('service,errorType', DATA_API_ERRORS_METRIC, 'Sum', 'errors'),
        ],
        leftYAxis: { min: 0 },
        width: FULL,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Database errors seen by the handlers: unexpected errors and 5xx refusals, e.g. 503 while Aurora resumes (handler logs)',
        logGroupNames: routes.map(([, fn]) => fn.logGroup.logGroupName),
        queryLines: [
          'filter level = "ERROR" or status >= 500',
          'stats count(*) as errors by route, status, message',
          'sort errors desc',
          'limit 50',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: FULL,
        height: 5,
      }),
    );

    this.dashboard.addWidgets(header('## Events (the outbox, published to the bus by the relay every minute)'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Events published and refused per relay run',
        left: [custom(EVENTS_PUBLISHED_METRIC, cloudwatch.Stats.SUM, {}, 'published'), custom(EVENTS_FAILED_METRIC, cloudwatch.Stats.SUM, {}, 'refused')],
        leftYAxis: { min: 0 },
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Oldest unpublished event (s)',
        left: [custom(OLDEST_PENDING_EVENT_METRIC, cloudwatch.Stats.MAXIMUM, {}, 'age')],
        leftYAxis: { min: 0 },
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-lettered events (in the outbox)',
        left: [custom(DEAD_LETTERED_EVENTS_METRIC, cloudwatch.Stats.MAXIMUM, {}, 'dead-lettered')],
        leftYAxis: { min: 0 },
        width: THIRD,
      }),
    );

    this.dashboard.addWidgets(header('## Verification (scheduled)'));
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: THIRD, height: 6 }),
      new cloudwatch.GraphWidget({
        title: 'Failed checks (run total, and by check)',
        left: [
          custom(VERIFICATION_FAILED_METRIC, cloudwatch.Stats.MAXIMUM, {}, 'failed checks'),
          search('service,check', CHECK_FAILED_METRIC, 'Maximum', 'check'),
        ],
        leftYAxis: { min: 0 },
        width: THIRD,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Routing invariant violations by class',
        left: [search('service,violation', INVARIANT_VIOLATIONS_METRIC, 'Maximum', 'violation')],
        leftYAxis: { min: 0 },
        width: THIRD,
        height: 6,
      }),
    );

    this.dashboard.addWidgets(header('## Migrations on deploy (the migration custom resource)'));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Deploy runs by outcome',
        left: RUN_OUTCOMES.map((outcome) => custom(MIGRATION_RUNS_METRIC, cloudwatch.Stats.SUM, { outcome }, outcome)),
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Slices by outcome, and migrations applied',
        left: SLICE_OUTCOMES.map((outcome) => custom(MIGRATION_SLICES_METRIC, cloudwatch.Stats.SUM, { outcome }, outcome)),
        right: [custom(MIGRATIONS_APPLIED_METRIC, cloudwatch.Stats.SUM, {}, 'applied')],
        width: THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Slice duration (ms)',
        left: [custom(MIGRATION_SLICE_DURATION_METRIC, cloudwatch.Stats.MAXIMUM, {}, 'max')],
        width: THIRD,
      }),
    );
  }
}
