/**
 * The stateless part: one Lambda per route behind the HTTP API (JWT
 * authorizer), the scheduled verification with its alarms, and, when no
 * external identity provider is configured, a Cognito user pool whose tokens
 * the authorizer accepts. Everything here can be destroyed and recreated
 * without losing data.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ROUTES, type RouteDefinition } from '../functions/http/routes';
import type { InfraConfig } from './config';
import { MessagingHttpApi, type JwtSettings } from './constructs/http-api';
import { clusterIdentifierOf, DATABASE_NAME } from './constructs/messaging-database';
import { EventRelay } from './constructs/event-relay';
import { OperationsDashboard } from './constructs/operations-dashboard';
import { VerificationSchedule } from './constructs/verification-schedule';
import { MIGRATION_CHECKSUMS_ENV, migrationChecksums } from './migration-assets';
import { acknowledge } from './nag';

export interface ApiStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly cluster: rds.IDatabaseCluster;
  /** The API functions' login user (may call the route functions only). */
  readonly apiSecret: secretsmanager.ISecret;
  /** The scheduled verification's login user (reads only). */
  readonly verificationSecret: secretsmanager.ISecret;
  /** The event relay's login user (the events outbox only). */
  readonly relaySecret: secretsmanager.ISecret;
}

/** The claim the handlers match against sellers.email / buyers.email (Cognito ID tokens carry it). */
export const JWT_IDENTITY_CLAIM = 'email';

export class ApiStack extends Stack {
  readonly httpApi: MessagingHttpApi;
  readonly verification: VerificationSchedule;
  readonly events: EventRelay;
  readonly dashboard: OperationsDashboard;
  readonly userPool?: cognito.UserPool;
  readonly userPoolClient?: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config } = props;

    let jwt: JwtSettings;
    if (config.jwt) {
      jwt = config.jwt;
    } else {
      const { userPool, client } = this.createUserPool(config);
      this.userPool = userPool;
      this.userPoolClient = client;
      jwt = { issuer: userPool.userPoolProviderUrl, audience: [client.userPoolClientId] };
    }

    // What config.ts (functions/shared) validates at cold start. No DATABASE_URL: the Data API only.
    // Each function logs in with its own secret (infra/constructs/messaging-database.ts).
    const environment = (secret: secretsmanager.ISecret) => ({
      DATA_API_RESOURCE_ARN: props.cluster.clusterArn,
      DATA_API_SECRET_ARN: secret.secretArn,
      DATA_API_DATABASE: DATABASE_NAME,
      JWT_IDENTITY_CLAIM,
    });

    // The API takes and answers ids of the marketplace's type; the verification checks the database has it.
    const ids = { EMS_ID_TYPE: config.idType };
    this.httpApi = new MessagingHttpApi(this, 'Http', {
      cluster: props.cluster,
      secret: props.apiSecret,
      environment: { ...environment(props.apiSecret), ...ids },
      jwt,
    });
    this.verification = new VerificationSchedule(this, 'Verification', {
      cluster: props.cluster,
      secret: props.verificationSecret,
      environment: { ...environment(props.verificationSecret), ...ids, [MIGRATION_CHECKSUMS_ENV]: JSON.stringify(migrationChecksums()) },
      schedule: config.verificationSchedule,
      alarmEmail: config.alarmEmail,
    });

    this.events = new EventRelay(this, 'Events', {
      busName: `enhanced-messaging-${config.stage}`,
      scheduleMinutes: config.eventRelayMinutes,
      cluster: props.cluster,
      secret: props.relaySecret,
      environment: environment(props.relaySecret),
      alarmTopic: this.verification.topic,
      deadLetters: this.verification.deadLetters,
      // Consumers attach their rules to the bus: only the disposable dev stage deletes it.
      removalPolicy: config.isDev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    // Right after a membership write, not a minute later: through each such route's log (no call in the request).
    for (const route of ROUTES as readonly RouteDefinition[]) {
      const handler = this.httpApi.handlers[route.id];
      if (route.writesEvents && handler) this.events.wakeAfterWritesOf(route.id, handler);
    }

    this.dashboard = new OperationsDashboard(this, 'Operations', {
      dashboardName: `EnhancedMessaging-${config.stage}`,
      httpStage: this.httpApi.stage,
      accessLogs: this.httpApi.accessLogs,
      routeHandlers: this.httpApi.handlers,
      verification: this.verification.handler,
      alarms: [
        this.verification.verificationAlarm,
        this.verification.errorsAlarm,
        this.verification.deadLettersAlarm,
        this.events.backlogAlarm,
        this.events.deadLetteredAlarm,
        this.events.errorsAlarm,
      ],
      clusterIdentifier: clusterIdentifierOf(config.stage),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.url });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'JwtIssuer', { value: jwt.issuer });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.verification.topic.topicArn });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName, description: 'Ownership and membership events (README: Events)' });
    new CfnOutput(this, 'EventBusArn', { value: this.events.bus.eventBusArn });
    if (this.userPool && this.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
    }
  }

  private createUserPool(config: InfraConfig): { userPool: cognito.UserPool; client: cognito.UserPoolClient } {
    const userPool = new cognito.UserPool(this, 'UserPool', {
      // Sellers and buyers are invited by the marketplace, not self-registered.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: false } },
      // Dev: optional, so `npm run token -- --stack <Api stack> <email>` can sign a test user in.
      mfa: config.isDev ? cognito.Mfa.OPTIONAL : cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: config.isDev ? cognito.FeaturePlan.ESSENTIALS : cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: config.isDev ? undefined : cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: !config.isDev,
      // `cdk destroy` of the dev stage leaves nothing but the database's final snapshot; elsewhere the users stay.
      removalPolicy: config.isDev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    const client = userPool.addClient('ApiClient', {
      // ADMIN_USER_PASSWORD_AUTH (server-side, with admin credentials) only in dev: the token command.
      authFlows: { userSrp: true, adminUserPassword: config.isDev },
      generateSecret: false,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
    if (config.isDev) {
      acknowledge(
        userPool,
        'AwsSolutions-COG2',
        "The 'dev' stage's test users get their tokens from `npm run token -- --stack`, which cannot answer an MFA challenge; every other stage requires MFA.",
      );
      acknowledge(
        userPool,
        'AwsSolutions-COG8',
        "The 'dev' stage's user pool holds test users only; the Plus tier's threat protection (billed per active user) is enabled in every other stage.",
      );
    }
    return { userPool, client };
  }
}
