/**
 * Small, dependency-free SVG charts: line charts (loss curves), grouped bar charts (timings),
 * heat maps (errors per parameter and gate, confusion matrices). Every chart is a standalone <svg>
 * with axes, a title and a legend; series are <g class="series" data-name="..."> so a test (or a
 * person with devtools) can count them.
 */

/** One chart: its SVG, an id for files and pages, and the series it shows (for tests). */
export interface Chart {
  id: string;
  title: string;
  svg: string;
  /** series the chart is expected to show (for tests) */
  series: number;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The smallest and largest of many numbers (no spread into Math.min / Math.max, which overflows the stack past ~100k). */
export function extent(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] < lo) lo = xs[i];
    if (xs[i] > hi) hi = xs[i];
  }
  return [lo, hi];
}

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  // a range too narrow for distinct ticks (values an ulp apart) is drawn like a constant
  if (!(hi > lo) || (hi - lo) / Math.max(Math.abs(lo), Math.abs(hi)) < 1e-12) {
    const d = Math.abs(lo) || 1;
    return [lo - d / 2, lo, lo + d / 2];
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Ticks whose first is at or below lo and whose last is at or above hi: the axis ends on a labelled tick. */
export function coveringTicks(lo: number, hi: number, count = 5): number[] {
  const inner = niceTicks(lo, hi, count);
  if (inner.length < 2) return inner;
  const step = inner[1] - inner[0];
  const out = [...inner];
  while (out[0] > lo + step * 1e-9) out.unshift(out[0] - step);
  while (out[out.length - 1] < hi - step * 1e-9) out.push(out[out.length - 1] + step);
  return out.map((v) => (Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12))));
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/**
 * Decades for bars on a log axis: the axis starts at least a factor 3 below the smallest bar, so a
 * 1.05 ms bar is not a sliver on an axis that starts at 1.
 */
function barLogTicks(lo: number, hi: number): number[] {
  return logTicks(lo / 3, hi);
}

/**
 * Labels for a row of ticks: fmtTick's where each says its tick's value, else the fewest decimals
 * (or exponent digits) that say every tick's value exactly, the same for all: 2.2875, 2.2900,
 * 2.2925 rather than 2.29 three times.
 */
export function tickLabels(ticks: number[]): string[] {
  const exact = (label: string, v: number): boolean => Math.abs(Number(label) - v) <= 1e-9 * Math.max(Math.abs(v), 1e-300);
  const plain = ticks.map(fmtTick);
  if (plain.every((l, i) => exact(l, ticks[i])) && new Set(plain).size === plain.length) return plain;
  const sci = ticks.some((v) => v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3));
  for (let d = 0; d <= 12; d++) {
    const labels = ticks.map((v) => (v === 0 ? '0' : sci ? v.toExponential(d) : v.toFixed(d)));
    if (labels.every((l, i) => exact(l, ticks[i]))) return labels;
  }
  return ticks.map((v) => String(v));
}

const labelled = (ticks: number[]): { v: number; label: string }[] => {
  const labels = tickLabels(ticks);
  return ticks.map((v, i) => ({ v, label: labels[i] }));
};

export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0);
  if (a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(3)));
}

/** Width in pixels of a chart title (14 px, semi-bold), estimated generously so it is never clipped. */
const titleWidth = (t: string): number => t.length * 8.4;

