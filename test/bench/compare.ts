/**
 * Figures as numbers, and one run against an earlier one.
 *
 * A figure's value is the text printed in the tables ("12.0 ms", "85.9 KB", "48.6 ms vs 40.0 ms
 * (1.22×)", "2801 requests/s", "3 ms / 9 ms"); the history keeps nothing else, so the number is
 * read back from that text: the ratio where there is one (it is what the bar judges), else the
 * first number. Units are brought to ms and KB so that "0.9 KB" and "1.20 MB" compare.
 */
import { machineLine, runDate, type BenchRun } from './history';
import { table, type Figure } from './report';

export type Unit = 'ms' | 'KB' | '×' | 'requests/s' | '';

export interface Headline {
  readonly value: number;
  readonly unit: Unit;
  /** Which way is better, where the figure says: times, sizes and ratios lower, throughput higher. */
  readonly better: 'lower' | 'higher' | undefined;
  /** One step of the last digit printed ("0.4 ms": 0.1 ms), in `unit`: a difference this small may be rounding alone. */
  readonly resolution: number;
}

/**
 * A change beyond this (10%) is called worse or better; below it, run-to-run noise on a shared
 * machine. So is a change of one step of the last digit printed, whatever its percentage.
 */
export const NOISE = 0.1;

const NUMBER = String.raw`(\d[\d,]*(?:\.\d+)?)`;
const UNIT_FACTOR: Record<string, { unit: Unit; factor: number }> = {
  ms: { unit: 'ms', factor: 1 },
  s: { unit: 'ms', factor: 1000 },
  KB: { unit: 'KB', factor: 1 },
  MB: { unit: 'KB', factor: 1024 },
  'requests/s': { unit: 'requests/s', factor: 1 },
};

const toNumber = (text: string) => Number(text.replace(/,/g, ''));

const step = (number: string, factor: number) => 10 ** -(number.split('.')[1]?.length ?? 0) * factor;

/** A number with its unit from `text`: the ratio in "(1.22×)" or a bare "0.95×" first, else the first number. */
function firstQuantity(text: string): { value: number; unit: Unit; resolution: number } | undefined {
  const ratio = new RegExp(`${NUMBER}×`).exec(text);
  if (ratio) return { value: toNumber(ratio[1]!), unit: '×', resolution: step(ratio[1]!, 1) };
  const quantity = new RegExp(`${NUMBER}(?:\\s*(requests/s|ms|s|KB|MB)\\b)?`).exec(text);
  if (!quantity) return undefined;
  const unit = quantity[2] ? UNIT_FACTOR[quantity[2]]! : { unit: '' as Unit, factor: 1 };
  // A bare count is exact: nothing was rounded.
  return { value: toNumber(quantity[1]!) * unit.factor, unit: unit.unit, resolution: unit.unit === '' ? 0 : step(quantity[1]!, unit.factor) };
}

/** The number a figure stands for, or undefined for a word ("true", "none", "failed"). */
export function headline(figure: Pick<Figure, 'value' | 'bar'>): Headline | undefined {
  if (!/^\s*\d/.test(figure.value)) return undefined;
  const q = firstQuantity(figure.value);
  if (!q || !Number.isFinite(q.value)) return undefined;
  const better =
    q.unit === 'requests/s' ? 'higher'
    : q.unit !== '' ? 'lower'
    // A bare count is better lower only where its bar says so ("0"); else it is a size of the data.
    : /^\s*(0|≤)/.test(figure.bar) ? 'lower'
    : undefined;
  return { value: q.value, unit: q.unit, better, resolution: q.resolution };
}

/** The ceiling a bar sets ("≤ 250 KB", "≤ 1.1×", "≤ 2 s (full size)"), in the units of headline(). */
export function barLimit(bar: string): { value: number; unit: Unit } | undefined {
  const match = /^\s*≤\s*(.*)$/.exec(bar);
  const limit = match ? firstQuantity(match[1]!) : undefined;
  return limit && { value: limit.value, unit: limit.unit };
}

export const figureKey = (f: Pick<Figure, 'step' | 'metric'>) => `${f.step}\u0000${f.metric}`;

/** A number as people write it: at most three significant digits after the point. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export const withUnit = (value: number, unit: Unit) => (unit === '' ? formatNumber(value) : unit === '×' ? `${formatNumber(value)}×` : `${formatNumber(value)} ${unit}`);

export type Verdict = 'worse' | 'better' | 'same' | 'changed' | 'bar now NOT MET' | 'bar now met';

export interface FigureChange {
  readonly step: string;
  readonly metric: string;
  readonly before: Figure;
  readonly now: Figure;
  /** now / before, where both are numbers and before is not 0. */
  readonly ratio?: number;
  /** now − before, in `unit`. */
  readonly delta?: number;
  readonly unit?: Unit;
  readonly verdict: Verdict;
}

