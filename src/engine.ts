/**
 * The Engine interface: what scratch/ and tfjs/ both implement and all that compare/ sees.
 * Data layouts are batch-major: x [B, T, inputSize] (dense) or [B, T] token ids; outputs
 * [B, T, O] (many-to-many) or [B, O] (many-to-one).
 */
import { InputError } from './errors.js';
import type { NamedParams } from './params.js';
import type { OptimizerName } from './optimizer.js';
import { type CellType, type StateName, carries } from './cells.js';
import type { ModelSpec } from './spec.js';
import type { FloatArray } from './tensor.js';

/** Hidden state per layer, each [B, H]; `c` only for a cell that carries one (the cell table: an lstm). */
export interface State {
  h: FloatArray[];
  c?: FloatArray[];
}

export interface Batch {
  batchSize: number; // B
  seqLen: number; // T
  /** [B, T, inputSize] floats (input "dense") or [B, T] token ids < inputSize (input "tokens"). */
  x: Float32Array | Float64Array | Int32Array;
  /** Class ids [B, T] / [B] (softmaxCrossEntropy) or values [B, T, O] / [B, O] (mse). */
  y?: Float32Array | Float64Array | Int32Array;
  /** [B, T], 1 = real step, 0 = padding. A masked step keeps h (and c) unchanged. */
  mask?: Uint8Array;
  /** Carried state (stateful training); zeros when absent. */
  initialState?: State;
}

export interface GradRequest {
  /** Also return dLoss/dx [B, T, inputSize] (dense input only). */
  inputGrad?: boolean;
  /** Also return dLoss/dh_t per layer [B, T, H] and dLoss/d(initial state). */
  stateGrads?: boolean;
}

export interface LossAndGrads {
  loss: number;
  grads: NamedParams;
  finalState: State;
  dx?: FloatArray;
  /** Per layer [B, T, H]: the total gradient reaching h_t (from the output and from step t+1). */
  dh?: FloatArray[];
  /** Gradient with respect to the initial state. */
  dState?: State;
}

/**
 * What an engine supports (docs/engines.md, "The handshake's supports"): the model variants, batch
 * features, dtypes, optimizers and extra gradients it can do. src/supports.ts reads and checks it.
 */
export type EngineDType = 'float32' | 'float64';

export interface Supports {
  cells?: CellType[];
  activations?: ModelSpec['activation'][];
  recurrentActivations?: ModelSpec['recurrentActivation'][];
  gruResetAfter?: boolean[];
  input?: ModelSpec['input'][];
  returnSequences?: boolean[];
  losses?: ModelSpec['loss'][];
  lossReductions?: ModelSpec['lossReduction'][];
  maxLayers?: number;
  /** Bidirectional layers (spec.bidirectional, every merge mode). */
  bidirectional?: boolean;
  /** A learned token embedding (spec.embedding > 0). */
  embedding?: boolean;
  mask?: boolean;
  carriedState?: boolean;
  /** Preferred first. */
  dtypes?: EngineDType[];
  optimizers?: OptimizerName[];
  clipping?: boolean;
  inputGrad?: boolean;
  stateGrads?: boolean;
  optimizerState?: boolean;
  /** false: the model has no biases (many tutorials' RNNs): rnnlab sends none, uses zero biases and compares no bias gradients. */
  biases?: boolean;
  /** The kinds of model it runs: "sequence" (a ModelSpec), "seq2seq" (an encoder-decoder, a Seq2SeqSpec). Absent: sequence models only. */
  models?: ('sequence' | 'seq2seq')[];
  /** The attention scores of its encoder-decoders (with "seq2seq" in models). Absent: none, dot, general. */
  attentions?: ('none' | 'dot' | 'general' | 'concat')[];
  /** Step-wise decoding of its encoder-decoders: the `encode` and `decode_step` requests (src/seq2seq/state.ts). Absent: false (decoding reruns forward over the prefix). */
  stepDecoding?: boolean;
}

/** A value, or a promise of it: in-process engines answer at once, out-of-process ones later. */
export type Awaitable<T> = T | Promise<T>;

/**
 * The types of one model kind: its spec, its batches, what forward returns, what a gradient request
 * may ask for, what lossAndGrads and step return. The single-stack models are one kind
 * (SequenceModels, below); the encoder-decoders another (Seq2SeqModels, src/seq2seq/engine.ts).
 */
