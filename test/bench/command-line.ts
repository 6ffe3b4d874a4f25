/**
 * The bench's command line, parsed when run.ts loads (imported right after ./quiet), before
 * the product modules: the migrations read their tunables when they load, so `--help`, a bad
 * flag or a malformed variable must be dealt with first. Exit codes: functions/shared/command-line.ts.
 */
import path from 'node:path';
import { exitForCommandLineError, parseCommandLine, UsageError } from '../../functions/shared/command-line';
import { checkEnvironment, databaseSettings, migrationSettings } from '../../functions/shared/config';
import { SIZES, type BenchSize } from './generate';
import { readRun } from './history';
import type { CompareWith } from './keep-run';

export interface BenchArgs {
  readonly size: BenchSize;
  readonly jsonOut: string;
  readonly explain: boolean;
  /** `.local/bench`: the run history (runs/) and the HTML report (report.html). */
  readonly benchDir: string;
  readonly compare?: CompareWith;
}

export const BENCH_USAGE = `usage: npm run bench -- [--smoke | --full] [--explain] [--json-out <file>] [--compare previous | <file>]

Measures the performance bars (README: Performance) on generated data, on a throwaway embedded
PostgreSQL (or a fresh database on DATABASE_URL's server, dropped afterwards).

  --smoke            tiny, seconds (CI)
  --full             the full size: 1,000,000 listings (minutes)
  --explain          also print EXPLAIN (ANALYZE, BUFFERS) of the heaviest stats query
  --json-out <file>  where the JSON goes (default .local/bench/latest.json)
  --compare previous print each figure beside the last earlier run of the same size
  --compare <file>   ... or beside the run in <file> (a run's JSON, e.g. from .local/bench/runs/)
  -h, --help         this text

Every run is also kept in .local/bench/runs/ (the newest 50 of each size) and drawn, with its
history, in .local/bench/report.html.

Exit code 1: a step failed (a missed bar alone is not a failure).`;

export function parseBenchArgs(argv: readonly string[], projectRoot: string): BenchArgs {
  const { values } = parseCommandLine(
    {
      options: {
        smoke: { type: 'boolean' },
        full: { type: 'boolean' },
        explain: { type: 'boolean' },
        'json-out': { type: 'string' },
        compare: { type: 'string' },
      },
    },
    argv,
  );
  if (values.smoke && values.full) throw new UsageError('--smoke and --full exclude each other.');
  if (values['json-out'] === '') throw new UsageError('--json-out needs a file name.');
  const compare = compareWith(values.compare);
  checkEnvironment(databaseSettings, migrationSettings);
  const benchDir = path.join(projectRoot, '.local', 'bench');
  return {
    size: values.full ? SIZES.full : values.smoke ? SIZES.smoke : SIZES.quick,
    jsonOut: path.resolve(values['json-out'] ?? path.join(benchDir, 'latest.json')),
    explain: values.explain ?? false,
    benchDir,
    ...(compare ? { compare } : {}),
  };
}

/** A file to compare with is read now: a wrong name should cost a usage line, not a whole run. */
function compareWith(value: string | undefined): CompareWith | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw new UsageError("--compare needs 'previous' or a file name.");
  if (value === 'previous') return { kind: 'previous' };
  const file = path.resolve(value);
  try {
    return { kind: 'file', file, run: readRun(file) };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `no such file: ${file}` : (error as Error).message;
    throw new UsageError(`--compare: ${reason}`);
  }
}

function parseOrExit(): BenchArgs {
  try {
    return parseBenchArgs(process.argv.slice(2), path.resolve(__dirname, '..', '..'));
  } catch (error) {
    exitForCommandLineError(BENCH_USAGE, error);
    throw error;
  }
}

export const benchArgs: BenchArgs = parseOrExit();
