/**
 * `rnnlab train`: a task (text, series, classify), a model, one or both engines, and the training
 * loop of src/train.ts. Flag values come from: built-in defaults < the task's defaults < a preset
 * < the command line.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { type Checkpoint, optimizerRestarts, readCheckpoint, restoreEngineSet } from '../checkpoint.js';
import { BROWSER_HELP, collectEngines, createEngines, parseEngineList } from '../engines/index.js';
import { InputError } from '../errors.js';
import { describeOptimizer, optimizerSlots } from '../optimizer.js';
import { type NamedParams, initParams, paramCount } from '../params.js';
import { PRESETS } from '../presets.js';
import { type RunDir, SWEEP_FILE, type SweepRecord, defaultRunDir, environmentInfo, newRunDir, openRunDir, removeStaleTemps, resolveCheckpoint, runDirOf } from '../report/run.js';
import { writeFileAtomic } from '../io/atomic.js';
import { refuseIfLocked } from '../io/run-folder.js';
import { checkCheckpointBelongs, checkResumable, recordDataFiles, restoreDataFiles, trimRecordsAfter } from '../resume.js';
import { assertFits } from '../sizes.js';
import { claims } from '../supports.js';
import { duration, fixed, plural } from '../report/table.js';
import { deriveSeed } from '../rng.js';
import { CELLS, appliesToCell, cellChoices } from '../cells.js';
import { type ModelSpec, describeSpec, specToJSON } from '../spec.js';
import { RESUME_OVERRIDABLE, SHARED_DEFAULTS, type TrainOptions, buildOptimizer, flagName } from '../tasks/options.js';
import { TASKS, taskModule, taskOnlyKeys, taskOptions } from '../tasks/registry.js';
import type { AnyTaskModule, ParamDiff, TrainSummary } from '../tasks/task.js';
import { train } from '../train.js';
import { VERSION } from '../version.js';
import { resumeEngines, resumeMayGive, validateStoredOptions } from './resume-options.js';
import { BLAS_FLAG, choice, intArg, kernelsOption, seedArg, threadsArg, intListArg, numArg, ENGINE_TIMEOUT_HELP, engineTimeoutArg } from './options.js';
import type { IO } from './io.js';

export type { TrainOptions } from '../tasks/options.js';

/** "text 128, series 32, classify 64": each task's default of a shared flag, for its help. */
const perTask = (k: 'hidden' | 'batch' | 'steps' | 'epochs'): string =>
  TASKS.filter((t) => t.defaults[k] !== undefined).map((t) => `${t.name} ${t.defaults[k]}`).join(', ');

