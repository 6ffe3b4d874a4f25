/**
 * What run.ts does with a finished run's JSON besides `latest.json`: keeps it in the history,
 * compares it with an earlier run when asked, and writes the HTML report.
 *
 * None of it changes the bench's exit code: the figures were measured and are in `latest.json`
 * whatever happens here, so a history or report that cannot be written is a warning.
 */
import path from 'node:path';
import { comparisonText } from './compare';
import { earlierRuns, KEEP_RUNS_PER_SIZE, loadRuns, recordRun, runsDir, type BenchRun, type KeptRun } from './history';
import { writeReport } from './html-report';

/** `--compare previous` (the last earlier run of the same size in the history) or a run's JSON, read when the command line was parsed. */
export type CompareWith = { readonly kind: 'previous' } | { readonly kind: 'file'; readonly file: string; readonly run: BenchRun };

export interface KeepRunOptions {
  /** `.local/bench`: the history goes to `runs/` in it, the report to `report.html`. */
  readonly benchDir: string;
  readonly compare?: CompareWith;
  readonly keep?: number;
  readonly print?: (text: string) => void;
  readonly warn?: (text: string) => void;
}

export interface KeptFiles {
  readonly runFile?: string;
  readonly reportFile?: string;
}

export const reportPath = (benchDir: string) => path.join(benchDir, 'report.html');

/** Relative to where the command runs when under it (npm runs scripts at the project's root), else absolute. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

export function keepRun(run: BenchRun, options: KeepRunOptions): KeptFiles {
  const print = options.print ?? ((text: string) => console.log(text));
  const warn = options.warn ?? ((text: string) => console.error(text));
  let runFile: string | undefined;
  try {
    runFile = recordRun(options.benchDir, run, options.keep ?? KEEP_RUNS_PER_SIZE);
  } catch (error) {
    warn(`The run could not be kept in the history (${runsDir(options.benchDir)}): ${(error as Error).message}`);
  }
  let history: KeptRun[] = [];
  try {
    history = loadRuns(options.benchDir, (file, reason) => warn(`Left out of the history: ${reason}`));
  } catch (error) {
    warn(`The history could not be read (${runsDir(options.benchDir)}): ${(error as Error).message}`);
  }

  if (options.compare) {
    try {
      if (options.compare.kind === 'file') {
        print(`\n${comparisonText(options.compare.run, run, shortPath(options.compare.file))}`);
      } else {
        const previous = earlierRuns(history, run).at(-1);
        print(
          previous
            ? `\n${comparisonText(previous.run, run, shortPath(previous.file))}`
            : `\nNo earlier ${run.size.name} run in ${runsDir(options.benchDir)} to compare with.`,
        );
      }
    } catch (error) {
      warn(`The comparison failed: ${(error as Error).message}`);
    }
  }

  let reportFile: string | undefined;
  try {
    reportFile = writeReport(reportPath(options.benchDir), run, history);
  } catch (error) {
    warn(`The HTML report could not be written: ${(error as Error).message}`);
  }
  return { runFile, reportFile };
}
