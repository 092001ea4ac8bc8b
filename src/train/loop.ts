/**
 * One training loop over the Engine interface, for every task: batches from the task, one
 * optimizer step per engine (with `--engine both`, scratch and tfjs take the same steps on the
 * same batches from the same weights), the hidden state carried between windows for stateful
 * tasks, progress, validation / samples / checkpoints at breakpoints, and a stop with a clear
 * message when a loss turns NaN (the last good checkpoint stays).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareArrays, limitFor, within } from '../tolerance.js';
import { type Checkpoint, captureEngineSet, engineTensors, keepsOptimizerState } from '../io/checkpoint.js';
import type { State } from '../engine.js';
import { EngineError, InterruptedError, RunError } from '../errors.js';
import { setGraceful } from '../io/interrupt.js';
import { removeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { RunDir } from '../io/run-dir.js';
import { duration, fixed, sci, streamTable } from '../io/table.js';
import { Rng } from '../rng.js';
import type { IO } from '../io/output.js';
import { optimizerStateProblem } from './resume.js';

import type { Metrics, ModelKind, ParamDiff, TrainEngine, TrainSummary, TrainTask } from '../tasks/task.js';
export type { Metrics, ParamDiff, SampleRecord, TrainSummary, TrainSummaryBase, TrainTask } from '../tasks/task.js';

/** The loop's view of any task and engine: batches it only passes from one to the other. */
type LoopTask = TrainTask<object, TrainEngine<unknown>, unknown, unknown>;

export interface TrainConfig {
  task: LoopTask;
  /** The kind of model (its checkpoint files, its parameter count). */
  kind: ModelKind;
  engines: TrainEngine<unknown>[];
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
  /** Also log every this many seconds (time-limited runs, so that their curves are complete). */
  logSeconds?: number;
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
  resume?: { step: number; elapsedSeconds: number; carried: (State | null)[]; sampleRng: number[]; trainSeconds?: number[]; checkpoint?: string };
}

/** The largest parameter difference (max rel err, the measure of check) of any engine from the first. */
async function maxParamDiff(engines: TrainEngine<unknown>[]): Promise<number> {
  const pa = await engines[0].getParams();
  let m = 0;
  for (const e of engines.slice(1)) {
    const pb = await e.getParams();
    for (const k of Object.keys(pa)) m = Math.max(m, compareArrays(pb[k].data, pa[k].data).maxRelError);
  }
  return m;
}

/** One training run: the loop (`run`), and each thing it does at a step in a method of its own. */
class Training {
  private readonly names: string[];
  private readonly carried: (State | null)[];
  private readonly sampleRng = new Rng(0);
  /** Milliseconds each engine spent in training steps in this process, and before it (a resumed run). */
  private readonly msTotal: number[];
  private readonly msBefore: number[];
  private readonly lastLoss: Record<string, number> = {};
  private readonly validation: Record<string, Metrics> = {};
  private readonly breakpoints: Set<number>;
  private readonly elapsedBefore: number;
  private readonly startStep: number;
  private step: number;
  private lastCheckpoint = '';
  private lastCheckpointAt = performance.now();
  private lastVal: { step: number; valLoss: number; score?: number } | undefined;
  /** Engines side by side: the parameter difference now, its peak so far and where, and the first step beyond the tolerance of check. */
  private readonly diff: ParamDiff | undefined;
  private lastProgress = 0;
  private lastLogAt = performance.now();
  private lastLoggedStep = -1;
  private lastSampleStep = -1;
  private readonly table: ReturnType<typeof streamTable>;
  private tableHeaderShown = false;

