/**
 * Lambda bundles: each route's handler bundled with esbuild the way the stack
 * bundles it (infra/constructs/project-function.ts: minified CommonJS, '@aws-sdk/*'
 * left to the Lambda runtime, 'pg-native' never loaded), its size, and its cold
 * module-load time in a fresh Node.js process (median of a few runs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { ROUTES } from '../../functions/http/routes';
import { median, round } from './stats';

/** What the stack leaves out of every bundle (DEFAULT_EXTERNAL_MODULES in infra/constructs/project-function.ts). */
export const DEPLOYED_EXTERNALS = ['@aws-sdk/*', 'pg-native'];
export const BUNDLE_TARGET = 'node22';
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export interface BundleFigure {
  readonly route: string;
  readonly entry: string;
  /** As deployed ('@aws-sdk/*' external). */
  readonly bytes: number;
  /** Everything bundled but 'pg-native' (the AWS SDK included), for reference. */
  readonly bytesSelfContained: number;
  readonly coldLoadMs: number[];
  readonly coldLoadMedianMs: number;
  readonly error?: string;
}

// What a handler needs to load in AWS (functions/shared/config.ts): the Data API settings.
const LAMBDA_ENVIRONMENT: Record<string, string> = {
  DATA_API_RESOURCE_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:ems-bench',
  DATA_API_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ems-bench',
  DATA_API_DATABASE: 'marketplace',
  AWS_REGION: 'eu-west-1',
  SERVICE_NAME: 'enhanced-messaging',
  POWERTOOLS_SERVICE_NAME: 'enhanced-messaging',
  POWERTOOLS_METRICS_NAMESPACE: 'EnhancedMessaging',
};

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
    external,
    logLevel: 'silent',
    metafile: true,
  });
  const files = new Map<string, string>();
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const entry = path.relative(PROJECT_ROOT, path.resolve(meta.entryPoint));
    files.set(entry, path.resolve(output));
  }
  return files;
}

function coldLoad(file: string): number {
  const script = `const t=process.hrtime.bigint();const m=require(${JSON.stringify(file)});` +
    `if(typeof m.handler!=='function')throw new Error('no handler export');console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  // NODE_PATH: the externals resolve as the Lambda runtime resolves its own '@aws-sdk/*'.
  const environment: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_PATH: path.join(PROJECT_ROOT, 'node_modules'),
    ...LAMBDA_ENVIRONMENT,
  };
  const result = spawnSync(process.execPath, ['-e', script], { env: environment, encoding: 'utf8', cwd: path.dirname(file), timeout: 30_000 });
  if (result.status !== 0) throw new Error(`loading ${path.basename(file)} failed: ${(result.stderr || result.stdout || String(result.error)).trim().slice(0, 500)}`);
  const ms = Number(result.stdout.trim().split('\n').pop());
  if (!Number.isFinite(ms)) throw new Error(`unexpected output loading ${path.basename(file)}: ${result.stdout}`);
  return ms;
}

export async function measureBundles(runs: number): Promise<BundleFigure[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ems-bench-bundles-'));
  const figures: BundleFigure[] = [];
  try {
    const entries = ROUTES.map((r) => r.entry);
    const deployed = await bundleAll(entries, path.join(dir, 'deployed'), DEPLOYED_EXTERNALS);
    const selfContained = await bundleAll(entries, path.join(dir, 'self-contained'), ['pg-native']);
    for (const route of ROUTES) {
      try {
        const file = deployed.get(path.normalize(route.entry));
        const fileSelfContained = selfContained.get(path.normalize(route.entry));
        if (!file || !fileSelfContained) throw new Error(`esbuild produced no bundle for ${route.entry}`);
        const bytes = (await stat(file)).size;
        const bytesSelfContained = (await stat(fileSelfContained)).size;
        const coldLoadMs: number[] = [];
        for (let i = 0; i < runs; i += 1) coldLoadMs.push(round(coldLoad(file), 1));
        figures.push({ route: route.id, entry: route.entry, bytes, bytesSelfContained, coldLoadMs, coldLoadMedianMs: round(median(coldLoadMs), 1) });
      } catch (error) {
        figures.push({
          route: route.id,
          entry: route.entry,
          bytes: Number.NaN,
          bytesSelfContained: Number.NaN,
          coldLoadMs: [],
          coldLoadMedianMs: Number.NaN,
          error: (error as Error).message,
        });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
