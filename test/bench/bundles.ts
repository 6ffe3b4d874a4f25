/**
 * Lambda bundles (step g): each route's handler bundled with esbuild the way the stack bundles it
 * (infra/constructs/project-function.ts, infra/lambda-bundling.ts: minified CommonJS with a source
 * map, '@aws-sdk/*' left to the Lambda runtime, node-postgres left out of a function on the Data
 * API alone), its size, and its cold start beside the floor handler's (floor-handler.ts: the SDK's
 * Data API client and one ExecuteStatement), bundled alike.
 *
 * Each cold start is a fresh Node.js process in a Lambda task directory that reaches nothing but
 * the runtime's AWS SDK (test/helpers/lambda-sandbox.ts), a route's and the floor's interleaved:
 * - cold load: require() of the bundle, which builds the function's Data API client (the floor's:
 *   the SDK and its client). The bar (README: Performance): ≤ 1.25× the floor's, medians of the same run.
 * - first answer (with a database): from require() until the first invocation answered through the
 *   local Data API endpoint, a route's one ExecuteStatement against the floor's. Reported.
 */
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { ROUTES, type RouteId } from '../../functions/http/routes';
import { externalModulesFor } from '../../infra/lambda-bundling';
import { apiEvent, requestReachingTheDatabase } from '../helpers/api-events';
import { startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createLambdaSandbox, dataApiEnvironment, invokeInFreshProcess, lambdaContext, type InvocationRun, type LambdaSandbox } from '../helpers/lambda-sandbox';
import { median, round } from './stats';

export const BUNDLE_TARGET = 'node22';
/** The bar for each API handler's bundle (README: Performance). */
export const MAX_API_BUNDLE_BYTES = 250 * 1024;
/** The bar for a handler's cold load (+ its SDK client) against the floor handler's. */
export const MAX_COLD_LOAD_RATIO = 1.25;
const FLOOR_ENTRY = 'test/bench/floor-handler.ts';

export interface BundleFigure {
  readonly route: RouteId;
  readonly entry: string;
  /** As deployed ('@aws-sdk/*' external, node-postgres too). */
  readonly bytes: number;
  /** Everything bundled but 'pg-native' (the AWS SDK included), for reference. */
  readonly bytesSelfContained: number;
  readonly coldLoadMs: number[];
  readonly coldLoadMedianMs: number;
  /** The floor's, measured interleaved with this route's. */
  readonly floorColdLoadMedianMs: number;
  readonly coldLoadRatio: number;
  /** The same loads' CPU time (reported beside the wall time, not judged): what waiting for a CPU on a shared machine does not change. */
  readonly coldLoadCpuMedianMs: number;
  readonly floorColdLoadCpuMedianMs: number;
  readonly coldLoadCpuRatio: number;
  /** With a database only. */
  readonly firstAnswerMedianMs?: number;
  readonly floorFirstAnswerMedianMs?: number;
  readonly firstAnswerRatio?: number;
  readonly error?: string;
}

export interface BundleFigures {
  readonly floorBytes: number;
  readonly runs: number;
  readonly routes: BundleFigure[];
}

/** Bundles every entry in one esbuild run (shared parsing); returns each output file by entry. */
async function bundleAll(entries: readonly string[], outdir: string, external: string[]): Promise<Map<string, string>> {
  const result = await build({
    entryPoints: entries.map((entry) => path.join(PROJECT_ROOT, entry)),
    outdir,
    outbase: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external,
    logLevel: 'silent',
    metafile: true,
  });
  const files = new Map<string, string>();
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    files.set(path.relative(PROJECT_ROOT, path.resolve(meta.entryPoint)), path.resolve(output));
  }
  return files;
}

/** The bundle of `entry`, alone in a directory of its own (with its source map), for a sandbox. */
async function sandboxOf(bundles: Map<string, string>, entry: string): Promise<LambdaSandbox> {
  const file = bundles.get(path.normalize(entry));
  if (!file) throw new Error(`esbuild produced no bundle for ${entry}`);
  const alone = await mkdtemp(path.join(os.tmpdir(), 'ems-bench-bundle-'));
  try {
    await cp(file, path.join(alone, 'index.js'));
    await cp(`${file}.map`, path.join(alone, 'index.js.map'));
    return await createLambdaSandbox(alone);
  } finally {
    await rm(alone, { recursive: true, force: true });
  }
}

const ratio = (a: number, b: number) => round(a / b, 3);

/**
 * Sizes, and `runs` cold starts of each route beside as many of the floor. With `dataApi` (a
 * migrated database), each cold start also answers one request through the local Data API endpoint.
 */
