/**
 * The project's Lambda function: TypeScript bundled locally with esbuild (no
 * Docker), Node.js 24 on arm64, its own log group with a retention, and a role
 * that may write to that log group and nothing else until something is granted
 * to it.
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
import { DEFAULT_EXTERNAL_MODULES, externalModulesFor } from '../lambda-bundling';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../names';
import { acknowledge } from '../nag';
import { LOCK_FILE, REPO_ROOT, fromRoot } from '../paths';

export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const BUNDLE_TARGET = 'node24';
export { DEFAULT_EXTERNAL_MODULES, METRICS_NAMESPACE, SERVICE_NAME };

/**
 * No X-Ray tracing. Lambda's active tracing alone records only the service's own segments
 * (initialization, invocation); the calls worth seeing are the Data API's, and tracing them takes
 * Powertools Tracer with aws-xray-sdk-core, which loads on every cold start: measured on the health
 * handler, its bundle would still fit the 250 KB budget (87 KB -> 215 KB), but its cold load with its
 * SDK client would go from about 1.2x to about 1.45x the floor handler's (bench step g; the bar is
 * 1.25x). The handlers' own metrics (requests, latency and errors per route, cold starts) and logs
 * (with the Lambda request id and API Gateway's) answer what traces would. cdk-nag's
 * Serverless-LambdaTracing is acknowledged below with this reason.
 */
const TRACING = lambda.Tracing.DISABLED;

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
  /** Runs at most this many at once (default: no limit of its own). */
  readonly reservedConcurrentExecutions?: number;
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

    // No NODE_OPTIONS=--enable-source-maps: it reads the source map on every cold start; the logged
    // stack traces are mapped when one is formatted instead (functions/shared/stack-traces.ts).
    const environment: Record<string, string> = {
      SERVICE_NAME,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      ...props.environment,
    };
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
      tracing: TRACING,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      deadLetterQueue: props.deadLetterQueue,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment,
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: BUNDLE_TARGET,
        format: OutputFormat.CJS,
        // What the function cannot load at run time is not bundled (node-postgres, unless it may use it).
        externalModules: externalModulesFor(environment, props.externalModules),
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

    if (props.vpc) {
      acknowledge(
        this.role,
        'AwsSolutions-IAM5[Resource::*]',
        "Only '*' statements: the ENI actions Lambda uses to attach the function to its VPC subnets cannot be scoped to resources that do not exist yet.",
      );
    }
    acknowledge(
      this.function,
      'Serverless-LambdaTracing',
      'X-Ray tracing is off on purpose: tracing the Data API calls needs Powertools Tracer, whose X-Ray SDK would take a handler cold load from about 1.2x to 1.45x the floor (bar 1.25x); without it a trace holds only Lambda segments the metrics and logs already give.',
    );
  }
}
