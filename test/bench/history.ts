/**
 * The bench's run history: every run's JSON kept under `<bench dir>/runs/`, so a run can be
 * compared with earlier ones (compare.ts) and drawn beside them (html-report.ts).
 *
 * A file is named `<startedAt, ':' as '-'>-<size>.json`: the name alone sorts by time and
 * tells the size, so pruning never has to open a file. Only files of that shape are ever
 * deleted, so anything else put there by hand stays.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Figure } from './report';

/** What the history needs of a run's JSON (run.ts writes more: steps, plans, the generated data). */
export interface BenchRun {
  readonly startedAt: string;
  readonly totalMs?: number;
  readonly command?: string;
  readonly size: { readonly name: string };
  readonly machine?: {
    readonly cpus?: number;
    readonly cpuModel?: string;
    readonly memoryGiB?: number;
    readonly platform?: string;
    readonly node?: string;
    readonly loadAverageAtStart?: readonly number[];
  };
  readonly database?: { readonly postgresVersion?: string; readonly target?: string | null };
  readonly figures: readonly Figure[];
  readonly barsMissed?: readonly string[];
  readonly failures?: readonly { readonly step: string; readonly message: string }[];
}

/** A run as found in the history, with where it is. */
export interface KeptRun {
  readonly file: string;
  readonly run: BenchRun;
}

/**
 * Per size: a full run is rare and slow, and should not be pushed out of the history by a
 * morning of smoke runs.
 */
export const KEEP_RUNS_PER_SIZE = 50;

const RUN_FILE = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(?:\.\d+)?Z)-([A-Za-z0-9_]+)(?:-\d+)?\.json$/;

export const runsDir = (benchDir: string) => path.join(benchDir, 'runs');

export function runFileName(run: Pick<BenchRun, 'startedAt' | 'size'>): string {
  return `${new Date(run.startedAt).toISOString().replace(/:/g, '-')}-${run.size.name}.json`;
}

/** Whether `value` looks like a run's JSON: the fields the history, the report and the comparison read. */
export function isBenchRun(value: unknown): value is BenchRun {
  const run = value as Partial<BenchRun> | null;
  return (
    typeof run === 'object' && run !== null &&
    typeof run.startedAt === 'string' && !Number.isNaN(Date.parse(run.startedAt)) &&
    typeof run.size?.name === 'string' &&
    Array.isArray(run.figures) &&
    run.figures.every((f) => typeof f?.step === 'string' && typeof f.metric === 'string' && typeof f.value === 'string')
  );
}

/** Reads one run's JSON; throws with the file's name when it is not one (a missing file throws ENOENT as is). */
export function readRun(file: string): BenchRun {
  const text = readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  if (!isBenchRun(parsed)) throw new Error(`${file} is not a bench run's JSON (it needs startedAt, size.name and figures).`);
  return parsed;
}

/** Keeps `run` in the history and prunes the oldest runs of its size beyond `keep`; returns the file. */
export function recordRun(benchDir: string, run: BenchRun, keep = KEEP_RUNS_PER_SIZE): string {
  const dir = runsDir(benchDir);
  mkdirSync(dir, { recursive: true });
  let file = path.join(dir, runFileName(run));
  // Two runs started in the same millisecond (only ever seen from a test): neither overwrites the other.
  for (let n = 2; existsSync(file); n += 1) file = path.join(dir, runFileName(run).replace(/\.json$/, `-${n}.json`));
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  pruneRuns(benchDir, keep);
  return file;
}

/** Deletes all but the newest `keep` runs of each size; returns the files deleted. */
export function pruneRuns(benchDir: string, keep = KEEP_RUNS_PER_SIZE): string[] {
  const dir = runsDir(benchDir);
  if (!existsSync(dir)) return [];
  const bySize = new Map<string, string[]>();
  for (const name of readdirSync(dir)) {
    const match = RUN_FILE.exec(name);
    if (!match) continue;
    bySize.set(match[2]!, [...(bySize.get(match[2]!) ?? []), name]);
  }
  const deleted: string[] = [];
  for (const names of bySize.values()) {
    names.sort();
    for (const name of names.slice(0, Math.max(0, names.length - keep))) {
      rmSync(path.join(dir, name), { force: true });
      deleted.push(path.join(dir, name));
    }
  }
  return deleted;
}

/**
 * Every readable run in the history, oldest first. A file that cannot be read is passed to
 * `skipped` and left out: one damaged file must not cost the report.
 */
export function loadRuns(benchDir: string, skipped: (file: string, reason: string) => void = () => undefined): KeptRun[] {
  const dir = runsDir(benchDir);
  if (!existsSync(dir)) return [];
  const runs: KeptRun[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    try {
      runs.push({ file, run: readRun(file) });
    } catch (error) {
      skipped(file, (error as Error).message);
    }
  }
  return runs.sort((a, b) => Date.parse(a.run.startedAt) - Date.parse(b.run.startedAt) || a.file.localeCompare(b.file));
}

/** The runs of `run`'s size that started before it, oldest first. */
export function earlierRuns(runs: readonly KeptRun[], run: BenchRun): KeptRun[] {
  const started = Date.parse(run.startedAt);
  return runs.filter((r) => r.run.size.name === run.size.name && Date.parse(r.run.startedAt) < started);
}

/** "2 × Intel(R) Xeon(R) Processor, 23.5 GiB, Node.js v20.20.2, load 2.19": what makes runs comparable, in one line. */
export function machineLine(run: BenchRun): string {
  const m = run.machine;
  if (!m) return 'machine not recorded';
  const parts = [
    `${m.cpus ?? '?'} × ${m.cpuModel ?? 'unknown CPU'}`,
    m.memoryGiB === undefined ? undefined : `${m.memoryGiB} GiB`,
    m.node ? `Node.js ${m.node}` : undefined,
    run.database?.postgresVersion ? `PostgreSQL ${run.database.postgresVersion}` : undefined,
    m.loadAverageAtStart?.length ? `load ${Math.round(m.loadAverageAtStart[0]! * 100) / 100}` : undefined,
  ];
  return parts.filter(Boolean).join(', ');
}

/** "2026-11-30 05:25 UTC": one time zone for every reader of the report. */
export function runDate(run: Pick<BenchRun, 'startedAt'>): string {
  return `${new Date(run.startedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
