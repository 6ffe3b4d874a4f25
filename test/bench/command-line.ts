/**
 * The bench's command line, parsed when run.ts loads (imported right after ./quiet), before
 * the product modules: the migrations read their tunables when they load, so `--help`, a bad
 * flag or a malformed variable must be dealt with first. Exit codes: functions/shared/command-line.ts.
 */
import path from 'node:path';
import { exitForCommandLineError, parseCommandLine, UsageError } from '../../functions/shared/command-line';
import { checkEnvironment, databaseSettings, migrationSettings } from '../../functions/shared/config';
import { SIZES, type BenchSize } from './generate';

export interface BenchArgs {
  readonly size: BenchSize;
  readonly jsonOut: string;
  readonly explain: boolean;
}

export const BENCH_USAGE = `usage: npm run bench -- [--smoke | --full] [--explain] [--json-out <file>]

Measures the performance bars of QUALITY.md on generated data, on a throwaway embedded
PostgreSQL (or a fresh database on DATABASE_URL's server, dropped afterwards).

  --smoke            tiny, seconds (CI)
  --full             the QUALITY.md size: 1,000,000 listings (minutes)
  --explain          also print EXPLAIN (ANALYZE, BUFFERS) of the heaviest stats query
  --json-out <file>  where the JSON goes (default .local/bench/latest.json)
  -h, --help         this text

Exit code 1: a step failed (a missed bar alone is not a failure).`;

export function parseBenchArgs(argv: readonly string[], projectRoot: string): BenchArgs {
  const { values } = parseCommandLine(
    { options: { smoke: { type: 'boolean' }, full: { type: 'boolean' }, explain: { type: 'boolean' }, 'json-out': { type: 'string' } } },
    argv,
  );
  if (values.smoke && values.full) throw new UsageError('--smoke and --full exclude each other.');
  if (values['json-out'] === '') throw new UsageError('--json-out needs a file name.');
  checkEnvironment(databaseSettings, migrationSettings);
  return {
    size: values.full ? SIZES.full : values.smoke ? SIZES.smoke : SIZES.quick,
    jsonOut: path.resolve(values['json-out'] ?? path.join(projectRoot, '.local', 'bench', 'latest.json')),
    explain: values.explain ?? false,
  };
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
