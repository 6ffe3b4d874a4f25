/**
 * The project's Lambda function: TypeScript bundled locally with esbuild (no
 * Docker), Node.js 24 on arm64, X-Ray tracing, its own log group with a
 * retention, and a role that may write to that log group and nothing else
 * until something is granted to it.
 */
import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../names';
import { acknowledge } from '../nag';
import { LOCK_FILE, REPO_ROOT, fromRoot } from '../paths';

export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const BUNDLE_TARGET = 'node24';
export { METRICS_NAMESPACE, SERVICE_NAME };

/**
 * Never bundled: '@aws-sdk/*' is provided by the Node.js 24 runtime (bundling
 * it would put every API handler over the 1 MB bundle budget), 'pg-native' is
 * an optional native binding node-postgres only loads when asked to.
 */
export const DEFAULT_EXTERNAL_MODULES = ['@aws-sdk/*', 'pg-native'];

export interface ProjectFunctionProps {
  /** Repository folders copied into the bundle, beside index.js, under their last path segment. */
  readonly bundledFolders?: readonly string[];
  /** Source file exporting `handler`, relative to the repository root. */
  readonly entry: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default 512 MB */
  readonly memorySize?: number;
  /** @default 29 seconds (just under the HTTP API's 30 s integration limit) */
  readonly timeout?: Duration;
  /** Further modules to leave out of the bundle. */
  readonly externalModules?: string[];
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  readonly deadLetterQueue?: sqs.IQueue;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
}

export class ProjectFunction extends Construct implements iam.IGrantable {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  /** Absolute path of the bundled source. */
  readonly entry: string;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    super(scope, id);
    this.entry = fromRoot(props.entry);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs on every log group): this function's own log group.
    this.logGroup.grantWrite(this.role);

    if (props.vpc) {
      // What Lambda needs to attach the function to the VPC (AWSLambdaVPCAccessExecutionRole without its logs:* on '*').
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: this.entry,
      handler: 'handler',
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(29),
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      deadLetterQueue: props.deadLetterQueue,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        SERVICE_NAME,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: BUNDLE_TARGET,
        format: OutputFormat.CJS,
        externalModules: [...DEFAULT_EXTERNAL_MODULES, ...(props.externalModules ?? [])],
        forceDockerBundling: false,
        logLevel: LogLevel.ERROR,
        commandHooks: props.bundledFolders?.length
          ? {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: (inputDir: string, outputDir: string) =>
                (props.bundledFolders ?? []).map((folder) => `cp -R "${path.join(inputDir, folder)}" "${path.join(outputDir, path.basename(folder))}"`),
            }
          : undefined,
      },
    });
    this.grantPrincipal = this.function.grantPrincipal;

    const findings: string[] = ['X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) have no resource-level permissions'];
    if (props.vpc) findings.push('the ENI actions Lambda uses to attach the function to its VPC subnets cannot be scoped to resources that do not exist yet');
    acknowledge(this.role, 'AwsSolutions-IAM5[Resource::*]', `Only '*' statements: ${findings.join('; ')}.`);
  }
}