  constructor(private readonly cfg: TrainConfig) {
    const { engines, task } = cfg;
    this.names = engines.map((e) => e.name);
    this.carried = cfg.resume?.carried ?? engines.map(() => null);
    this.sampleRng.setState(cfg.resume ? cfg.resume.sampleRng : new Rng(cfg.seed ^ 0x5a17).getState());
    this.msTotal = engines.map(() => 0);
    this.msBefore = engines.map((_, i) => 1000 * (cfg.resume?.trainSeconds?.[i] ?? 0));
    this.step = this.startStep = cfg.resume?.step ?? 0;
    // a resumed run's last good checkpoint is the one it continues from, until it writes another
    this.lastCheckpoint = cfg.resume?.checkpoint ?? '';
    this.elapsedBefore = cfg.resume?.elapsedSeconds ?? 0;
    this.breakpoints = new Set(cfg.breakpoints);
    if (engines.length > 1) {
      const limit = limitFor('trajectory', engines.some((e) => e.dtype !== 'float64') ? 'float32' : 'float64');
      // after every step while that is cheap; for large models (copying millions of parameters per step, over a pipe for other processes) at logged steps
      this.diff = { last: 0, max: 0, maxStep: 0, driftStep: null, limit, everyStep: cfg.kind.paramCount(task.spec) <= 200_000 };
    }
    this.table = streamTable(
      ['step', 'epoch', ...this.names.map((n) => `loss ${n}`), ...(engines.length > 1 ? ['param diff'] : []), `${task.itemName}/s`, ...this.names.map((n) => `ms/step ${n}`), 'elapsed'],
      9,
    );
  }

  private elapsed(): number {
    return this.elapsedBefore + (performance.now() - this.cfg.startTime) / 1000;
  }

  private emit(record: Record<string, unknown>): void {
    this.cfg.run.metric(record);
    if (this.cfg.json) this.cfg.io.out(JSON.stringify(record));
  }

  private printRow(r: (string | number)[]): void {
    if (!this.tableHeaderShown) {
      const note = this.cfg.kind.tableNote?.(this.cfg.task.spec, this.cfg.task.itemName);
      if (note) this.cfg.io.out(note);
      for (const h of this.table.head) this.cfg.io.out(h);
      this.tableHeaderShown = true;
    }
    this.cfg.io.out(this.table.row(r));
  }

  async run(): Promise<TrainSummary> {
    const { cfg } = this;
    const deadline = cfg.minutes !== undefined ? performance.now() + cfg.minutes * 60_000 : Infinity;
    const safetyMs = (cfg.checkpointMinutes ?? 10) * 60_000;
    let stoppedBy: 'steps' | 'minutes' = 'steps';
    // Ctrl-C or SIGTERM: the step under way finishes, a checkpoint is written, then rnnlab exits 130 / 143
    let signal: NodeJS.Signals | null = null;
    setGraceful((s) => {
      signal = s;
      cfg.io.err(`\nrnnlab: ${s === 'SIGINT' ? 'Ctrl-C' : s}: finishing the current step and writing a checkpoint (${s === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)`);
    });
    try {
      while (this.step < cfg.totalSteps) {
        // let a signal in: a step of the scratch engine never waits for anything, so without this the handler would not run
        await new Promise<void>((r) => setImmediate(r));
        if (signal) break;
        if (performance.now() >= deadline) {
          stoppedBy = 'minutes';
          break;
        }
        await this.trainStep();
        this.progress(deadline);
        const isBreak = this.breakpoints.has(this.step) || this.step === cfg.totalSteps;
        const logDue = cfg.logSeconds !== undefined && performance.now() - this.lastLogAt >= cfg.logSeconds * 1000;
        if (this.step % cfg.logEvery === 0 || isBreak || this.step === this.startStep + 1 || logDue) await this.logStep();
        if (isBreak || (cfg.sampleEvery && this.step % cfg.sampleEvery === 0)) await this.sample();
        const valNow = this.step === cfg.totalSteps || (isBreak && cfg.valAtBreakpoints !== false) || (cfg.valEvery && this.step % cfg.valEvery === 0);
        if (valNow) await this.validate();
        const safety = safetyMs > 0 && performance.now() - this.lastCheckpointAt >= safetyMs;
        if (isBreak || (cfg.checkpointEvery && this.step % cfg.checkpointEvery === 0) || safety) await this.checkpoint();
      }
      await new Promise<void>((r) => setImmediate(r));
      if (signal) await this.interrupted(signal);
    } finally {
      setGraceful(null);
    }
    if (stoppedBy === 'minutes' && this.step > this.startStep) {
      // the run ends between breakpoints: what a breakpoint does, each part unless this step already did it
      if (this.lastLoggedStep !== this.step) await this.logStep();
      if (this.lastVal?.step !== this.step) await this.validate();
      if (this.lastSampleStep !== this.step) await this.sample();
      if (this.lastCheckpoint !== cfg.run.checkpointDir(this.step)) await this.checkpoint();
    }
    return this.summary(stoppedBy);
  }

