/** The benchmark's figures: printed as tables beside their bars, and kept for the JSON file. */

export type Status = 'met' | 'NOT MET' | 'info';

export interface Figure {
  readonly step: string;
  readonly metric: string;
  readonly value: string;
  readonly bar: string;
  readonly status: Status;
  readonly note?: string;
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export class Report {
  readonly figures: Figure[] = [];

  add(step: string, metric: string, value: string, bar = '', status: Status = 'info', note?: string): Figure {
    const figure: Figure = { step, metric, value, bar, status, ...(note ? { note } : {}) };
    this.figures.push(figure);
    return figure;
  }

  /** A bar: met when `ok`. */
  bar(step: string, metric: string, value: string, bar: string, ok: boolean, note?: string): Figure {
    return this.add(step, metric, value, bar, ok ? 'met' : 'NOT MET', note);
  }

  stepTable(step: string): string {
    const rows = this.figures.filter((f) => f.step === step).map((f) => [f.metric, f.value, f.bar, f.status, f.note ?? '']);
    return table(['metric', 'value', 'bar', 'status', 'note'], rows);
  }

  summaryTable(): string {
    const rows = this.figures.filter((f) => f.status !== 'info').map((f) => [f.step, f.metric, f.value, f.bar, f.status]);
    return table(['step', 'metric', 'value', 'bar', 'status'], rows);
  }
}

export const ms = (value: number, decimals = 1) => (Number.isFinite(value) ? `${value.toFixed(decimals)} ms` : 'n/a');
export const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');
export const bytes = (value: number) =>
  !Number.isFinite(value) ? 'n/a' : value >= 1024 * 1024 ? `${(value / 1024 / 1024).toFixed(2)} MB` : `${(value / 1024).toFixed(1)} KB`;
