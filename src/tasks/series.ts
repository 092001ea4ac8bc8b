/**
 * Forecasting: sliding windows of `window` steps (all feature columns, scaled) predict the next
 * `horizon` values of the target column.
 *   direct:    a many-to-one model with `horizon` outputs;
 *   recursive: a one-step model whose prediction is fed back `horizon` times (one feature only).
 * Window-relative normalisation (default): every input window and its targets are expressed
 * relative to the window's last value (after scaling), so the model learns changes and can follow a
 * trend beyond the training range; "global" feeds the scaled values as they are.
 * The series is split in time: training (70%), validation (15%), test (15%); a window belongs to
 * the part its targets fall in (its inputs may reach back into an earlier part, which is the past).
 * Test metrics are in the data's own units, next to the baselines every forecaster must beat:
 * persistence (the last value), seasonal naive (the value one season earlier) and the training mean.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCheckpoint } from '../io/checkpoint.js';
import { type CheckpointEngineFlags, checkpointEngineOptions } from './use-engine.js';
import { intArg, intListArg } from '../io/args.js';
import type { IO } from '../io/output.js';
import { type Scaler, type Series, fitScaler, loadSeries, nextDates, seriesFromCsv } from '../data/series.js';
import { createEngines } from '../engines/registry.js';
import { cursorInt, cursorInts, cursorObject, cursorRng } from './cursor.js';
import type { Batch, Engine } from '../engine.js';
import { InputError } from '../errors.js';
import { readCsv } from '../io/csv.js';
import { optimizerSpec } from '../optimizer.js';
import { resolveCheckpoint } from '../io/run-dir.js';
import { duration, formatTable, num, plural, readable } from '../io/table.js';
import type { Schema } from '../io/schemas.js';
import { type LineSeries, lineChart } from '../io/svg.js';
import { Rng, deriveSeed } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import { type TrainOptions, modelSpec } from '../run-options.js';
import { type BuiltTask, type Metrics, type Sweep, type TaskReport, type TrainSummary, type TrainTask, type UseCommand, defineTask } from './task.js';

export interface SeriesOptions {
  window: number;
  horizon: number;
  recursive: boolean;
  relative: boolean;
  batch: number;
  season: number;
  trainFraction: number;
  valFraction: number;
  seed: number;
}

export interface ForecastMetrics {
  mae: number;
  rmse: number;
  /** percent; zero targets skipped */
  mape: number;
}

export type Forecaster = 'model' | 'persistence' | 'seasonalNaive' | 'mean';

/** What a series run adds to the final summary: test errors of the model and of every baseline. */
export interface SeriesResult {
  test: Record<Forecaster, ForecastMetrics>;
  testWindows: number;
  horizon: number;
  unit: string | null;
  beatsBaselines: boolean;
  notBeaten: Forecaster[];
  beaten: Forecaster[];
}

/** Preprocessing stored in checkpoints (data.json), so forecast can rebuild the inputs. */
export interface SeriesData {
  task: 'series';
  columns: string[];
  scaler: Scaler;
  window: number;
  horizon: number;
  recursive: boolean;
  relative: boolean;
  unit?: string;
  source: string;
  /** The CSV trained on, by absolute path, so forecast can read it again without --csv. */
  csv?: string;
  /** The seed of a generated dataset (synthetic), so it can be made again. */
  seed?: number;
  dateColumn?: string;
}

export function forecastMetrics(pred: ArrayLike<number>, truth: ArrayLike<number>): ForecastMetrics {
  let ae = 0;
  let se = 0;
  let ape = 0;
  let nz = 0;
  for (let i = 0; i < truth.length; i++) {
    const e = pred[i] - truth[i];
    ae += Math.abs(e);
    se += e * e;
    if (truth[i] !== 0) {
      ape += Math.abs(e / truth[i]);
      nz++;
    }
  }
  return { mae: ae / truth.length, rmse: Math.sqrt(se / truth.length), mape: nz ? (100 * ape) / nz : NaN };
}

