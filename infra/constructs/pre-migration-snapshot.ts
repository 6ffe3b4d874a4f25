/**
 * The pre-migration snapshot of every stage but dev (functions/handlers/pre-migration-snapshot.ts):
 * a custom resource the migration custom resource waits for. On a deploy that changes the
 * migrations, when the database lacks some of them, it snapshots the cluster and waits until the
 * snapshot is available. Its Lambda runs outside the VPC: it reads the applied migrations through
 * the Data API as the read-only verification user, and calls the RDS API (the VPC has no RDS endpoint).
 */
import { ArnFormat, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { DATABASE_NAME, grantDataApiAs, type MessagingDatabase } from './messaging-database';
import { ProjectFunction } from './project-function';
import { acknowledgeProviderFramework } from './provider-framework';

export const SNAPSHOT_RESOURCE_TYPE = 'Custom::PreMigrationSnapshot';

export interface PreMigrationSnapshotProps {
  readonly database: MessagingDatabase;
  readonly migrationsHash: string;
}

export class PreMigrationSnapshot extends Construct {
  readonly handler: ProjectFunction;
  readonly provider: cr.Provider;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PreMigrationSnapshotProps) {
    super(scope, id);
    const { cluster, verifierUserSecret } = props.database;

    this.handler = new ProjectFunction(this, 'Handler', {
      entry: 'functions/handlers/pre-migration-snapshot.ts',
      description: 'Snapshots the cluster before a deploy applies pending migrations (custom resource)',
      timeout: Duration.minutes(1),
      environment: {
        DATA_API_RESOURCE_ARN: cluster.clusterArn,
        DATA_API_SECRET_ARN: verifierUserSecret.secretArn,
        DATA_API_DATABASE: DATABASE_NAME,
        EMS_MIGRATIONS_HASH: props.migrationsHash,
      },
    });
    grantDataApiAs(this.handler, cluster, verifierUserSecret);
    const stack = Stack.of(this);
    // Snapshots of this cluster named by the handler (`<cluster>-pre-...`) only.
    const snapshots = stack.formatArn({
      service: 'rds',
      resource: 'cluster-snapshot',
      resourceName: `${cluster.clusterIdentifier}-pre-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource'],
        resources: [cluster.clusterArn, snapshots],
      }),
    );
    this.handler.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBClusterSnapshots'], resources: [cluster.clusterArn, snapshots] }));
    acknowledge(
      this.handler.role,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:cluster-snapshot:<${stack.getLogicalId(cluster.node.defaultChild as never)}>-pre-*]`,
      "Snapshot names carry the deploy's migrations hash and time, so they are not known at synth; the grant is limited to this cluster's pre-migration snapshots.",
    );

    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      isCompleteHandler: this.handler.function,
      // A snapshot of a small cluster takes a few minutes; a large one longer.
      queryInterval: Duration.seconds(30),
      totalTimeout: Duration.hours(1),
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        // The execution input holds CloudFormation's pre-signed response URL: not logged.
        includeExecutionData: false,
      },
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      serviceTimeout: Duration.hours(1),
      resourceType: SNAPSHOT_RESOURCE_TYPE,
      properties: { MigrationsHash: props.migrationsHash, ClusterIdentifier: cluster.clusterIdentifier },
    });
    acknowledgeProviderFramework(this.provider, this.handler);
  }
}
