/**
 * The bench's HTML report: this run's figures by step, each bar drawn against its limit, and
 * each figure's history across the earlier runs of the same size, with when and on what machine
 * each ran. One file with its CSS and SVG inline, no script and no link: it opens from disk,
 * offline, and can be attached to an issue as it is.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { barLimit, figureKey, formatNumber, headline, withUnit, type Headline } from './compare';
import { earlierRuns, machineLine, runDate, type BenchRun, type KeptRun } from './history';
import type { Figure, Status } from './report';

/** The step titles of run.ts, shortened: the JSON names a step by its letter only. */
export const STEP_TITLES: Record<string, string> = {
  setup: 'Setup',
  a: 'Base schema and generated marketplace',
  b: 'Messaging migrations under live load',
  c: 'Recipient lookup vs. primary-key lookup',
  d: 'HTTP API under autocannon',
  e: 'Removal of the biggest member, with concurrent lookups',
  f: 'Company stats of the biggest company',
  h: 'Data API: calls per request, end to end vs. a one-call floor',
  e2: 'Reactivation, then removal again without load',
  g: 'Lambda bundles and cold starts vs. the floor handler',
};

/** How many earlier runs stand side by side in each step's table (the sparklines show them all). */
export const SIDE_BY_SIDE_RUNS = 6;

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const STATUS_CLASS: Record<Status, string> = { met: 'met', 'NOT MET': 'missed', info: 'info' };

const statusBadge = (status: Status) => `<span class="badge ${STATUS_CLASS[status]}">${status === 'info' ? 'reported' : escape(status)}</span>`;

const svgNumber = (n: number) => (Math.round(n * 10) / 10).toString();

/** The value as a bar on a track, the limit as a line across it: how far from the bar a figure is. */
function gauge(figure: Figure, value: Headline | undefined): string {
  const limit = barLimit(figure.bar);
  if (!value || !limit || limit.unit !== value.unit || limit.value <= 0) return '';
  const width = 120;
  const height = 14;
  const scale = Math.max(value.value, limit.value) * 1.25;
  const x = (v: number) => (Math.min(v, scale) / scale) * width;
  const title = `${withUnit(value.value, value.unit)} against ≤ ${withUnit(limit.value, limit.unit)}`;
  return (
    `<svg class="gauge" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">` +
    `<title>${escape(title)}</title>` +
    `<rect class="track" x="0" y="3" width="${width}" height="8" rx="2"></rect>` +
    `<rect class="fill ${STATUS_CLASS[figure.status]}" x="0" y="3" width="${svgNumber(Math.max(1, x(value.value)))}" height="8" rx="2"></rect>` +
    `<line class="limit" x1="${svgNumber(x(limit.value))}" x2="${svgNumber(x(limit.value))}" y1="0" y2="${height}"></line>` +
    `</svg>`
  );
}

interface Point {
  readonly run: BenchRun;
  readonly figure: Figure;
  readonly value: number;
}

/** A figure across runs, oldest left, this run the last point; each point says when, where and what. */
function sparkline(points: readonly Point[], limit: number | undefined, unit: Headline['unit']): string {
  const width = 160;
  const height = 36;
  const pad = 4;
  const values = points.map((p) => p.value);
  const inRange = limit !== undefined && limit <= Math.max(...values) * 1.5 ? limit : undefined;
  const low = Math.min(...values, inRange ?? Infinity);
  const high = Math.max(...values, inRange ?? -Infinity);
  const span = high - low || Math.abs(high) || 1;
  const x = (i: number) => pad + (points.length === 1 ? (width - 2 * pad) / 2 : (i * (width - 2 * pad)) / (points.length - 1));
  const y = (v: number) => height - pad - ((v - low) / span) * (height - 2 * pad);
  const trace = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${svgNumber(x(i))} ${svgNumber(y(p.value))}`).join(' ');
  const dots = points
    .map((p, i) => {
      const last = i === points.length - 1;
      const title = `${runDate(p.run)} · ${machineLine(p.run)} · ${p.figure.value} · ${p.figure.status}${last ? ' (this run)' : ''}`;
      return `<circle class="${STATUS_CLASS[p.figure.status]}${last ? ' now' : ''}" cx="${svgNumber(x(i))}" cy="${svgNumber(y(p.value))}" r="${last ? 3.5 : 2.5}"><title>${escape(title)}</title></circle>`;
    })
    .join('');
  const limitLine =
    inRange === undefined ? '' : `<line class="limit" x1="0" x2="${width}" y1="${svgNumber(y(inRange))}" y2="${svgNumber(y(inRange))}"></line>`;
  const label = `${points.length} runs: ${withUnit(Math.min(...values), unit)} to ${withUnit(Math.max(...values), unit)}`;
  return (
    `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(label)}">` +
    `<title>${escape(label)}</title>${limitLine}<path d="${trace}"></path>${dots}</svg>`
  );
}