export class SeriesTask implements TrainTask {
  readonly name = 'series';
  readonly stateful = false;
  readonly itemName = 'win';
  readonly stepsPerEpoch: number;
  readonly itemsPerStep: number;
  readonly nTrain: number;
  readonly nVal: number;
  /** window end indices (exclusive) per part */
  readonly ends: { train: number[]; val: number[]; test: number[] };
  private readonly scaled: Float64Array[];
  private readonly rng: Rng;
  private order: number[] = [];
  private pos = 0;
  private epoch = 0;

  constructor(
    readonly spec: ModelSpec,
    readonly series: Series,
    readonly scaler: Scaler,
    readonly o: SeriesOptions,
  ) {
    const N = series.values[0].length;
    const { window: W, horizon: H } = o;
    this.nTrain = Math.floor(N * o.trainFraction);
    this.nVal = Math.floor(N * o.valFraction);
    const step = o.recursive ? 1 : H; // the model's own target length
    const range = (from: number, to: number): number[] => {
      const out: number[] = [];
      for (let e = from; e <= to; e++) out.push(e);
      return out;
    };
    this.ends = {
      train: range(W, this.nTrain - step),
      val: range(Math.max(W, this.nTrain), this.nTrain + this.nVal - H),
      test: range(Math.max(W, this.nTrain + this.nVal), N - H),
    };
    const need = `window ${W} + horizon ${H}`;
    if (this.ends.train.length === 0) {
      throw new InputError(`${series.name}: ${N} rows leave ${this.nTrain} for training (${Math.round(o.trainFraction * 100)}%), fewer than ${need}; use a smaller --window or --horizon, or more data`);
    }
    if (this.ends.val.length === 0 || this.ends.test.length === 0) {
      throw new InputError(`${series.name}: ${N} rows leave ${this.nVal} each for validation and test, fewer than horizon ${H} (or the window reaches past them); use a smaller --horizon or more data`);
    }
    this.scaled = series.values.map((v, c) => Float64Array.from(v, (x) => (x - scaler.shift[c]) / scaler.scale[c]));
    this.rng = new Rng(o.seed);
    this.stepsPerEpoch = Math.ceil(this.ends.train.length / o.batch);
    this.itemsPerStep = o.batch;
    this.shuffle();
  }

  private shuffle(): void {
    this.order = this.rng.shuffle(this.ends.train.slice());
    this.pos = 0;
  }

  describe(): string[] {
    const s = this.series;
    const N = s.values[0].length;
    const span = s.dates ? ` (${s.dates[0]} .. ${s.dates[N - 1]})` : '';
    return [
      `series: ${s.name}; ${N} rows${span}; features ${s.columns.join(', ')}; ${this.scaler.kind} scaling fitted on the training part`,
      `windows of ${this.o.window} -> ${this.o.horizon} ahead (${this.o.recursive ? 'recursive one-step model' : 'direct multi-output'}); ` +
        `${this.ends.train.length} training, ${this.ends.val.length} validation, ${this.ends.test.length} test windows; batch ${this.o.batch}`,
    ];
  }

  epochProgress(): number {
    return this.epoch + this.pos / this.ends.train.length;
  }

  /** x [n, W, F] for the windows ending at `ends` (relative to each window's last value if so set). */
  private inputs(ends: number[]): Float32Array {
    const { window: W } = this.o;
    const F = this.scaled.length;
    const x = new Float32Array(ends.length * W * F);
    ends.forEach((e, b) => windowInputs(this.scaled, e, W, this.o.relative, x, b * W * F));
    return x;
  }

  nextBatch(): { batch: Batch; resetState: boolean } {
    if (this.pos >= this.order.length) {
      this.epoch++;
      this.shuffle();
    }
    const ends = this.order.slice(this.pos, this.pos + this.o.batch);
    this.pos += ends.length;
    const O = this.spec.outputSize;
    const y = new Float32Array(ends.length * O);
    ends.forEach((e, b) => {
      const base = windowBase(this.scaled[0], e, this.o.relative);
      for (let h = 0; h < O; h++) y[b * O + h] = this.scaled[0][e + h] - base;
    });
    return { batch: { batchSize: ends.length, seqLen: this.o.window, x: this.inputs(ends), y }, resetState: true };
  }