  /** One optimizer step of every engine on the same batch; a loss that is not finite stops the run. */
  private async trainStep(): Promise<void> {
    const { task, engines } = this.cfg;
    const { batch, resetState } = task.nextBatch();
    this.step++;
    for (let i = 0; i < engines.length; i++) {
      const b = task.stateful && !resetState && this.carried[i] ? { ...(batch as object), initialState: this.carried[i]! } : batch;
      const t0 = performance.now();
      const r = await engines[i].step(b);
      this.msTotal[i] += performance.now() - t0;
      if (!Number.isFinite(r.loss)) {
        const where = this.lastCheckpoint ? `the last good checkpoint is ${this.lastCheckpoint}` : 'no checkpoint was written before it';
        this.emit({ type: 'error', step: this.step, engine: engines[i].name, message: `loss became ${r.loss}` });
        throw new RunError(`the ${engines[i].name} loss became ${r.loss} at step ${this.step}; training stopped (${where}). Try a smaller --lr or --clip-norm.`);
      }
      this.lastLoss[engines[i].name] = r.loss;
      this.carried[i] = task.stateful ? r.finalState ?? null : null;
    }
    if (this.diff?.everyStep) await this.measureDiff();
  }

  /** The parameter difference between the engines now, and its peak and drift step so far. */
  private async measureDiff(): Promise<void> {
    const d = this.diff!;
    d.last = await maxParamDiff(this.cfg.engines);
    if (!(d.last <= d.max)) Object.assign(d, { max: d.last, maxStep: this.step });
    if (d.driftStep === null && !within(d.last, d.limit)) d.driftStep = this.step;
  }

  /** The progress line on a terminal (at most ten times a second). */
  private progress(deadline: number): void {
    const { cfg } = this;
    const now = performance.now();
    if (!cfg.io.isTTY || cfg.json || now - this.lastProgress <= 100) return;
    this.lastProgress = now;
    const done = this.step - this.startStep;
    const per = (this.elapsed() - this.elapsedBefore) / done;
    // a time-limited run has no step count to reach: its progress is the time left
    const timeOnly = cfg.totalSteps >= Number.MAX_SAFE_INTEGER;
    const left = timeOnly ? Infinity : per * (cfg.totalSteps - this.step);
    const eta = Math.max(0, Number.isFinite(deadline) ? Math.min((deadline - now) / 1000, left) : left);
    cfg.io.progress(
      `step ${this.step}${timeOnly ? '' : `/${cfg.totalSteps}`}  loss ${this.names.map((n) => fixed(this.lastLoss[n], 4)).join(' / ')}  ` +
        `${Math.round((cfg.task.itemsPerStep * done) / (this.elapsed() - this.elapsedBefore)).toLocaleString('en-US')} ${cfg.task.itemName}/s  elapsed ${duration(this.elapsed())}  ${timeOnly ? `${duration(eta)} left` : `ETA ${duration(eta)}`}`,
    );
  }

  /** A step record (metrics.jsonl, --json) and a table row. */
  private async logStep(): Promise<void> {
    const { cfg, names } = this;
    const { task } = cfg;
    const done = this.step - this.startStep;
    if (this.diff && !this.diff.everyStep) await this.measureDiff();
    const secs = this.elapsed();
    const rec = {
      type: 'step',
      step: this.step,
      epoch: round(task.epochProgress()),
      loss: { ...this.lastLoss },
      ...(this.diff ? { maxParamDiff: this.diff.last } : {}),
      itemsPerSecond: Math.round((task.itemsPerStep * done) / (secs - this.elapsedBefore)),
      msPerStep: Object.fromEntries(names.map((n, i) => [n, round(this.msTotal[i] / done)])),
      trainSeconds: this.trainSeconds(),
      elapsedSeconds: round(secs),
    };
    this.lastLogAt = performance.now();
    this.lastLoggedStep = this.step;
    this.emit(rec);
    if (!cfg.json) {
      this.printRow([
        this.step,
        task.epochProgress().toFixed(2),
        ...names.map((n) => fixed(this.lastLoss[n], 4)),
        ...(this.diff ? [sci(this.diff.last)] : []),
        rec.itemsPerSecond.toLocaleString('en-US'),
        ...names.map((_, i) => (this.msTotal[i] / done).toFixed(1)),
        duration(secs),
      ]);
    }
  }

  /** Each engine's time in training steps since the run began (carried across resumes), in seconds. */
  private trainSeconds(): Record<string, number> {
    return Object.fromEntries(this.names.map((n, i) => [n, round((this.msBefore[i] + this.msTotal[i]) / 1000)]));
  }

