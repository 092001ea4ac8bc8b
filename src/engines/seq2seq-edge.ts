/**
 * An encoder-decoder engine of your own (a module, a process, PyTorch) behind the Seq2SeqEngine
 * interface, with what it answers checked once, here, before anything compares it
 * (docs/engines.md, "Encoder-decoder models"): parameter and gradient names and shapes, logits
 * [B, T, V_tgt], attention [B, T, S] (present exactly when the spec has attention), finite values,
 * and attention rows that are a distribution over the real source tokens (0 on padding, summing
 * to 1). A wrong answer is one EngineError naming the engine (exit 2), never a comparison of
 * garbage. It also keeps the claims: per-step gradients are asked for only when `stateGrads` is
 * claimed, an optimizer step only when the optimizer is, and `encode` / `decodeStep` (step-wise
 * decoding, src/seq2seq/state.ts) exist on it only when `stepDecoding` is claimed: their answers
 * are checked the same way (the state's tensors by name and size, finite; the logits [B, V_tgt];
 * a step's attention row a distribution over the row's real source tokens).
 */
import type { Awaitable } from '../engine.js';
import { EngineError, InputError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { Seq2SeqEngine, Seq2SeqForward, Seq2SeqGrads } from '../seq2seq/engine.js';
import { validateSeq2SeqBatch, validateSeq2SeqSources } from '../seq2seq/engine.js';
import { validateSeq2SeqParams } from '../seq2seq/params.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, keySize, seq2seqLayout } from '../seq2seq/spec.js';
import { type DecoderState, type DecoderStepOut, type Seq2SeqSources, validateDecoderState } from '../seq2seq/state.js';
import { carries } from '../cells.js';
import { type EngineDType, type Supports, describeClaims, seq2seqUnsupported, trainingUnsupported } from '../supports.js';
import type { FloatArray } from '../tensor.js';
import { assertCanStep, assertOptimizerState } from './claims.js';

/**
 * How far a row of attention weights may sum from 1 (and a padded position's weight from 0): a
 * softmax row's sum is off by a few ulps per term, so 1e-9 (float64) and 1e-4 (float32) hold for
 * any source length up to ~10^5 while an unnormalised or mis-masked row is off by far more.
 */
export const ATTENTION_TOLERANCE: Record<EngineDType, number> = { float32: 1e-4, float64: 1e-9 };

/** What the kind hands over: the engine's answers as arrays (a process's already decoded from the wire). */
export interface RawSeq2Seq {
  getParams(): Awaitable<Record<string, { data: ArrayLike<number> } | undefined>>;
  setParams(p: NamedParams): Awaitable<void>;
  forward(b: Seq2SeqBatch): Awaitable<{ logits?: unknown; attention?: unknown }>;
  lossAndGrads(b: Seq2SeqBatch, want: { stepGrads: boolean }): Awaitable<{ loss?: unknown; grads?: unknown; dhEncoder?: unknown; dhDecoder?: unknown }>;
  step(b: Seq2SeqBatch): Awaitable<{ loss?: unknown }>;
  /** Step-wise decoding (with `stepDecoding` claimed): the decoder's state before its first step (rnnlab keeps the sources' sizes and mask). */
  encode?(sources: Seq2SeqSources): Awaitable<{ memory?: unknown; keys?: unknown; h?: unknown; c?: unknown; kept?: DecoderState['kept'] }>;
  /** The engine keeps memory and keys itself (a process): encode answers `kept` instead, and decodeStep takes states that carry it. */
  readonly keepsSources?: boolean;
  /** One decoder step: the logits, the attention row and the next h (and c); the rest of the state does not change. */
  decodeStep?(state: DecoderState, tokens: Int32Array): Awaitable<{ logits?: unknown; attention?: unknown; state?: { h?: unknown; c?: unknown } }>;
  optimizerState?(): Awaitable<unknown>;
  setOptimizerState?(s: NamedParams): Awaitable<void>;
  dispose?(): Awaitable<void>;
}

export interface CheckedOptions {
  name: string;
  detail: string;
  spec: Seq2SeqSpec;
  dtype: EngineDType;
  supports: Required<Supports>;
  /** Runs one call into the engine (a module's deadline and the wrapping of what it throws; a process needs none). */
  call?: <T>(what: string, f: () => Awaitable<T>) => Promise<T>;
}

export class CheckedSeq2Seq implements Seq2SeqEngine {
  readonly name: string;
  readonly detail: string;
  readonly spec: Seq2SeqSpec;
  readonly dtype: EngineDType;
  readonly supports: Required<Supports>;
  private readonly call: <T>(what: string, f: () => Awaitable<T>) => Promise<T>;
  /** Present only when the engine claims `stepDecoding` (decoding then steps; without them it reruns forward over the prefix). */
  encode?: (sources: Seq2SeqSources) => Promise<DecoderState>;
  decodeStep?: (state: DecoderState, tokens: Int32Array) => Promise<DecoderStepOut>;

  constructor(
    private readonly inner: RawSeq2Seq,
    o: CheckedOptions,
  ) {
    this.name = o.name;
    this.detail = o.detail;
    this.spec = o.spec;
    this.dtype = o.dtype;
    this.supports = o.supports;
    this.call = o.call ?? (async (_what, f) => f());
    if (o.supports.stepDecoding) {
      if (typeof inner.encode !== 'function' || typeof inner.decodeStep !== 'function') throw new EngineError(this.name, 'claims stepDecoding but has no encode() and decodeStep()');
      this.encode = (src) => this.checkedEncode(src);
      this.decodeStep = (state, tokens) => this.checkedStep(state, tokens);
    }
  }

  private bad(op: string, message: string): never {
    throw new EngineError(this.name, `${op} returned ${message}`);
  }

  /** `n` numbers in the engine's dtype, finite unless `finiteOnly` is false. */
  private floats(v: unknown, n: number, what: string, op: string, finiteOnly = true): FloatArray {
    const a = v as ArrayLike<number> | null;
    if (!a || typeof a !== 'object' || typeof a.length !== 'number') this.bad(op, `no ${what} (expected ${n} numbers)`);
    if (a.length !== n) this.bad(op, `${what} with ${a.length} values, expected ${n}`);
    const out = this.dtype === 'float64' ? (a instanceof Float64Array ? a : Float64Array.from(a)) : a instanceof Float32Array ? a : Float32Array.from(a);
    if (finiteOnly) for (let i = 0; i < n; i++) if (!Number.isFinite(out[i])) this.bad(op, `${what} holding ${out[i]} at index ${i}`);
    return out;
  }

  private loss(v: unknown, op: string): number {
    if (v === null) return NaN; // JSON has no NaN: a process sends null
    if (typeof v !== 'number') this.bad(op, `a loss that is not a number (${JSON.stringify(v)})`);
    return v;
  }

  /** Exactly the spec's parameters by canonical name, each of its size. */
  private params(v: unknown, op: string, finiteOnly: boolean): NamedParams {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.bad(op, 'no named parameters');
    const t = v as Record<string, { data?: unknown } | undefined>;
    const layout = seq2seqLayout(this.spec);
    const names = new Set(layout.map((p) => p.name));
    const missing = layout.filter((p) => !t[p.name]).map((p) => p.name);
    const extra = Object.keys(t).filter((k) => !names.has(k));
    if (missing.length) this.bad(op, `no ${missing.join(', ')}`);
    if (extra.length) this.bad(op, `unexpected ${extra.join(', ')}`);
    const dtype = this.dtype === 'float64' ? 'F64' : 'F32';
    return Object.fromEntries(layout.map((p) => [p.name, { dtype, shape: [...p.shape], data: this.floats(t[p.name]!.data, p.shape.reduce((a, b) => a * b, 1), p.name, op, finiteOnly) }]));
  }

  /**
   * Attention rows [B, T, S] (T = 1 for a decoder step, whose rows are named without a target
   * step): finite, 0 on padded source positions, summing to 1 over the real ones (within
   * ATTENTION_TOLERANCE).
   */
  private checkAttention(a: FloatArray, b: Pick<Seq2SeqBatch, 'batchSize' | 'srcLen' | 'srcMask'> & { tgtLen?: number }, op: string): void {
    const { batchSize: B, srcLen: S } = b;
    const T = b.tgtLen ?? 1;
    const tol = ATTENTION_TOLERANCE[this.dtype];
    for (let r = 0; r < B; r++) {
      for (let t = 0; t < T; t++) {
        const at = b.tgtLen === undefined ? `row ${r}` : `row ${r}, target step ${t}`;
        let sum = 0;
        for (let s = 0; s < S; s++) {
          const w = a[(r * T + t) * S + s];
          if (!b.srcMask[r * S + s]) {
            if (Math.abs(w) > tol) this.bad(op, `attention weight ${w} on a padded source position (${at}, source step ${s}); padding gets 0`);
          } else if (w < -tol) this.bad(op, `a negative attention weight ${w} (${at}, source step ${s})`);
          else sum += w;
        }
        if (Math.abs(sum - 1) > tol) this.bad(op, `attention weights of ${at} summing to ${sum} over the real source tokens, not 1 (tolerance ${tol}, ${this.dtype})`);
      }
    }
  }

  /** The decoder's h (and c: lstm only) per layer, [B, D] each, finite. */
  private carry(v: { h?: unknown; c?: unknown } | undefined, B: number, op: string): Pick<DecoderState, 'h' | 'c'> {
    const L = this.spec.layers;
    const n = B * decoderSize(this.spec);
    const layers = (x: unknown, what: string): FloatArray[] => {
      if (!Array.isArray(x) || x.length !== L) this.bad(op, `no ${what} (${L} arrays [${B}, ${decoderSize(this.spec)}])`);
      return x.map((a, l) => this.floats(a, n, `${what}.${l}`, op));
    };
    const h = layers(v?.h, 'h');
    if (carries(this.spec).includes('c')) return { h, c: layers(v?.c, 'c') };
    if (v?.c !== undefined && v?.c !== null) this.bad(op, 'a c state for a cell that carries only h');
    return { h, c: null };
  }

  /** Step-wise decoding: the encoder once; its answer checked (memory with attention, keys only where the scores read them, h and c). */
  private async checkedEncode(src: Seq2SeqSources): Promise<DecoderState> {
    validateSeq2SeqSources(this.spec, src);
    const r = await this.call('encode', () => this.inner.encode!(src));
    const op = 'encode';
    const { batchSize: B, srcLen: S } = src;
    const att = this.spec.attention;
    const D = decoderSize(this.spec);
    const absent = (v: unknown): boolean => v === undefined || v === null;
    if (!r || typeof r !== 'object') this.bad(op, 'no decoder state');
    if (this.inner.keepsSources) return { batchSize: B, srcLen: S, srcMask: src.srcMask.slice(), memory: null, keys: null, ...this.carry(r, B, op), kept: r.kept };
    if (att === 'none' && !absent(r.memory)) this.bad(op, 'a memory for a model without attention');
    const memory = att === 'none' ? null : this.floats(r.memory, B * S * D, `memory (expected [${B}, ${S}, ${D}])`, op);
    const readsKeys = att === 'general' || att === 'concat';
    if (!readsKeys && !absent(r.keys)) this.bad(op, `keys for attention ${att} (only general and concat read keys)`);
    const K = keySize(this.spec);
    const keys = readsKeys && !absent(r.keys) ? this.floats(r.keys, B * S * K, `keys (expected [${B}, ${S}, ${K}])`, op) : null;
    return { batchSize: B, srcLen: S, srcMask: src.srcMask.slice(), memory, keys, ...this.carry(r, B, op) };
  }

  /** One decoder step: the logits [B, V_tgt], the attention row of each hypothesis, the next h and c (the rest of the state kept). */
  private async checkedStep(state: DecoderState, tokens: Int32Array): Promise<DecoderStepOut> {
    validateDecoderState(this.spec, state, tokens, !!this.inner.keepsSources);
    const r = await this.call('decodeStep', () => this.inner.decodeStep!(state, tokens));
    const op = 'decodeStep';
    const { batchSize: B, srcLen: S } = state;
    const V = this.spec.tgtVocab;
    if (!r || typeof r !== 'object') this.bad(op, 'nothing');
    const logits = this.floats(r.logits, B * V, `logits (expected [${B}, ${V}])`, op);
    let attention: FloatArray | null = null;
    if (this.spec.attention === 'none') {
      if (r.attention !== undefined && r.attention !== null) this.bad(op, 'attention weights for a model without attention');
    } else {
      attention = this.floats(r.attention, B * S, `attention (expected [${B}, ${S}])`, op);
      this.checkAttention(attention, state, op);
    }
    return { logits, attention, state: { ...state, ...this.carry(r.state, B, op) } };
  }

  async getParams(): Promise<NamedParams> {
    return this.params(await this.call('getParams', () => this.inner.getParams()), 'getParams', true);
  }

  async setParams(p: NamedParams): Promise<void> {
    validateSeq2SeqParams(this.spec, p);
    await this.call('setParams', () => this.inner.setParams(p));
  }

  async forward(b: Seq2SeqBatch): Promise<Seq2SeqForward> {
    validateSeq2SeqBatch(this.spec, b, false);
    const r = await this.call('forward', () => this.inner.forward(b));
    const { batchSize: B, srcLen: S, tgtLen: T } = b;
    const logits = this.floats(r?.logits, B * T * this.spec.tgtVocab, `logits (expected [${B}, ${T}, ${this.spec.tgtVocab}])`, 'forward');
    if (this.spec.attention === 'none') {
      if (r.attention !== undefined && r.attention !== null) this.bad('forward', 'attention weights for a model without attention');
      return { logits, attention: null };
    }
    const attention = this.floats(r.attention, B * T * S, `attention (expected [${B}, ${T}, ${S}])`, 'forward');
    this.checkAttention(attention, b, 'forward');
    return { logits, attention };
  }

  async lossAndGrads(b: Seq2SeqBatch, want: { stepGrads?: boolean } = {}): Promise<Seq2SeqGrads> {
    validateSeq2SeqBatch(this.spec, b, true);
    // per-step gradients only from an engine that claims them (check then leaves it out of that table)
    const stepGrads = !!want.stepGrads && this.supports.stateGrads;
    const r = await this.call('lossAndGrads', () => this.inner.lossAndGrads(b, { stepGrads }));
    const op = 'lossAndGrads';
    const loss = this.loss(r?.loss, op);
    // a diverged model's gradients may be non-finite with its loss; with a finite loss they must be finite
    const out: Seq2SeqGrads = { loss, grads: this.params(r.grads, op, Number.isFinite(loss)) };
    if (stepGrads) {
      const { batchSize: B, srcLen: S, tgtLen: T } = b;
      const H = this.spec.bidirectional ? 2 * this.spec.hiddenSize : this.spec.hiddenSize;
      const D = decoderSize(this.spec);
      const side = (v: unknown, what: string, len: number, w: number): FloatArray[] => {
        if (!Array.isArray(v) || v.length !== this.spec.layers) this.bad(op, `no ${what} (${this.spec.layers} arrays [${B}, ${len}, ${w}])`);
        return v.map((a, l) => this.floats(a, B * len * w, `${what}[${l}]`, op, Number.isFinite(loss)));
      };
      out.dhEncoder = side(r.dhEncoder, 'dhEncoder', S, H);
      out.dhDecoder = side(r.dhDecoder, 'dhDecoder', T, D);
    }
    return out;
  }

  async step(b: Seq2SeqBatch): Promise<{ loss: number }> {
    validateSeq2SeqBatch(this.spec, b, true);
    assertCanStep(this.name, this.supports);
    const r = await this.call('step', () => this.inner.step(b));
    return { loss: this.loss(r?.loss, 'step') };
  }

  /** The optimizer's state by `<slot>.<parameter>` and `iterations` (with `optimizerState` claimed): checkpoints and resume. */
  async optimizerState(): Promise<NamedParams> {
    assertOptimizerState(this.name, this.supports);
    if (!this.inner.optimizerState) throw new EngineError(this.name, 'has no optimizerState() (needed for checkpoints)');
    const r = await this.call('optimizerState', () => this.inner.optimizerState!());
    if (!r || typeof r !== 'object' || Array.isArray(r)) this.bad('optimizerState', 'no named tensors');
    const out: NamedParams = {};
    for (const [k, t] of Object.entries(r as Record<string, { dtype?: unknown; shape?: unknown; data?: unknown }>)) {
      const shape = Array.isArray(t?.shape) ? (t.shape as number[]) : [];
      const data = this.floats(t?.data, shape.reduce((a, b) => a * b, 1), JSON.stringify(k), 'optimizerState');
      Object.defineProperty(out, k, { value: { dtype: k === 'iterations' || this.dtype === 'float64' ? 'F64' : 'F32', shape: [...shape], data: k === 'iterations' ? Float64Array.from(data) : data }, enumerable: true, writable: true, configurable: true });
    }
    if (!out.iterations) this.bad('optimizerState', 'no "iterations"');
    return out;
  }

  async setOptimizerState(st: NamedParams): Promise<void> {
    assertOptimizerState(this.name, this.supports);
    if (!this.inner.setOptimizerState) throw new EngineError(this.name, 'has no setOptimizerState() (needed to resume)');
    await this.call('setOptimizerState', () => this.inner.setOptimizerState!(st));
  }

  async dispose(): Promise<void> {
    if (this.inner.dispose) await this.call('dispose', () => this.inner.dispose!());
  }
}

/**
 * Refuses, in one line before `init`, an encoder-decoder the engine does not claim (the model, the
 * cell, the attention, a bidirectional encoder, ...) and, when it is to train, an optimizer it lacks.
 */
export function refuseSeq2Seq(name: string, s: Required<Supports>, spec: Seq2SeqSpec, o: { optimizer: OptimizerSpec; training?: boolean }): void {
  const why = seq2seqUnsupported(spec, s);
  if (why) throw new InputError(`engine ${name} cannot run this encoder-decoder: it does not support ${why}; its handshake claims: ${describeClaims(s)}`);
  const training = o.training === false ? null : trainingUnsupported(o.optimizer, s);
  if (training) throw new InputError(`engine ${name} cannot train this encoder-decoder: it does not support ${training}`);
  if (!s.dtypes.length) throw new InputError(`engine ${name} claims no dtype`);
}
