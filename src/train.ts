/**
 * One training loop over the Engine interface, for every task: batches from the task, one
 * optimizer step per engine (with `--engine both`, scratch and tfjs take the same steps on the
 * same batches from the same weights), the hidden state carried between windows for stateful
 * tasks, progress, validation / samples / checkpoints at breakpoints, and a stop with a clear
 * message when a loss turns NaN (the last good checkpoint stays).
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareArrays } from '../compare/tolerance.js';
import { type Checkpoint, captureEngineSet, writeCheckpoint } from './checkpoint.js';
import type { Batch, Engine, State } from './engine.js';
import { InterruptedError, RunError } from './errors.js';
import { setGraceful } from './interrupt.js';
import { writeFileAtomic } from './io/atomic.js';
import type { OptimizerSpec } from './optimizer.js';
import type { RunDir } from './report/run.js';
import { duration, fixed, sci, streamTable } from './report/table.js';
import { Rng } from './rng.js';
import type { ModelSpec } from './spec.js';
import type { IO } from './commands/io.js';

export type Metrics = Record<string, number>;

export interface SampleRecord {
  prime: string;
  text: string;
  temperature: number;
  length: number;
}

export interface TrainTask {
  readonly name: string;
  readonly spec: ModelSpec;
  /** Carry the final state of a batch into the next one (unless the batch says resetState). */
  readonly stateful: boolean;
  readonly stepsPerEpoch: number;
  /** Throughput unit: tokens or sequences per step. */
  readonly itemsPerStep: number;
  readonly itemName: string;
  describe(): string[];
  nextBatch(): { batch: Batch; resetState: boolean };
  epochProgress(): number;
  getCursor(): unknown;
  setCursor(c: unknown): void;
  /** Validation metrics (valLoss first). */
  evaluate(engine: Engine): Promise<Metrics>;
  sample?(engine: Engine, rng: Rng): Promise<SampleRecord>;
  /** Extra metrics for the final summary (test-set metrics, baselines). */
  finish?(engine: Engine): Promise<Record<string, unknown>>;
  /** Data for plots, written to the run directory as plot-data.json (e.g. forecasts against the truth). */
  plotData?(engines: Engine[]): Promise<unknown>;
}

export interface TrainConfig {
  task: TrainTask;
  engines: Engine[];
  optimizer: OptimizerSpec;
  seed: number;
  /** Total steps (resolved from --steps or --epochs); minutes adds a wall-time limit. */
  totalSteps: number;
  minutes?: number;
  /** Steps at which to validate, sample and checkpoint. */
  breakpoints: number[];
  sampleEvery?: number;
  valEvery?: number;
  /** Validate at every breakpoint (default) or only at the end. */
  valAtBreakpoints?: boolean;
  checkpointEvery?: number;
  /** A safety checkpoint after this many minutes without one (default 10; 0: none). */
  checkpointMinutes?: number;
  /** Checkpoints kept: the newest n plus the best by validation loss (default 3; 0: every one). */
  keepCheckpoints?: number;
  /** The command that continues this run, for the message when a signal stops it. */
  resumeCommand?: string;
  logEvery: number;
  run: RunDir;
  io: IO;
  json: boolean;
  /** Stored in each checkpoint's meta.json, so that --resume can rebuild the run. */
  meta: Record<string, unknown>;
  vocab?: unknown;
  /** Preprocessing for data.json (series scalers, classification classes and tokenizer). */
  data?: unknown;
  /** performance.now() at the start of the run (data loading included). */
  startTime: number;
  resume?: { step: number; elapsedSeconds: number; carried: (State | null)[]; sampleRng: number[] };
}

export interface TrainSummary {
  type: 'final';
  task: string;
  steps: number;
  epochs: number;
  stoppedBy: 'steps' | 'minutes';
  elapsedSeconds: number;
  loss: Record<string, number>;
  msPerStep: Record<string, number>;
  validation: Record<string, Metrics>;
  maxParamDiff?: number;
  checkpoint: string;
  runDir: string;
  [k: string]: unknown;
}

