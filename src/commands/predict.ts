/** `rnnlab forecast` (series checkpoints) and `rnnlab predict` (classification checkpoints). */
import type { Command } from 'commander';
import { readCheckpoint } from '../checkpoint.js';
import { loadSeries, seriesFromCsv } from '../data/series.js';
import { tokenizerFromJSON } from '../data/tokenizers.js';
import { createEngines } from '../engines/index.js';
import { InputError } from '../errors.js';
import { readCsv } from '../io/csv.js';
import { optimizerSpec } from '../optimizer.js';
import { resolveCheckpoint } from '../report/run.js';
import { formatTable } from '../report/table.js';
import { type ClassifyData, lowercases, predictText, prepareText } from '../tasks/classify.js';
import { type SeriesData, forecastNext } from '../tasks/timeseries.js';
import { type CheckpointEngineFlags, addCheckpointEngineOptions, checkpointEngineOptions } from './options.js';
import type { IO } from './io.js';

/** The date after `last`, stepping as the last two dates did (months when they are month starts). */
function nextDates(dates: string[] | undefined, h: number): string[] | null {
  if (!dates || dates.length < 2) return null;
  const a = new Date(Date.parse(dates[dates.length - 2]));
  const b = new Date(Date.parse(dates[dates.length - 1]));
  if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) return null;
  const months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth();
  const out: string[] = [];
  for (let i = 1; i <= h; i++) {
    if (months >= 1 && a.getUTCDate() === b.getUTCDate()) {
      const d = new Date(Date.UTC(b.getUTCFullYear(), b.getUTCMonth() + months * i, b.getUTCDate()));
      out.push(d.toISOString().slice(0, 10));
    } else {
      out.push(new Date(b.getTime() + i * (b.getTime() - a.getTime())).toISOString().slice(0, 10));
    }
  }
  return out;
}

export function registerPredict(program: Command, io: IO): void {
  addCheckpointEngineOptions(
    program
      .command('forecast')
      .description('print the next H values of a series from a forecasting checkpoint')
      .requiredOption('--checkpoint <dir>', 'a series checkpoint, or a run directory (its newest checkpoint)')
      .option('--csv <file>', "a CSV with the model's columns (default: the data the model was trained on, when built in)")
  )
    .addHelpText('after', '\nExample:\n  rnnlab forecast --checkpoint runs/series-20261122-101500 --csv data/co2-concentration.csv')
    .action(async (f: { checkpoint: string; csv?: string } & CheckpointEngineFlags) => {
      const ck = readCheckpoint(resolveCheckpoint(f.checkpoint));
      const d = ck.data as SeriesData | undefined;
      if (!d || d.task !== 'series') throw new InputError(`${ck.dir}: not a forecasting checkpoint (no series data.json)`);
      const series = f.csv
        ? seriesFromCsv(readCsv(f.csv), { column: d.columns[0], features: d.columns.slice(1), dateColumn: d.dateColumn })
        : builtIn(d);
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
    });

  addCheckpointEngineOptions(
    program
      .command('predict')
      .description('classify a text with a classification checkpoint: the label and the class probabilities')
      .requiredOption('--checkpoint <dir>', 'a classification checkpoint, or a run directory (its newest checkpoint)')
      .argument('<text>', 'the text to classify')
  )
    .addHelpText('after', '\nExample:\n  rnnlab predict --checkpoint runs/classify-20261122-101500 "Maria"')
    .action(async (text: string, f: { checkpoint: string } & CheckpointEngineFlags) => {
      const ck = readCheckpoint(resolveCheckpoint(f.checkpoint));
      const d = ck.data as ClassifyData | undefined;
      if (!d || d.task !== 'classify') throw new InputError(`${ck.dir}: not a classification checkpoint (no classify data.json)`);
      const tokenizer = tokenizerFromJSON(d.tokenizer, `${ck.dir}/data.json`);
      const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
      const input = prepareText(text, { lowercase: lowercases(d, tokenizer) });
      const p = await predictText(set.engines[0], tokenizer, d, input);
      await set.close();
      let best = 0;
      p.forEach((v, i) => {
        if (v > p[best]) best = i;
      });
      const probabilities = Object.fromEntries(d.classes.map((c, i) => [c, p[i]]));
      if (f.json) {
        io.out(JSON.stringify({ checkpoint: ck.dir, engine: set.engines[0].name, text, label: d.classes[best], probabilities }));
        return;
      }
      io.out(`${d.classes[best]}  (${(100 * p[best]).toFixed(1)}%)`);
      io.out(formatTable(['class', 'probability'], d.classes.map((c, i) => [c, p[i].toFixed(4)])));
    });
}

function builtIn(d: SeriesData): ReturnType<typeof loadSeries> {
  const m = /^dataset (\w+)(?: (\w+))?$/.exec(d.source);
  if (!m) throw new InputError(`this model was trained on ${d.source}; pass --csv with columns ${d.columns.join(', ')}`);
  return loadSeries({ dataset: m[1], symbol: m[2], seed: 1 });
}