/** A title in one line, or two when it would not fit in `width` (split at the space nearest the middle). */
export function titleLines(title: string, width: number): string[] {
  if (titleWidth(title) <= width - 24) return [title];
  const mid = title.length / 2;
  let best = -1;
  for (let i = 0; i < title.length; i++) if (title[i] === ' ' && (best < 0 || Math.abs(i - mid) < Math.abs(best - mid))) best = i;
  return best < 0 ? [title] : [title.slice(0, best), title.slice(best + 1)];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function legendColumn(names: string[], width: number): number {
  return Math.min(width - 80, Math.max(150, 6.6 * Math.max(0, ...names.map((n) => n.length)) + 44));
}

function legendRows(names: string[], width: number): number {
  const perRow = Math.max(1, Math.floor((width - 64) / legendColumn(names, width)));
  return Math.ceil(names.length / perRow);
}

/** The plot area inside a chart; a title of two lines moves it down (and the chart grows by as much). */
function frame(width: number, height: number, legendRows: number, title: string): Frame {
  const extra = 18 * (titleLines(title, width).length - 1);
  return { width, height: height + extra, left: 64, right: 16, top: 36 + extra, bottom: 44 + 18 * legendRows };
}

function header(kind: string, f: Frame, title: string, nSeries: number): string {
  const lines = titleLines(title, f.width);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${kind}" data-series="${nSeries}" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" ` +
    `font-family="system-ui, sans-serif" font-size="12">` +
    `<rect width="${f.width}" height="${f.height}" fill="white"/>` +
    lines.map((l, i) => `<text class="title" x="${f.width / 2}" y="${20 + 18 * i}" text-anchor="middle" font-size="14" font-weight="600">${esc(l)}</text>`).join('')
  );
}

function legend(f: Frame, items: { name: string; color: string; dashed?: boolean; markers?: boolean }[]): string {
  const col = legendColumn(items.map((it) => it.name), f.width);
  const perRow = Math.max(1, Math.floor((f.width - f.left) / col));
  return items
    .map((it, i) => {
      const x = f.left + (i % perRow) * col;
      const y = f.height - 18 * Math.ceil(items.length / perRow) + 18 * Math.floor(i / perRow) + 4;
      return (
        `<g class="legend-item"><line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${it.color}" stroke-width="3"${it.dashed ? ' stroke-dasharray="5 3"' : ''}/>` +
        (it.markers ? `<circle cx="${x + 11}" cy="${y}" r="3.5" fill="white" stroke="${it.color}" stroke-width="2"/>` : '') +
        `<text x="${x + 28}" y="${y + 4}">${esc(it.name)}</text></g>`
      );
    })
    .join('');
}

function axes(f: Frame, xTicks: { v: number; label: string }[], yTicks: { v: number; label: string }[], sx: (v: number) => number, sy: (v: number) => number, xLabel: string, yLabel: string): string {
  const x0 = f.left;
  const y0 = f.height - f.bottom;
  let s = `<g class="axis x-axis"><line x1="${x0}" y1="${y0}" x2="${f.width - f.right}" y2="${y0}" stroke="#333"/>`;
  for (const t of xTicks) s += `<line x1="${sx(t.v)}" y1="${y0}" x2="${sx(t.v)}" y2="${y0 + 4}" stroke="#333"/><text x="${sx(t.v)}" y="${y0 + 16}" text-anchor="middle">${esc(t.label)}</text>`;
  s += `<text x="${(x0 + f.width - f.right) / 2}" y="${y0 + 32}" text-anchor="middle">${esc(xLabel)}</text></g>`;
  s += `<g class="axis y-axis"><line x1="${x0}" y1="${f.top}" x2="${x0}" y2="${y0}" stroke="#333"/>`;
  for (const t of yTicks) {
    s += `<line x1="${x0 - 4}" y1="${sy(t.v)}" x2="${f.width - f.right}" y2="${sy(t.v)}" stroke="#e5e5e5"/><line x1="${x0 - 4}" y1="${sy(t.v)}" x2="${x0}" y2="${sy(t.v)}" stroke="#333"/>`;
    s += `<text x="${x0 - 7}" y="${sy(t.v) + 4}" text-anchor="end">${esc(t.label)}</text>`;
  }
  s += `<text transform="translate(14 ${(f.top + y0) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text></g>`;
  return s;
}

export interface LineSeries {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** A circle at every point (sparse series such as validation losses; a single point is always drawn so). */
  markers?: boolean;
  /** Drawn before the others (a curve that coincides with another one lies under it; the legend says so). */
  under?: boolean;
  color?: string;
}

/** 'auto': log when every value is positive and they span at least two decades. */
export type YScale = 'linear' | 'log' | 'auto';

/** Whether a y axis over these values is drawn logarithmic. */
export function useLogY(scale: YScale | boolean | undefined, ys: number[]): boolean {
  if (scale === true || scale === 'log') return ys.some((y) => y > 0);
  if (scale !== 'auto') return false;
  const finite = ys.filter(Number.isFinite);
  const [lo, hi] = extent(finite);
  return finite.length > 1 && lo > 0 && hi / lo >= 100;
}