export interface KindTypes {
  spec: unknown;
  batch: unknown;
  forward: unknown;
  want: unknown;
  grads: { loss: number; grads: NamedParams };
  step: { loss: number };
}

/**
 * What every engine implements, for the model kind K: the one engine interface. Every method may
 * answer synchronously (scratch, tfjs) or with a promise (an engine in another process, a user's
 * module): callers that hold an engine await. `Engine` is it for the single-stack models,
 * `Seq2SeqEngine` for the encoder-decoders; the registry opens both, the training loop, checkpoints
 * and check take either through their model kind (src/train/kinds.ts).
 */
export interface ModelEngine<K extends KindTypes> {
  /** "scratch", "scratch-f64", "tfjs-wasm", "pytorch", "pytorch-f64", or a user engine's name */
  readonly name: string;
  readonly spec: K['spec'];
  /** What it runs on, one line: dtype, kernels or backend, versions, threads. */
  readonly detail?: string;
  /**
   * float32 or float64: the tolerance policy of `check` depends on it (float32 when absent).
   * float16: float32 arithmetic on half-float storage (tfjs-webgl-f16), held to its own policy.
   */
  readonly dtype?: 'float32' | 'float64' | 'float16';
  /** What its handshake claims (engines of your own); absent: everything (the built-in engines). Read it with `claims(e)`. */
  readonly supports?: Required<Supports>;
  getParams(): Awaitable<NamedParams>;
  setParams(p: NamedParams): Awaitable<void>;
  forward(b: K['batch']): Awaitable<K['forward']>;
  lossAndGrads(b: K['batch'], want?: K['want']): Awaitable<K['grads']>;
  /** One optimizer step (clipping inside); returns the loss before the update. */
  step(b: K['batch']): Awaitable<K['step']>;
  /** "<slot>.<param>" plus "iterations" (async: tfjs reads its optimizer's weights asynchronously). Absent: it keeps none (a resumed run restarts its optimizer). */
  optimizerState?(): Promise<NamedParams>;
  setOptimizerState?(s: NamedParams): Promise<void>;
  dispose(): Awaitable<void>;
}

/** The single-stack models' kind: a ModelSpec, sequence batches, outputs and carried state. */
export interface SequenceModels {
  spec: ModelSpec;
  batch: Batch;
  forward: { output: FloatArray; finalState: State };
  want: GradRequest;
  grads: LossAndGrads;
  step: StepResult;
}

/** The engine of the single-stack models (every engine answers optimizerState: one that keeps none is wrapped to say so). */
export interface Engine extends ModelEngine<SequenceModels> {
  optimizerState(): Promise<NamedParams>;
  setOptimizerState(s: NamedParams): Promise<void>;
}

/**
 * What a gradient check needs of an engine beyond Engine: the loss alone, its parameters' own
 * buffers (perturbed in place), and which side of a kink each activation sits on (relu at 0,
 * hardSigmoid at +-2.5; null when the model has none). The float64 scratch engine is one
 * (src/engines/scratch.ts, finiteDifferenceEngine).
 */
export interface FiniteDifferenceEngine {
  lossAndGrads(b: Batch, want?: GradRequest): LossAndGrads;
  loss(b: Batch): number;
  paramBuffer(name: string): FloatArray;
  kinkPattern(b: Batch): Uint8Array | null;
  /** Its kernel set, described (describeKernels). */
  readonly kernelsAbout: string;
  dispose(): void;
}

export interface StepResult {
  loss: number;
  finalState: State;
  /** Milliseconds the step took inside the engine (out-of-process engines), without the pipe. */
  ms?: number;
}

/** Shape of the output for a batch: [B, T, O] or [B, O]. */
export function outputShape(spec: ModelSpec, B: number, T: number): number[] {
  return spec.returnSequences ? [B, T, spec.outputSize] : [B, spec.outputSize];
}

/**
 * Checks a batch against a spec once, at the engine's edge: sizes, token ids and class ids in
 * range, finite inputs and targets, mask and state shapes. One clear line per problem.
 */
