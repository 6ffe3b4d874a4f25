/**
 * A Lambda handler run the way Lambda runs it: a fresh Node.js process that loads the module, then
 * invokes `handler(event, context)` with Lambda's context object, and everything it prints captured.
 *
 * `createLambdaSandbox` puts a bundle where Lambda would have it: a task directory with nothing but
 * the bundle, and the AWS SDK resolvable only the way the runtime provides it (NODE_PATH). No other
 * package of node_modules is reachable, so a module the bundle leaves out (node-postgres) fails to
 * load there as it would in Lambda. `dataApiEnvironment` points the real SDK client at the local
 * Data API endpoint (test/helpers/data-api-endpoint.ts), over a real PostgreSQL.
 *
 * The child is spawned asynchronously: the endpoint answering its calls runs in this process.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from './data-api-endpoint';

/** The fields of Lambda's context object (the child adds its methods). */
export interface LambdaContextFields {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly callbackWaitsForEmptyEventLoop: boolean;
}

export function lambdaContext(functionName: string, awsRequestId: string = randomUUID()): LambdaContextFields {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/01/01/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    callbackWaitsForEmptyEventLoop: true,
  };
}

export interface Invocation {
  readonly event: unknown;
  /** Lambda's context; none, as `npm start`'s server calls the handlers. */
  readonly context?: LambdaContextFields;
}

export interface InvocationRun {
  /** require() of the module (wall time). */
  readonly loadMs: number;
  /** The CPU time (user and system, every thread of the process) the require() took. */
  readonly loadCpuMs: number;
  /** From before require() until the first invocation answered: what a cold start costs the first caller. */
  readonly firstAnswerMs: number;
  /** What each invocation returned (an API Gateway result for the API's handlers). */
  readonly responses: readonly unknown[];
  /** Everything the process printed on stdout, line by line, without the harness's own lines. */
  readonly stdout: readonly string[];
  /** stdout lines by invocation (printed while it ran); with `concurrently`, all under the first. */
  readonly stdoutByInvocation: readonly (readonly string[])[];
  readonly stderr: string;
}

const INVOCATION_MARK = '@@ems-invocation ';
const RESULT_MARK = '@@ems-result ';

// Plain JavaScript run with `node -e`: nothing but Node.js between the timer and the module.
const CHILD = `
const { performance } = require('node:perf_hooks');
(async () => {
  const spec = JSON.parse(process.argv[1]);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const { handler } = require(spec.module);
  const loadMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const loadCpuMs = (cpu.user + cpu.system) / 1000;
  const invoke = (i) => handler(i.event, i.context && { ...i.context, getRemainingTimeInMillis: () => 29000, done() {}, fail() {}, succeed() {} });
  let responses;
  let firstAnswerMs;
  if (spec.concurrently) {
    process.stdout.write(${JSON.stringify(INVOCATION_MARK)} + '0\\n');
    responses = await Promise.all(spec.invocations.map(invoke));
    firstAnswerMs = performance.now() - started;
  } else {
    responses = [];
    for (const [n, invocation] of spec.invocations.entries()) {
      process.stdout.write(${JSON.stringify(INVOCATION_MARK)} + n + '\\n');
      responses.push(await invoke(invocation));
      if (n === 0) firstAnswerMs = performance.now() - started;
    }
  }
  process.stdout.write(${JSON.stringify(RESULT_MARK)} + JSON.stringify({ loadMs, loadCpuMs, firstAnswerMs, responses }) + '\\n', () => process.exit(0));
})().catch((error) => process.stderr.write(String((error && error.stack) || error) + '\\n', () => process.exit(1)));
`;

export interface InvokeOptions {
  /** Absolute path of the module exporting `handler` (a bundle, or a TypeScript source with `nodeArgs: ['--import', 'tsx']`). */
  readonly module: string;
  /** The child's whole environment (nothing of this process's is passed on but PATH). */
  readonly environment: Record<string, string>;
  readonly invocations: readonly Invocation[];
  /** All at once in the one process (as `npm start`'s server runs its handlers), instead of one after the other (as Lambda). */
  readonly concurrently?: boolean;
  readonly nodeArgs?: readonly string[];
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

export function invokeInFreshProcess(options: InvokeOptions): Promise<InvocationRun> {
  const spec = JSON.stringify({ module: options.module, invocations: options.invocations, concurrently: options.concurrently ?? false });
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '-e', CHILD, spec], {
    cwd: options.cwd ?? path.dirname(options.module),
    env: { PATH: process.env.PATH ?? '', ...options.environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter((line) => line !== '');
      const result = lines.find((line) => line.startsWith(RESULT_MARK));
      if (code !== 0 || !result) {
        reject(new Error(`${path.basename(options.module)} exited with ${signal ?? code}${signal === 'SIGKILL' ? ` (after ${timeoutMs} ms)` : ''}:\n${stderr}\n${stdout}`.trim()));
        return;
      }
      const byInvocation: string[][] = [];
      const printed: string[] = [];
      for (const line of lines) {
        if (line.startsWith(INVOCATION_MARK)) byInvocation.push([]);
        else if (!line.startsWith(RESULT_MARK)) {
          printed.push(line);
          byInvocation.at(-1)?.push(line);
        }
      }
      const { loadMs, loadCpuMs, firstAnswerMs, responses } = JSON.parse(result.slice(RESULT_MARK.length)) as Pick<InvocationRun, 'loadMs' | 'loadCpuMs' | 'firstAnswerMs' | 'responses'>;
      resolve({ loadMs, loadCpuMs, firstAnswerMs, responses, stdout: printed, stdoutByInvocation: byInvocation, stderr });
    });
  });
}

export interface LambdaSandbox {
  /** The bundle's entry, in the task directory. */
  readonly module: string;
  /** NODE_PATH of a process run in the sandbox: the runtime's modules (the AWS SDK), nothing else. */
  readonly nodePath: string;
  cleanup(): Promise<void>;
}

/** Copies a bundle directory (index.js and its source map) into a task directory of its own. */
export async function createLambdaSandbox(bundleDirectory: string, entry = 'index.js'): Promise<LambdaSandbox> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ems-lambda-sandbox-'));
  const task = path.join(root, 'var', 'task');
  const runtimeModules = path.join(root, 'var', 'runtime', 'node_modules');
  await cp(bundleDirectory, task, { recursive: true });
  await mkdir(runtimeModules, { recursive: true });
  // What the Node.js 24 runtime provides: the AWS SDK v3 (its own dependencies resolve from where it really is).
  await symlink(path.join(PROJECT_ROOT, 'node_modules', '@aws-sdk'), path.join(runtimeModules, '@aws-sdk'), 'dir');
  return {
    module: path.join(task, entry),
    nodePath: runtimeModules,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * What the stack gives an API function (infra/api-stack.ts, infra/constructs/project-function.ts),
 * with the Data API at the local endpoint and the credentials and settings Lambda provides.
 */
export function dataApiEnvironment(options: { endpointUrl: string; database: string; functionName: string }): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret',
    AWS_ENDPOINT_URL_RDS_DATA: options.endpointUrl,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    // Powertools counts a cold start only in an environment Lambda started on demand.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    DATA_API_RESOURCE_ARN: LOCAL_RESOURCE_ARN,
    DATA_API_SECRET_ARN: LOCAL_SECRET_ARN,
    DATA_API_DATABASE: options.database,
    SERVICE_NAME: 'enhanced-messaging',
    POWERTOOLS_SERVICE_NAME: 'enhanced-messaging',
    POWERTOOLS_METRICS_NAMESPACE: 'EnhancedMessaging',
  };
}
