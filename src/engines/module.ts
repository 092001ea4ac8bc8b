/**
 * An engine of your own, in process: a JavaScript module that exports `createEngine` (or a
 * default export) and optionally `supports` (docs/engines.md). What the module's engine answers is
 * checked here, once, against the spec and the batch (names, sizes, numbers), so a wrong answer is
 * one line naming the engine and what was wrong, never a crash inside the comparison.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Awaitable, Batch, Engine, GradRequest, LossAndGrads, State, StepResult } from '../engine.js';
import { validateBatch } from '../engine.js';
import { carries } from '../cells.js';
import { EngineError, InputError } from '../errors.js';
import { type NamedParams, paramLayout } from '../params.js';
import type { ModelSpec } from '../spec.js';
import { type EngineDType, type Supports, parseSupports } from '../supports.js';
import type { FloatArray } from '../tensor.js';
import { type OpenOptions, checkTimeoutMs, defaultTimeoutMs } from './process.js';
import { assertCanStep, assertClaimed, assertOptimizerState, expectedNames, paramsToSend } from './claims.js';
import type { EngineKind, EngineProvider } from './provider.js';
import { CheckedSeq2Seq, type RawSeq2Seq, refuseSeq2Seq } from './seq2seq-edge.js';
import { initSeq2SeqParams } from '../seq2seq/params.js';
import type { Seq2SeqSpec } from '../seq2seq/spec.js';

/** What a module's factory returns: the Engine methods, any of them async; name and detail optional. */
export interface UserEngine {
  name?: string;
  detail?: string;
  getParams(): Awaitable<NamedParams>;
  setParams(p: NamedParams): Awaitable<void>;
  forward(b: Batch): Awaitable<{ output: ArrayLike<number>; finalState: State }>;
  lossAndGrads(b: Batch, want?: GradRequest): Awaitable<LossAndGrads>;
  step(b: Batch): Awaitable<{ loss: number; finalState: State }>;
  optimizerState?(): Awaitable<NamedParams>;
  setOptimizerState?(s: NamedParams): Awaitable<void>;
  dispose?(): Awaitable<void>;
}

export type EngineFactoryFn = (o: { spec: ModelSpec; params: NamedParams; optimizer: OpenOptions['optimizer']; dtype: EngineDType; threads: number; seed: number }) => Awaitable<UserEngine>;

/** What a module's `createSeq2SeqEngine` returns: the Seq2SeqEngine methods (docs/engines.md, "Encoder-decoder models"), any of them async. */
export type UserSeq2SeqEngine = RawSeq2Seq & { name?: string; detail?: string };

export type Seq2SeqFactoryFn = (o: { spec: Seq2SeqSpec; params: NamedParams; optimizer: OpenOptions['optimizer']; dtype: EngineDType; threads: number; seed: number }) => Awaitable<UserSeq2SeqEngine>;

export interface EngineModule {
  path: string;
  /** createEngine (or the default export): sequence models; absent in a module of encoder-decoders only. */
  create?: EngineFactoryFn;
  /** createSeq2SeqEngine: encoder-decoders, with "seq2seq" in supports.models. */
  createSeq2Seq?: Seq2SeqFactoryFn;
  supports: Required<Supports>;
}