export function registerTrain(program: Command, io: IO): void {
  const cmd = program
    .command('train')
    .description('train a model on a task with the scratch engine, tfjs, or both side by side')
    .addOption(choice('--task <task>', `${TASKS.map((t) => t.summary).join(', ')}; default text`, TASKS.map((t) => t.name)))
    .addOption(new Option('--preset <name>', `a named bundle of flags (${Object.keys(PRESETS).join(', ')}); other flags override it`).choices(Object.keys(PRESETS)));
  // each task's own flags (src/tasks/<task>.ts)
  for (const opt of taskOptions()) cmd.addOption(opt);
  cmd
    // model
    .addOption(choice('--cell <cell>', `${cellChoices()} (default lstm)`, CELLS))
    .option('--hidden <n>', `hidden units (default ${perTask('hidden')})`, intArg(1))
    .option('--layers <n>', 'stacked layers (default 1)', intArg(1))
    .addOption(choice('--activation <a>', 'rnn activation', ['tanh', 'relu']))
    .addOption(choice('--recurrent-activation <a>', 'lstm/gru gates', ['sigmoid', 'hardSigmoid']))
    .option('--gru-reset-after', 'reset-after GRU (PyTorch, Keras 2)')
    .option('--unit-forget-bias', 'lstm forget-gate bias starts at 1')
    .option('--bidirectional', 'series/classify: every layer reads the sequence both ways')
    .addOption(choice('--merge <m>', 'how a bidirectional layer combines its directions (default concat)', ['concat', 'sum', 'mul', 'ave']))
    .option('--embedding <e>', 'token tasks: a learned embedding of width e instead of gathering kernel rows', intArg(1))
    .addOption(choice('--loss-reduction <r>', 'text: mean over tokens (default), or summed over the window', ['mean', 'sumOverTime']))
    .option('--batch <n>', `windows or sequences per step (default ${perTask('batch')})`, intArg(1))
    // optimizer
    .addOption(choice('--optimizer <name>', 'optimizer (default adam)', ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad']))
    .option('--lr <x>', 'learning rate (default 0.002 for adam; the optimizer default otherwise)', numArg({ positive: true }))
    .option('--momentum <x>', 'momentum (momentum, rmsprop)', numArg({ min: 0 }))
    .option('--epsilon <x>', 'optimizer epsilon (default 1e-7, as tfjs)', numArg({ positive: true }))
    .option('--initial-accumulator <x>', 'adagrad accumulator start (default 0.1; 0 = classic)', numArg({ min: 0 }))
    .option('--clip-value <x>', 'clip each gradient element to [-x, x]', numArg({ positive: true }))
    .option('--clip-norm <x>', 'then clip the global gradient norm to x (default 5 unless --clip-value is given; 0: no clipping, for engines without it)', numArg({ min: 0 }))
    .option('--seed <n>', 'seed of weights, data order and samples (default 1)', seedArg)
    // run
    .option('--engine <e>', 'one engine: scratch (default), tfjs, pytorch, a module path, "cmd:COMMAND"; or both (scratch and tfjs side by side)')
    .option('--engines <list>', 'engines side by side from identical weights and batches, e.g. scratch,pytorch (repeatable; docs/engines.md)', collectEngines)
    .option('--python <path>', 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)')
    .option('--browser <path>', BROWSER_HELP)
    .option('--engine-timeout <s>', ENGINE_TIMEOUT_HELP, engineTimeoutArg)
    .addOption(choice('--backend <b>', 'tfjs backend (default auto)', ['auto', 'node', 'wasm', 'cpu']))
    .addOption(kernelsOption('scratch kernels (default auto)'))
    .option(...BLAS_FLAG)
    .option('--threads <n>', 'threads for the scratch kernels (default: the cores, at most 2); on the WebAssembly kernels results do not depend on it, on the BLAS they may differ in the last bits', threadsArg)
    .option('--steps <n>', `optimizer steps (default: ${perTask('steps')})`, intArg(1))
    .option('--epochs <n>', `passes over the training data (default: ${perTask('epochs')})`, numArg({ positive: true }))
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
    .option('--init <dir>', 'start from a checkpoint\'s weights (fine-tuning; an `rnnlab import`ed model too): a new run with a fresh optimizer; the model flags default to the checkpoint\'s')
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
        '  rnnlab train --resume runs/text-20261122-101500 --steps 1000\n' +
        '  rnnlab train --task classify --csv reviews.csv --text-column review --label-column sentiment --init models/mine',
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
    // a run another process is writing is not read at all (its newest checkpoint may be pruned meanwhile)
    const asked = String(given.resume);
    const home = existsSync(join(asked, 'run.json')) ? asked : runDirOf(asked);
    if (home !== null && existsSync(home)) refuseIfLocked(home);
    const dir = resolveCheckpoint(asked);
    const ck = readCheckpoint(dir);
    if (ck.meta?.options === undefined) throw new InputError(`${dir}: this checkpoint has no training options (meta.json); it cannot be resumed`);
    // read like user input: each stored value is one its flag would give
    const saved = validateStoredOptions(ck.meta.options, command, `${dir}/meta.json`);
    // the run continues where its checkpoint is (or in --out), never where the checkpoint says it
    // once was; the Python of the pytorch engine is the command line's (or the default), never the folder's
    const o: TrainOptions = { ...saved, resume: dir, out: undefined, python: undefined };
    for (const k of Object.keys(given)) {
      if (!fromCli(k) || k === 'resume') continue;
      if (!resumeMayGive(k)) {
        throw new InputError(`${flagName(k)} cannot change on --resume (the run continues exactly as it started); only ${[...RESUME_OVERRIDABLE].map(flagName).join(', ')} (and the run's own --engine/--engines, restated)`);
      }
      if (k !== 'engine' && k !== 'engines') (o as unknown as Record<string, unknown>)[k] = given[k];
    }
    // nothing in a run folder is executed: a command or module engine must be named again
    Object.assign(o, resumeEngines(saved, { engine: fromCli('engine') ? String(given.engine) : undefined, engines: fromCli('engines') ? (given.engines as string[]) : undefined }, dir));
    if (fromCli('steps') || fromCli('epochs')) {
      // a new length replaces the old one, a time limit included (unless given again)
      if (!fromCli('steps')) delete o.steps;
      if (!fromCli('epochs')) delete o.epochs;
      if (!fromCli('minutes')) delete o.minutes;
    }
    return o;
  }
  if (fromCli('engine') && fromCli('engines')) throw new InputError('give either --engine or --engines, not both');
  const preset = given.preset ? PRESETS[String(given.preset)].flags : {};
  const cli: Record<string, unknown> = {};
  for (const k of Object.keys(given)) if (fromCli(k)) cli[k] = given[k];
  const task = taskModule(String(cli.task ?? preset.task ?? 'text'));
  const taskOnly = taskOnlyKeys();
  for (const k of Object.keys(cli)) {
    const only = taskOnly.get(k);
    if (only && !only.includes(task.name)) throw new InputError(`${flagName(k)} is a ${only.join('/')} flag; the ${task.name} task does not use it`);
  }
  if (cli.init !== undefined && given.resume) throw new InputError('give either --resume (continue a run) or --init (start a new run from its weights)');
  // fine-tuning: the model's shape comes from the checkpoint unless the command line says otherwise
  const fromInit = cli.init !== undefined ? modelFlagsOf(readCheckpoint(resolveCheckpoint(String(cli.init))).spec) : {};
  const o = { ...SHARED_DEFAULTS, ...task.defaults, ...preset, ...fromInit, ...cli, task: task.name } as Record<string, unknown>;
  // an explicit length replaces the default length of the other kind
  if ('steps' in cli || 'minutes' in cli || 'steps' in preset) delete o.epochs;
  if ('epochs' in cli) delete o.steps;
  if ('minutes' in cli && !('steps' in cli) && !('epochs' in cli)) delete o.steps;
  return o as unknown as TrainOptions;
}

export async function runTrain(o: TrainOptions, io: IO, t0: number): Promise<void> {
  const task = taskModule(o.task);
  if (task.run) return task.run(o, io);
  const sweep = task.sweep?.(o) ?? null;
  if (sweep) {
    const base = o.out ?? defaultRunDir(sweep.name);
    // claimed and locked once; each run goes into a new folder inside
    const folder = newRunDir(base, { overwrite: o.overwrite, kind: 'sweep', onStale: (l) => io.err(`rnnlab: ${l}`) });
    const summaries: TrainSummary[] = [];
    try {
      for (const r of sweep.runs) summaries.push(await runOne(task, { ...r.options, overwrite: undefined, out: join(base, r.folder) }, io, performance.now(), true));
      // what plot, report and forecast read to find the runs (and the best of them)
      const record: SweepRecord = {
        kind: 'sweep',
        task: task.name,
        runs: sweep.runs.map((r, i) => ({ folder: r.folder, valLoss: Object.values(summaries[i].validation)[0]?.valLoss ?? null })),
      };
      writeFileAtomic(join(base, SWEEP_FILE), JSON.stringify(record, null, 2) + '\n');
      folder.writeRunJson({ command: ['rnnlab', ...process.argv.slice(2)].join(' '), kind: 'sweep', task: task.name, runs: record.runs.map((r) => r.folder), ...environmentInfo() });
    } finally {
      folder.release();
    }
    sweep.print(io, o, summaries, base);
    return;
  }
  await runOne(task, o, io, t0, false);
}

/** --init: the checkpoint must be the model these options and this data build (same spec; for classifiers the same classes in the same order). */
function checkInit(ck: Checkpoint & { dir: string }, spec: ModelSpec, data: unknown, given: string): void {
  const saved = ck.data as { classes?: string[]; tokenizer?: unknown } | undefined;
  if (ck.spec.input === 'tokens' && ck.vocab === undefined && !saved?.tokenizer) {
    throw new InputError(`--init ${given}: the checkpoint has no vocabulary (vocab.json or data.json), so its token ids mean nothing to this data; import it with --vocab (and --labels for a classifier)`);
  }
  const a = specToJSON(ck.spec);
  const b = specToJSON(spec);
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    throw new InputError(`--init ${given}: the checkpoint's model differs from the one this task and data build in ${keys.map((k) => `${k} (${JSON.stringify(a[k])} there, ${JSON.stringify(b[k])} here)`).join(', ')}`);
  }
  const had = saved?.classes;
  const now = (data as { classes?: string[] } | undefined)?.classes;
  if (now && !had) throw new InputError(`--init ${given}: the checkpoint does not name its classes, so its head's order is unknown; import it with --vocab and --labels`);
  if (had && now && JSON.stringify(had) !== JSON.stringify(now)) {
    throw new InputError(`--init ${given}: the checkpoint's classes (${had.join(', ')}) are not the data's (${now.join(', ')}) in the same order; the head would predict the wrong labels`);
  }
}

