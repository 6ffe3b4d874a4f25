/**
 * The HTTP API, built from the route table (functions/http/routes.ts): one
 * Lambda per route, one route per entry, the JWT authorizer on every route
 * whose access is not 'public'. Access logs (JSON) to CloudWatch and default
 * stage throttling. No CORS: the API serves server-side and mobile clients.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ROUTES, type RouteDefinition } from '../../functions/http/routes';
import { acknowledge } from '../nag';
import { grantDataApiAs } from './messaging-database';
import { ProjectFunction } from './project-function';

export interface JwtSettings {
  readonly issuer: string;
  readonly audience: string[];
}

export interface MessagingHttpApiProps {
  readonly cluster: rds.IDatabaseCluster;
  /** The login user the function runs its statements as (through the Data API). */
  readonly secret: secretsmanager.ISecret;
  /** Environment of every handler (Data API coordinates, identity claim). */
  readonly environment: Record<string, string>;
  readonly jwt: JwtSettings;
  readonly throttle?: { rateLimit: number; burstLimit: number };
}

/** HTTP API context variables, one JSON object per request. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integration.status',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  userAgent: '$context.identity.userAgent',
};

export function routeKeyOf(route: Pick<RouteDefinition, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

export class MessagingHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;
  readonly handlers: Record<string, ProjectFunction> = {};

  constructor(scope: Construct, id: string, props: MessagingHttpApiProps) {
    super(scope, id);

    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Enhanced Messaging System API',
      createDefaultStage: false,
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, {
      jwtAudience: props.jwt.audience,
      identitySource: ['$request.header.Authorization'],
    });

    for (const route of ROUTES as readonly RouteDefinition[]) {
      const handler = new ProjectFunction(this, route.id, {
        entry: route.entry,
        description: `${routeKeyOf(route)}: ${route.summary}`.slice(0, 256),
        environment: props.environment,
      });
      grantDataApiAs(handler, props.cluster, props.secret);
      this.handlers[route.id] = handler;

      const [httpRoute] = this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.id}Integration`, handler.function),
        authorizer: route.access === 'public' ? new apigwv2.HttpNoneAuthorizer() : authorizer,
      });
      if (route.access === 'public') {
        acknowledge(
          httpRoute!,
          'AwsSolutions-APIG4',
          `${routeKeyOf(route)} is public by design (route table access 'public'): an uptime probe that reveals only whether the database answers and migrations are current.`,
        );
      }
      acknowledge(
        handler,
        'Serverless-LambdaDLQ',
        `Invoked synchronously by the HTTP API route ${routeKeyOf(route)}: errors go back to the caller, there is no asynchronous event to dead-letter.`,
      );
    }
  }

  get url(): string {
    return this.stage.url;
  }
}
