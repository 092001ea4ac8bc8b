/**
 * `rnnlab train`: the flags of a training run, resolved (built-in defaults < the task's defaults <
 * a preset < the command line; on --resume the checkpoint's options), and the run (src/train/run.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { readCheckpoint } from '../io/checkpoint.js';
import { kindOfCheckpoint } from '../train/kinds.js';
import { BROWSER_HELP, collectEngines } from '../engines/registry.js';
import { InputError, quote } from '../errors.js';
import { PRESETS } from '../tasks/presets.js';
import { resolveCheckpoint, runDirOf } from '../io/run-dir.js';
import { refuseIfLocked } from '../io/run-folder.js';
import { RESUME_OVERRIDABLE, SHARED_DEFAULTS, type TrainOptions, modelFlagsOf } from '../run-options.js';
import { TASKS, taskModule, taskOnlyKeys } from '../tasks/registry.js';
import { taskOptions } from './task-flags.js';
import { runTrain } from '../train/run.js';
import { resumeEngines, resumeMayGive, validateStoredOptions } from './resume-options.js';
import { BLAS_FLAG, ENGINE_TIMEOUT_HELP, addSharedFlags, engineTimeoutArg, kernelsOption } from './flags.js';
import { choice, intArg, seedArg, threadsArg, intListArg, numArg, flagName } from '../io/args.js';
import type { IO } from '../io/output.js';


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
  // the model and the optimizer (src/commands/flags.ts); their defaults are the tasks' (src/run-options.ts)
  addSharedFlags(cmd, ['cell', 'hidden', 'layers', 'activation', 'recurrentActivation', 'gruResetAfter', 'unitForgetBias', 'bidirectional', 'merge', 'embedding', 'lossReduction'], {
    notes: { cell: 'default lstm', hidden: `default ${perTask('hidden')}`, layers: 'default 1', bidirectional: 'series, classify: every layer reads both ways; seq2seq: the encoder does, its directions concatenated and the decoder 2H wide', merge: 'default concat', embedding: 'token tasks', lossReduction: 'text; default mean' },
  });
  cmd.option('--batch <n>', `windows or sequences per step (default ${perTask('batch')})`, intArg(1));
  addSharedFlags(cmd, ['optimizer', 'lr', 'momentum', 'epsilon', 'initialAccumulator', 'clipValue', 'clipNorm'], {
    notes: { optimizer: 'default adam', lr: 'default 0.002 for adam; the optimizer default otherwise', momentum: 'momentum, rmsprop', clipNorm: 'default 5 unless --clip-value is given; 0: no clipping, for engines without it' },
  });
  cmd
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
      await runTrain(resolveOptions(command, io), io, t0);
    });
}

/** defaults < task defaults < preset < command line; with --resume the checkpoint's options < (length and output flags). */
function resolveOptions(command: Command, io: IO): TrainOptions {
  const given = command.opts() as Record<string, unknown>;
  const fromCli = (k: string): boolean => command.getOptionValueSource(k) === 'cli';
  if (given.resume) {
    // a run another process is writing is not read at all (its newest checkpoint may be pruned meanwhile)
    const asked = String(given.resume);
    const home = existsSync(join(asked, 'run.json')) ? asked : runDirOf(asked);
    if (home !== null && existsSync(home)) refuseIfLocked(home);
    const dir = resolveCheckpoint(asked);
    const ck = kindOfCheckpoint(dir).readCheckpoint(dir);
    if (ck.meta?.options === undefined) throw new InputError(`${dir}: this checkpoint has no training options (meta.json); it cannot be resumed`);
    // read like user input: each stored value is one its flag would give
    const saved = validateStoredOptions(ck.meta.options, command, `${dir}/meta.json`);
    // the run continues where its checkpoint is (or in --out), never where the checkpoint says it
    // once was; the programs and libraries a run used (the Python of the pytorch engine, the BLAS
    // library, the browser) are the command line's (or the defaults), never the folder's: loading a
    // library or starting a program a run folder names would run code from that folder
    const o: TrainOptions = { ...saved, resume: dir, out: undefined, python: undefined, blas: undefined, browser: undefined };
    for (const k of ['python', 'blas', 'browser'] as const) {
      const was = (saved as unknown as Record<string, unknown>)[k];
      if (typeof was === 'string' && !fromCli(k)) io.err(`rnnlab: note: the run was started with ${flagName(k)} ${quote(was)}; rnnlab never takes a program or library from a run folder, so this run uses the default: give ${flagName(k)} again to continue on it`);
    }
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