/** The train flags that shape a model, as a checkpoint's spec has them. */
function modelFlagsOf(spec: ModelSpec): Record<string, unknown> {
  return {
    cell: spec.cell,
    hidden: spec.hiddenSize,
    layers: spec.layers,
    ...(appliesToCell('activation', spec.cell) ? { activation: spec.activation } : {}),
    ...(appliesToCell('recurrentActivation', spec.cell) ? { recurrentActivation: spec.recurrentActivation } : {}),
    ...(spec.gruResetAfter ? { gruResetAfter: true } : {}),
    ...(spec.bidirectional ? { bidirectional: true, merge: spec.merge } : {}),
    ...(spec.embedding > 0 ? { embedding: spec.embedding } : {}),
    ...(spec.lossReduction !== 'mean' ? { lossReduction: spec.lossReduction } : {}),
  };
}

async function runOne(def: AnyTaskModule, o: TrainOptions, io: IO, t0: number, inSweep: boolean): Promise<TrainSummary> {
  const resumeCk = o.resume ? readCheckpoint(o.resume) : null;
  const initCk = !resumeCk && o.init ? readCheckpoint(resolveCheckpoint(o.init)) : null;
  // a resume reads the data where the run recorded it, and only if it is unchanged
  if (resumeCk) o = restoreDataFiles(o);
  // where the run writes: a new run claims (and locks) its directory before any work; a resume
  // continues in the run directory that holds the checkpoint (or in --out), locked too
  const stale = (line: string): void => io.err(`rnnlab: ${line}`);
  let runDir: string;
  let run: RunDir;
  let resumedElsewhere = false;
  if (!resumeCk) {
    runDir = o.out ?? defaultRunDir(o.preset ?? o.task);
    run = newRunDir(runDir, { overwrite: o.overwrite, onStale: stale });
  } else {
    const home = runDirOf(resumeCk.dir);
    if (o.out !== undefined && (home === null || resolve(o.out) !== resolve(home))) {
      runDir = o.out;
      run = newRunDir(runDir, { onStale: stale });
      resumedElsewhere = true;
    } else if (home !== null) {
      runDir = home;
      const opened = openRunDir(runDir, stale);
      run = opened;
      checkCheckpointBelongs(resumeCk, opened.runJson, runDir, o.task);
    } else {
      throw new InputError(`${resumeCk.dir}: this checkpoint is not inside a run directory (…/checkpoints/step-N); give --out DIR for the continued run`);
    }
    for (const t of removeStaleTemps(runDir)) io.err(`rnnlab: removed ${t}, left by a write that was cut short`);
  }
  try {
    return await runClaimed(def, o, io, t0, inSweep, { resumeCk, initCk, runDir, run, resumedElsewhere });
  } finally {
    run.release();
  }
}