  getCursor(): unknown {
    return { order: this.order, pos: this.pos, epoch: this.epoch, rng: this.rng.getState() };
  }

  setCursor(c: unknown): void {
    const cur = cursorObject(c);
    const ends = new Set(this.ends.train);
    this.order = cursorInts(cur.order, 'order', (x) => ends.has(x));
    this.pos = cursorInt(cur, 'pos', 0, this.order.length);
    this.epoch = cursorInt(cur, 'epoch', 0, Number.MAX_SAFE_INTEGER);
    this.rng.setState(cursorRng(cur));
  }

  /** Forecasts (scaled) of H steps for the windows ending at `ends`: [n, H]. */
  async predictScaled(engine: Engine, ends: number[]): Promise<Float64Array> {
    const { window: W } = this.o;
    const windows = ends.map((e) => Float64Array.from(this.scaled[0].subarray(e - W, e)));
    if (!this.o.recursive) {
      const n = ends.length;
      const H = this.o.horizon;
      const out = new Float64Array(n * H);
      const { output } = await engine.forward({ batchSize: n, seqLen: W, x: this.inputs(ends) });
      ends.forEach((e, b) => {
        const base = windowBase(this.scaled[0], e, this.o.relative);
        for (let h = 0; h < H; h++) out[b * H + h] = output[b * H + h] + base;
      });
      return out;
    }
    return recursiveForecast(engine, windows, this.o.horizon, this.o.relative);
  }

  private unscale(v: number): number {
    return v * this.scaler.scale[0] + this.scaler.shift[0];
  }

  /** Model forecasts and the truth, in the data's units: [n, H] each. */
  async forecasts(engine: Engine, ends: number[]): Promise<{ pred: Float64Array; truth: Float64Array }> {
    const H = this.o.horizon;
    const pred = (await this.predictScaled(engine, ends)).map((v) => this.unscale(v));
    const truth = new Float64Array(ends.length * H);
    ends.forEach((e, b) => {
      for (let h = 0; h < H; h++) truth[b * H + h] = this.series.values[0][e + h];
    });
    return { pred, truth };
  }

  async evaluate(engine: Engine): Promise<Metrics> {
    const { pred, truth } = await this.forecasts(engine, this.ends.val);
    let se = 0;
    for (let i = 0; i < truth.length; i++) se += ((pred[i] - truth[i]) / this.scaler.scale[0]) ** 2;
    const m = forecastMetrics(pred, truth);
    return { valLoss: se / truth.length, valMae: m.mae, valRmse: m.rmse };
  }

  /** Baseline forecasts for the windows ending at `ends`, [n, H] each. */
  baselines(ends: number[]): Record<'persistence' | 'seasonalNaive' | 'mean', Float64Array> {
    const H = this.o.horizon;
    const S = this.o.season;
    const y = this.series.values[0];
    let mean = 0;
    for (let i = 0; i < this.nTrain; i++) mean += y[i];
    mean /= this.nTrain;
    const persistence = new Float64Array(ends.length * H);
    const seasonal = new Float64Array(ends.length * H);
    const meanF = new Float64Array(ends.length * H).fill(mean);
    ends.forEach((e, b) => {
      for (let h = 0; h < H; h++) {
        persistence[b * H + h] = y[e - 1];
        const back = S * (Math.floor(h / S) + 1); // the same season, in the observed past
        seasonal[b * H + h] = e + h - back >= 0 ? y[e + h - back] : y[e - 1];
      }
    });
    return { persistence, seasonalNaive: seasonal, mean: meanF };
  }

  async finish(engine: Engine): Promise<SeriesResult> {
    const ends = this.ends.test;
    const { pred, truth } = await this.forecasts(engine, ends);
    const base = this.baselines(ends);
    const test = { model: forecastMetrics(pred, truth) } as Record<Forecaster, ForecastMetrics>;
    for (const [k, v] of Object.entries(base)) test[k as Forecaster] = forecastMetrics(v, truth);
    const others = Object.keys(base) as Forecaster[];
    const beaten = others.filter((k) => test.model.mae < test[k].mae);
    const notBeaten = others.filter((k) => !(test.model.mae < test[k].mae));
    return {
      test,
      testWindows: ends.length,
      horizon: this.o.horizon,
      unit: this.series.unit ?? null,
      beatsBaselines: notBeaten.length === 0,
      notBeaten,
      beaten,
    };
  }