  private async checkpoint(): Promise<void> {
    const { cfg, step } = this;
    const { task, run, engines } = cfg;
    const dir = run.checkpointDir(step);
    const val = this.lastVal?.step === step ? this.lastVal : undefined;
    const captured = await captureEngineSet(engines, this.carried);
    this.checkOptimizerStates(captured);
    const ck: Checkpoint<unknown> = {
      spec: task.spec,
      ...captured,
      vocab: cfg.vocab,
      data: cfg.data,
      meta: {
        step,
        epoch: task.epochProgress(),
        engines: this.names,
        ...(run.id ? { runId: run.id } : {}),
        cursor: task.getCursor(),
        sampleRng: this.sampleRng.getState(),
        elapsedSeconds: this.elapsed(),
        trainSeconds: this.trainSeconds(),
        ...(val !== undefined ? { valLoss: val.valLoss, ...(val.score !== undefined ? { score: val.score } : {}) } : {}),
        optimizer: cfg.optimizer,
        options: cfg.meta,
      },
    };
    cfg.kind.writeCheckpoint(dir, ck);
    this.lastCheckpoint = dir;
    this.lastCheckpointAt = performance.now();
    this.emit({ type: 'checkpoint', step, dir });
    pruneCheckpoints(run, cfg.keepCheckpoints ?? 3);
  }

  /**
   * Each engine's optimizer state, checked before a checkpoint holds it, by the rules a resume
   * reads it with (and "iterations" there): a malformed answer stops the run in one line naming
   * the engine, and no checkpoint is written (the last good one stays).
   */
  private checkOptimizerStates(captured: Awaited<ReturnType<typeof captureEngineSet>>): void {
    const { cfg, step } = this;
    const shapes = cfg.kind.paramShapes(cfg.task.spec);
    cfg.engines.forEach((e, i) => {
      if (!keepsOptimizerState(e)) return;
      const { optimizer } = engineTensors(captured, cfg.engines, i);
      const problem = optimizer ? optimizerStateProblem(optimizer, shapes, cfg.optimizer, { requireIterations: true }) : 'no named tensors';
      if (problem === undefined) return;
      const where = this.lastCheckpoint ? `the last good checkpoint is ${this.lastCheckpoint}` : 'no checkpoint was written before it';
      const message = `the optimizer state it answered at step ${step} is malformed: ${problem}; training stopped without writing that checkpoint (${where})`;
      this.emit({ type: 'error', step, engine: e.name, message });
      throw new EngineError(e.name, message);
    });
  }

  private async validate(): Promise<void> {
    const { cfg, step } = this;
    for (const e of cfg.engines) {
      const m = await cfg.task.evaluate(e);
      if (Object.keys(m).length === 0) continue;
      this.validation[e.name] = m;
      if (e === cfg.engines[0] && typeof m.valLoss === 'number') this.lastVal = { step, valLoss: m.valLoss, ...(cfg.task.score ? { score: cfg.task.score(m) } : {}) };
      this.emit({ type: 'val', step, epoch: round(cfg.task.epochProgress()), engine: e.name, ...m, elapsedSeconds: round(this.elapsed()) });
      if (!cfg.json) {
        const parts = Object.entries(m)
          .filter(([k]) => k !== 'valTokens')
          .map(([k, v]) => (cfg.task.percent?.includes(k) ? `${k} ${fixed(100 * v, 1)}%` : `${k} ${fixed(v, 4)}${cfg.task.units?.[k] ? ` ${cfg.task.units[k]}` : ''}`));
        cfg.io.out(`validation @ step ${step} (${e.name}): ${parts.join(', ')}`);
      }
    }
  }

  private async sample(): Promise<void> {
    const { cfg, step } = this;
    if (!cfg.task.sample) return;
    this.lastSampleStep = step;
    // every engine draws from the same random stream, so their samples differ only where the models do
    const from = this.sampleRng.getState();
    for (const e of cfg.engines) {
      this.sampleRng.setState(from);
      const s = await cfg.task.sample(e, this.sampleRng);
      const rec = { type: 'sample', step, epoch: round(cfg.task.epochProgress()), engine: e.name, ...s };
      cfg.run.sample(rec);
      this.emit(rec);
      if (!cfg.json) cfg.io.out(`sample @ step ${step} (${e.name}, temperature ${s.temperature}): ${JSON.stringify(s.prime + s.text)}`);
    }
  }