/** This figure in each earlier run, oldest first, where it was recorded. */
function figureHistory(figure: Figure, earlier: readonly KeptRun[]): { run: BenchRun; figure: Figure }[] {
  const key = figureKey(figure);
  return earlier.flatMap(({ run }) => {
    const found = run.figures.find((f) => figureKey(f) === key);
    return found ? [{ run, figure: found }] : [];
  });
}

/** The history cell: a sparkline where the figure is a number in this run and an earlier one, else the earlier values in words. */
function historyCell(figure: Figure, value: Headline | undefined, earlier: readonly KeptRun[], run: BenchRun): { html: string; sparkline: boolean } {
  const past = figureHistory(figure, earlier);
  if (past.length === 0) return { html: '<span class="muted">first run</span>', sparkline: false };
  if (value) {
    const points: Point[] = [];
    for (const p of past) {
      const h = headline(p.figure);
      if (h && h.unit === value.unit) points.push({ ...p, value: h.value });
    }
    if (points.length > 0) {
      points.push({ run, figure, value: value.value });
      const limit = barLimit(figure.bar);
      const previous = points[points.length - 2]!.value;
      const change = previous === 0 ? '' : `<br><span class="muted">${formatNumber(value.value / previous)}× the run before</span>`;
      return { html: `${sparkline(points, limit?.unit === value.unit ? limit.value : undefined, value.unit)}${change}`, sparkline: true };
    }
  }
  const values = past.map((p) => p.figure.value);
  const text = values.every((v) => v === values[0]) ? `${values[0]} in ${values.length} earlier run${values.length > 1 ? 's' : ''}` : `earlier: ${values.slice(-3).join(' · ')}`;
  return { html: `<span class="muted">${escape(text)}</span>`, sparkline: false };
}

/** This run and the last few before it, newest first (this run stays in view), figure by figure, as columns headed by date and machine. */
function sideBySide(figures: readonly Figure[], earlier: readonly KeptRun[], run: BenchRun): string {
  const runs = [run, ...earlier.slice(-SIDE_BY_SIDE_RUNS).map((k) => k.run).reverse()];
  if (runs.length < 2) return '';
  const byRun = runs.map((r) => new Map(r.figures.map((f) => [figureKey(f), f])));
  const head = runs
    .map((r, i) => `<th>${escape(runDate(r))}${i === 0 ? ' (this run)' : ''}<br><span class="muted">${escape(machineLine(r))}</span></th>`)
    .join('');
  const rows = figures
    .map((f) => {
      const cells = byRun
        .map((m) => {
          const g = m.get(figureKey(f));
          return g ? `<td class="${STATUS_CLASS[g.status]}">${escape(g.value)}</td>` : '<td class="muted">—</td>';
        })
        .join('');
      return `<tr><td>${escape(f.metric)}</td>${cells}</tr>`;
    })
    .join('\n');
  return (
    `<details><summary>This run and the ${runs.length - 1} before it side by side</summary>` +
    `<div class="scroll"><table class="side"><thead><tr><th>metric</th>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div></details>`
  );
}