  /**
   * For the forecast plot: the series from a little before the test part on, the one-step-ahead
   * forecast at every test point, and the full horizon forecast from the first test window.
   */
  async plotData(engines: Engine[]): Promise<unknown> {
    const y = this.series.values[0];
    const N = y.length;
    const first = this.ends.test[0];
    const from = Math.max(0, first - 3 * this.o.horizon);
    const index = Array.from({ length: N - from }, (_, i) => from + i);
    const ends = index.filter((e) => e >= first && e + this.o.horizon <= N && e >= this.o.window);
    return {
      kind: 'series',
      column: this.series.columns[0],
      unit: this.series.unit ?? null,
      dates: this.series.dates ? index.map((i) => this.series.dates![i]) : null,
      index,
      truth: index.map((i) => y[i]),
      testStart: first,
      horizon: this.o.horizon,
      engines: await mapAsync(engines, async (e) => {
        const one = (await this.forecasts(e, ends)).pred;
        const full = (await this.forecasts(e, [first])).pred;
        return {
          name: e.name,
          oneStep: ends.map((end, k) => [end, one[k * this.o.horizon]]),
          fromTestStart: Array.from(full, (v, h) => [first + h, v]),
        };
      }),
    };
  }

  dataJSON(source: string, dateColumn?: string, csv?: string, seed?: number): SeriesData {
    return {
      task: 'series',
      columns: this.series.columns,
      scaler: this.scaler,
      window: this.o.window,
      horizon: this.o.horizon,
      recursive: this.o.recursive,
      relative: this.o.relative,
      unit: this.series.unit,
      source,
      ...(csv ? { csv } : {}),
      ...(seed !== undefined ? { seed } : {}),
      dateColumn,
    };
  }
}

// ---- the window normalisation, one helper each for training, evaluation, recursion and forecast ----

/** The value a window ending before `end` is taken relative to: its last (scaled) value, or 0. */
export function windowBase(series: ArrayLike<number>, end: number, relative: boolean): number {
  return relative ? series[end - 1] : 0;
}

/** Writes the inputs of the window of W steps ending before `end` into x at `off`, [W, F], each feature relative to its own last value if so set. */
export function windowInputs(features: ArrayLike<number>[], end: number, W: number, relative: boolean, x: Float32Array, off: number): void {
  const F = features.length;
  for (let t = 0; t < W; t++) {
    for (let f = 0; f < F; f++) x[off + t * F + f] = features[f][end - W + t] - windowBase(features[f], end, relative);
  }
}

/**
 * A one-step model fed its own predictions: for each window (scaled, absolute values of the single
 * feature), H predictions; the window slides by one each time. [n, H]
 */
export async function recursiveForecast(engine: Engine, windows: Float64Array[], H: number, relative: boolean): Promise<Float64Array> {
  const n = windows.length;
  const W = windows[0].length;
  const out = new Float64Array(n * H);
  const x = new Float32Array(n * W);
  for (let h = 0; h < H; h++) {
    windows.forEach((w, b) => windowInputs([w], W, W, relative, x, b * W));
    const { output } = await engine.forward({ batchSize: n, seqLen: W, x });
    windows.forEach((w, b) => {
      const next = output[b] + windowBase(w, W, relative);
      out[b * H + h] = next;
      w.copyWithin(0, 1);
      w[W - 1] = next;
    });
  }
  return out;
}

/** The model's input for the last `window` rows of `values` (columns in data.json order): x [W, F], and the scaled rows. */
export function lastWindow(d: SeriesData, values: Float64Array[]): { x: Float32Array; scaled: Float64Array[] } {
  const { window: W } = d;
  const N = values[0].length;
  if (N < W) throw new InputError(`the data has ${N} rows; the model reads windows of ${W}`);
  const scaled = values.map((v, f) => Float64Array.from(v.subarray(N - W), (x) => (x - d.scaler.shift[f]) / d.scaler.scale[f]));
  const x = new Float32Array(W * d.columns.length);
  windowInputs(scaled, W, W, d.relative, x, 0);
  return { x, scaled };
}