async function maxParamDiff(a: Engine, b: Engine): Promise<number> {
  const pa = await a.getParams();
  const pb = await b.getParams();
  let m = 0;
  for (const k of Object.keys(pa)) m = Math.max(m, compareArrays(pb[k].data, pa[k].data).maxRelError);
  return m;
}

export async function train(cfg: TrainConfig): Promise<TrainSummary> {
  const { task, engines, io, run } = cfg;
  const names = engines.map((e) => e.name);
  const carried: (State | null)[] = cfg.resume?.carried ?? engines.map(() => null);
  const sampleRng = new Rng(0);
  if (cfg.resume) sampleRng.setState(cfg.resume.sampleRng);
  else sampleRng.setState(new Rng(cfg.seed ^ 0x5a17).getState());
  const msTotal = engines.map(() => 0);
  const lastLoss: Record<string, number> = {};
  const validation: Record<string, Metrics> = {};
  let step = cfg.resume?.step ?? 0;
  const elapsedBefore = cfg.resume?.elapsedSeconds ?? 0;
  const elapsed = (): number => elapsedBefore + (performance.now() - cfg.startTime) / 1000;
  const startStep = step;
  let lastCheckpoint = '';
  let lastCheckpointAt = performance.now();
  let lastVal: { step: number; valLoss: number } | undefined;
  let lastDiff: number | undefined;
  const emit = (record: Record<string, unknown>): void => {
    run.metric(record);
    if (cfg.json) io.out(JSON.stringify(record));
  };
  const breakpoints = new Set(cfg.breakpoints);
  let tableHeaderShown = false;
  const table = streamTable(['step', 'epoch', ...names.map((n) => `loss ${n}`), ...(engines.length > 1 ? ['param diff'] : []), `${task.itemName}/s`, ...names.map((n) => `ms/step ${n}`), 'elapsed'], 9);
  const printRow = (r: (string | number)[]): void => {
    if (!tableHeaderShown) {
      for (const h of table.head) io.out(h);
      tableHeaderShown = true;
    }
    io.out(table.row(r));
  };

  const checkpoint = async (): Promise<string> => {
    const dir = run.checkpointDir(step);
    const val = lastVal?.step === step ? lastVal.valLoss : undefined;
    const ck: Checkpoint = {
      spec: task.spec,
      ...(await captureEngineSet(engines, carried)),
      vocab: cfg.vocab,
      data: cfg.data,
      meta: {
        step,
        epoch: task.epochProgress(),
        engines: names,
        cursor: task.getCursor(),
        sampleRng: sampleRng.getState(),
        elapsedSeconds: elapsed(),
        ...(val !== undefined ? { valLoss: val } : {}),
        optimizer: cfg.optimizer,
        options: cfg.meta,
      },
    };
    writeCheckpoint(dir, ck);
    lastCheckpoint = dir;
    lastCheckpointAt = performance.now();
    emit({ type: 'checkpoint', step, dir });
    pruneCheckpoints(run, cfg.keepCheckpoints ?? 3);
    return dir;
  };

  const validate = async (): Promise<void> => {
    for (const e of engines) {
      const m = await task.evaluate(e);
      if (Object.keys(m).length === 0) continue;
      validation[e.name] = m;
      if (e === engines[0] && typeof m.valLoss === 'number') lastVal = { step, valLoss: m.valLoss };
      emit({ type: 'val', step, epoch: round(task.epochProgress()), engine: e.name, ...m, elapsedSeconds: round(elapsed()) });
      if (!cfg.json) {
        const parts = Object.entries(m)
          .filter(([k]) => k !== 'valTokens')
          .map(([k, v]) => `${k} ${fixed(v, 4)}`);
        io.out(`validation @ step ${step} (${e.name}): ${parts.join(', ')}`);
      }
    }
  };

  const sample = async (): Promise<void> => {
    if (!task.sample) return;
    // every engine draws from the same random stream, so their samples differ only where the models do
    const from = sampleRng.getState();
    for (const e of engines) {
      sampleRng.setState(from);
      const s = await task.sample(e, sampleRng);
      const rec = { type: 'sample', step, epoch: round(task.epochProgress()), engine: e.name, ...s };
      run.sample(rec);
      emit(rec);
      if (!cfg.json) io.out(`sample @ step ${step} (${e.name}, temperature ${s.temperature}): ${JSON.stringify(s.prime + s.text)}`);
    }
  };

  const deadline = cfg.minutes !== undefined ? performance.now() + cfg.minutes * 60_000 : Infinity;
  const safetyMs = (cfg.checkpointMinutes ?? 10) * 60_000;
  let stoppedBy: 'steps' | 'minutes' = 'steps';
  let lastProgress = 0;
  // Ctrl-C or SIGTERM: the step under way finishes, a checkpoint is written, then rnnlab exits 130 / 143
  let signal: NodeJS.Signals | null = null;
  setGraceful((s) => {
    signal = s;
    io.err(`\nrnnlab: ${s === 'SIGINT' ? 'Ctrl-C' : s}: finishing the current step and writing a checkpoint (${s === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)`);
  });
  try {
    while (step < cfg.totalSteps) {
      // let a signal in: a step of the scratch engine never waits for anything, so without this the handler would not run
      await new Promise<void>((r) => setImmediate(r));
      if (signal) break;
      if (performance.now() >= deadline) {
        stoppedBy = 'minutes';
        break;
      }
      const { batch, resetState } = task.nextBatch();
      step++;
      for (let i = 0; i < engines.length; i++) {
        const b: Batch = task.stateful && !resetState && carried[i] ? { ...batch, initialState: carried[i]! } : batch;
        const t0 = performance.now();
        const r = await engines[i].step(b);
        msTotal[i] += performance.now() - t0;
        if (!Number.isFinite(r.loss)) {
          const where = lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint}` : 'no checkpoint was written before it';
          emit({ type: 'error', step, engine: engines[i].name, message: `loss became ${r.loss}` });
          throw new RunError(`the ${engines[i].name} loss became ${r.loss} at step ${step}; training stopped (${where}). Try a smaller --lr or --clip-norm.`);
        }
        lastLoss[engines[i].name] = r.loss;
        carried[i] = task.stateful ? r.finalState : null;
      }
      const now = performance.now();
      const done = step - startStep;
      if (io.isTTY && !cfg.json && now - lastProgress > 100) {
        lastProgress = now;
        const per = (elapsed() - elapsedBefore) / done;
        const eta = Number.isFinite(deadline) ? Math.min((deadline - now) / 1000, per * (cfg.totalSteps - step)) : per * (cfg.totalSteps - step);
        io.progress(
          `step ${step}/${cfg.totalSteps}  loss ${names.map((n) => fixed(lastLoss[n], 4)).join(' / ')}  ` +
            `${Math.round((task.itemsPerStep * done) / (elapsed() - elapsedBefore)).toLocaleString('en-US')} ${task.itemName}/s  elapsed ${duration(elapsed())}  ETA ${duration(eta)}`,
        );
      }
      const isBreak = breakpoints.has(step) || step === cfg.totalSteps;
      if (step % cfg.logEvery === 0 || isBreak || step === startStep + 1) {
        lastDiff = engines.length > 1 ? await maxParamDiff(engines[0], engines[1]) : undefined;
        const secs = elapsed();
        const rec = {
          type: 'step',
          step,
          epoch: round(task.epochProgress()),
          loss: { ...lastLoss },
          ...(lastDiff !== undefined ? { maxParamDiff: lastDiff } : {}),
          itemsPerSecond: Math.round((task.itemsPerStep * done) / (secs - elapsedBefore)),
          msPerStep: Object.fromEntries(names.map((n, i) => [n, round(msTotal[i] / done)])),
          elapsedSeconds: round(secs),
        };
        emit(rec);
        if (!cfg.json) {
          printRow([
            step,
            task.epochProgress().toFixed(2),
            ...names.map((n) => fixed(lastLoss[n], 4)),
            ...(lastDiff !== undefined ? [sci(lastDiff)] : []),
            rec.itemsPerSecond.toLocaleString('en-US'),
            ...names.map((_, i) => (msTotal[i] / done).toFixed(1)),
            duration(secs),
          ]);
        }
      }
      if (isBreak || (cfg.sampleEvery && step % cfg.sampleEvery === 0)) await sample();
      const valNow = step === cfg.totalSteps || (isBreak && cfg.valAtBreakpoints !== false) || (cfg.valEvery && step % cfg.valEvery === 0);
      if (valNow) await validate();
      const safety = safetyMs > 0 && performance.now() - lastCheckpointAt >= safetyMs;
      if (isBreak || (cfg.checkpointEvery && step % cfg.checkpointEvery === 0) || safety) await checkpoint();
    }
    await new Promise<void>((r) => setImmediate(r));
    if (signal) {
      const s: NodeJS.Signals = signal;
      if (step > startStep && lastCheckpoint !== run.checkpointDir(step)) await checkpoint();
      const saved = lastCheckpoint ? `checkpoint ${lastCheckpoint}` : 'no checkpoint (no step finished)';
      emit({ type: 'interrupted', step, signal: s, checkpoint: lastCheckpoint || null });
      throw new InterruptedError(s, `stopped by ${s === 'SIGINT' ? 'Ctrl-C' : s} at step ${step}; ${saved}${lastCheckpoint && cfg.resumeCommand ? `; continue with: ${cfg.resumeCommand}` : ''}`);
    }
  } finally {
    setGraceful(null);
  }
  if (stoppedBy === 'minutes' && lastCheckpoint !== run.checkpointDir(step)) {
    await validate();
    await sample();
    await checkpoint();
  }
  const done = Math.max(1, step - startStep);
  const summary: TrainSummary = {
    type: 'final',
    task: task.name,
    steps: step,
    epochs: round(task.epochProgress()),
    stoppedBy,
    elapsedSeconds: round(elapsed()),
    loss: lastLoss,
    msPerStep: Object.fromEntries(names.map((n, i) => [n, round(msTotal[i] / done)])),
    validation,
    ...(engines.length > 1 ? { maxParamDiff: lastDiff ?? (await maxParamDiff(engines[0], engines[1])) } : {}),
    checkpoint: lastCheckpoint,
    runDir: run.dir,
  };
  if (task.finish) {
    const byEngine: Record<string, unknown>[] = [];
    for (const e of engines) byEngine.push(await task.finish(e));
    Object.assign(summary, byEngine[0]);
    if (engines.length > 1) summary.testByEngine = Object.fromEntries(engines.map((e, i) => [e.name, byEngine[i].test]));
  }
  if (task.plotData) {
    writeFileAtomic(`${run.dir}/plot-data.json`, JSON.stringify(await task.plotData(engines)) + '\n');
  }
  run.metric(summary);
  return summary;
}

/**
 * Keeps the newest `keep` checkpoints of a run plus the one with the lowest validation loss (its
 * step is written to checkpoints/best.json); `keep` 0 keeps every one.
 */
export function pruneCheckpoints(run: RunDir, keep: number): void {
  const root = join(run.dir, 'checkpoints');
  if (!existsSync(root)) return;
  const steps = readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let best: { step: number; valLoss: number } | null = null;
  for (const s of steps) {
    let meta: { valLoss?: unknown } = {};
    try {
      meta = JSON.parse(readFileSync(join(root, `step-${s}`, 'meta.json'), 'utf8'));
    } catch {
      continue;
    }
    if (typeof meta.valLoss === 'number' && Number.isFinite(meta.valLoss) && (!best || meta.valLoss < best.valLoss)) best = { step: s, valLoss: meta.valLoss };
  }
  if (best) writeFileAtomic(join(root, 'best.json'), JSON.stringify({ step: best.step, valLoss: best.valLoss, dir: run.checkpointDir(best.step) }) + '\n');
  if (keep <= 0) return;
  const kept = new Set(steps.slice(-keep));
  if (best) kept.add(best.step);
  for (const s of steps) if (!kept.has(s)) rmSync(join(root, `step-${s}`), { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
