/**
 * A checkpoint is a directory:
 *   spec.json             the ModelSpec
 *   params.safetensors    canonical parameters
 *   optimizer.safetensors optimizer state ("<slot>.<param>", "iterations")      (training)
 *   state.safetensors     carried hidden state "h.{l}" / "c.{l}"                 (training)
 *   vocab.json            the tokenizer                                          (text tasks)
 *   data.json             preprocessing: scalers, columns, classes, tokenizer   (series, classify)
 *   meta.json             step, RNG state, data cursor, engine, optimizer spec   (training)
 * It is written to a temporary directory and renamed, so a crash never leaves half of one.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readJsonInput } from './files.js';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { STATE_NAMES } from '../cells.js';
import { writeDirAtomic } from './atomic.js';
import { GENERATOR } from './run-folder.js';
import { encodeSafetensors, readSafetensors } from './safetensors.js';
import { type NamedParams, validateParams } from '../params.js';
import { type ModelSpec, parseSpec, specToJSON } from '../spec.js';
import type { FloatArray, NamedTensors } from '../tensor.js';
import type { Awaitable, State } from '../engine.js';

export interface Checkpoint<S = ModelSpec> {
  spec: S;
  params: NamedParams;
  optimizer?: NamedParams;
  state?: NamedTensors;
  vocab?: unknown;
  data?: unknown;
  meta?: Record<string, unknown>;
  /** More tensor files in the same directory, "<name>.safetensors" (a second engine's parameters, optimizer, state). */
  extra?: Record<string, NamedTensors>;
  /** Other files written as they are, by name (import.json of an imported model); not read back. */
  files?: Record<string, string>;
}

