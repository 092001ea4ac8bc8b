/**
 * What `train --resume` must be sure of before it continues a run:
 * - the data is the data the run started on: a run records each data file by absolute path and
 *   SHA-256, and a resume reads that path (not the relative path again from wherever the user
 *   stands now) and refuses a file whose content changed;
 * - every file of the checkpoint is there and sane (meta.json's step, time, random state, the
 *   optimizer state, the carried hidden state of stateful tasks, the other engines' files), so an
 *   incomplete or edited checkpoint is one line naming what is wrong, not a silent divergence.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Checkpoint, type SavedEngine, engineTensors, keepsOptimizerState } from '../io/checkpoint.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readInputFile } from '../io/files.js';
import { type OptimizerSpec, optimizerSlots } from '../optimizer.js';
import { isRngState } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import { carries } from '../cells.js';
import type { ModelKind } from '../tasks/task.js';
import { type NamedTensors, shapeStr } from '../tensor.js';

export interface DataFile {
  /** Which flag named it: text (--text), corpus (--corpus-file of a preset), csv (--csv). */
  flag: 'text' | 'corpus' | 'csv';
  /** As given on the command line, for messages. */
  given: string;
  path: string;
  sha256: string;
  bytes: number;
}

/** The data options of a run (a subset of TrainOptions). */
export interface DataOptions {
  task: string;
  text?: string[];
  corpusDir?: string;
  corpusFile?: string;
  csv?: string;
  dataFiles?: DataFile[];
}

function hashFile(path: string, flag: DataFile['flag']): { sha256: string; bytes: number } {
  const b = readInputFile(path, flag === 'csv' ? 'csv' : 'text');
  return { sha256: createHash('sha256').update(b).digest('hex'), bytes: b.length };
}

/** The files a run reads its data from, as given (by the data flags of any task: --text, a preset's corpus file, --csv). */
function givenFiles(o: DataOptions): { flag: DataFile['flag']; given: string }[] {
  const files: { flag: DataFile['flag']; given: string }[] = [];
  if (o.corpusFile) files.push({ flag: 'corpus', given: join(o.corpusDir ?? 'data/julesverne', o.corpusFile) });
  else for (const given of o.text ?? []) files.push({ flag: 'text', given });
  if (o.csv) files.push({ flag: 'csv', given: o.csv });
  return files;
}

/** Absolute paths and hashes of the data files (after they were read successfully). */
export function recordDataFiles(o: DataOptions): DataFile[] {
  return givenFiles(o).map((f) => ({ ...f, path: resolve(f.given), ...hashFile(f.given, f.flag) }));
}

/**
 * The options with the data paths a run recorded, each checked against its hash. Runs from before
 * the record (no dataFiles) keep their paths as stored.
 */
export function restoreDataFiles<T extends DataOptions>(o: T): T {
  const files = o.dataFiles;
  if (!files) return o;
  for (const f of files) {
    if (!existsSync(f.path)) throw new InputError(`${f.path}: the run's data file (--${f.flag === 'corpus' ? 'corpus-file' : f.flag} ${f.given}) is gone; --resume needs the same file`);
    const now = hashFile(f.path, f.flag);
    if (now.sha256 !== f.sha256) {
      throw new InputError(`${f.path}: the run's data file changed since it started (${f.bytes.toLocaleString('en-US')} bytes then, ${now.bytes.toLocaleString('en-US')} now; the SHA-256 differs); --resume continues only on the same data`);
    }
  }
  const out: T = { ...o };
  const text = files.filter((f) => f.flag === 'text').map((f) => f.path);
  if (text.length) out.text = text;
  const corpus = files.find((f) => f.flag === 'corpus');
  if (corpus) {
    out.corpusDir = dirname(corpus.path);
    out.corpusFile = basename(corpus.path);
  }
  const csv = files.find((f) => f.flag === 'csv');
  if (csv) out.csv = csv.path;
  return out;
}

export interface ResumeMeta {
  step: number;
  cursor: unknown;
  sampleRng: number[];
  elapsedSeconds: number;
  /** Each engine's time in training steps before the checkpoint, in the run's engine order (zeros for checkpoints from before it was recorded). */
  trainSeconds: number[];
}

function need(cond: boolean, dir: string, what: string): asserts cond {
  if (!cond) throw new InputError(`${dir}: cannot resume from this checkpoint: ${what}`);
}

