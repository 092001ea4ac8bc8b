/**
 * Forecasting: CSV parsing, windows and splits, scaling on the training part only, metrics and
 * baselines against hand computations, the CLI (json summary, sweep, forecast), and bad input.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseCsv } from '../src/io/csv.js';
import { fitScaler, seriesFromCsv, syntheticSeries } from '../src/data/series.js';
import { parseSpec } from '../src/spec.js';
import { SeriesTask, forecastMetrics } from '../src/tasks/series.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';

describe('CSV', () => {
  test('quotes, escaped quotes, embedded commas and newlines, CRLF', () => {
    const c = parseCsv('a,b\r\n1,"x, ""y""\nz"\r\n2,w\n', 't.csv');
    expect(c.columns).toEqual(['a', 'b']);
    expect(c.rows).toEqual([['1', 'x, "y"\nz'], ['2', 'w']]);
    expect(c.lines).toEqual([2, 4]);
  });
  test('ragged rows and unterminated quotes are named by line', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n', 't.csv')).toThrow('t.csv line 3: 1 fields, but the header has 2 ("a", "b")');
    expect(() => parseCsv('a,b\n1,"2\n', 't.csv')).toThrow(/quoted field starting on line 2 is never closed/);
  });
});

function seriesCsv(rows: number, f: (t: number) => number): string {
  const lines = ['month,value'];
  for (let t = 0; t < rows; t++) lines.push(`${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}-01,${f(t)}`);
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-series-'));
  const path = join(dir, 's.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('windows, splits, scaling, metrics, baselines', () => {
  const series = seriesFromCsv(parseCsv(['t,v', ...Array.from({ length: 100 }, (_, i) => `${i},${i * 2 + 1}`)].join('\n')), { column: 'v' });
  const spec = parseSpec({ cell: 'gru', inputSize: 1, hiddenSize: 4, outputSize: 3, returnSequences: false, loss: 'mse' });
  const scaler = fitScaler(series.values, series.columns, 70, 'minmax');

  test('scaling is fitted on the training part only', () => {
    expect(scaler.shift[0]).toBe(1); // min of v[0..69]
    expect(scaler.scale[0]).toBe(138); // max 139 - min 1
  });

  test('windows: training targets stay in the training part; validation and test follow in time', () => {
    const task = new SeriesTask(spec, series, scaler, { window: 5, horizon: 3, recursive: false, relative: false, batch: 4, season: 12, trainFraction: 0.7, valFraction: 0.15, seed: 1 });
    expect(task.ends.train[0]).toBe(5);
    expect(task.ends.train[task.ends.train.length - 1]).toBe(67); // targets 67, 68, 69
    expect(task.ends.val[0]).toBe(70);
    expect(task.ends.val[task.ends.val.length - 1]).toBe(82); // 70 + 15 - 3
    expect(task.ends.test[0]).toBe(85);
    expect(task.ends.test[task.ends.test.length - 1]).toBe(97);
    const { batch } = task.nextBatch();
    // y = the next 3 scaled values after each window, x = the 5 before
    const e = Math.round(((batch.x[4] as number) * 138 + 1 - 1) / 2) + 1; // window end from its last input
    expect((batch.y![0] as number) * 138 + 1).toBeCloseTo(2 * e + 1, 4);
  });

  test('window-relative inputs end at zero and targets are changes', () => {
    const task = new SeriesTask(spec, series, scaler, { window: 5, horizon: 3, recursive: false, relative: true, batch: 2, season: 12, trainFraction: 0.7, valFraction: 0.15, seed: 1 });
    const { batch } = task.nextBatch();
    expect(batch.x[4]).toBe(0);
    expect((batch.y![0] as number) * 138).toBeCloseTo(2, 4); // one step of +2
  });

  test('MAE, RMSE and MAPE (zero targets skipped) by hand', () => {
    const m = forecastMetrics([1, 2, 4, 1], [2, 2, 2, 0]);
    expect(m.mae).toBeCloseTo((1 + 0 + 2 + 1) / 4, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt((1 + 0 + 4 + 1) / 4), 12);
    expect(m.mape).toBeCloseTo((100 * (0.5 + 0 + 1)) / 3, 12);
  });

  test('baselines: seasonal naive is exact on a periodic series; persistence lags a trend', () => {
    const periodic = seriesFromCsv(parseCsv(['v', ...Array.from({ length: 120 }, (_, t) => String(Math.sin((2 * Math.PI * t) / 12)))].join('\n')), { column: 'v' });
    const task = new SeriesTask(spec, periodic, fitScaler(periodic.values, periodic.columns, 84, 'minmax'), { window: 12, horizon: 3, recursive: false, relative: false, batch: 4, season: 12, trainFraction: 0.7, valFraction: 0.15, seed: 1 });
    const b = task.baselines(task.ends.test);
    const truth = task.ends.test.flatMap((e) => [0, 1, 2].map((h) => periodic.values[0][e + h]));
    expect(forecastMetrics(b.seasonalNaive, truth).mae).toBeLessThan(1e-12);
    const trend = new SeriesTask(spec, series, scaler, { window: 5, horizon: 3, recursive: false, relative: false, batch: 4, season: 12, trainFraction: 0.7, valFraction: 0.15, seed: 1 });
    const tb = trend.baselines(trend.ends.test);
    const tt = trend.ends.test.flatMap((e) => [0, 1, 2].map((h) => series.values[0][e + h]));
    expect(forecastMetrics(tb.persistence, tt).mae).toBeCloseTo((2 + 4 + 6) / 3, 10); // steps of 2 per row
    expect(tb.mean[0]).toBeCloseTo(70, 10); // mean of 1, 3, ..., 139
  });

  test('the synthetic series is seeded', () => {
    expect(Array.from(syntheticSeries(3).values[0])).toEqual(Array.from(syntheticSeries(3).values[0]));
    expect(syntheticSeries(3).values[0][5]).not.toBe(syntheticSeries(4).values[0][5]);
  });
});

describe('rnnlab train --task series, forecast', () => {
  test('--json: the last line holds the test metrics of the model and every baseline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-s-'));
    const r = rnnlab(['train', '--task', 'series', '--dataset', 'synthetic', '--epochs', '8', '--hidden', '16', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]);
    for (const k of ['model', 'persistence', 'seasonalNaive', 'mean']) {
      expect(Object.keys(last.test[k]).sort()).toEqual(['mae', 'mape', 'rmse']);
    }
    // on trend + seasons the persistence forecast is poor: a trained model beats it
    expect(last.test.model.mae).toBeLessThan(last.test.persistence.mae);
    expect(typeof last.beatsBaselines).toBe('boolean');
    const f = rnnlab(['forecast', '--checkpoint', dir, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout).forecast).toHaveLength(12);
  });

  test('a window sweep prints one row per window; a CSV with features; recursive forecasts', () => {
    const csv = seriesCsv(150, (t) => 10 + Math.sin(t / 2));
    const r = rnnlab(['train', '--task', 'series', '--csv', csv, '--column', 'value', '--date-column', 'month', '--window', '4,8', '--horizon', '3', '--epochs', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const sweep = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(sweep.rows.map((x: { window: number }) => x.window)).toEqual([4, 8]);
    const rec = rnnlab(['train', '--task', 'series', '--csv', csv, '--column', 'value', '--window', '6', '--horizon', '4', '--recursive', '--epochs', '2', '--json']);
    expect(rec.code, rec.stderr).toBe(0);
    const out = JSON.parse(rec.stdout.trim().split('\n').pop()!);
    expect(out.horizon).toBe(4);
    const human = rnnlab(['train', '--task', 'series', '--csv', csv, '--column', 'value', '--window', '6', '--horizon', '3', '--epochs', '1']);
    expect(human.stdout).toMatch(/forecaster\s+MAE\s+RMSE\s+MAPE/);
    expect(human.stdout).toMatch(/the model (beats every baseline|does NOT beat)/);
  });

  test('bad input: one clear line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-bad-'));
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 't,v\n1,2\n2,abc\n3,4\n');
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', bad, '--column', 'v']), /bad\.csv line 3, column "v": "abc" is not a number/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', bad, '--column', 'price']), /no column "price" \(--column\); the columns are "t", "v"/, expect);
    const short = seriesCsv(30, (t) => t);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', short, '--column', 'value', '--window', '24']), /30 rows leave 21 for training \(70%\), fewer than window 24 \+ horizon 12/, expect);
    const flat = seriesCsv(200, () => 3.5);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', flat, '--column', 'value']), /column "value" is constant over the training part \(every value 3\.5\); scaling would divide by zero/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--dataset', 'stocks', '--symbol', 'XYZ']), /stocks\.csv has no symbol "XYZ"/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', join(dir, 'none.csv'), '--column', 'v']), /none\.csv: no such file/, expect);
    writeFileSync(join(dir, 'unsorted.csv'), 'd,v\n2001-01-01,1\n2000-01-01,2\n');
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', join(dir, 'unsorted.csv'), '--column', 'v', '--date-column', 'd']), /rows must be in time order/, expect);
  });
});