export function validateBatch(spec: ModelSpec, b: Batch, needTargets: boolean): void {
  const { batchSize: B, seqLen: T } = b;
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) {
    throw new InputError(`batch: batchSize and seqLen must be integers >= 1 (got ${B} and ${T})`);
  }
  if (spec.input === 'tokens') {
    if (!(b.x instanceof Int32Array)) throw new InputError('x: token input needs I32 token ids [B, T]');
    if (b.x.length !== B * T) throw new InputError(`x: expected ${B * T} token ids [${B}, ${T}], got ${b.x.length}`);
    for (let i = 0; i < b.x.length; i++) {
      const v = b.x[i];
      if (v < 0 || v >= spec.inputSize) {
        throw new InputError(`x: token id ${v} at [${Math.floor(i / T)}, ${i % T}] is outside 0..${spec.inputSize - 1}`);
      }
    }
  } else {
    if (b.x instanceof Int32Array) throw new InputError('x: dense input needs float values [B, T, inputSize]');
    const n = B * T * spec.inputSize;
    if (b.x.length !== n) {
      throw new InputError(`x: expected ${n} values [${B}, ${T}, ${spec.inputSize}], got ${b.x.length}`);
    }
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(b.x[i])) {
        const f = spec.inputSize;
        throw new InputError(`x: non-finite value (${b.x[i]}) at [${Math.floor(i / (T * f))}, ${Math.floor(i / f) % T}, ${i % f}]`);
      }
    }
  }
  if (b.mask) {
    if (b.mask.length !== B * T) throw new InputError(`mask: expected ${B * T} values [${B}, ${T}], got ${b.mask.length}`);
  }
  if (b.initialState) validateState(spec, b.initialState, B);
  if (!needTargets) return;
  if (!b.y) throw new InputError('y: targets are required for the loss');
  const steps = spec.returnSequences ? T : 1;
  const where = spec.returnSequences ? `[${B}, ${T}]` : `[${B}]`;
  if (spec.loss === 'softmaxCrossEntropy') {
    if (!(b.y instanceof Int32Array)) throw new InputError(`y: softmaxCrossEntropy needs I32 class ids ${where}`);
    if (b.y.length !== B * steps) throw new InputError(`y: expected ${B * steps} class ids ${where}, got ${b.y.length}`);
    for (let i = 0; i < b.y.length; i++) {
      const v = b.y[i];
      if (v < 0 || v >= spec.outputSize) {
        throw new InputError(`y: class id ${v} at index ${i} is outside 0..${spec.outputSize - 1}`);
      }
    }
  } else {
    if (b.y instanceof Int32Array) throw new InputError('y: mse needs float targets');
    const n = B * steps * spec.outputSize;
    const shape = spec.returnSequences ? `[${B}, ${T}, ${spec.outputSize}]` : `[${B}, ${spec.outputSize}]`;
    if (b.y.length !== n) throw new InputError(`y: expected ${n} values ${shape}, got ${b.y.length}`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(b.y[i])) throw new InputError(`y: non-finite value (${b.y[i]}) at flat index ${i}`);
    }
  }
}

export function validateState(spec: ModelSpec, s: State, B: number): void {
  const n = B * spec.hiddenSize;
  const check = (arrs: FloatArray[] | undefined, what: string): void => {
    if (!arrs || arrs.length !== spec.layers) throw new InputError(`initial state: expected ${what} for ${spec.layers} layer(s)`);
    arrs.forEach((a, l) => {
      if (a.length !== n) throw new InputError(`initial state: ${what} must be [${B}, ${spec.hiddenSize}] per layer, got ${a.length} values`);
      for (let i = 0; i < a.length; i++) {
        if (!Number.isFinite(a[i])) throw new InputError(`initial state: ${what}.${l} holds a non-finite value (${a[i]}) at [${Math.floor(i / spec.hiddenSize)}, ${i % spec.hiddenSize}]`);
      }
    });
  };
  for (const k of carries(spec)) check(s[k], k);
}

export function zeroState(spec: ModelSpec, B: number): State {
  const n = B * spec.hiddenSize;
  return stateOf(spec, () => Array.from({ length: spec.layers }, () => new Float32Array(n)));
}

/** A state with every buffer the spec's cell carries (h, and c for an lstm), each made by `make`. */
export function stateOf(spec: Pick<ModelSpec, 'cell'>, make: (k: StateName) => FloatArray[]): State {
  const s: State = { h: [] };
  for (const k of carries(spec)) s[k] = make(k);
  return s;
}