export interface Comparison {
  readonly changes: readonly FigureChange[];
  /** Figures this run has that the earlier one did not (a step that failed then, or is new). */
  readonly onlyNow: readonly Figure[];
  readonly onlyBefore: readonly Figure[];
}

function verdictOf(before: Figure, now: Figure, a: Headline | undefined, b: Headline | undefined): Pick<FigureChange, 'ratio' | 'delta' | 'unit' | 'verdict'> {
  const statusChange: Verdict | undefined =
    before.status !== 'NOT MET' && now.status === 'NOT MET' ? 'bar now NOT MET'
    : before.status === 'NOT MET' && now.status === 'met' ? 'bar now met'
    : undefined;
  if (!a || !b || a.unit !== b.unit) {
    return { verdict: statusChange ?? (before.value === now.value ? 'same' : 'changed') };
  }
  const delta = b.value - a.value;
  const ratio = a.value === 0 ? undefined : b.value / a.value;
  const relative = a.value === 0 ? (b.value === 0 ? 0 : Infinity) : Math.abs(delta) / Math.abs(a.value);
  const direction = b.better;
  let verdict: Verdict = 'same';
  // "0.3 ms" → "0.4 ms" may be 0.349 → 0.350: not a change anyone can call worse.
  const withinRounding = Math.abs(delta) <= Math.max(a.resolution, b.resolution) + 1e-9;
  if (relative > NOISE && !withinRounding) verdict = direction === undefined ? 'changed' : (delta > 0) === (direction === 'lower') ? 'worse' : 'better';
  return { ratio, delta, unit: b.unit, verdict: statusChange ?? verdict };
}

/** Every figure of `now` beside the same figure (step and metric) of `before`. */
export function compareRuns(before: BenchRun, now: BenchRun): Comparison {
  const earlier = new Map(before.figures.map((f) => [figureKey(f), f]));
  const current = new Set(now.figures.map(figureKey));
  const changes: FigureChange[] = [];
  const onlyNow: Figure[] = [];
  for (const figure of now.figures) {
    const old = earlier.get(figureKey(figure));
    if (!old) {
      onlyNow.push(figure);
      continue;
    }
    changes.push({ step: figure.step, metric: figure.metric, before: old, now: figure, ...verdictOf(old, figure, headline(old), headline(figure)) });
  }
  return { changes, onlyNow, onlyBefore: before.figures.filter((f) => !current.has(figureKey(f))) };
}

export const isRegression = (c: FigureChange) => c.verdict === 'worse' || c.verdict === 'bar now NOT MET';

const sign = (n: number) => (n > 0 ? '+' : n < 0 ? '−' : '±');

/** "+14%, +0.15×": relative first (as a percentage, since many figures are ratios already), then absolute. */
function changeText(c: FigureChange): string {
  if (c.delta === undefined || c.unit === undefined) return '';
  const delta = `${sign(c.delta)}${withUnit(Math.abs(c.delta), c.unit)}`;
  if (c.ratio === undefined) return delta;
  const percent = (c.ratio - 1) * 100;
  return `${sign(percent)}${Math.abs(percent).toFixed(Math.abs(percent) >= 10 ? 0 : 1)}%, ${delta}`;
}

/** The comparison as the terminal shows it: a table of every figure, then the regressions named. */
export function comparisonText(before: BenchRun, now: BenchRun, source: string): string {
  const { changes, onlyNow, onlyBefore } = compareRuns(before, now);
  const lines = [`Compared with the ${before.size.name} run of ${runDate(before)} (${machineLine(before)}), ${source}:`];
  if (before.size.name !== now.size.name) lines.push(`  note: that run was size ${before.size.name}, this one ${now.size.name}: most figures depend on the size.`);
  if (machineLine(before).replace(/, load .*$/, '') !== machineLine(now).replace(/, load .*$/, '')) {
    lines.push(`  note: another machine or runtime (now ${machineLine(now)}).`);
  }
  const rows = changes.map((c) => [c.step, c.metric, c.before.value, c.now.value, changeText(c), c.verdict === 'same' ? '' : c.verdict]);
  lines.push(table(['step', 'metric', 'earlier', 'now', 'change', 'verdict'], rows));
  if (onlyNow.length > 0) lines.push(`Only in this run: ${onlyNow.map((f) => `${f.step} ${f.metric}`).join('; ')}`);
  if (onlyBefore.length > 0) lines.push(`Only in the earlier run: ${onlyBefore.map((f) => `${f.step} ${f.metric}`).join('; ')}`);
  const worse = changes.filter(isRegression);
  lines.push(
    worse.length === 0
      ? `Nothing worse by more than ${NOISE * 100}% and no bar newly missed.`
      : `Worse than the earlier run (by more than ${NOISE * 100}%, or a bar newly missed): ${worse.length}\n` +
          worse.map((c) => `  ${c.step} ${c.metric}: ${c.before.value} → ${c.now.value} (${[c.verdict === 'worse' ? '' : c.verdict, changeText(c)].filter(Boolean).join('; ')})`).join('\n'),
  );
  return lines.join('\n');
}