export function readCheckpoint(dir: string): Checkpoint & { dir: string } {
  if (!existsSync(dir)) throw new InputError(`${dir}: no such checkpoint directory`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: a checkpoint is a directory (with spec.json and params.safetensors)`);
  const specPath = join(dir, 'spec.json');
  const paramsPath = join(dir, 'params.safetensors');
  if (!existsSync(specPath)) throw new InputError(`${dir}: not a checkpoint (no spec.json)`);
  if (!existsSync(paramsPath)) throw new InputError(`${dir}: not a checkpoint (no params.safetensors)`);
  const spec = parseSpec(readJson(specPath), specPath);
  const params = readSafetensors(paramsPath).tensors;
  validateParams(spec, params, paramsPath);
  return { dir, spec, params, ...readCheckpointFiles(dir) };
}

/** A checkpoint's files beside its spec and parameters: the optimizer, the carried state, vocab.json, data.json, meta.json, the other engines' tensors. */
export function readCheckpointFiles(dir: string): Omit<Checkpoint<unknown>, 'spec' | 'params'> {
  const ck: Omit<Checkpoint<unknown>, 'spec' | 'params'> = {};
  const opt = join(dir, 'optimizer.safetensors');
  if (existsSync(opt)) ck.optimizer = readSafetensors(opt).tensors;
  const st = join(dir, 'state.safetensors');
  if (existsSync(st)) ck.state = readSafetensors(st).tensors;
  const vocab = join(dir, 'vocab.json');
  if (existsSync(vocab)) ck.vocab = readJson(vocab);
  const data = join(dir, 'data.json');
  if (existsSync(data)) ck.data = readJson(data);
  const meta = join(dir, 'meta.json');
  if (existsSync(meta)) ck.meta = readJson(meta) as Record<string, unknown>;
  // the other engines of a side-by-side run: "<key>.params", "<key>.optimizer", "<key>.state"
  for (const f of readdirSync(dir)) {
    const m = /^(.+)\.safetensors$/.exec(f);
    if (!m || ['params', 'optimizer', 'state'].includes(m[1])) continue;
    (ck.extra ??= {})[m[1]] = readSafetensors(join(dir, f)).tensors;
  }
  return ck;
}

// ---- a whole engine set: the first engine's files, then each other engine's beside them ----

/** The file-name key of an engine in a checkpoint of several (tfjs-wasm and tfjs-cpu are both "tfjs"). */
export function engineFileKey(name: string): string {
  return name.startsWith('tfjs-') ? 'tfjs' : name.replace(/[^\w.+-]/g, '_');
}

function stateTensors(s: State | null): NamedTensors | undefined {
  if (!s) return undefined;
  const t = (x: FloatArray): NamedTensors[string] => ({ dtype: x instanceof Float64Array ? 'F64' : 'F32', shape: [x.length], data: x });
  const out: NamedTensors = {};
  for (const k of STATE_NAMES) s[k]?.forEach((x, l) => (out[`${k}.${l}`] = t(x)));
  return out;
}

export function stateFromTensors(t: NamedTensors | undefined, layers: number): State | null {
  if (!t || !t['h.0']) return null;
  // a float64 engine's state stays float64, so its resume is exact too
  const arr = (x: NamedTensors[string]): FloatArray => (x.dtype === 'F64' ? Float64Array.from(x.data as Float64Array) : Float32Array.from(x.data as ArrayLike<number>));
  const s: State = { h: [] };
  for (const k of STATE_NAMES) if (t[`${k}.0`]) s[k] = Array.from({ length: layers }, (_, l) => arr(t[`${k}.${l}`]));
  return s;
}

/**
 * What a checkpoint needs of an engine of any model kind (Engine, and the encoder-decoder's
 * Seq2SeqEngine): its parameters, and its optimizer state if it keeps one.
 */
export interface SavedEngine {
  readonly name: string;
  /** What its handshake claims (an engine of your own); absent: a built-in engine, which keeps its optimizer state. */
  readonly supports?: { readonly optimizerState: boolean };
  getParams(): Awaitable<NamedParams>;
  setParams(p: NamedParams): Awaitable<void>;
  optimizerState?(): Promise<NamedParams>;
  setOptimizerState?(s: NamedParams): Promise<void>;
}

/** Whether an engine keeps an optimizer state a checkpoint holds (supports.optimizerState, absent: the built-in engines, which do). */
export function keepsOptimizerState(e: SavedEngine): boolean {
  return typeof e.optimizerState === 'function' && (e.supports?.optimizerState ?? true);
}

/** The optimizer state of an engine that keeps one (supports.optimizerState), else nothing: its checkpoint holds its parameters. */
async function optimizerOf(e: SavedEngine): Promise<NamedParams | undefined> {
  return keepsOptimizerState(e) ? e.optimizerState!() : undefined;
}

/** Parameters, optimizer state and carried state of every engine, as checkpoint fields. */
export async function captureEngineSet(engines: readonly SavedEngine[], carried: (State | null)[]): Promise<Pick<Checkpoint<unknown>, 'params' | 'optimizer' | 'state' | 'extra'>> {
  const extra: Record<string, NamedTensors> = {};
  for (let i = 1; i < engines.length; i++) {
    const key = engineFileKey(engines[i].name);
    extra[`${key}.params`] = await engines[i].getParams();
    const opt = await optimizerOf(engines[i]);
    if (opt) extra[`${key}.optimizer`] = opt;
    const st = stateTensors(carried[i]);
    if (st) extra[`${key}.state`] = st;
  }
  return { params: await engines[0].getParams(), optimizer: await optimizerOf(engines[0]), state: stateTensors(carried[0]), extra };
}

/** The engines of a set that keep no optimizer state: a resume restarts their optimizers. */
export function optimizerRestarts(engines: readonly SavedEngine[]): string[] {
  return engines.filter((e) => !keepsOptimizerState(e)).map((e) => e.name);
}

/** The tensors of engine i in a checkpoint (i = 0: the canonical files). */
export function engineTensors(ck: Pick<Checkpoint<unknown>, 'params' | 'optimizer' | 'state' | 'extra'>, engines: readonly { name: string }[], i: number): { params?: NamedParams; optimizer?: NamedParams; state?: NamedTensors; files: string[] } {
  if (i === 0) return { params: ck.params, optimizer: ck.optimizer, state: ck.state, files: ['params.safetensors', 'optimizer.safetensors', 'state.safetensors'] };
  const key = engineFileKey(engines[i].name);
  const x = ck.extra ?? {};
  return { params: x[`${key}.params`], optimizer: x[`${key}.optimizer`], state: x[`${key}.state`], files: ['params', 'optimizer', 'state'].map((p) => `${key}.${p}.safetensors`) };
}

/**
 * Puts every engine back where the checkpoint left it; returns the carried states (checked by
 * checkResumable first). An engine that keeps no optimizer state gets its parameters only.
 */
export async function restoreEngineSet(ck: Checkpoint<unknown>, engines: readonly SavedEngine[], layers: number): Promise<(State | null)[]> {
  const carried: (State | null)[] = [];
  for (let i = 0; i < engines.length; i++) {
    const t = engineTensors(ck, engines, i);
    const keeps = keepsOptimizerState(engines[i]);
    if (!t.params || (keeps && !t.optimizer)) throw new InputError(`the checkpoint has no ${!t.params ? t.files[0] : t.files[1]} for engine ${engines[i].name}`);
    await engines[i].setParams(t.params);
    if (keeps) await engines[i].setOptimizerState!(t.optimizer!);
    carried.push(stateFromTensors(t.state, layers));
  }
  return carried;
}

/** Every file of a checkpoint says rnnlab wrote it, so that --overwrite can tell a checkpoint from a user's folder. */
const CHECKPOINT_GENERATOR = `${GENERATOR} checkpoint`;

/** How a model kind writes its spec: the file ("spec.json", "seq2seq.json"), its JSON, and the format of params.safetensors. */
export interface SpecFile {
  file: string;
  json: unknown;
  format: string;
}

export function writeCheckpoint<S>(dir: string, ck: Checkpoint<S>, spec: SpecFile = { file: 'spec.json', json: specToJSON(ck.spec as ModelSpec), format: 'rnnlab-canonical' }): void {
  writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, spec.file), JSON.stringify(spec.json, null, 2) + '\n');
    writeFileSync(join(tmp, 'params.safetensors'), encodeSafetensors(ck.params, { format: spec.format, generator: CHECKPOINT_GENERATOR }));
    if (ck.optimizer) writeFileSync(join(tmp, 'optimizer.safetensors'), encodeSafetensors(ck.optimizer, { generator: CHECKPOINT_GENERATOR }));
    if (ck.state) writeFileSync(join(tmp, 'state.safetensors'), encodeSafetensors(ck.state, { generator: CHECKPOINT_GENERATOR }));
    if (ck.vocab !== undefined) writeFileSync(join(tmp, 'vocab.json'), JSON.stringify(ck.vocab) + '\n');
    if (ck.data !== undefined) writeFileSync(join(tmp, 'data.json'), JSON.stringify(ck.data, null, 1) + '\n');
    for (const [name, t] of Object.entries(ck.extra ?? {})) writeFileSync(join(tmp, `${name}.safetensors`), encodeSafetensors(t, { generator: CHECKPOINT_GENERATOR }));
    if (ck.meta) writeFileSync(join(tmp, 'meta.json'), JSON.stringify(ck.meta, null, 2) + '\n');
    for (const [name, text] of Object.entries(ck.files ?? {})) writeFileSync(join(tmp, name), text);
  });
}

function readJson(path: string): unknown {
  return readJsonInput(path);
}
