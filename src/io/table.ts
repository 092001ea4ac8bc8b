/** Plain-text tables and number formats for what people read in a terminal. */

export type Align = 'l' | 'r';

export function formatTable(headers: string[], rows: (string | number)[][], align?: Align[]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const al = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r'));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => (al[i] === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(headers), fmt(widths.map((w) => '-'.repeat(w))), ...cells.map(fmt)].join('\n');
}

/** "1 step", "2 steps", "1.5 epochs", "1,000 windows": a count and its noun, singular only for exactly one. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${typeof n === 'number' && Number.isInteger(n) ? n.toLocaleString('en-US') : n} ${n === 1 ? noun : nouns}`;
}

/** 1.23e-9 style for errors; '0' for exact zero. */
export function sci(x: number, digits = 2): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  return x.toExponential(digits);
}

/** Fixed decimals, for losses and times. */
export function fixed(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e6 ? x.toExponential(3) : x.toFixed(digits);
}

export function shape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A table printed row by row as results arrive: column widths fixed by the header (at least minWidth). */
export function streamTable(headers: string[], minWidth = 8): { head: string[]; row(cells: (string | number)[]): string } {
  const widths = headers.map((h, i) => (i === 0 ? Math.max(h.length, 6) : Math.max(h.length, minWidth)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padStart(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return {
    head: [fmt(headers), fmt(widths.map((w) => '-'.repeat(w)))],
    row: (cells) => fmt(cells.map(String)),
  };
}

/** A measured value for a table: 1 decimal from 100, 3 from 1, 3 significant digits below; "-" when not finite. */
export function num(x: number, unit = ''): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  return (a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(3) : x.toPrecision(3)) + unit;
}

/** Numbers as people read them: 4 significant digits (errors in exponent form), never a float's tail; '' for null. */
export function readable(x: unknown): string {
  if (typeof x !== 'number') return x === undefined || x === null ? '' : String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return a >= 1000 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toPrecision(4)));
}

/** A fraction as a percentage with one decimal: "87.5%". */
export const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