export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: LineSeries[]; width?: number; height?: number; logY?: boolean | YScale }): string {
  const series = o.series.filter((s) => s.points.length > 0);
  const width = o.width ?? 680;
  const logY = useLogY(o.logY, series.flatMap((s) => s.points.map((p) => p[1])));
  const title = logY && o.logY === 'auto' ? `${o.title} (log scale)` : o.title;
  const f = frame(width, o.height ?? 360, legendRows(series.map((s) => s.name), width), title);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [xlo, xhi] = xs.length ? extent(xs) : [0, 1];
  let [ylo, yhi] = ys.length ? extent(ys) : [0, 1];
  const xt = niceTicks(xlo, xhi);
  let yt: number[];
  if (logY) {
    yt = logTicks(ylo, yhi);
    ylo = yt[0];
    yhi = yt[yt.length - 1];
  } else {
    // a labelled tick at both ends, and headroom so the highest point does not touch the frame
    yt = coveringTicks(ylo, yhi + 0.04 * (yhi - ylo));
    ylo = Math.min(ylo, yt[0]);
    yhi = Math.max(yhi, yt[yt.length - 1]);
  }
  const xa = Math.min(xlo, xt[0]);
  const xb = Math.max(xhi, xt[xt.length - 1]);
  const sx = (v: number): number => f.left + ((v - xa) / (xb - xa || 1)) * (f.width - f.left - f.right);
  const ty = (v: number): number => (logY ? Math.log10(v) : v);
  const sy = (v: number): number => f.height - f.bottom - ((ty(v) - ty(ylo)) / (ty(yhi) - ty(ylo) || 1)) * (f.height - f.top - f.bottom);
  let s = header('line', f, title, series.length);
  s += axes(f, labelled(xt), labelled(yt), sx, sy, o.xLabel, o.yLabel);
  const items = series.map((se, i) => ({ name: se.name, color: se.color ?? PALETTE[i % PALETTE.length], dashed: se.dashed, markers: se.markers || se.points.length === 1 }));
  const order = series.map((se, i) => [se, i] as const).sort((a, b) => Number(!!b[0].under) - Number(!!a[0].under));
  order.forEach(([se, i]) => {
    const p = se.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
    const d = p.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    s += `<g class="series" data-name="${esc(se.name)}"><path d="${d}" fill="none" stroke="${items[i].color}" stroke-width="2"${se.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    if (items[i].markers) for (const [x, y] of p) s += `<circle class="marker" cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="white" stroke="${items[i].color}" stroke-width="2"/>`;
    s += '</g>';
  });
  return s + legend(f, items) + '</svg>';
}

export function barChart(o: {
  title: string;
  yLabel: string;
  groups: string[];
  series: { name: string; values: (number | null)[]; labels?: (string | null)[] }[];
  width?: number;
  height?: number;
  logY?: boolean;
}): string {
  const width = o.width ?? Math.max(680, 70 + o.groups.length * (14 * o.series.length + 24));
  const f = frame(width, o.height ?? 380, legendRows(o.series.map((s) => s.name), width), o.title);
  f.bottom += 24;
  const vals = o.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && (!o.logY || v > 0));
  let lo = o.logY ? extent(vals)[0] : 0;
  let hi = vals.length ? extent(vals)[1] : 1;
  let yt: number[];
  if (o.logY) {
    yt = barLogTicks(lo, hi);
    lo = yt[0];
    hi = yt[yt.length - 1];
  } else {
    yt = niceTicks(0, hi);
    hi = Math.max(hi, yt[yt.length - 1]);
  }
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v);
  const sy = (v: number): number => f.height - f.bottom - ((ty(v) - ty(lo)) / (ty(hi) - ty(lo) || 1)) * (f.height - f.top - f.bottom);
  const gw = (f.width - f.left - f.right) / Math.max(1, o.groups.length);
  const bw = Math.min(22, (gw - 10) / Math.max(1, o.series.length));
  let s = header('bar', f, o.title, o.series.length);
  s += axes(f, [], labelled(yt), () => 0, sy, '', o.yLabel);
  o.groups.forEach((g, i) => {
    const cx = f.left + gw * (i + 0.5);
    s += `<text x="${cx}" y="${f.height - f.bottom + 14}" text-anchor="middle" font-size="10">${esc(g)}</text>`;
  });
  const base = sy(lo);
  o.series.forEach((se, k) => {
    const color = PALETTE[k % PALETTE.length];
    s += `<g class="series" data-name="${esc(se.name)}">`;
    se.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v) || (o.logY && v <= 0)) return;
      const x = f.left + gw * i + (gw - bw * o.series.length) / 2 + k * bw;
      const y = sy(v);
      s += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${Math.max(0, base - y).toFixed(1)}" fill="${color}"><title>${esc(`${se.name} ${o.groups[i]}: ${fmtTick(v)}`)}</title></rect>`;
      const label = se.labels?.[i];
      if (label) s += `<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9">${esc(label)}</text>`;
    });
    s += '</g>';
  });
  return s + legend(f, o.series.map((se, k) => ({ name: se.name, color: PALETTE[k % PALETTE.length] }))) + '</svg>';
}