export async function loadEngineModule(path: string): Promise<EngineModule> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new InputError(`${path}: no such file (an engine module)`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${path}: the engine module could not be loaded: ${String((e as Error).message ?? e).split('\n')[0]}`);
  }
  const create = (mod.createEngine ?? mod.default) as EngineFactoryFn | undefined;
  const createSeq2Seq = mod.createSeq2SeqEngine as Seq2SeqFactoryFn | undefined;
  const supports = parseSupports(mod.supports, path);
  if (supports.models.includes('sequence') && typeof create !== 'function') {
    throw new InputError(`${path}: an engine module must export createEngine({ spec, params, optimizer, dtype, threads }) (or a default function)${createSeq2Seq ? ', or claim only encoder-decoders (supports.models: ["seq2seq"])' : ''}; see docs/engines.md`);
  }
  if (supports.models.includes('seq2seq') && typeof createSeq2Seq !== 'function') {
    throw new InputError(`${path}: its supports.models claims "seq2seq", so it must export createSeq2SeqEngine({ spec, params, optimizer, dtype, threads, seed }); see docs/engines.md`);
  }
  return { path, create, createSeq2Seq, supports };
}

/** A module's engine behind the Engine interface, its answers checked. */
export class ModuleEngine implements Engine {
  readonly supports: Required<Supports>;

  private constructor(
    private readonly inner: UserEngine,
    readonly name: string,
    readonly detail: string,
    readonly spec: ModelSpec,
    readonly dtype: EngineDType,
    mod: EngineModule,
    private readonly timeoutMs: number,
  ) {
    this.supports = mod.supports;
  }

  /** `timeoutMs`: how long any of the module's promises may take to settle (--engine-timeout, default 120 s). */
  static async open(mod: EngineModule, spec: ModelSpec, o: OpenOptions & { name?: string; timeoutMs?: number }): Promise<ModuleEngine> {
    const timeoutMs = o.timeoutMs !== undefined ? checkTimeoutMs(o.timeoutMs) : defaultTimeoutMs();
    if (!mod.create) throw new EngineError(mod.path, 'exports no createEngine: it runs encoder-decoders only (supports.models)');
    let inner: UserEngine;
    try {
      inner = await withDeadline(mod.create({ spec, params: paramsToSend(spec, mod.supports, o.params), optimizer: o.optimizer, dtype: o.dtype, threads: o.threads, seed: o.seed ?? 0 }), timeoutMs, mod.path, 'createEngine');
    } catch (e) {
      throw wrap(mod.path, 'createEngine', e);
    }
    const methods = ['getParams', 'setParams', 'forward', 'lossAndGrads', 'step'] as const;
    const missing = methods.filter((m) => typeof (inner as unknown as Record<string, unknown>)?.[m] !== 'function');
    if (missing.length) throw new EngineError(mod.path, `createEngine returned an object without ${missing.join(', ')}`);
    const name = o.name ?? (typeof inner.name === 'string' && inner.name ? inner.name : basename(mod.path).replace(/\.(m|c)?js$/, ''));
    return new ModuleEngine(inner, name, inner.detail ?? o.dtype, spec, o.dtype, mod, timeoutMs);
  }

  /** One call into the module: what it throws, and a promise that does not settle in time, are one EngineError. */
  private async call<T>(what: string, f: () => Awaitable<T>): Promise<T> {
    try {
      return await withDeadline(f(), this.timeoutMs, this.name, what);
    } catch (e) {
      throw wrap(this.name, what, e);
    }
  }

  private bad(what: string, message: string): never {
    throw new EngineError(this.name, `${what} returned ${message}`);
  }

  private floats(v: unknown, n: number, what: string, op: string): FloatArray {
    const a = v as ArrayLike<number> | null;
    if (!a || typeof a !== 'object' || typeof a.length !== 'number') this.bad(op, `no ${what} (expected ${n} numbers)`);
    if (a.length !== n) this.bad(op, `${what} with ${a.length} values, expected ${n}`);
    if (this.dtype === 'float64') return a instanceof Float64Array ? a : Float64Array.from(a);
    return a instanceof Float32Array ? a : Float32Array.from(a);
  }

  /** Named parameters (or gradients) from an answer; an engine without biases may leave them out (zeros). */
  private params(p: unknown, op: string): NamedParams {
    if (!p || typeof p !== 'object') this.bad(op, 'no named parameters');
    const t = p as NamedParams;
    const layout = paramLayout(this.spec);
    const { required, optional } = expectedNames(this.spec, this.supports);
    const missing = [...required].filter((n) => !t[n]);
    const extra = Object.keys(t).filter((k) => !required.has(k) && !optional.has(k));
    if (missing.length) this.bad(op, `no ${missing.join(', ')}`);
    if (extra.length) this.bad(op, `unexpected ${extra.join(', ')}`);
    const out: NamedParams = {};
    for (const x of layout) {
      const n = x.shape.reduce((a, b) => a * b, 1);
      const data = t[x.name] ? this.floats(t[x.name].data, n, x.name, op) : this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
      out[x.name] = { dtype: this.dtype === 'float64' ? 'F64' : 'F32', shape: x.shape, data };
    }
    return out;
  }

  private state(s: State | undefined, B: number, op: string, what = 'finalState'): State {
    const L = this.spec.layers;
    const n = B * this.spec.hiddenSize;
    if (!s || !Array.isArray(s.h) || s.h.length !== L) this.bad(op, `no ${what}.h (${L} arrays of ${n})`);
    const h = s.h.map((a, l) => this.floats(a, n, `${what}.h[${l}]`, op));
    if (!carries(this.spec).includes('c')) return { h };
    if (!Array.isArray(s.c) || s.c.length !== L) this.bad(op, `no ${what}.c (${L} arrays of ${n}, lstm)`);
    return { h, c: s.c.map((a, l) => this.floats(a, n, `${what}.c[${l}]`, op)) };
  }

  private loss(v: unknown, op: string): number {
    if (typeof v !== 'number') this.bad(op, `a loss that is not a number (${JSON.stringify(v)})`);
    return v;
  }

  async getParams(): Promise<NamedParams> {
    return this.params(await this.call('getParams', () => this.inner.getParams()), 'getParams');
  }

  async setParams(p: NamedParams): Promise<void> {
    await this.call('setParams', () => this.inner.setParams(paramsToSend(this.spec, this.supports, p)));
  }

  async forward(b: Batch): Promise<{ output: FloatArray; finalState: State }> {
    validateBatch(this.spec, b, false);
    assertClaimed(this.name, this.supports, b);
    const r = await this.call('forward', () => this.inner.forward(b));
    const n = b.batchSize * (this.spec.returnSequences ? b.seqLen : 1) * this.spec.outputSize;
    return { output: this.floats(r?.output, n, 'output', 'forward'), finalState: this.state(r?.finalState, b.batchSize, 'forward') };
  }

  async lossAndGrads(b: Batch, want: GradRequest = {}): Promise<LossAndGrads> {
    validateBatch(this.spec, b, true);
    assertClaimed(this.name, this.supports, b, want);
    const r = await this.call('lossAndGrads', () => this.inner.lossAndGrads(b, want));
    const op = 'lossAndGrads';
    const { batchSize: B, seqLen: T } = b;
    const out: LossAndGrads = { loss: this.loss(r?.loss, op), grads: this.params(r?.grads, op), finalState: this.state(r?.finalState, B, op) };
    if (want.inputGrad) out.dx = this.floats(r.dx, B * T * this.spec.inputSize, 'dx', op);
    if (want.stateGrads) {
      if (!Array.isArray(r.dh) || r.dh.length !== this.spec.layers) this.bad(op, `no dh (${this.spec.layers} arrays [B, T, H])`);
      out.dh = r.dh.map((a, l) => this.floats(a, B * T * this.spec.hiddenSize, `dh[${l}]`, op));
      out.dState = this.state(r.dState, B, op, 'dState');
    }
    return out;
  }

  async step(b: Batch): Promise<StepResult> {
    validateBatch(this.spec, b, true);
    assertClaimed(this.name, this.supports, b);
    assertCanStep(this.name, this.supports);
    const r = await this.call('step', () => this.inner.step(b));
    return { loss: this.loss(r?.loss, 'step'), finalState: this.state(r?.finalState, b.batchSize, 'step') };
  }

  async optimizerState(): Promise<NamedParams> {
    assertOptimizerState(this.name, this.supports);
    if (!this.inner.optimizerState) throw new EngineError(this.name, 'has no optimizerState() (needed for checkpoints)');
    const r = await this.call('optimizerState', () => this.inner.optimizerState!());
    return this.namedTensors(r, 'optimizerState');
  }

  /** Named tensors of the module's own choosing (its optimizer state): each {dtype F32|F64, shape, data} of that many finite numbers. */
  private namedTensors(v: unknown, op: string): NamedParams {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.bad(op, `${describe(v)}, not named tensors ({ name: { dtype, shape, data } })`);
    const out: NamedParams = {};
    for (const [k, t] of Object.entries(v as Record<string, unknown>)) {
      const x = t as { dtype?: unknown; shape?: unknown; data?: unknown } | null;
      const what = JSON.stringify(k);
      if (!x || typeof x !== 'object') this.bad(op, `${what} as ${describe(x)}, not a tensor`);
      if (x.dtype !== 'F32' && x.dtype !== 'F64') this.bad(op, `${what} with dtype ${describe(x.dtype)}, expected "F32" or "F64"`);
      if (!Array.isArray(x.shape) || !x.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) this.bad(op, `${what} with shape ${describe(x.shape)}, expected a list of sizes`);
      const n = (x.shape as number[]).reduce((a, b) => a * b, 1);
      const data = this.floats(x.data, n, what, op);
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) this.bad(op, `${what} holding ${data[i]} at index ${i}`);
      Object.defineProperty(out, k, { value: { dtype: x.dtype, shape: [...(x.shape as number[])], data: x.dtype === 'F64' ? Float64Array.from(data) : Float32Array.from(data) }, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    assertOptimizerState(this.name, this.supports);
    if (!this.inner.setOptimizerState) throw new EngineError(this.name, 'has no setOptimizerState() (needed to resume)');
    await this.call('setOptimizerState', () => this.inner.setOptimizerState!(paramsToSend(this.spec, this.supports, s)));
  }

  async dispose(): Promise<void> {
    if (this.inner.dispose) await this.call('dispose', () => this.inner.dispose!());
  }
}

/** A value in a message: its JSON, cut short. */
function describe(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** A promise that settles in time, or an EngineError saying which call did not. */
function withDeadline<T>(v: Awaitable<T>, ms: number, engine: string, what: string): Promise<T> {
  if (!(v instanceof Promise) && !(v && typeof (v as { then?: unknown }).then === 'function')) return Promise.resolve(v as T);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new EngineError(engine, `${what}() did not settle within ${ms / 1000} s (raise --engine-timeout or RNNLAB_ENGINE_TIMEOUT if it needs longer)`)), ms);
    (v as PromiseLike<T>).then(
      (x) => {
        clearTimeout(timer);
        resolve(x);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function wrap(engine: string, what: string, e: unknown): Error {
  if (e instanceof InputError) return e;
  const msg = String((e as Error)?.message ?? e).split('\n')[0];
  return new EngineError(engine, `${what} threw: ${msg}`);
}

/** A JavaScript module that exports createEngine, in process: "./my-engine.js". */
export interface ModuleRef {
  kind: 'module';
  path: string;
}

export const moduleKind: EngineKind<ModuleRef> = {
  kind: 'module',
  names: [],
  parse: (name) => (/^(\.{1,2}[/\\]|\/)/.test(name) || /\.(m|c)?js$/.test(name) ? { kind: 'module', path: name } : null),
  homes: [],
  openSeq2Seq: async (ref, spec, o) => {
    const mod = await loadEngineModule(ref.path);
    const fallback = basename(ref.path).replace(/\.(m|c)?js$/, '');
    refuseSeq2Seq(fallback, mod.supports, spec, o);
    const dtype = mod.supports.dtypes[0];
    const timeoutMs = o.timeoutMs !== undefined ? checkTimeoutMs(o.timeoutMs) : defaultTimeoutMs();
    const params = o.params ?? initSeq2SeqParams(spec, o.seed ?? 0, dtype === 'float64' ? 'F64' : 'F32');
    const args = { spec, params, optimizer: o.optimizer, dtype, threads: o.threads ?? 1, seed: o.seed ?? 0 };
    let inner: UserSeq2SeqEngine;
    try {
      inner = await withDeadline(mod.createSeq2Seq!(args), timeoutMs, ref.path, 'createSeq2SeqEngine');
    } catch (e) {
      throw wrap(ref.path, 'createSeq2SeqEngine', e);
    }
    const missing = (['getParams', 'setParams', 'forward', 'lossAndGrads', 'step'] as const).filter((m) => typeof (inner as unknown as Record<string, unknown>)?.[m] !== 'function');
    if (missing.length) throw new EngineError(ref.path, `createSeq2SeqEngine returned an object without ${missing.join(', ')}`);
    const name = typeof inner.name === 'string' && inner.name ? inner.name : fallback;
    const detail = inner.detail ?? `${dtype}, in process (${ref.path})`;
    const call = async <T>(what: string, f: () => Awaitable<T>): Promise<T> => {
      try {
        return await withDeadline(f(), timeoutMs, name, what);
      } catch (e) {
        throw wrap(name, what, e);
      }
    };
    return { engine: new CheckedSeq2Seq(inner, { name, detail, spec, dtype, supports: mod.supports, call }), detail, close: async () => {} };
  },
  open: async (ref, o) => {
    const mod = await loadEngineModule(ref.path);
    const dtype = mod.supports.dtypes[0];
    const provider: EngineProvider = {
      ref,
      // the file's name until the engine names itself
      name: basename(ref.path).replace(/\.(m|c)?js$/, ''),
      dtype,
      threads: o.threads,
      detail: `${dtype}, in process (${ref.path})`,
      supports: mod.supports,
      notes: [],
      open: async (spec, m) => {
        const e = await ModuleEngine.open(mod, spec, { ...m, dtype, threads: o.threads, timeoutMs: o.timeoutMs });
        provider.name = e.name;
        return e;
      },
      close: async () => {},
    };
    return provider;
  },
};
