/**
 * One training run, as `rnnlab train` starts it from resolved options: the run directory claimed
 * (or, on --resume, reopened) and locked, the task built, the engines created through the
 * registry and restored from a checkpoint, the header printed, the loop (./loop.ts) run, and the
 * summary and verdict printed; a sweep (several runs from one command) runs each in its folder.
 */
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type Checkpoint, optimizerRestarts, restoreEngineSet } from '../io/checkpoint.js';
import type { Engine } from '../engine.js';
import type { IO } from '../io/output.js';
import { type RunDir, SWEEP_FILE, type SweepRecord, defaultRunDir, environmentInfo, newRunDir, openRunDir, removeStaleTemps, resolveCheckpoint, runDirOf } from '../io/run-dir.js';
import { duration, fixed, plural } from '../io/table.js';
import { describeOptimizer, optimizerSlots } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import { deriveSeed } from '../rng.js';
import { type TrainOptions, buildOptimizer } from '../run-options.js';
import { type ModelSpec, specToJSON } from '../spec.js';
import { claims } from '../supports.js';
import { taskModule } from '../tasks/registry.js';
import type { AnyTaskModule, ModelKind, ParamDiff, TrainSummary } from '../tasks/task.js';
import { SEQUENCE_KIND, kindOf } from './kinds.js';
import { VERSION } from '../version.js';
import { train } from './loop.js';
import { checkCheckpointBelongs, checkResumable, recordDataFiles, restoreDataFiles, trimRecordsAfter } from './resume.js';

export async function runTrain(o: TrainOptions, io: IO, t0: number): Promise<void> {
  const task = taskModule(o.task);
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
  if (ck.spec.input === undefined) return; // not a single-stack model: its task refuses --init
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

async function runOne(def: AnyTaskModule, o: TrainOptions, io: IO, t0: number, inSweep: boolean): Promise<TrainSummary> {
  const kind = kindOf(def);
  const resumeCk = o.resume ? kind.readCheckpoint(o.resume) : null;
  const initCk = !resumeCk && o.init ? kind.readCheckpoint(resolveCheckpoint(o.init)) : null;
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
    return await runClaimed(def, kind, o, io, t0, inSweep, { resumeCk, initCk, runDir, run, resumedElsewhere });
  } finally {
    run.release();
  }
}

async function runClaimed(
  def: AnyTaskModule,
  kind: ModelKind,
  o: TrainOptions,
  io: IO,
  t0: number,
  inSweep: boolean,
  c: { resumeCk: (Checkpoint & { dir: string }) | null; initCk: (Checkpoint & { dir: string }) | null; runDir: string; run: RunDir; resumedElsewhere: boolean },
): Promise<TrainSummary> {
  const { resumeCk, initCk, runDir, run, resumedElsewhere } = c;
  // a checkpoint's vocabulary / tokenizer is the one its weights were trained with
  const built = def.build(o, resumeCk ?? initCk);
  const { task, spec } = built;
  if (resumeCk && JSON.stringify(kind.specJSON(resumeCk.spec)) !== JSON.stringify(kind.specJSON(spec))) {
    throw new InputError(`${o.resume}: the checkpoint's spec does not match the model these options build`);
  }
  if (initCk && kind === SEQUENCE_KIND) checkInit(initCk, spec as ModelSpec, built.data, o.init!);
  kind.assertFits?.(o, spec, def.seqLength(o));
  const dataFiles = resumeCk ? o.dataFiles : recordDataFiles(o);
  const optimizer = buildOptimizer(o);
  const params: NamedParams = resumeCk ? resumeCk.params : initCk ? initCk.params : kind.initParams(spec, deriveSeed(o.seed, 'weights'));
  const tLoad = performance.now();
  const set = await kind.openEngines(o, spec, params, optimizer, io);
  const loadMs = performance.now() - tLoad;
  const engines = set.engines;
  // what the task needs of each engine beyond the model: refused before the first step, or worked around (said below)
  const fitNotes: string[] = [];
  for (const e of engines) {
    const fit = task.fit?.(claims(e as Engine)) ?? {};
    if (fit.refuse) {
      await set.close();
      throw new InputError(`engine ${e.name} cannot train the ${o.task} task: it does not support ${fit.refuse}`);
    }
    for (const n of fit.notes ?? []) fitNotes.push(`${e.name}: ${n}`);
  }
  let resume: Parameters<typeof train>[0]['resume'];
  // known differences a resume makes between engines trained side by side (an optimizer that restarts), for the verdict
  const resumeNotes: string[] = [];
  if (resumeCk) {
    const meta = checkResumable(resumeCk, { kind, spec, optimizer, stateful: task.stateful, batch: o.batch, engines });
    task.setCursor(meta.cursor);
    const carried = await restoreEngineSet(resumeCk, engines, task.stateful ? (spec as ModelSpec).layers : 0);
    const exact = optimizerSlots(optimizer.name).length === 0;
    const restarts = optimizerRestarts(engines);
    for (const name of restarts) {
      io.err(`rnnlab: note: ${name} keeps no optimizer state (its handshake does not claim optimizerState): its optimizer restarts at step ${meta.step}${exact ? ` (${optimizer.name} keeps nothing between steps, so nothing is lost)` : ', so the run does not continue exactly as an uninterrupted one would'}`);
      // the restart sets it apart only from engines whose optimizers continue
      if (!exact && restarts.length < engines.length) resumeNotes.push(`${name} keeps no optimizer state, so its ${optimizer.name} optimizer restarted at step ${meta.step} on --resume while the others' continued`);
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
      [kind === SEQUENCE_KIND ? 'spec' : kind.name]: kind.specJSON(spec),
      parameters: kind.paramCount(spec),
      ...built.runInfo,
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
    io.out(`  model: ${kind.describe(spec)}; ${kind.paramCount(spec).toLocaleString('en-US')} parameters`);
    io.out(`  engines: ${set.descriptions.join('; ')}${set.notes.length ? ` (note: ${set.notes.join('; ')})` : ''}`);
    for (const n of fitNotes) io.out(`  note: ${n}`);
    const length = timeOnly ? plural(o.minutes!, 'minute') : `${plural(totalSteps, 'step')} (${plural(Number((totalSteps / perEpoch).toFixed(2)), 'epoch')})${o.minutes !== undefined ? ` or ${plural(o.minutes, 'minute')}` : ''}`;
    io.out(`  ${describeOptimizer(optimizer)}; seed ${o.seed}; ${length}`);
    io.out(`  run directory: ${runDir}`);
    io.out('');
  }
  const summary = await train({
    task,
    kind,
    engines,
    optimizer,
    seed: o.seed,
    totalSteps,
    minutes: o.minutes,
    breakpoints,
    sampleEvery: o.sampleEvery,
    valEvery: o.valEvery ?? built.schedule?.valEvery,
    valAtBreakpoints: o.valAtBreakpoints,
    checkpointEvery: o.checkpointEvery ?? built.schedule?.checkpointEvery,
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
  if (summary.paramDiff) for (const line of paramDiffVerdict(summary.paramDiff, engines.map((e) => e.name), [...set.notes, ...resumeNotes])) io.out(line);
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
