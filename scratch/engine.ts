/**
 * ScratchEngine: the from-scratch engine behind the Engine interface, in float32 ("scratch") or
 * float64 ("scratch-f64"), same code. Parameters, gradients and optimizer state live in typed
 * arrays of the chosen dtype; the buffers of a batch shape (B, T) are allocated once and reused.
 */
import { type Batch, type Engine, type GradRequest, type LossAndGrads, type State, validateBatch } from '../src/engine.js';
import { InputError } from '../src/errors.js';
import { type OptimizerSpec, optimizerSpec } from '../src/optimizer.js';
import { type NamedParams, initParams, paramLayout, validateParams } from '../src/params.js';
import { type ModelSpec, parseSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import type { Cell } from './cells/cell.js';
import { gruCell } from './cells/gru.js';
import { gruResetAfterCell } from './cells/gru-reset-after.js';
import { lstmCell } from './cells/lstm.js';
import { rnnCell } from './cells/rnn.js';
import { headBackward, headForward, lossRows, type LossRows, meanSquaredError, softmaxCrossEntropy } from './head.js';
import { type Arr, type Kernels, jsKernels, swapAxes01 } from './kernels.js';
import { Optimizer, clipGradients } from './optim.js';
import { type LayerInput, type SequenceBuffers, type Stack, backwardSequence, forwardSequence, newSequenceBuffers } from './sequence.js';

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
}

export function makeCell(spec: ModelSpec, kernels?: Kernels): Cell<unknown> {
  const H = spec.hiddenSize;
  const gemm = kernels?.gemm;
  switch (spec.cell) {
    case 'rnn':
      return rnnCell(H, spec.activation, gemm) as Cell<unknown>;
    case 'lstm':
      return lstmCell(H, spec.recurrentActivation, gemm) as Cell<unknown>;
    case 'gru':
      return (spec.gruResetAfter ? gruResetAfterCell(H, spec.recurrentActivation, gemm) : gruCell(H, spec.recurrentActivation, gemm)) as Cell<unknown>;
  }
}

/** Buffers for one batch shape. */
interface Workspace {
  seq: SequenceBuffers;
  input: LayerInput; // time-major
  mask: Uint8Array | null; // time-major [T*B]
  logits: Arr; // [N, O]
  dlogits: Arr;
  dX: Arr | null; // [T*B, in] time-major (dense input)
  rows: LossRows | null;
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
  private readonly stack: Stack;
  private optimizer: Optimizer;
  private readonly workspaces = new Map<string, Workspace>();

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
    this.optimizer = new Optimizer(opts.optimizer ?? optimizerSpec('adam'), this.layout, this.alloc);

    const { spec: s } = this;
    const H = s.hiddenSize;
    const cell = opts.cell ?? makeCell(s, this.kernels);
    const GH = cell.G * H;
    const resetAfter = s.cell === 'gru' && s.gruResetAfter;
    this.stack = {
      cell,
      gemm: this.kernels.gemm,
      H,
      layers: Array.from({ length: s.layers }, (_, l) => {
        const bias = this.params[`layers.${l}.bias`];
        const dbias = this.grads[`layers.${l}.bias`];
        return {
          inSize: l === 0 ? s.inputSize : H,
          w: {
            W: this.params[`layers.${l}.kernel`],
            U: this.params[`layers.${l}.recurrentKernel`],
            bIn: bias.subarray(0, GH),
            bRec: resetAfter ? bias.subarray(GH, 2 * GH) : null,
          },
          g: {
            dW: this.grads[`layers.${l}.kernel`],
            dU: this.grads[`layers.${l}.recurrentKernel`],
            dbIn: dbias.subarray(0, GH),
            dbRec: resetAfter ? dbias.subarray(GH, 2 * GH) : null,
          },
        };
      }),
    };
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
    this.optimizer = new Optimizer(o, this.layout, this.alloc);
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
    const parts = ws.seq.layers
      .map((L) => this.stack.cell.kinkPattern(L.cache, L.carry[0].subarray(B * this.spec.hiddenSize), T, B))
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
      ws = {
        seq: newSequenceBuffers(this.stack, B, T, this.alloc),
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
    forwardSequence(this.stack, ws.seq, ws.input, mask, st ? [st.h, st.c] : null);
    const H = s.hiddenSize;
    const top = ws.seq.layers[s.layers - 1];
    const N = s.returnSequences ? T * B : B;
    const Hin = s.returnSequences ? top.carry[0].subarray(B * H) : top.carry[0].subarray(T * B * H); // [N, H]
    headForward(this.kernels.gemm, N, H, s.outputSize, Hin, this.params['head.kernel'], this.params['head.bias'], ws.logits);
    return ws;
  }

  /** The loss of the logits in `ws`; also leaves dLoss/dlogits in ws.dlogits. */
  private lossOf(ws: Workspace, b: Batch): number {
    const s = this.spec;
    const { B, T } = ws.seq;
    ws.rows = lossRows(B, T, s.returnSequences, s.lossReduction, b.mask ? ws.mask : null, ws.rows ?? undefined);
    return s.loss === 'softmaxCrossEntropy'
      ? softmaxCrossEntropy(s.outputSize, ws.logits, b.y as Int32Array, ws.rows, ws.dlogits)
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
    const top = ws.seq.layers[s.layers - 1];
    const N = s.returnSequences ? T * B : B;
    if (s.returnSequences) {
      headBackward(this.kernels.gemm, N, H, O, top.carry[0].subarray(B * H), this.params['head.kernel'], ws.dlogits, this.grads['head.kernel'], this.grads['head.bias'], top.dHs);
    } else {
      top.dHs.fill(0);
      headBackward(this.kernels.gemm, N, H, O, top.carry[0].subarray(T * B * H), this.params['head.kernel'], ws.dlogits, this.grads['head.kernel'], this.grads['head.bias'], top.dHs.subarray((T - 1) * B * H));
    }
    backwardSequence(this.stack, ws.seq, ws.input, mask, wantDx ? ws.dX : null);
    return loss;
  }

  private outputOf(ws: Workspace, b: Batch): FloatArray {
    const s = this.spec;
    const { batchSize: B, seqLen: T } = b;
    if (!s.returnSequences) return ws.logits.slice();
    const out = this.alloc(B * T * s.outputSize);
    swapAxes01(T, B, s.outputSize, ws.logits, out);
    return out;
  }

  private finalState(ws: Workspace): State {
    const { B, T } = ws.seq;
    const n = B * this.spec.hiddenSize;
    return this.asState(ws.seq.layers.map((L) => L.carry.map((seq) => seq.slice(T * n, (T + 1) * n))));
  }

  /** A State from each layer's carry buffers ([h] or [h, c]). */
  private asState(perLayer: Arr[][]): State {
    const h = perLayer.map((carry) => carry[0]);
    if (this.stack.cell.carry === 1) return { h };
    return { h, c: perLayer.map((carry) => carry[1]) };
  }

  private copyGrads(): NamedParams {
    const out: NamedParams = {};
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    for (const p of this.layout) out[p.name] = { dtype, shape: [...p.shape], data: this.grads[p.name].slice() };
    return out;
  }
}
