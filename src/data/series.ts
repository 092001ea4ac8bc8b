/**
 * Time series: any CSV (a target column, optional extra feature columns and a date column), the
 * built-in datasets in data/ (monthly CO2 at Mauna Loa, monthly stock prices), or a seeded
 * synthetic series (trend + two sines + noise). Scaling (min-max or standard) is fitted on the
 * training part only.
 */
import { join } from 'node:path';
import { InputError, quote } from '../errors.js';
import { type Csv, columnIndex, numericColumn, readCsv } from '../io/csv.js';
import { Rng } from '../rng.js';
import { projectRoot } from '../version.js';

export interface Series {
  /** What it is, for output. */
  name: string;
  /** Feature columns; the target is columns[0]. */
  columns: string[];
  /** Per column, the N values in time order. */
  values: Float64Array[];
  dates?: string[];
  /** The data's unit, when known (for reports). */
  unit?: string;
}

export const SERIES_DATASETS = ['co2', 'stocks', 'synthetic'] as const;

export function dataPath(file: string): string {
  return join(projectRoot(), 'data', file);
}

function checkChronological(csv: Csv, dates: string[], column: string): void {
  const t = dates.map((d) => Date.parse(d));
  if (t.some((x) => Number.isNaN(x))) return; // not parseable: keep the file's order
  for (let i = 1; i < t.length; i++) {
    if (t[i] <= t[i - 1]) throw new InputError(`${csv.path} line ${csv.lines[i]}: "${column}" ${quote(String(dates[i]))} does not come after ${quote(String(dates[i - 1]))}; rows must be in time order`);
  }
}

export function seriesFromCsv(csv: Csv, o: { column: string; features?: string[]; dateColumn?: string; name?: string; unit?: string }): Series {
  const columns = [o.column, ...(o.features ?? []).filter((f) => f !== o.column)];
  const values = columns.map((c) => numericColumn(csv, c, c === o.column ? '--column' : '--features'));
  let dates: string[] | undefined;
  if (o.dateColumn) {
    const j = columnIndex(csv, o.dateColumn, '--date-column');
    dates = csv.rows.map((r) => r[j].trim());
    checkChronological(csv, dates, o.dateColumn);
  }
  return { name: o.name ?? `${csv.path}, column "${o.column}"`, columns, values, dates, unit: o.unit };
}

export function loadSeries(o: { dataset?: string; csv?: string; column?: string; features?: string[]; dateColumn?: string; symbol?: string; seed: number }): Series {
  if (o.csv) {
    if (!o.column) throw new InputError('--csv needs --column NAME (the series to forecast)');
    return seriesFromCsv(readCsv(o.csv), { column: o.column, features: o.features, dateColumn: o.dateColumn });
  }
  switch (o.dataset ?? 'co2') {
    case 'co2': {
      const csv = readCsv(dataPath('co2-concentration.csv'));
      return seriesFromCsv(csv, { column: 'CO2', dateColumn: 'Date', name: 'monthly CO2 at Mauna Loa (vega-datasets)', unit: 'ppm' });
    }
    case 'stocks': {
      const full = readCsv(dataPath('stocks.csv'));
      const symbol = (o.symbol ?? 'MSFT').toUpperCase();
      const rows = full.rows.map((r, i) => ({ r, line: full.lines[i] })).filter(({ r }) => r[0] === symbol);
      if (rows.length === 0) {
        const symbols = [...new Set(full.rows.map((r) => r[0]))];
        throw new InputError(`stocks.csv has no symbol "${symbol}" (choose ${symbols.join(', ')})`);
      }
      const csv: Csv = { path: full.path, columns: full.columns, rows: rows.map((x) => x.r), lines: rows.map((x) => x.line) };
      return seriesFromCsv(csv, { column: 'price', dateColumn: 'date', name: `monthly ${symbol} closing price (vega-datasets)`, unit: 'USD' });
    }
    case 'synthetic':
      return syntheticSeries(o.seed);
    default:
      throw new InputError(`unknown series dataset "${o.dataset}" (choose ${SERIES_DATASETS.join(', ')}, or --csv FILE --column NAME)`);
  }
}

/** 480 "months": 10 + 0.05 t + 3 sin(2 pi t / 12) + 1.5 sin(2 pi t / 5.5) + N(0, 0.5^2), seeded. */
export function syntheticSeries(seed: number, n = 480): Series {
  const rng = new Rng(seed);
  const v = new Float64Array(n);
  for (let t = 0; t < n; t++) v[t] = 10 + 0.05 * t + 3 * Math.sin((2 * Math.PI * t) / 12) + 1.5 * Math.sin((2 * Math.PI * t) / 5.5) + 0.5 * rng.normal();
  return { name: `synthetic (trend + sines of period 12 and 5.5 + noise, seed ${seed})`, columns: ['value'], values: [v] };
}

export type ScaleKind = 'minmax' | 'standard';

/** x' = (x - shift) / scale, per column. */
export interface Scaler {
  kind: ScaleKind;
  shift: number[];
  scale: number[];
}