async function runClaimed(
  def: AnyTaskModule,
  o: TrainOptions,
  io: IO,
  t0: number,
  inSweep: boolean,
  c: { resumeCk: (Checkpoint & { dir: string }) | null; initCk: (Checkpoint & { dir: string }) | null; runDir: string; run: RunDir; resumedElsewhere: boolean },
): Promise<TrainSummary> {
  const { resumeCk, initCk, runDir, run, resumedElsewhere } = c;
  // a checkpoint's vocabulary / tokenizer is the one its weights were trained with
  if (!def.build) throw new Error(`task ${def.name} has neither build nor run`);
  const built = def.build(o, resumeCk ?? initCk);
  const { task, spec } = built;
  if (resumeCk && JSON.stringify(specToJSON(resumeCk.spec)) !== JSON.stringify(specToJSON(spec))) {
    throw new InputError(`${o.resume}: the checkpoint's spec does not match the model these options build`);
  }
  if (initCk) checkInit(initCk, spec, built.data, o.init!);
  const refs = parseEngineList(o.engines ?? [o.engine], o.backend as 'auto');
  assertFits(spec, { batch: o.batch, seq: def.seqLength(o), engines: refs.length, bytesPerFloat: refs.some((r) => 'dtype' in r && r.dtype === 'float64') ? 8 : 4 });
  const dataFiles = resumeCk ? o.dataFiles : recordDataFiles(o);
  const optimizer = buildOptimizer(o);
  const params: NamedParams = resumeCk ? resumeCk.params : initCk ? initCk.params : initParams(spec, deriveSeed(o.seed, 'weights'));
  const tLoad = performance.now();
  const set = await createEngines(refs, spec, {
    params,
    optimizer,
    kernels: o.kernels,
    blas: o.blas,
    threads: o.threads,
    python: o.python,
    browser: o.browser,
    timeoutMs: o.engineTimeout !== undefined ? o.engineTimeout * 1000 : undefined,
    onProgress: (w) => io.progress(w),
  });
  const loadMs = performance.now() - tLoad;
  const engines = set.engines;
  // what the task needs of each engine beyond the model: refused before the first step, or worked around (said below)
  const fitNotes: string[] = [];
  for (const e of engines) {
    const fit = task.fit?.(claims(e)) ?? {};
    if (fit.refuse) {
      await set.close();
      throw new InputError(`engine ${e.name} cannot train the ${o.task} task: it does not support ${fit.refuse}`);
    }
    for (const n of fit.notes ?? []) fitNotes.push(`${e.name}: ${n}`);
  }
  let resume: Parameters<typeof train>[0]['resume'];
  if (resumeCk) {
    const meta = checkResumable(resumeCk, { spec, optimizer, stateful: task.stateful, batch: o.batch, engines });
    task.setCursor(meta.cursor);
    const carried = await restoreEngineSet(resumeCk, engines, spec.layers);
    const exact = optimizerSlots(optimizer.name).length === 0;
    for (const name of optimizerRestarts(engines)) {
      io.err(`rnnlab: note: ${name} keeps no optimizer state (its handshake does not claim optimizerState): its optimizer restarts at step ${meta.step}${exact ? ` (${optimizer.name} keeps nothing between steps, so nothing is lost)` : ', so the run does not continue exactly as an uninterrupted one would'}`);
    }
    // records a run cut short wrote after this checkpoint belong to steps that are done again
    if (!resumedElsewhere) for (const line of trimRecordsAfter(runDir, meta.step)) io.err(`rnnlab: ${line}`);
    resume = { step: meta.step, elapsedSeconds: meta.elapsedSeconds, carried, sampleRng: meta.sampleRng, trainSeconds: meta.trainSeconds, checkpoint: resumeCk.dir };
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
      ...(initCk ? { initialisedFrom: resolve(initCk.dir) } : {}),
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
      ...(set.notes.length || fitNotes.length ? { engineNotes: [...set.notes, ...fitNotes] } : {}),
      backend: set.backend,
      ...environmentInfo({ tfjs: set.tfjsVersion }),
      startedAt: new Date().toISOString(),
    });
  }
  // about 20 lines per run: by steps, and for a time-limited run also by time (its step count is unknown)
  const logEvery = o.logEvery ?? (timeOnly ? Number.MAX_SAFE_INTEGER : Math.max(1, Math.round(totalSteps / 20)));
  const logSeconds = o.minutes !== undefined && o.logEvery === undefined ? Math.max(0.5, (o.minutes * 60) / 20) : undefined;
  if (!o.json) {
    io.out(`train ${o.task}${o.preset ? ` (preset ${o.preset})` : ''}${resumeCk ? ` resumed from ${resumeCk.dir} at step ${resume!.step}` : ''}`);
    for (const line of task.describe()) io.out(`  ${line}`);
    io.out(`  model: ${describeSpec(spec)}; ${paramCount(spec).toLocaleString('en-US')} parameters`);
    io.out(`  engines: ${set.descriptions.join('; ')}${set.notes.length ? ` (note: ${set.notes.join('; ')})` : ''}`);
    for (const n of fitNotes) io.out(`  note: ${n}`);
    const length = timeOnly ? plural(o.minutes!, 'minute') : `${plural(totalSteps, 'step')} (${plural(Number((totalSteps / perEpoch).toFixed(2)), 'epoch')})${o.minutes !== undefined ? ` or ${plural(o.minutes, 'minute')}` : ''}`;
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
    logSeconds,
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
  io.out(`done: ${plural(summary.steps, 'step')} (${plural(summary.epochs, 'epoch')}) in ${duration(summary.elapsedSeconds)}; last loss ${losses}; per step ${ms}`);
  if (summary.paramDiff) for (const line of paramDiffVerdict(summary.paramDiff, engines.map((e) => e.name), set.notes)) io.out(line);
  def.printResult?.(io.out, summary, engines[0].name);
  io.out(`checkpoint: ${summary.checkpoint}`);
  return final;
}

/**
 * The verdict on engines trained side by side, with the tolerance policy of check: do their
 * parameters stay within the trajectory tolerance, and if not, from which step, and whether a
 * known difference (an engine's note, such as tfjs's fixed Adagrad epsilon) explains it.
 */
export function paramDiffVerdict(d: ParamDiff, names: string[], notes: string[]): string[] {
  const who = names.length === 2 ? `${names[1]} and ${names[0]}` : `${names.slice(1).join(', ')} against ${names[0]}`;
  const peak = `largest parameter difference ${d.max.toExponential(2)} at step ${d.maxStep} (max rel err${d.everyStep ? '' : ', measured at the logged steps'}; ${d.last.toExponential(2)} after the last step)`;
  if (d.driftStep === null) return [`engines agree: ${who} stay within ${d.limit.toExponential(0)}, the trajectory tolerance of check; ${peak}`];
  const lines = [`engines part ways: ${who} differ by more than ${d.limit.toExponential(0)} (the trajectory tolerance of check) from step ${d.driftStep}; ${peak}`];
  if (notes.length) lines.push(`  a known difference explains it: ${notes.join('; ')}`);
  else lines.push('  no known difference explains it: run `rnnlab check` with this model and optimizer to see which gradient or update differs');
  return lines;
}