/** The index of the first value that is not finite, or -1. */
function firstNonFinite(d: ArrayLike<number>): number {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

/** The state tensors of a stateful run, checked against the model and batch. */
function checkState(t: NamedTensors | undefined, file: string, spec: ModelSpec, batch: number, dir: string): void {
  need(t !== undefined, dir, `${file} is missing (the hidden state carried between windows); without it the run would continue from a zero state and diverge`);
  const n = batch * spec.hiddenSize;
  for (let l = 0; l < spec.layers; l++) {
    for (const k of carries(spec)) {
      const x = t[`${k}.${l}`];
      need(x !== undefined, dir, `${file} has no "${k}.${l}"`);
      need((x.dtype === 'F32' || x.dtype === 'F64') && x.data.length === n, dir, `${file}: "${k}.${l}" holds ${x.data.length} ${x.fileDtype ?? x.dtype} values, expected ${n} floats (batch ${batch} x hidden ${spec.hiddenSize})`);
      const bad = firstNonFinite(x.data);
      need(bad < 0, dir, `${file}: "${k}.${l}" holds ${x.data[bad]} at index ${bad}; a carried state is finite`);
    }
  }
}

/** Slots whose values are sums of squares (Adam's v, RMSProp's mean square, Adagrad's accumulator): never negative. */
const NON_NEGATIVE_SLOTS: Record<string, string[]> = { adam: ['v'], rmsprop: ['ms'], adagrad: ['acc'] };

/**
 * What is wrong with an optimizer state, or undefined: every tensor F32 or F64 (iterations a count),
 * finite; a slot of a parameter ("<slot>.<param>") shaped like the parameter, and a slot of squares
 * never negative; with `requireIterations`, "iterations" there. Read from a checkpoint (a resume)
 * and answered by an engine (before a checkpoint holds it), by the same rules.
 */
export function optimizerStateProblem(t: NamedTensors, shapes: Map<string, readonly number[]>, optimizer: OptimizerSpec, o: { requireIterations?: boolean } = {}): string | undefined {
  const slots = optimizerSlots(optimizer.name);
  const squares = NON_NEGATIVE_SLOTS[optimizer.name] ?? [];
  for (const [name, x] of Object.entries(t)) {
    const what = JSON.stringify(name);
    if (x.dtype !== 'F32' && x.dtype !== 'F64') return `${what} is ${x.fileDtype ?? x.dtype}; optimizer state is F32 or F64`;
    const bad = firstNonFinite(x.data);
    if (bad >= 0) return `${what} holds ${x.data[bad]} at index ${bad}; optimizer state is finite`;
    if (name === 'iterations') {
      const it = x.data[0];
      if (!(x.data.length === 1 && Number.isSafeInteger(it) && it >= 0)) return `${what} must be one count >= 0 (got ${x.data.length === 1 ? it : `${x.data.length} values`})`;
      continue;
    }
    const dot = name.indexOf('.');
    const slot = name.slice(0, dot);
    const shape = shapes.get(name.slice(dot + 1));
    if (dot < 0 || !slots.includes(slot) || !shape) continue; // an engine's own names: its setOptimizerState judges them
    if (!(x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i]))) return `${what} has shape ${shapeStr(x.shape)}, expected ${shapeStr(shape)} (the shape of its parameter)`;
    if (squares.includes(slot)) {
      let i = 0;
      while (i < x.data.length && x.data[i] >= 0) i++;
      if (i !== x.data.length) return `${what} holds ${x.data[i]} at index ${i}; ${optimizer.name}'s "${slot}" is a running mean of squares, never negative`;
    }
  }
  if (o.requireIterations && !Object.prototype.hasOwnProperty.call(t, 'iterations')) return 'no "iterations" (the count of steps taken, F64 [1])';
  return undefined;
}

/** An optimizer state read from a checkpoint, checked like user input (optimizerStateProblem). */
export function checkOptimizerTensors(t: NamedTensors, file: string, shapes: Map<string, readonly number[]>, optimizer: OptimizerSpec, dir: string): void {
  const problem = optimizerStateProblem(t, shapes, optimizer);
  need(problem === undefined, dir, `${file}: ${problem}`);
}

/**
 * A checkpoint continues the run of the folder it is in: the same task as the folder's run.json,
 * and (for runs with ids) the same run. A checkpoint copied in from another run is refused.
 */
export function checkCheckpointBelongs(ck: Checkpoint<unknown> & { dir: string }, runJson: Record<string, unknown>, runDir: string, task: string): void {
  const runTask = runJson.task;
  if (typeof runTask === 'string' && runTask !== task) {
    throw new InputError(`${ck.dir}: this checkpoint is from a ${JSON.stringify(task)} run, but ${runDir} holds a ${JSON.stringify(runTask)} run; a checkpoint continues only its own run (give --out DIR for a new folder)`);
  }
  const id = ck.meta?.runId;
  if (typeof id === 'string' && typeof runJson.id === 'string' && id !== runJson.id) {
    throw new InputError(`${ck.dir}: this checkpoint belongs to another run (run id ${id}; ${runDir} is run ${runJson.id}); a checkpoint continues only its own run (give --out DIR for a new folder)`);
  }
}