/** Colour from white (low) to dark red (high), on a log scale when asked (values > 0). */
function heat(v: number, lo: number, hi: number, log: boolean): [number, number, number] {
  if (!Number.isFinite(v)) return [204, 204, 204];
  const t = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1) : (v - lo) / (hi - lo || 1);
  const c = Math.max(0, Math.min(1, t));
  return [Math.round(255 - c * (255 - 165)), Math.round(255 - c * 255), Math.round(255 - c * 255)];
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance([r, g, b]: readonly number[]): number {
  const lin = (v: number): number => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two colours (1 to 21). */
export function contrast(a: readonly number[], b: readonly number[]): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/**
 * Black or white, whichever reads better on the background. One of them always reaches WCAG's 4.5:
 * black on any background of luminance >= 0.175, white on any <= 0.183.
 */
export function textOn(bg: readonly number[]): string {
  return contrast(bg, [0, 0, 0]) >= contrast(bg, [255, 255, 255]) ? '#000000' : '#ffffff';
}

export function heatmap(o: { title: string; rows: string[]; cols: string[]; values: (number | null)[][]; log?: boolean; format?: (v: number) => string; width?: number }): string {
  const cell = 46;
  const labels = 12 + Math.max(...o.rows.map((r) => r.length)) * 7;
  const width = o.width ?? Math.max(360, labels + o.cols.length * cell + 20, Math.min(titleWidth(o.title) + 24, 640));
  // the grid centred when the title makes the chart wider than the grid
  const left = labels + Math.max(0, (width - (labels + o.cols.length * cell + 20)) / 2);
  const extra = 18 * (titleLines(o.title, width).length - 1);
  const height = 60 + extra + o.rows.length * 26 + 30;
  const f: Frame = { width, height, left, right: 20, top: 48 + extra, bottom: 20 };
  const vals = o.values.flat().filter((v): v is number => v !== null && Number.isFinite(v) && (!o.log || v > 0));
  const [lo, hi] = vals.length ? extent(vals) : [0, 1];
  const fmt = o.format ?? ((v: number) => fmtTick(v));
  let s = header('heatmap', f, o.title, o.rows.length);
  o.cols.forEach((c, j) => (s += `<text x="${left + j * cell + cell / 2}" y="${f.top - 6}" text-anchor="middle">${esc(c)}</text>`));
  o.rows.forEach((r, i) => {
    s += `<g class="series" data-name="${esc(r)}"><text x="${left - 6}" y="${f.top + i * 26 + 17}" text-anchor="end">${esc(r)}</text>`;
    o.cols.forEach((_, j) => {
      const v = o.values[i][j];
      const x = left + j * cell;
      const y = f.top + i * 26;
      const bg = v === null ? [244, 244, 244] : heat(v, o.log ? Math.max(lo, 1e-300) : lo, hi, !!o.log);
      s += `<rect x="${x}" y="${y}" width="${cell - 2}" height="24" fill="rgb(${bg.join(',')})"/>`;
      if (v !== null) s += `<text x="${x + cell / 2 - 1}" y="${y + 16}" text-anchor="middle" font-size="10" fill="${textOn(bg)}">${esc(fmt(v))}</text>`;
    });
    s += '</g>';
  });
  return s + '</svg>';
}