export function fitScaler(values: Float64Array[], columns: string[], n: number, kind: ScaleKind): Scaler {
  const shift: number[] = [];
  const scale: number[] = [];
  values.forEach((v, c) => {
    const part = v.subarray(0, n);
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    for (const x of part) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      sum += x;
    }
    // scaling, and the errors reported in the data's units (RMSE squares them), must stay within float64
    const span = hi - lo;
    if (!Number.isFinite(sum) || !Number.isFinite(span * span * part.length)) {
      throw new InputError(`column "${columns[c]}": its values (from ${lo} to ${hi}) are too large to scale and measure in float64 (their sum or squared range overflows); divide the column by a power of ten first`);
    }
    const mean = sum / part.length;
    let sq = 0;
    for (const x of part) sq += (x - mean) ** 2;
    const sd = Math.sqrt(sq / part.length);
    const s = kind === 'minmax' ? hi - lo : sd;
    if (!(s > 0)) throw new InputError(`column "${columns[c]}" is constant over the training part (every value ${lo}); scaling would divide by zero`);
    shift.push(kind === 'minmax' ? lo : mean);
    scale.push(s);
  });
  return { kind, shift, scale };
}

/**
 * The h dates after the last of `dates`, stepping as the last two did (calendar months when they
 * are the same day of the month or both a month's last day; else the same time step), written the
 * way the data writes them ("2022-06" in, "2022-07" out; "Jan 1 2000" in, "Feb 1 2000" out; a time
 * keeps its offset). Dates are read as written, never shifted by the machine's time zone. Null
 * without two readable dates.
 */
export function nextDates(dates: string[] | undefined, h: number): string[] | null {
  if (!dates || dates.length < 2) return null;
  const a = readDate(dates[dates.length - 2]);
  const b = readDate(dates[dates.length - 1]);
  if (!a || !b || b.utc <= a.utc) return null;
  const da = new Date(a.utc);
  const db = new Date(b.utc);
  const months = (db.getUTCFullYear() - da.getUTCFullYear()) * 12 + db.getUTCMonth() - da.getUTCMonth();
  const monthEnd = (d: Date): boolean => d.getUTCDate() === daysIn(d.getUTCFullYear(), d.getUTCMonth());
  const calendar = months >= 1 && (da.getUTCDate() === db.getUTCDate() || (monthEnd(da) && monthEnd(db))) && a.utc % 86_400_000 === b.utc % 86_400_000;
  const out: string[] = [];
  for (let i = 1; i <= h; i++) {
    let t: number;
    if (calendar) {
      const y = db.getUTCFullYear();
      const m = db.getUTCMonth() + months * i;
      const last = daysIn(y, m);
      const day = monthEnd(db) ? last : Math.min(db.getUTCDate(), last);
      t = Date.UTC(y, m, day) + (b.utc % 86_400_000);
    } else t = b.utc + i * (b.utc - a.utc);
    out.push(b.write(t));
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * A date in one of the formats series data uses, as a UTC instant of its wall-clock reading, and
 * a writer for other instants in the same format: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM
 * [:SS[.fff]] [Z|+HH:MM], "Mon D YYYY". Anything else JavaScript can parse is written YYYY-MM-DD.
 */
function readDate(text: string): { utc: number; write: (utc: number) => string } | null {
  const t = text.trim();
  const ymd = (d: Date): string => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  let m = /^(\d{4})$/.exec(t);
  if (m) return { utc: Date.UTC(+m[1], 0, 1), write: (u) => String(new Date(u).getUTCFullYear()) };
  m = /^(\d{4})-(\d{2})$/.exec(t);
  if (m) return { utc: Date.UTC(+m[1], +m[2] - 1, 1), write: (u) => ymd(new Date(u)).slice(0, 7) };
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (m) return { utc: Date.UTC(+m[1], +m[2] - 1, +m[3]), write: (u) => ymd(new Date(u)) };
  m = /^(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (m) {
    const [, y, mo, d, sep, hh, mm, ss, frac, zone] = m;
    const ms = frac ? Math.round(Number(frac) * 1000) : 0;
    const utc = Date.UTC(+y, +mo - 1, +d, +hh, +mm, ss ? +ss : 0, ms);
    return {
      utc,
      write: (u) => {
        const x = new Date(u);
        const time = `${pad(x.getUTCHours())}:${pad(x.getUTCMinutes())}${ss !== undefined ? `:${pad(x.getUTCSeconds())}` : ''}${frac ? `.${pad(x.getUTCMilliseconds(), 3).slice(0, frac.length - 1).padEnd(frac.length - 1, '0')}` : ''}`;
        return `${ymd(x)}${sep}${time}${zone ?? ''}`;
      },
    };
  }
  m = /^([A-Z][a-z]{2}) (\d{1,2}) (\d{4})$/.exec(t);
  if (m && MONTHS.includes(m[1])) return { utc: Date.UTC(+m[3], MONTHS.indexOf(m[1]), +m[2]), write: (u) => { const x = new Date(u); return `${MONTHS[x.getUTCMonth()]} ${x.getUTCDate()} ${x.getUTCFullYear()}`; } };
  const p = Date.parse(t);
  if (Number.isNaN(p)) return null;
  // an unknown format: its calendar date as JavaScript reads it, without the machine's zone shift
  const local = new Date(p);
  return { utc: Date.UTC(local.getFullYear(), local.getMonth(), local.getDate()), write: (u) => ymd(new Date(u)) };
}