/**
 * Drops the records written after the checkpoint a run continues from (by a run cut short by
 * SIGKILL or a crash, or of later steps when an earlier checkpoint is resumed): those steps are
 * trained again, and their records would be there twice, out of order.
 * Lines cut short by the crash go too. Returns what it did, for a note.
 */
export function trimRecordsAfter(runDir: string, step: number): string[] {
  const notes: string[] = [];
  for (const name of ['metrics.jsonl', 'samples.jsonl']) {
    const path = join(runDir, name);
    if (!existsSync(path)) continue;
    const lines = readInputFile(path, 'text').toString('utf8').split('\n').filter((l) => l.trim() !== '');
    const kept = lines.filter((l) => {
      let r: unknown;
      try {
        r = JSON.parse(l);
      } catch {
        return false;
      }
      if (!r || typeof r !== 'object') return false;
      const at = (r as { step?: unknown; steps?: unknown }).step ?? (r as { steps?: unknown }).steps;
      return !(typeof at === 'number' && at > step);
    });
    if (kept.length === lines.length) continue;
    writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
    notes.push(`${path}: dropped ${lines.length - kept.length} record(s) written after the checkpoint of step ${step} (by a run that was cut short, or of steps now trained again)`);
  }
  return notes;
}

/**
 * Checks everything a resume reads from the checkpoint, before anything is built from it. `others`
 * are the file keys of the second and later engines (their params, optimizer and state files).
 */
export function checkResumable(ck: Checkpoint<unknown> & { dir: string }, o: { kind: ModelKind; spec: unknown; optimizer: OptimizerSpec; stateful: boolean; batch: number; engines: readonly SavedEngine[] }): ResumeMeta {
  const dir = ck.dir;
  const meta = ck.meta;
  need(meta !== undefined, dir, 'meta.json is missing (the step, random state and data cursor)');
  need(Number.isSafeInteger(meta.step) && (meta.step as number) >= 1, dir, `meta.json: "step" is ${JSON.stringify(meta.step)}, expected an integer >= 1`);
  need(typeof meta.elapsedSeconds === 'number' && Number.isFinite(meta.elapsedSeconds) && meta.elapsedSeconds >= 0, dir, `meta.json: "elapsedSeconds" is ${JSON.stringify(meta.elapsedSeconds)}`);
  const rng = meta.sampleRng;
  need(isRngState(rng), dir, 'meta.json: "sampleRng" is not 4 unsigned 32-bit integers');
  need(meta.cursor !== undefined, dir, 'meta.json has no data cursor');
  const engines = meta.engines;
  need(Array.isArray(engines) && engines.length === o.engines.length, dir, `meta.json names ${Array.isArray(engines) ? engines.length : 'no'} engines, but the run has ${o.engines.length}`);
  for (let i = 0; i < o.engines.length; i++) {
    const t = engineTensors(ck, o.engines, i);
    const whose = i === 0 ? '' : ` of engine ${o.engines[i].name}`;
    need(t.params !== undefined, dir, `${t.files[0]} is missing (the parameters${whose})`);
    // an engine that keeps no optimizer state (supports.optimizerState false) restarts its optimizer
    if (keepsOptimizerState(o.engines[i])) need(t.optimizer !== undefined, dir, `${t.files[1]} is missing (the optimizer state${whose}); without it the run cannot continue exactly`);
    if (i > 0) o.kind.validateParams(o.spec, t.params, join(dir, t.files[0]));
    if (t.optimizer) checkOptimizerTensors(t.optimizer, t.files[1], o.kind.paramShapes(o.spec), o.optimizer, dir);
    if (o.stateful) checkState(t.state, t.files[2], o.spec as ModelSpec, o.batch, dir);
  }
  const ts = (meta.trainSeconds ?? {}) as Record<string, unknown>;
  need(typeof ts === 'object' && ts !== null && !Array.isArray(ts), dir, 'meta.json: "trainSeconds" is not an object of seconds by engine');
  const trainSeconds = (engines as string[]).map((n) => {
    const v = ts[n] ?? 0;
    need(typeof v === 'number' && Number.isFinite(v) && v >= 0, dir, `meta.json: "trainSeconds" of ${n} is ${JSON.stringify(v)}`);
    return v;
  });
  return { step: meta.step as number, cursor: meta.cursor, sampleRng: rng, elapsedSeconds: meta.elapsedSeconds as number, trainSeconds };
}
