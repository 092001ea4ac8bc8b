/**
 * ScratchEngine: the from-scratch engine behind the Engine interface, in float32 ("scratch") or
 * float64 ("scratch-f64"), same code. Parameters, gradients and optimizer state live in typed
 * arrays of the chosen dtype; the buffers of a batch shape (B, T) are allocated once and reused.
 */
import { type Batch, type Engine, type GradRequest, type LossAndGrads, type State, validateBatch } from '../src/engine.js';
import { InputError } from '../src/errors.js';
import { type OptimizerSpec, optimizerSpec } from '../src/optimizer.js';
import { type NamedParams, initParams, paramLayout, validateParams } from '../src/params.js';
import { type ModelSpec, layerInSize, layerOutSize, parseSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { biasRows } from '../src/cells.js';
import type { Cell } from './cells/cell.js';
import { makeCell } from './cells/index.js';
import { headBackward, headForward, lossRows, type LossRows, meanSquaredError, softmaxCrossEntropy } from './head.js';
import { type Arr, type Kernels, jsKernels, scatterAddRows, swapAxes01 } from './kernels.js';
import { Optimizer, clipGradients } from './optim.js';
import { type LayerInput, type SequenceBuffers, type Stack, backwardLayer, backwardSequence, forwardLayer, forwardSequence, newSequenceBuffers } from './sequence.js';

export type ScratchDType = 'float32' | 'float64';

export interface ScratchOptions {
  dtype?: ScratchDType;
  optimizer?: OptimizerSpec;
  /** Initial parameters; otherwise seeded Keras-style initialisation from `seed` (default 0). */
  params?: NamedParams;
  seed?: number;
  /**
   * A cell of your own in place of the built-in one (same gates and layout as spec.cell): the
   * time loop, head, optimizers and checks then run on it. Tests use it to plant a bug.
   */
  cell?: Cell<unknown>;
  /** Where buffers live and how matrices multiply (default: the TypeScript reference kernels). */
  kernels?: Kernels;
  /**
   * Changes the loss's row weights after they are set from the batch (rows time-major, r = t*B + b):
   * a planted mistake's loss (src/engines/mistakes/: a scaled loss, the last step only, ...).
   */
  lossWeights?: (rows: LossRows, B: number, T: number) => void;
}

export { makeCell } from './cells/index.js';

/** Buffers for one batch shape. */
interface Workspace {
  /** The forward direction's buffers (the only direction of a unidirectional model). */
  seq: SequenceBuffers;
  /** One per direction: [forward] or [forward, backward]. */
  seqs: SequenceBuffers[];
  /** Token input looked up in the embedding, [T*B, E] time-major, and its gradient. */
  embedded: Arr | null;
  dEmbedded: Arr | null;
  bi: Bidirectional | null;
  input: LayerInput; // time-major
  mask: Uint8Array | null; // time-major [T*B]
  logits: Arr; // [N, O]
  dlogits: Arr;
  dX: Arr | null; // [T*B, in] time-major (dense input)
  rows: LossRows | null;
}

/** The extra buffers of a bidirectional model (time-major; "reversed" = the time axis reversed, as the backward direction reads it). */
interface Bidirectional {
  /** Per layer: the merged output [T*B, out], its gradient, the reversed input [T*B, in] and the input gradients of both directions. */
  merged: Arr[];
  dMerged: Arr[];
  revIn: Arr[];
  dInF: Arr[];
  dInB: Arr[];
  revTokens: Int32Array | null;
  revMask: Uint8Array | null;
  /** Many-to-one: the merged final states the head reads [B, out], and their gradient. */
  final: Arr;
  dFinal: Arr;
}

export class ScratchEngine implements Engine {
  readonly name: string;
  readonly spec: ModelSpec;
  readonly dtype: ScratchDType;
  readonly kernels: Kernels;
  private readonly alloc: (n: number) => Arr;
  private readonly params: Record<string, Arr> = {};
  private readonly grads: Record<string, Arr> = {};
  private readonly layout: { name: string; shape: number[]; size: number }[];
  /** One per direction: the forward stack, and the backward one of a bidirectional model (same cell, own weights). */
  private readonly stacks: Stack[];
  private optimizer: Optimizer;
  private readonly workspaces = new Map<string, Workspace>();
  private readonly lossWeights?: ScratchOptions['lossWeights'];

  constructor(spec: ModelSpec, opts: ScratchOptions = {}) {
    this.spec = parseSpec(spec);
    this.dtype = opts.dtype ?? 'float32';
    this.name = this.dtype === 'float32' ? 'scratch' : 'scratch-f64';
    this.kernels = opts.kernels ?? jsKernels(this.dtype);
    if (this.kernels.dtype !== this.dtype) throw new Error(`kernels ${this.kernels.name} are ${this.kernels.dtype}, the engine is ${this.dtype}`);
    this.alloc = (n) => this.kernels.alloc(n);
    this.layout = paramLayout(this.spec).map((p) => ({ name: p.name, shape: p.shape, size: p.shape.reduce((a, b) => a * b, 1) }));
    for (const p of this.layout) {
      this.params[p.name] = this.alloc(p.size);
      this.grads[p.name] = this.alloc(p.size);
    }
    this.setParams(opts.params ?? initParams(this.spec, opts.seed ?? 0, this.dtype === 'float32' ? 'F32' : 'F64'));
    this.optimizer = new Optimizer(opts.optimizer ?? optimizerSpec('adam'), this.layout, this.alloc, this.kernels);
    this.lossWeights = opts.lossWeights;

    const { spec: s } = this;
    const H = s.hiddenSize;
    const cell = opts.cell ?? makeCell(s, this.kernels);
    const GH = cell.G * H;
    // a second bias row: the recurrent product's own bias (a reset-after GRU)
    const resetAfter = biasRows(s) === 2;
    this.stacks = (s.bidirectional ? ['', 'backward.'] : ['']).map((dir) => ({
      cell,
      gemm: this.kernels.gemm,
      fast: this.kernels,
      H,
      layers: Array.from({ length: s.layers }, (_, l) => {
        const p = `layers.${l}.${dir}`;
        const bias = this.params[`${p}bias`];
        const dbias = this.grads[`${p}bias`];
        return {
          inSize: layerInSize(s, l),
          w: {
            W: this.params[`${p}kernel`],
            U: this.params[`${p}recurrentKernel`],
            bIn: bias.subarray(0, GH),
            bRec: resetAfter ? bias.subarray(GH, 2 * GH) : null,
          },
          g: {
            dW: this.grads[`${p}kernel`],
            dU: this.grads[`${p}recurrentKernel`],
            dbIn: dbias.subarray(0, GH),
            dbRec: resetAfter ? dbias.subarray(GH, 2 * GH) : null,
          },
        };
      }),
    }));
  }

  getParams(): NamedParams {
    const out: NamedParams = {};
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    for (const p of this.layout) out[p.name] = { dtype, shape: [...p.shape], data: this.params[p.name].slice() };
    return out;
  }

  setParams(p: NamedParams): void {
    validateParams(this.spec, p);
    for (const { name } of this.layout) this.params[name].set(p[name].data as ArrayLike<number>);
  }

  /** Replaces the optimizer (and its state), e.g. to compare optimizers from the same weights. */
  setOptimizer(o: OptimizerSpec): void {
    this.optimizer = new Optimizer(o, this.layout, this.alloc, this.kernels);
  }

  async optimizerState(): Promise<NamedParams> {
    return this.optimizer.getState(this.dtype === 'float32' ? 'F32' : 'F64');
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    this.optimizer.setState(s);
  }

  forward(b: Batch): { output: FloatArray; finalState: State } {
    validateBatch(this.spec, b, false);
    const ws = this.run(b);
    return { output: this.outputOf(ws, b), finalState: this.finalState(ws) };
  }

  lossAndGrads(b: Batch, want: GradRequest = {}): LossAndGrads {
    validateBatch(this.spec, b, true);
    if (want.inputGrad && this.spec.input === 'tokens') throw new InputError('input gradients exist only for dense input');
    const ws = this.run(b);
    const loss = this.backward(ws, b, !!want.inputGrad);
    const out: LossAndGrads = { loss, grads: this.copyGrads(), finalState: this.finalState(ws) };
    const { B, T } = ws.seq;
    const H = this.spec.hiddenSize;
    if (want.inputGrad && ws.dX) {
      out.dx = this.alloc(B * T * this.spec.inputSize);
      swapAxes01(T, B, this.spec.inputSize, ws.dX, out.dx);
    }
    if (want.stateGrads) {
      out.dh = ws.seq.layers.map((L) => {
        const d = this.alloc(B * T * H);
        swapAxes01(T, B, H, L.dHs, d);
        return d;
      });
      out.dState = this.asState(ws.seq.layers.map((L) => L.dNext.map((d) => d.slice())));
    }
    return out;
  }

  step(b: Batch): { loss: number; finalState: State } {
    validateBatch(this.spec, b, true);
    const ws = this.run(b);
    const loss = this.backward(ws, b, false);
    const o = this.optimizer.spec;
    if (o.clipValue !== undefined || o.clipNorm !== undefined) {
      clipGradients(Object.values(this.grads), o.clipValue, o.clipNorm);
    }
    this.optimizer.apply(this.params, this.grads);
    return { loss, finalState: this.finalState(ws) };
  }

  dispose(): void {
    this.workspaces.clear();
  }

  // ---- for finite-difference checks (scratch only) ----

  /** The loss alone (forward pass and loss, no backward). */
  loss(b: Batch): number {
    validateBatch(this.spec, b, true);
    const ws = this.run(b);
    return this.lossOf(ws, b);
  }

  /** The live buffer of a parameter: writes change the model (finite differences perturb it). */
  paramBuffer(name: string): Arr {
    const p = this.params[name];
    if (!p) throw new Error(`no parameter ${name}`);
    return p;
  }

  /** Kink sides of every kinked activation in the last forward pass (see Cell.kinkPattern). */
  kinkPattern(b: Batch): Uint8Array | null {
    const ws = this.workspace(b.batchSize, b.seqLen);
    const { B, T } = ws.seq;
    const parts = ws.seqs
      .flatMap((seq) => seq.layers.map((L) => this.stacks[0].cell.kinkPattern(L.cache, L.carry[0].subarray(B * this.spec.hiddenSize), T, B)))
      .filter((p): p is Uint8Array => p !== null);
    if (parts.length === 0) return null;
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  // ---- internals ----

  private workspace(B: number, T: number): Workspace {
    const key = `${B}x${T}`;
    let ws = this.workspaces.get(key);
    if (!ws) {
      const s = this.spec;
      const N = s.returnSequences ? T * B : B;
      const seqs = this.stacks.map((st) => newSequenceBuffers(st, B, T, this.alloc));
      const out = layerOutSize(s);
      const ins = Array.from({ length: s.layers }, (_, l) => layerInSize(s, l));
      ws = {
        seq: seqs[0],
        seqs,
        embedded: s.embedding > 0 ? this.alloc(T * B * s.embedding) : null,
        dEmbedded: s.embedding > 0 ? this.alloc(T * B * s.embedding) : null,
        bi: s.bidirectional
          ? {
              merged: ins.map(() => this.alloc(T * B * out)),
              dMerged: ins.map(() => this.alloc(T * B * out)),
              revIn: ins.map((n, l) => (l === 0 && s.input === 'tokens' && !s.embedding ? this.alloc(0) : this.alloc(T * B * n))),
              dInF: ins.map((n) => this.alloc(T * B * n)),
              dInB: ins.map((n) => this.alloc(T * B * n)),
              revTokens: s.input === 'tokens' && !s.embedding ? new Int32Array(T * B) : null,
              revMask: null,
              final: this.alloc(B * out),
              dFinal: this.alloc(B * out),
            }
          : null,
        input: s.input === 'tokens' ? { tokens: new Int32Array(T * B) } : { dense: this.alloc(T * B * s.inputSize) },
        mask: null,
        logits: this.alloc(N * s.outputSize),
        dlogits: this.alloc(N * s.outputSize),
        dX: s.input === 'dense' ? this.alloc(T * B * s.inputSize) : null,
        rows: null,
      };
      if (this.workspaces.size >= 16) this.workspaces.delete(this.workspaces.keys().next().value!);
      this.workspaces.set(key, ws);
    }
    return ws;
  }

  /** Forward through layers and head; leaves logits in the workspace. */
  private run(b: Batch): Workspace {
    const s = this.spec;
    const { batchSize: B, seqLen: T } = b;
    const ws = this.workspace(B, T);
    if ('tokens' in ws.input) swapAxes01(B, T, 1, b.x, ws.input.tokens);
    else swapAxes01(B, T, s.inputSize, b.x, ws.input.dense);
    if (b.mask) {
      ws.mask ??= new Uint8Array(T * B);
      swapAxes01(B, T, 1, b.mask, ws.mask);
    }
    const mask = b.mask ? ws.mask : null;
    const st = b.initialState;
    const x0 = this.layer0Input(ws);
    if (ws.bi) {
      if (st) throw new InputError('a bidirectional model starts both directions from a zero state; it cannot take a carried initial state');
      this.forwardBidirectional(ws, x0, mask);
    } else {
      forwardSequence(this.stacks[0], ws.seq, x0, mask, st ? [st.h, st.c] : null);
    }
    const N = s.returnSequences ? T * B : B;
    headForward(this.kernels.gemm, N, layerOutSize(s), s.outputSize, this.headInput(ws), this.params['head.kernel'], this.params['head.bias'], ws.logits);
    return ws;
  }

  /** Layer 0's input: the token ids or dense features as given, or the tokens' embedding rows. */
  private layer0Input(ws: Workspace): LayerInput {
    if (!ws.embedded) return ws.input;
    const E = this.spec.embedding;
    const emb = this.params.embedding;
    const ids = (ws.input as { tokens: Int32Array }).tokens;
    for (let r = 0; r < ids.length; r++) ws.embedded.set(emb.subarray(ids[r] * E, (ids[r] + 1) * E), r * E);
    return { dense: ws.embedded };
  }

  /** What the head reads: every step's output [T*B, out], or the final one [B, out] (many-to-one). */
  private headInput(ws: Workspace): Arr {
    const { B, T } = ws.seq;
    const H = this.spec.hiddenSize;
    if (ws.bi) return this.spec.returnSequences ? ws.bi.merged[this.spec.layers - 1] : ws.bi.final;
    const top = ws.seq.layers[this.spec.layers - 1];
    return this.spec.returnSequences ? top.carry[0].subarray(B * H) : top.carry[0].subarray(T * B * H);
  }

  /**
   * Both directions of every layer. The backward direction reads the time-reversed sequence with
   * the time-reversed mask (as Keras and tfjs do): right padding comes first there and keeps the
   * zero state, so each sequence's backward pass starts at its own last real step. Its outputs are
   * reversed back and merged with the forward ones, step by step, forward first.
   */
  private forwardBidirectional(ws: Workspace, x0: LayerInput, mask: Uint8Array | null): void {
    const s = this.spec;
    const bi = ws.bi!;
    const [fwd, bwd] = ws.seqs; // the forward direction's buffers and the backward one's
    const { B, T } = fwd;
    if (mask) {
      bi.revMask ??= new Uint8Array(T * B);
      reverseTime(T, B, 1, mask, bi.revMask);
    }
    const revMask = mask ? bi.revMask : null;
    for (let l = 0; l < s.layers; l++) {
      const X: LayerInput = l === 0 ? x0 : { dense: bi.merged[l - 1] };
      forwardLayer(this.stacks[0], l, fwd, X, mask, null);
      forwardLayer(this.stacks[1], l, bwd, this.reversedInput(ws, l, X), revMask, null);
      this.mergeSteps(fwd.layers[l].carry[0], bwd.layers[l].carry[0], B, T, bi.merged[l]);
    }
    if (!s.returnSequences) {
      // many-to-one: the forward direction's last output and the backward direction's output at the first step
      const H = s.hiddenSize;
      mergeRows(s.merge, H, B, fwd.layers[s.layers - 1].carry[0].subarray(T * B * H), bwd.layers[s.layers - 1].carry[0].subarray(T * B * H), bi.final);
    }
  }

  /** The backward direction's input of layer l: X with its time axis reversed. */
  private reversedInput(ws: Workspace, l: number, X: LayerInput): LayerInput {
    const bi = ws.bi!;
    const { B, T } = ws.seq;
    if ('tokens' in X) {
      reverseTime(T, B, 1, X.tokens, bi.revTokens!);
      return { tokens: bi.revTokens! };
    }
    reverseTime(T, B, layerInSize(this.spec, l), X.dense, bi.revIn[l]);
    return { dense: bi.revIn[l] };
  }

  /** merged[t] = merge(forward output at t, backward output at t), the backward one read from its reversed time. */
  private mergeSteps(fwd: Arr, bwd: Arr, B: number, T: number, merged: Arr): void {
    const BH = B * this.spec.hiddenSize;
    const W = layerOutSize(this.spec);
    for (let t = 0; t < T; t++) {
      mergeRows(this.spec.merge, this.spec.hiddenSize, B, fwd.subarray((t + 1) * BH, (t + 2) * BH), bwd.subarray((T - t) * BH, (T - t + 1) * BH), merged.subarray(t * B * W, (t + 1) * B * W));
    }
  }

  /** The loss of the logits in `ws`; also leaves dLoss/dlogits in ws.dlogits. */
  private lossOf(ws: Workspace, b: Batch): number {
    const s = this.spec;
    const { B, T } = ws.seq;
    ws.rows = lossRows(B, T, s.returnSequences, s.lossReduction, b.mask ? ws.mask : null, ws.rows ?? undefined);
    this.lossWeights?.(ws.rows, B, T);
    return s.loss === 'softmaxCrossEntropy'
      ? softmaxCrossEntropy(s.outputSize, ws.logits, b.y as Int32Array, ws.rows, ws.dlogits, this.kernels)
      : meanSquaredError(s.outputSize, ws.logits, b.y as FloatArray, ws.rows, ws.dlogits);
  }

  /** Loss, then gradients of every parameter into this.grads (zeroed first). */
  private backward(ws: Workspace, b: Batch, wantDx: boolean): number {
    const s = this.spec;
    const { B, T } = ws.seq;
    const H = s.hiddenSize;
    const O = s.outputSize;
    const mask = b.mask ? ws.mask : null;
    const loss = this.lossOf(ws, b);
    for (const g of Object.values(this.grads)) g.fill(0);
    const N = s.returnSequences ? T * B : B;
    const x0: LayerInput = ws.embedded ? { dense: ws.embedded } : ws.input;
    const dx0 = ws.dEmbedded ?? (wantDx ? ws.dX : null);
    if (ws.bi) {
      const bi = ws.bi;
      headBackward(this.kernels.gemm, N, layerOutSize(s), O, this.headInput(ws), this.params['head.kernel'], ws.dlogits, this.grads['head.kernel'], this.grads['head.bias'], s.returnSequences ? bi.dMerged[s.layers - 1] : bi.dFinal);
      this.backwardBidirectional(ws, x0, mask, dx0);
    } else {
      const top = ws.seq.layers[s.layers - 1];
      if (s.returnSequences) {
        headBackward(this.kernels.gemm, N, H, O, this.headInput(ws), this.params['head.kernel'], ws.dlogits, this.grads['head.kernel'], this.grads['head.bias'], top.dHs);
      } else {
        top.dHs.fill(0);
        headBackward(this.kernels.gemm, N, H, O, this.headInput(ws), this.params['head.kernel'], ws.dlogits, this.grads['head.kernel'], this.grads['head.bias'], top.dHs.subarray((T - 1) * B * H));
      }
      backwardSequence(this.stacks[0], ws.seq, x0, mask, dx0);
    }
    // the embedding's gradient goes to the rows that were read (sparse: no dense [V, E] pass per step)
    if (ws.dEmbedded) {
      const ids = (ws.input as { tokens: Int32Array }).tokens;
      if (!this.kernels.scatterAddRows?.(T * B, s.embedding, ids, ws.dEmbedded, this.grads.embedding)) scatterAddRows(T * B, s.embedding, ids, ws.dEmbedded, this.grads.embedding);
    }
    return loss;
  }

  /**
   * BPTT of both directions, top layer first: the merged output's gradient is split into the two
   * directions' dLoss/dh_t (the backward one in its reversed time), each direction runs its BPTT,
   * and their input gradients (the backward one reversed back) add up to the layer below's.
   */
  private backwardBidirectional(ws: Workspace, x0: LayerInput, mask: Uint8Array | null, dx0: Arr | null): void {
    const s = this.spec;
    const bi = ws.bi!;
    const [fwd, bwd] = ws.seqs; // the forward direction's buffers and the backward one's
    const { B, T } = fwd;
    const H = s.hiddenSize;
    const BH = B * H;
    const W = layerOutSize(s);
    const revMask = mask ? bi.revMask : null;
    for (let l = s.layers - 1; l >= 0; l--) {
      const fL = fwd.layers[l];
      const bL = bwd.layers[l];
      fL.dHs.fill(0);
      bL.dHs.fill(0);
      if (l === s.layers - 1 && !s.returnSequences) {
        splitRows(s.merge, H, B, bi.dFinal, fL.carry[0].subarray(T * BH), bL.carry[0].subarray(T * BH), fL.dHs.subarray((T - 1) * BH), bL.dHs.subarray((T - 1) * BH));
      } else {
        for (let t = 0; t < T; t++) {
          const dM = bi.dMerged[l].subarray(t * B * W, (t + 1) * B * W);
          splitRows(s.merge, H, B, dM, fL.carry[0].subarray((t + 1) * BH, (t + 2) * BH), bL.carry[0].subarray((T - t) * BH, (T - t + 1) * BH), fL.dHs.subarray(t * BH, (t + 1) * BH), bL.dHs.subarray((T - 1 - t) * BH, (T - t) * BH));
        }
      }
      const X: LayerInput = l === 0 ? x0 : { dense: bi.merged[l - 1] };
      const revX: LayerInput = 'tokens' in X ? { tokens: bi.revTokens! } : { dense: bi.revIn[l] };
      const target = l === 0 ? dx0 : bi.dMerged[l - 1];
      backwardLayer(this.stacks[0], l, fwd, X, mask, target ? bi.dInF[l] : null);
      backwardLayer(this.stacks[1], l, bwd, revX, revMask, target ? bi.dInB[l] : null);
      if (target) {
        const n = layerInSize(s, l);
        reverseTime(T, B, n, bi.dInB[l], target);
        for (let i = 0; i < T * B * n; i++) target[i] += bi.dInF[l][i];
      }
    }
  }

  private outputOf(ws: Workspace, b: Batch): FloatArray {
    const s = this.spec;
    const { batchSize: B, seqLen: T } = b;
    if (!s.returnSequences) return ws.logits.slice();
    const out = this.alloc(B * T * s.outputSize);
    swapAxes01(T, B, s.outputSize, ws.logits, out);
    return out;
  }

  /** The final state of every layer (of a bidirectional model: the forward direction's). */
  private finalState(ws: Workspace): State {
    const { B, T } = ws.seq;
    const n = B * this.spec.hiddenSize;
    return this.asState(ws.seq.layers.map((L) => L.carry.map((seq) => seq.slice(T * n, (T + 1) * n))));
  }

  /** A State from each layer's carry buffers ([h] or [h, c]). */
  private asState(perLayer: Arr[][]): State {
    const h = perLayer.map((carry) => carry[0]);
    if (this.stacks[0].cell.carry === 1) return { h };
    return { h, c: perLayer.map((carry) => carry[1]) };
  }

  private copyGrads(): NamedParams {
    const out: NamedParams = {};
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    for (const p of this.layout) out[p.name] = { dtype, shape: [...p.shape], data: this.grads[p.name].slice() };
    return out;
  }
}

/** out[t] = src[T - 1 - t] for a time-major [T, B, n] buffer. */
export function reverseTime(T: number, B: number, n: number, src: ArrayLike<number>, out: Arr | Int32Array | Uint8Array): void {
  const row = B * n;
  for (let t = 0; t < T; t++) {
    const from = (T - 1 - t) * row;
    for (let i = 0; i < row; i++) out[t * row + i] = src[from + i];
  }
}

/** One step of B rows: the forward output f and backward output k ([B, H] each) merged into out ([B, 2H] for concat, else [B, H]). */
function mergeRows(merge: ModelSpec['merge'], H: number, B: number, f: Arr, k: Arr, out: Arr): void {
  if (merge === 'concat') {
    for (let b = 0; b < B; b++) {
      out.set(f.subarray(b * H, (b + 1) * H), b * 2 * H);
      out.set(k.subarray(b * H, (b + 1) * H), b * 2 * H + H);
    }
    return;
  }
  const n = B * H;
  if (merge === 'sum') for (let i = 0; i < n; i++) out[i] = f[i] + k[i];
  else if (merge === 'mul') for (let i = 0; i < n; i++) out[i] = f[i] * k[i];
  else for (let i = 0; i < n; i++) out[i] = (f[i] + k[i]) / 2;
}

/** The gradient of one merged step split into the two directions' (written, not added): d(out) -> df, dk. */
function splitRows(merge: ModelSpec['merge'], H: number, B: number, dOut: Arr, f: Arr, k: Arr, df: Arr, dk: Arr): void {
  if (merge === 'concat') {
    for (let b = 0; b < B; b++) {
      df.set(dOut.subarray(b * 2 * H, b * 2 * H + H), b * H);
      dk.set(dOut.subarray(b * 2 * H + H, (b + 1) * 2 * H), b * H);
    }
    return;
  }
  const n = B * H;
  if (merge === 'sum') {
    df.set(dOut.subarray(0, n));
    dk.set(dOut.subarray(0, n));
  } else if (merge === 'mul') {
    for (let i = 0; i < n; i++) {
      df[i] = dOut[i] * k[i];
      dk[i] = dOut[i] * f[i];
    }
  } else {
    for (let i = 0; i < n; i++) df[i] = dk[i] = dOut[i] / 2;
  }
}