  /** After a signal: the checkpoint of the last finished step, a record, and the line that says how to go on. */
  private async interrupted(s: NodeJS.Signals): Promise<never> {
    const { cfg, step } = this;
    if (step > this.startStep && this.lastCheckpoint !== cfg.run.checkpointDir(step)) await this.checkpoint();
    const last = this.lastCheckpoint;
    const saved = last ? `checkpoint ${last}` : 'no checkpoint (no step finished)';
    this.emit({ type: 'interrupted', step, signal: s, checkpoint: last || null });
    throw new InterruptedError(s, `stopped by ${s === 'SIGINT' ? 'Ctrl-C' : s} at step ${step}; ${saved}${last && cfg.resumeCommand ? `; continue with: ${cfg.resumeCommand}` : ''}`);
  }

  /** The final record: losses, speed, validation, and the task's own results (each engine's once). */
  private async summary(stoppedBy: 'steps' | 'minutes'): Promise<TrainSummary> {
    const { cfg, names } = this;
    const { engines, task, run } = cfg;
    const done = Math.max(1, this.step - this.startStep);
    const summary: TrainSummary = {
      type: 'final',
      task: task.name,
      steps: this.step,
      epochs: round(task.epochProgress()),
      stoppedBy,
      elapsedSeconds: round(this.elapsed()),
      loss: this.lastLoss,
      msPerStep: Object.fromEntries(names.map((n, i) => [n, round(this.msTotal[i] / done)])),
      validation: this.validation,
      ...(this.diff ? { maxParamDiff: this.diff.max, paramDiff: { ...this.diff } } : {}),
      checkpoint: this.lastCheckpoint,
      runDir: run.dir,
    };
    if (task.finish) {
      const byEngine: Record<string, unknown>[] = [];
      const best = bestCheckpoint(run);
      for (const [i, e] of engines.entries()) byEngine.push((await task.finish(e, i, engines, best)) as Record<string, unknown>);
      Object.assign(summary, byEngine[0]);
      if (engines.length > 1) summary.testByEngine = Object.fromEntries(engines.map((e, i) => [e.name, byEngine[i].test]));
    }
    if (task.plotData) writeFileAtomic(`${run.dir}/plot-data.json`, JSON.stringify(await task.plotData(engines)) + '\n');
    run.metric(summary);
    return summary;
  }
}

export function train(cfg: TrainConfig): Promise<TrainSummary> {
  return new Training(cfg).run();
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
  // ranked by the task's score where it has one (meta.json's "score"), else by the validation loss
  let best: { step: number; valLoss: number; rank: number; score?: number } | null = null;
  for (const s of steps) {
    let meta: { valLoss?: unknown; score?: unknown } = {};
    try {
      meta = JSON.parse(readFileSync(join(root, `step-${s}`, 'meta.json'), 'utf8'));
    } catch {
      continue;
    }
    if (typeof meta.valLoss !== 'number' || !Number.isFinite(meta.valLoss)) continue;
    const score = typeof meta.score === 'number' && Number.isFinite(meta.score) ? meta.score : undefined;
    const rank = score ?? meta.valLoss;
    if (!best || rank < best.rank) best = { step: s, valLoss: meta.valLoss, rank, ...(score !== undefined ? { score } : {}) };
  }
  if (best) writeFileAtomic(join(root, 'best.json'), JSON.stringify({ step: best.step, valLoss: best.valLoss, ...(best.score !== undefined ? { score: best.score } : {}), dir: run.checkpointDir(best.step) }) + '\n');
  if (keep <= 0) return;
  const kept = new Set(steps.slice(-keep));
  if (best) kept.add(best.step);
  for (const s of steps) if (!kept.has(s)) removeDirAtomic(join(root, `step-${s}`));
}

/** The checkpoint pruneCheckpoints keeps as the best (checkpoints/best.json), if it is there. */
function bestCheckpoint(run: RunDir): { step: number; dir: string } | null {
  const path = join(run.dir, 'checkpoints', 'best.json');
  if (!existsSync(path)) return null;
  const b = JSON.parse(readFileSync(path, 'utf8')) as { step?: unknown };
  if (!Number.isSafeInteger(b.step)) return null;
  const dir = run.checkpointDir(b.step as number);
  return existsSync(dir) ? { step: b.step as number, dir } : null;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