export interface RenderedReport {
  readonly html: string;
  /** How many figures have a sparkline (a number in this run and in an earlier run of its size). */
  readonly sparklines: number;
  /** How many figures have their bar drawn against its limit. */
  readonly gauges: number;
}

/** The report of `run`, with `history` (any runs, any sizes; `run` itself may be among them). */
export function renderReport(run: BenchRun, history: readonly KeptRun[]): RenderedReport {
  const earlier = earlierRuns(history, run);
  const steps = [...new Set(run.figures.map((f) => f.step))];
  let sparklines = 0;
  let gauges = 0;
  const sections = steps.map((step) => {
    const figures = run.figures.filter((f) => f.step === step);
    const rows = figures
      .map((f) => {
        const value = headline(f);
        const bar = gauge(f, value);
        if (bar) gauges += 1;
        const history = historyCell(f, value, earlier, run);
        if (history.sparkline) sparklines += 1;
        return (
          `<tr class="${STATUS_CLASS[f.status]}"><td>${statusBadge(f.status)}</td><td>${escape(f.metric)}</td>` +
          `<td class="value">${escape(f.value)}</td><td>${escape(f.bar)}${bar ? `<br>${bar}` : ''}</td>` +
          `<td class="history">${history.html}</td><td class="note">${escape(f.note ?? '')}</td></tr>`
        );
      })
      .join('\n');
    const missed = figures.filter((f) => f.status === 'NOT MET').length;
    const met = figures.filter((f) => f.status === 'met').length;
    return (
      `<section id="step-${escape(step)}"><h2>(${escape(step)}) ${escape(STEP_TITLES[step] ?? '')}` +
      ` <span class="counts">${met + missed === 0 ? 'reported only' : `${met} met`}${missed ? `, <span class="missed-text">${missed} not met</span>` : ''}</span></h2>\n` +
      `<table class="figures"><thead><tr><th>status</th><th>metric</th><th>value</th><th>bar</th><th>history (${escape(run.size.name)} runs)</th><th>note</th></tr></thead>` +
      `<tbody>\n${rows}\n</tbody></table>\n${sideBySide(figures, earlier, run)}</section>`
    );
  });

  const missed = run.figures.filter((f) => f.status === 'NOT MET');
  const failures = run.failures ?? [];
  const verdict =
    failures.length > 0 ? `<p class="verdict missed-text">${failures.length} step(s) failed: ${escape(failures.map((f) => f.step).join(', '))}</p>`
    : missed.length > 0 ? `<p class="verdict missed-text">${missed.length} bar(s) not met: ${escape(missed.map((f) => `${f.step} ${f.metric}`).join('; '))}</p>`
    : '<p class="verdict met-text">Every bar met.</p>';
  const runRows = [...earlier].reverse().map(({ run: r }) => {
    const notMet = r.figures.filter((f) => f.status === 'NOT MET').length;
    return (
      `<tr><td>${escape(runDate(r))}</td><td>${escape(machineLine(r))}</td>` +
      `<td>${r.totalMs === undefined ? '' : `${formatNumber(r.totalMs / 1000)} s`}</td>` +
      `<td>${r.figures.filter((f) => f.status === 'met').length} met${notMet ? `, <span class="missed-text">${notMet} not met</span>` : ''}</td>` +
      `<td>${escape((r.failures ?? []).map((f) => f.step).join(', '))}</td><td><code>${escape(r.command ?? '')}</code></td></tr>`
    );
  });
  const title = `Bench report: ${run.size.name} run of ${runDate(run)}`;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>
${CSS}
</style>
</head>
<body>
<header>
<h1>${escape(title)}</h1>
<p class="machine">${escape(machineLine(run))}${run.machine?.platform ? `, ${escape(run.machine.platform)}` : ''}${run.database?.target ? `; ${escape(run.database.target)}` : ''}</p>
<p class="machine">${run.totalMs === undefined ? '' : `${formatNumber(run.totalMs / 1000)} s in all; `}<code>${escape(run.command ?? '')}</code>; ${earlier.length} earlier ${escape(run.size.name)} run${earlier.length === 1 ? '' : 's'} in the history</p>
${verdict}
<p class="legend"><span class="badge met">met</span> <span class="badge missed">NOT MET</span> <span class="badge info">reported</span>
 Under a bar: the figure on a track, the bar's limit as the dark line. History: one point per run of this size, this run the last and larger; the dashed line is the limit; hover a point for its date, machine and value.</p>
<nav>${steps.map((s) => `<a href="#step-${escape(s)}">(${escape(s)})</a>`).join(' ')}</nav>
</header>
<main>
${sections.join('\n')}
<section id="runs"><h2>Earlier ${escape(run.size.name)} runs</h2>
${runRows.length === 0 ? '<p class="muted">None yet: this is the first run of this size in the history.</p>' : `<table class="runs"><thead><tr><th>date</th><th>machine</th><th>time</th><th>bars</th><th>failed steps</th><th>command</th></tr></thead><tbody>\n${runRows.join('\n')}\n</tbody></table>`}
</section>
</main>
</body>
</html>
`;
  return { html, sparklines, gauges };
}

/** Writes the report of `run` to `file`; returns the file. */
export function writeReport(file: string, run: BenchRun, history: readonly KeptRun[]): string {
  writeFileSync(file, renderReport(run, history).html);
  return path.resolve(file);
}

const CSS = `
:root { --met: #1a7f37; --missed: #cf222e; --info: #57606a; --line: #d0d7de; --bg: #ffffff; --fg: #1f2328; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1500px; }
h1 { font-size: 1.4rem; margin: 0.2rem 0; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
.counts { font-weight: normal; font-size: 0.9rem; color: var(--info); }
.machine, .legend { color: var(--info); margin: 0.2rem 0; }
.verdict { font-weight: 600; font-size: 1.05rem; }
.met-text { color: var(--met); }
.missed-text { color: var(--missed); font-weight: 600; }
.muted { color: var(--info); font-size: 0.85rem; }
nav a { margin-right: 0.4rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.value { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.note { color: var(--info); font-size: 0.85rem; max-width: 28rem; }
td.history { white-space: nowrap; }
tr.missed td { background: #ffebe9; }
.badge { display: inline-block; padding: 0 0.45rem; border-radius: 1rem; font-size: 0.8rem; font-weight: 600; color: #fff; white-space: nowrap; }
.badge.met { background: var(--met); }
.badge.missed { background: var(--missed); }
.badge.info { background: var(--info); }
svg { display: inline-block; vertical-align: middle; overflow: visible; }
svg .track { fill: #eaeef2; }
svg .fill.met { fill: var(--met); }
svg .fill.missed { fill: var(--missed); }
svg .fill.info { fill: var(--info); }
svg .limit { stroke: var(--fg); stroke-width: 1.5; }
svg.spark .limit { stroke: var(--info); stroke-width: 1; stroke-dasharray: 3 2; }
svg.spark path { fill: none; stroke: #0969da; stroke-width: 1.5; }
svg.spark circle { fill: var(--info); }
svg.spark circle.met { fill: var(--met); }
svg.spark circle.missed { fill: var(--missed); }
svg.spark circle.now { stroke: var(--fg); stroke-width: 1; }
details { margin: 0.4rem 0 0; }
summary { cursor: pointer; color: #0969da; }
.scroll { overflow-x: auto; }
table.side td, table.side th { white-space: nowrap; font-size: 0.85rem; }
table.side thead th { white-space: normal; min-width: 10rem; max-width: 15rem; }
table.side thead th:first-child { min-width: 0; }
table.side td.met { color: var(--met); }
table.side td.missed { color: var(--missed); font-weight: 600; }
code { font-size: 0.85rem; }
@media (prefers-color-scheme: dark) {
  :root { --line: #30363d; --bg: #0d1117; --fg: #e6edf3; --info: #8d96a0; }
  th { background: #161b22; }
  tr.missed td { background: #3c1618; }
  svg .track { fill: #30363d; }
}
`.trim();