export async function measureBundles(options: { runs: number; dataApi?: { url: string; database: string } }): Promise<BundleFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ems-bench-bundles-'));
  const sandboxes: LambdaSandbox[] = [];
  let endpoint: DataApiEndpoint | undefined;
  try {
    const database = options.dataApi?.database ?? 'bench';
    endpoint = options.dataApi ? await startDataApiEndpoint({ connectionString: options.dataApi.url }) : undefined;
    // Without a database any address does: building the client sends nothing.
    const environmentOf = (functionName: string): Record<string, string> =>
      dataApiEnvironment({ endpointUrl: endpoint?.url ?? 'http://127.0.0.1:9', database, functionName });
    const entries = [...ROUTES.map((r) => r.entry), FLOOR_ENTRY];
    const deployed = await bundleAll(entries, path.join(dir, 'deployed'), externalModulesFor(environmentOf('any')));
    const selfContained = await bundleAll(ROUTES.map((r) => r.entry), path.join(dir, 'self-contained'), ['pg-native']);
    const floor = await sandboxOf(deployed, FLOOR_ENTRY);
    sandboxes.push(floor);
    const floorBytes = (await stat(floor.module)).size;

    const coldStart = (sandbox: LambdaSandbox, functionName: string, event: unknown): Promise<InvocationRun> =>
      invokeInFreshProcess({
        module: sandbox.module,
        environment: { ...environmentOf(functionName), NODE_PATH: sandbox.nodePath },
        invocations: endpoint ? [{ event, context: lambdaContext(functionName) }] : [],
      });

    const routes: BundleFigure[] = [];
    for (const route of ROUTES) {
      try {
        const sandbox = await sandboxOf(deployed, route.entry);
        sandboxes.push(sandbox);
        const selfContainedFile = selfContained.get(path.normalize(route.entry));
        const bytes = (await stat(sandbox.module)).size;
        const bytesSelfContained = selfContainedFile ? (await stat(selfContainedFile)).size : Number.NaN;
        const routeRuns: InvocationRun[] = [];
        const floorRuns: InvocationRun[] = [];
        for (let i = 0; i < options.runs; i += 1) {
          const event = apiEvent(route.id, requestReachingTheDatabase(route.id));
          // Alternating which goes first: neither profits from what the other just loaded into the page cache.
          if (i % 2 === 0) {
            routeRuns.push(await coldStart(sandbox, route.id, event));
            floorRuns.push(await coldStart(floor, 'floor', {}));
          } else {
            floorRuns.push(await coldStart(floor, 'floor', {}));
            routeRuns.push(await coldStart(sandbox, route.id, event));
          }
        }
        const failed = routeRuns.map((r) => r.responses[0] as { statusCode?: number } | undefined).find((r) => r && (r.statusCode ?? 500) >= 500);
        if (failed) throw new Error(`the first request answered ${failed.statusCode}`);
        const coldLoadMs = routeRuns.map((r) => round(r.loadMs, 2));
        const coldLoadMedianMs = median(coldLoadMs);
        const floorColdLoadMedianMs = median(floorRuns.map((r) => r.loadMs));
        const coldLoadCpuMedianMs = median(routeRuns.map((r) => r.loadCpuMs));
        const floorColdLoadCpuMedianMs = median(floorRuns.map((r) => r.loadCpuMs));
        const answered = endpoint
          ? {
              firstAnswerMedianMs: round(median(routeRuns.map((r) => r.firstAnswerMs)), 2),
              floorFirstAnswerMedianMs: round(median(floorRuns.map((r) => r.firstAnswerMs)), 2),
              firstAnswerRatio: ratio(median(routeRuns.map((r) => r.firstAnswerMs)), median(floorRuns.map((r) => r.firstAnswerMs))),
            }
          : {};
        routes.push({
          route: route.id,
          entry: route.entry,
          bytes,
          bytesSelfContained,
          coldLoadMs,
          coldLoadMedianMs: round(coldLoadMedianMs, 2),
          floorColdLoadMedianMs: round(floorColdLoadMedianMs, 2),
          coldLoadRatio: ratio(coldLoadMedianMs, floorColdLoadMedianMs),
          coldLoadCpuMedianMs: round(coldLoadCpuMedianMs, 2),
          floorColdLoadCpuMedianMs: round(floorColdLoadCpuMedianMs, 2),
          coldLoadCpuRatio: ratio(coldLoadCpuMedianMs, floorColdLoadCpuMedianMs),
          ...answered,
        });
      } catch (error) {
        routes.push({
          route: route.id,
          entry: route.entry,
          bytes: Number.NaN,
          bytesSelfContained: Number.NaN,
          coldLoadMs: [],
          coldLoadMedianMs: Number.NaN,
          floorColdLoadMedianMs: Number.NaN,
          coldLoadRatio: Number.NaN,
          coldLoadCpuMedianMs: Number.NaN,
          floorColdLoadCpuMedianMs: Number.NaN,
          coldLoadCpuRatio: Number.NaN,
          error: (error as Error).message,
        });
      }
    }
    return { floorBytes, runs: options.runs, routes };
  } finally {
    await endpoint?.close();
    await Promise.all(sandboxes.map((s) => s.cleanup()));
    await rm(dir, { recursive: true, force: true });
  }
}