/** The next H values after the last `window` rows of `values` (columns in data.json order), in data units. */
export async function forecastNext(engine: Engine, d: SeriesData, values: Float64Array[]): Promise<Float64Array> {
  const { window: W, horizon: H } = d;
  const { scaled, x } = lastWindow(d, values);
  const unscale = (v: number): number => v * d.scaler.scale[0] + d.scaler.shift[0];
  if (d.recursive) return (await recursiveForecast(engine, [scaled[0]], H, d.relative)).map(unscale);
  const { output } = await engine.forward({ batchSize: 1, seqLen: W, x });
  const base = windowBase(scaled[0], W, d.relative);
  return Float64Array.from({ length: H }, (_, h) => unscale(output[h] + base));
}

/** map with an async function, one element after another (engines answer in order). */
async function mapAsync<T, U>(xs: T[], f: (x: T) => Promise<U>): Promise<U[]> {
  const out: U[] = [];
  for (const x of xs) out.push(await f(x));
  return out;
}

/** The baselines' names as people read them. */
export const FORECASTER_NAMES: Record<Forecaster, string> = { model: 'model', persistence: 'persistence (last value)', seasonalNaive: 'seasonal naive', mean: 'training mean' };

/** The test table of a series run, and whether the model beats every baseline, said plainly. */
export function printSeriesResult(out: (line: string) => void, s: SeriesResult, engine: string): void {
  const names = { ...FORECASTER_NAMES, model: `model (${engine})` };
  out('');
  out(`test: ${plural(s.testWindows, 'window')}, ${plural(s.horizon, 'step')} ahead; errors in the data's units${s.unit ? ` (${s.unit.trim()})` : ''}`);
  out(formatTable(['forecaster', 'MAE', 'RMSE', 'MAPE'], (Object.entries(s.test) as [Forecaster, ForecastMetrics][]).map(([k, m]) => [names[k] ?? k, num(m.mae), num(m.rmse), `${num(m.mape)}%`])));
  if (s.notBeaten.length === 0) out('the model beats every baseline (lower MAE than each).');
  else {
    out(
      `the model does NOT beat ${s.notBeaten.map((k) => `${names[k]} (MAE ${num(s.test[k].mae)} vs the model's ${num(s.test.model.mae)})`).join(' or ')}; ` +
        'use the baseline, or give the model more data, a longer window or more training.',
    );
  }
}

// ---- the task module: flags, data, model, window sweeps, and `rnnlab forecast` ----

/** The series task's own flags. */
export interface SeriesFlags extends TrainOptions {
  dataset?: string;
  csv?: string;
  column?: string;
  dateColumn?: string;
  features?: string[];
  symbol?: string;
  /** One window, or several for a sweep. */
  window: number[];
  horizon: number;
  recursive?: boolean;
  normalize: 'window' | 'global';
  scale: 'minmax' | 'standard';
  season: number;
}

function buildSeries(o: SeriesFlags): BuiltTask<SeriesResult> {
  const series = loadSeries({ dataset: o.dataset, csv: o.csv, column: o.column, features: o.features, dateColumn: o.dateColumn, symbol: o.symbol, seed: o.seed });
  if (o.recursive && series.columns.length > 1) throw new InputError('--recursive forecasts feed predictions back, so they need a single feature (drop --features)');
  const N = series.values[0].length;
  const trainFraction = 0.7;
  const scaler = fitScaler(series.values, series.columns, Math.max(1, Math.floor(N * trainFraction)), o.scale);
  const spec = modelSpec(o, series.columns.length, o.recursive ? 1 : o.horizon, { input: 'dense', returnSequences: false, loss: 'mse' });
  const task = new SeriesTask(spec, series, scaler, {
    window: o.window[0],
    horizon: o.horizon,
    recursive: !!o.recursive,
    relative: o.normalize !== 'global',
    batch: o.batch,
    season: o.season,
    trainFraction,
    valFraction: 0.15,
    seed: deriveSeed(o.seed, 'data'),
  });
  const source = o.csv ?? `dataset ${o.dataset ?? 'co2'}${o.symbol ? ` ${o.symbol}` : ''}`;
  const dateColumn = o.dateColumn ?? (o.csv ? undefined : o.dataset === 'stocks' ? 'date' : o.dataset === 'synthetic' ? undefined : 'Date');
  return { task, spec, data: task.dataJSON(source, dateColumn, o.csv ? resolve(o.csv) : undefined, o.dataset === 'synthetic' ? o.seed : undefined) };
}

/** --window 5,10,20: one run per window, and a table of them all. */
function windowSweep(o: SeriesFlags): Sweep<SeriesFlags> | null {
  if (o.window.length < 2) return null;
  if (o.resume) throw new InputError('--resume continues one run; it cannot be combined with a --window sweep');
  return {
    name: 'series-sweep',
    runs: o.window.map((w) => ({ folder: `window-${w}`, options: { ...o, window: [w] } })),
    print: (io, opts, summaries, base) => printSweep(io, opts, summaries as TrainSummary<SeriesResult>[], base),
  };
}

function printSweep(io: IO, o: SeriesFlags, summaries: TrainSummary<SeriesResult>[], base: string): void {
  const out = summaries.map((r, i) => {
    const { test } = r;
    const val = Object.values(r.validation)[0] ?? {};
    return {
      window: o.window[i],
      steps: r.steps,
      valLoss: val.valLoss,
      test: test.model,
      persistence: test.persistence,
      seasonalNaive: test.seasonalNaive,
      mean: test.mean,
      beatsBaselines: r.beatsBaselines,
      elapsedSeconds: r.elapsedSeconds,
      runDir: r.runDir,
    };
  });
  if (o.json) {
    io.out(JSON.stringify({ type: 'sweep', horizon: o.horizon, rows: out, runDir: base }));
    return;
  }
  io.out('');
  io.out(`window sweep, ${o.horizon} steps ahead (test errors in the data's units; runs in ${base})`);
  io.out(
    formatTable(
      ['window', 'steps', 'val loss', 'MAE', 'RMSE', 'MAPE', 'persistence MAE', 'seasonal MAE', 'mean MAE', 'beats baselines', 'time'],
      out.map((r) => [r.window, r.steps, num(r.valLoss), num(r.test.mae), num(r.test.rmse), `${num(r.test.mape)}%`, num(r.persistence.mae), num(r.seasonalNaive.mae), num(r.mean.mae), r.beatsBaselines ? 'yes' : 'no', duration(r.elapsedSeconds)]),
    ),
  );
}

/** A CSV with a forecasting model's columns; without the date column it was trained with, its rows are numbered (and `note` says so). */
export function modelSeriesCsv(d: SeriesData, path: string, note: (line: string) => void): Series {
  const csv = readCsv(path);
  const dateColumn = d.dateColumn && csv.columns.includes(d.dateColumn) ? d.dateColumn : undefined;
  if (d.dateColumn && !dateColumn) note(`${path} has no date column "${d.dateColumn}"; its rows are numbered instead`);
  return seriesFromCsv(csv, { column: d.columns[0], features: d.columns.slice(1), dateColumn });
}

/** The series a checkpoint was trained on: its CSV (by the absolute path recorded), or the built-in dataset. */
export function trainedSeries(d: SeriesData): Series {
  if (d.csv) {
    if (!existsSync(d.csv)) throw new InputError(`this model was trained on ${d.csv}, which is gone; pass --csv with columns ${d.columns.join(', ')}`);
    return seriesFromCsv(readCsv(d.csv), { column: d.columns[0], features: d.columns.slice(1), dateColumn: d.dateColumn });
  }
  const m = /^dataset (\w+)(?: (\w+))?$/.exec(d.source);
  if (!m) throw new InputError(`this model was trained on ${d.source}; pass --csv with columns ${d.columns.join(', ')}`);
  return loadSeries({ dataset: m[1], symbol: m[2], seed: d.seed ?? 1 });
}

type ForecastFlags = { checkpoint: string; csv?: string } & CheckpointEngineFlags;

/** `rnnlab forecast`: the next H values of a series from a forecasting checkpoint. */
const forecastUse: UseCommand<ForecastFlags> = {
  name: 'forecast',
  description: 'print the next H values of a series from a forecasting checkpoint',
  flags: [
    { flags: '--checkpoint <dir>', help: 'a series checkpoint, or a run directory (its newest checkpoint)', required: true },
    { flags: '--csv <file>', help: "a CSV with the model's columns (default: the data the model was trained on)" },
  ],
  examples: ['rnnlab forecast --checkpoint runs/series-20261122-101500 --csv data/co2-concentration.csv'],
  run: (_args, flags, io) => forecast(flags, io),
};

async function forecast(f: ForecastFlags, io: IO): Promise<void> {
  const ck = readCheckpoint(resolveCheckpoint(f.checkpoint, (l) => io.err(`rnnlab: ${l}`)));
  const d = ck.data as SeriesData | undefined;
  if (!d || d.task !== 'series') throw new InputError(`${ck.dir}: not a forecasting checkpoint (no series data.json)`);
  const series = f.csv ? modelSeriesCsv(d, f.csv, (l) => io.err(`rnnlab: note: ${l}`)) : trainedSeries(d);
  const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
  const values = await forecastNext(set.engines[0], d, series.values);
  await set.close();
  const dates = nextDates(series.dates, d.horizon);
  const N = series.values[0].length;
  if (f.json) {
    io.out(JSON.stringify({ checkpoint: ck.dir, engine: set.engines[0].name, column: d.columns[0], unit: d.unit ?? null, after: series.dates?.[N - 1] ?? N, forecast: Array.from(values), dates }));
    return;
  }
  io.out(`${d.columns[0]}: the next ${d.horizon} values after ${series.dates ? series.dates[N - 1] : `row ${N}`} (${set.descriptions[0]}, window ${d.window}${d.recursive ? ', recursive' : ''})`);
  io.out(formatTable(['step', ...(dates ? ['date'] : []), `forecast${d.unit ? ` (${d.unit})` : ''}`], Array.from(values, (v, h) => [`t+${h + 1}`, ...(dates ? [dates[h]] : []), v.toFixed(3)])));
}

const POINTS: Schema = [['num']];

/** What the report shows of a series run: the test errors against the baselines, and the forecasts against the truth. */
const seriesReport: TaskReport = {
  finalSchema: { at: '', what: 'the final record', schema: { test: { mapOf: { mae: 'num', rmse: 'num', mape: 'num' } }, notBeaten: ['str'], beatsBaselines: 'bool' } },
  plotData: {
    kind: 'series',
    schema: { column: 'str', 'unit?': { oneOf: ['str', 'num'] }, index: ['num'], truth: ['num'], testStart: 'num', horizon: 'num', engines: [{ name: 'str', oneStep: POINTS, fromTestStart: POINTS }] },
    charts: (run, plot) => {
      const d = plot as { column: string; unit: string | null; index: number[]; truth: number[]; testStart: number; horizon: number; engines: { name: string; oneStep: [number, number][]; fromTestStart: [number, number][] }[] };
      const series: LineSeries[] = [{ name: `${d.column} (truth)`, points: d.index.map((i, k) => [i, d.truth[k]]), color: '#333333' }];
      for (const e of d.engines) {
        series.push({ name: `${e.name}: one step ahead`, points: e.oneStep });
        series.push({ name: `${e.name}: ${d.horizon} steps from the test start`, points: e.fromTestStart, dashed: true });
      }
      const svg = lineChart({ title: `${run}: forecasts against the truth (test part from row ${d.testStart})`, xLabel: 'row', yLabel: `${d.column}${d.unit ? ` (${d.unit})` : ''}`, series });
      return [{ id: `forecast-${run}`, title: 'forecasts against the truth', svg, series: series.length }];
    },
  },
  card: (f) => {
    if (!f.test) return null;
    const t = f.test as Record<string, ForecastMetrics>;
    const beats = !!f.beatsBaselines;
    const best = Object.entries(t).filter(([k]) => k !== 'model').sort((a, b) => a[1].mae - b[1].mae)[0];
    return { ok: beats, line: `test MAE ${readable(t.model.mae)}${f.unit ? ` ${f.unit}` : ''} against ${FORECASTER_NAMES[best[0] as Forecaster] ?? best[0]} ${readable(best[1].mae)}: ${beats ? 'beats every baseline' : 'does NOT beat every baseline'}` };
  },
  results: (f) => {
    if (!f.test) return [];
    const t = f.test as Record<string, ForecastMetrics>;
    const name = (k: string): string => FORECASTER_NAMES[k as Forecaster] ?? k;
    return [
      { heading: `test errors (${f.testWindows} windows, ${f.horizon} steps ahead${f.unit ? `, ${f.unit}` : ''})` },
      { table: { headers: ['forecaster', 'MAE', 'RMSE', 'MAPE'], rows: Object.entries(t).map(([k, m]) => [name(k), readable(m.mae), readable(m.rmse), `${m.mape.toFixed(1)}%`]) } },
      { text: f.beatsBaselines ? 'The model beats every baseline.' : `The model does not beat: ${(f.notBeaten as string[]).map(name).join(', ')}.`, tone: f.beatsBaselines ? 'ok' : 'warn' },
    ];
  },
  states: {
    owns: (ck) => (ck.data as { task?: string } | undefined)?.task === 'series',
    text: false,
    input: (ck, o) => {
      const sd = ck.data as SeriesData;
      if (o.text !== undefined) throw new InputError(`${ck.dir}: a forecasting model reads numbers; give --csv (or nothing: the data it was trained on)`);
      const series = o.csv !== undefined ? modelSeriesCsv(sd, o.csv, o.note ?? (() => {})) : trainedSeries(sd);
      const { x } = lastWindow(sd, series.values);
      const N = series.values[0].length;
      const labels = Array.from({ length: sd.window }, (_, t) => series.dates?.[N - sd.window + t] ?? String(N - sd.window + t + 1));
      return { x, labels, source: `the last ${sd.window} rows of ${sd.source}` };
    },
    // the report's view: the last window of the data it was trained on
    runInput: () => ({}),
  },
};

export const seriesTask = defineTask<SeriesFlags, SeriesResult>({
  name: 'series',
  summary: 'series (forecasting)',
  flags: [
    { flags: '--dataset <name>', help: 'co2 (default), stocks, synthetic' },
    { flags: '--csv <file>', help: 'a CSV with --column' },
    { flags: '--column <name>', help: 'the column to forecast' },
    { flags: '--date-column <name>', help: 'the date column (rows must be in time order)' },
    { flags: '--features <list>', help: 'more input columns, comma-separated', parse: (v: string) => v.split(',').map((x) => x.trim()) },
    { flags: '--symbol <s>', help: '--dataset stocks: MSFT (default), AMZN, IBM, AAPL, GOOG' },
    { flags: '--window <n[,n...]>', help: 'input window; a list runs a sweep (default 24)', parse: intListArg(1) },
    { flags: '--horizon <n>', help: 'steps to forecast (default 12)', parse: intArg(1) },
    { flags: '--recursive', help: 'a one-step model fed its own predictions (one feature only)' },
    { flags: '--scale <kind>', help: 'scaling fitted on the training part (default minmax)', choices: ['minmax', 'standard'] },
    { flags: '--normalize <n>', help: "window (default: inputs and targets relative to the window's last value) or global", choices: ['window', 'global'] },
    { flags: '--season <n>', help: 'season length of the seasonal-naive baseline (default 12)', parse: intArg(1) },
  ],
  defaults: { hidden: 32, batch: 16, epochs: 30, window: [24], horizon: 12, scale: 'minmax', normalize: 'window', season: 12 },
  seqLength: (o) => Math.max(...o.window),
  build: buildSeries,
  sweep: windowSweep,
  printResult: printSeriesResult,
  use: forecastUse,
  report: seriesReport,
});
