/**
 * TfjsEngine: the TensorFlow.js twin behind the Engine interface. The layers come from model.ts,
 * the weights from the same canonical parameters as the scratch engine; gradients come from
 * tf.variableGrads; training uses tfjs's own optimizers (tf.train.*) with the gradients passed in
 * canonical parameter order (tfjs keys optimizer slots by position), after the same clipping as the
 * scratch engine. Everything runs in float32. Every call disposes what it creates (tf.tidy).
 * Results are read back with the asynchronous `data()` (so every method answers with a promise): on
 * the webgpu backend `dataSync()` goes through a canvas and, on SwiftShader, silently reads zeros.
 */
import { type Batch, type Engine, type GradRequest, type LossAndGrads, type State, validateBatch } from '../src/engine.js';
import { InputError } from '../src/errors.js';
import { type OptimizerSpec, TFJS_EPSILON, optimizerSlots, optimizerSpec } from '../src/optimizer.js';
import { type NamedParams, initParams, paramLayout } from '../src/params.js';
import { type ModelSpec, parseSpec } from '../src/spec.js';
import { carries } from '../src/cells.js';
import type { FloatArray } from '../src/tensor.js';
import { type BackendName, type BackendRequest, type LoadedTf, type Tf, activate, loadTf } from './backend.js';
import { type TfLayers, buildLayers, buildWeights } from './model.js';
import { getLayerWeights, layerVariables, setLayerWeights } from './weights.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type Tensor1D = import('@tensorflow/tfjs').Tensor1D;
type Scalar = import('@tensorflow/tfjs').Scalar;
type Variable = import('@tensorflow/tfjs').Variable;
type Optimizer = import('@tensorflow/tfjs').Optimizer;

export interface TfjsOptions {
  backend?: BackendRequest;
  params?: NamedParams;
  seed?: number;
  optimizer?: OptimizerSpec;
}

/** Loads tfjs on the requested backend and builds the engine. */
export async function createTfjsEngine(spec: ModelSpec, opts: TfjsOptions = {}): Promise<TfjsEngine> {
  const loaded = await loadTf(opts.backend ?? 'auto');
  return new TfjsEngine(loaded, spec, opts);
}

export class TfjsEngine implements Engine {
  readonly name: string;
  readonly spec: ModelSpec;
  readonly backend: BackendName;
  readonly loaded: LoadedTf;
  /** Where tfjs cannot do exactly what was asked (e.g. adagrad's epsilon is fixed at 1e-7). */
  readonly notes: string[] = [];
  private readonly tf: Tf;
  private readonly layers: TfLayers;
  private readonly vars: { name: string; variable: Variable }[];
  private optSpec: OptimizerSpec;
  private optimizer: Optimizer;

  constructor(loaded: LoadedTf, spec: ModelSpec, opts: TfjsOptions = {}) {
    this.loaded = loaded;
    this.tf = loaded.tf;
    this.backend = loaded.backend;
    this.name = loaded.engineName;
    this.spec = parseSpec(spec);
    activate(this.tf, this.backend);
    this.layers = buildLayers(this.tf, this.spec, { returnState: true });
    buildWeights(this.spec, this.layers);
    this.vars = layerVariables(this.spec, this.layers).map(({ name, variable }) => ({ name, variable: variable.read() as Variable }));
    this.setParams(opts.params ?? initParams(this.spec, opts.seed ?? 0));
    this.optSpec = opts.optimizer ?? optimizerSpec('adam');
    this.optimizer = this.makeOptimizer(this.optSpec);
  }

  getParams(): Promise<NamedParams> {
    activate(this.tf, this.backend);
    return getLayerWeights(this.spec, this.layers);
  }

  setParams(p: NamedParams): void {
    activate(this.tf, this.backend);
    setLayerWeights(this.tf, this.spec, this.layers, p);
  }

  setOptimizer(o: OptimizerSpec): void {
    this.optimizer.dispose();
    this.optSpec = o;
    this.optimizer = this.makeOptimizer(o);
  }

  async forward(b: Batch): Promise<{ output: FloatArray; finalState: State }> {
    validateBatch(this.spec, b, false);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const { logits, states } = tf.tidy(() => {
      const r = this.run(b, this.inputTensor(b), this.stateTensors(b));
      return { logits: r.logits, states: r.states.map((s) => s.map((t) => tf.keep(t))) };
    });
    try {
      const [output, finalState] = await Promise.all([read(logits), this.readState(states)]);
      return { output, finalState };
    } finally {
      logits.dispose();
      tf.dispose(states.flat());
    }
  }

  async lossAndGrads(b: Batch, want: GradRequest = {}): Promise<LossAndGrads> {
    validateBatch(this.spec, b, true);
    if (want.inputGrad && this.spec.input === 'tokens') throw new InputError('input gradients exist only for dense input');
    activate(this.tf, this.backend);
    const tf = this.tf;
    const xVar = want.inputGrad ? this.variableOf(this.inputTensor(b)) : null;
    // initial-state gradients: a bidirectional model has no initial state to take (it starts from zeros)
    const stateVars = want.stateGrads && !this.spec.bidirectional ? this.stateVariables(b) : null;
    let states: Tensor[][] = [];
    const extra: Variable[] = [...(xVar ? [xVar] : []), ...(stateVars ? [...stateVars.h, ...(stateVars.c ?? [])] : [])];
    const { value, grads } = tf.variableGrads(() => {
      const x = xVar ?? this.inputTensor(b);
      const init = stateVars ?? this.stateTensors(b);
      const r = this.run(b, x, init);
      states = r.states.map((s) => s.map((t) => tf.keep(t)));
      return this.lossOf(r.logits, b);
    }, [...this.vars.map((v) => v.variable), ...extra]);
    try {
      // every read started at once: one wait for the GPU, not one per tensor
      const [loss, finalState, gradData] = await Promise.all([read(value), this.readState(states), Promise.all(this.vars.map(({ variable }) => read(grads[variable.name])))]);
      const out: LossAndGrads = { loss: loss[0], grads: {}, finalState };
      const layout = paramLayout(this.spec);
      this.vars.forEach(({ name }, i) => (out.grads[name] = { dtype: 'F32', shape: layout[i].shape, data: gradData[i] }));
      if (xVar) out.dx = await read(grads[xVar.name]);
      if (want.stateGrads) out.dh = await this.perStepStateGrads(b);
      if (stateVars) {
        const all = async (vs: Variable[]): Promise<Float32Array[]> => Promise.all(vs.map((v) => read(grads[v.name])));
        out.dState = { h: await all(stateVars.h), ...(stateVars.c ? { c: await all(stateVars.c) } : {}) };
      }
      return out;
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
      tf.dispose(states.flat());
      xVar?.dispose();
      if (stateVars) tf.dispose([...stateVars.h, ...(stateVars.c ?? [])]);
    }
  }

  async step(b: Batch): Promise<{ loss: number; finalState: State }> {
    validateBatch(this.spec, b, true);
    activate(this.tf, this.backend);
    const tf = this.tf;
    let states: Tensor[][] = [];
    const { value, grads } = tf.variableGrads(() => {
      const r = this.run(b, this.inputTensor(b), this.stateTensors(b));
      states = r.states.map((s) => s.map((t) => tf.keep(t)));
      return this.lossOf(r.logits, b);
    }, this.vars.map((v) => v.variable));
    try {
      // Canonical order, clipped as the scratch engine clips. The loss, the final state and the
      // global norm are read back together: one wait for the GPU, not three.
      const raw = this.vars.map(({ variable }) => grads[variable.name]);
      const byValue = tf.tidy(() => clipByValue(tf, raw, this.optSpec));
      try {
        const normT = this.optSpec.clipNorm === undefined ? null : tf.tidy(() => globalNorm(tf, byValue));
        const [loss, finalState, norm] = await Promise.all([read(value), this.readState(states), normT ? readScalar(normT) : 0]);
        tf.tidy(() => {
          const gs = scaleToNorm(tf, byValue, norm, this.optSpec.clipNorm);
          this.optimizer.applyGradients(this.vars.map(({ variable }, i) => ({ name: variable.name, tensor: gs[i] })));
        });
        return { loss: loss[0], finalState };
      } finally {
        tf.dispose(byValue.filter((g) => !raw.includes(g)));
      }
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
      tf.dispose(states.flat());
    }
  }

  /** "<slot>.<param>" (canonical names) plus "iterations", read from tfjs's optimizer. */
  async optimizerState(): Promise<NamedParams> {
    activate(this.tf, this.backend);
    return readOptimizerState(this.optimizer, this.optSpec, paramLayout(this.spec));
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    activate(this.tf, this.backend);
    const fresh = await optimizerWithState(this.tf, () => this.makeOptimizer(this.optSpec), s, this.optSpec, paramLayout(this.spec), this.vars);
    this.optimizer.dispose();
    this.optimizer = fresh;
  }

  dispose(): void {
    this.optimizer.dispose();
    // Layers applied eagerly never become "used" in tfjs's bookkeeping, so dispose their variables.
    for (const layer of [...this.layers.rnn, this.layers.head]) for (const w of layer.weights) w.dispose();
  }

  /** Live tensor count of the tfjs engine (memory checks). */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  // ---- internals ----

  private makeOptimizer(o: OptimizerSpec): Optimizer {
    return tfjsOptimizer(this.tf, o, (msg) => {
      if (!this.notes.includes(msg)) this.notes.push(msg);
    });
  }

  /** x as a float tensor [B, T, in]; token ids are one-hot encoded with tf.oneHot. */
  private inputTensor(b: Batch): Tensor {
    const tf = this.tf;
    const { batchSize: B, seqLen: T } = b;
    if (this.spec.input === 'tokens') {
      // an embedding looks the ids up itself; without one, a one-hot row per id
      if (this.layers.embedding) return tf.tensor2d(b.x as Int32Array, [B, T], 'int32');
      return tf.tidy(() => oneHotFloat(tf, tf.tensor2d(b.x as Int32Array, [B, T], 'int32'), this.spec.inputSize));
    }
    const x = b.x instanceof Float32Array ? b.x : Float32Array.from(b.x);
    return tf.tensor3d(x, [B, T, this.spec.inputSize]);
  }

  private stateTensors(b: Batch): { h: Tensor[]; c?: Tensor[] } | null {
    const st = b.initialState;
    if (!st) return null;
    if (this.spec.bidirectional) throw new InputError('a bidirectional model starts both directions from a zero state; it cannot take a carried initial state');
    const tf = this.tf;
    const shape: [number, number] = [b.batchSize, this.spec.hiddenSize];
    const t = (a: FloatArray): Tensor => tf.tensor2d(a instanceof Float32Array ? a : Float32Array.from(a), shape);
    return { h: st.h.map(t), ...(st.c ? { c: st.c.map(t) } : {}) };
  }

  private stateVariables(b: Batch): { h: Variable[]; c?: Variable[] } {
    const tf = this.tf;
    const n = b.batchSize * this.spec.hiddenSize;
    const st = b.initialState;
    const mk = (a: FloatArray | undefined): Variable =>
      this.variableOf(tf.tensor2d(a ? Float32Array.from(a) : new Float32Array(n), [b.batchSize, this.spec.hiddenSize]));
    return {
      h: Array.from({ length: this.spec.layers }, (_, l) => mk(st?.h[l])),
      ...(carries(this.spec).includes('c') ? { c: Array.from({ length: this.spec.layers }, (_, l) => mk(st?.c?.[l])) } : {}),
    };
  }

  /**
   * dLoss/dh_t for every step and layer ([B, T, H] per layer): the same forward pass, written as
   * a loop over each layer's tfjs cell (the layer's own step function and weights), with a zero
   * "probe" added to every h_t; the gradient with respect to probe t is the total gradient reaching
   * h_t, from the output above and from step t+1. tfjs layers do not expose per-step gradients
   * any other way.
   */
  private async perStepStateGrads(b: Batch): Promise<Float32Array[]> {
    const tf = this.tf;
    const { batchSize: B, seqLen: T } = b;
    const H = this.spec.hiddenSize;
    const L = this.spec.layers;
    const probes: Variable[][] = Array.from({ length: L }, () => Array.from({ length: T }, () => this.variableOf(tf.zeros([B, H]))));
    try {
      const { value, grads } = tf.variableGrads(() => {
        const x = this.embed(this.inputTensor(b));
        let inputs = tf.unstack(x, 1); // T x [B, in]
        const masks = b.mask ? tf.unstack(tf.tensor2d(Float32Array.from(b.mask), [B, T]), 1) : null;
        const init = this.stateTensors(b);
        type CellLayer = { cell?: { call(i: Tensor[], k: object): Tensor[] }; step?(x: Tensor, h: Tensor): Tensor };
        // one direction of one layer over the steps in `order`, from the initial state; probes (if given) added to every h_t
        // a cell that carries c (an lstm) takes and returns it beside h
        const withC = carries(this.spec).includes('c');
        const direction = (cellLayer: CellLayer, l: number, order: number[], probe: Variable[] | null): Tensor[] => {
          let h: Tensor = init ? init.h[l] : tf.zeros([B, H]);
          let c: Tensor = init?.c ? init.c[l] : tf.zeros([B, H]);
          const outs: Tensor[] = new Array(T);
          for (const t of order) {
            let hNew: Tensor;
            let cNew = c;
            if (cellLayer.step) hNew = cellLayer.step(inputs[t], h);
            else {
              const r = cellLayer.cell!.call(withC ? [inputs[t], h, c] : [inputs[t], h], {});
              hNew = r[1];
              if (withC) cNew = r[2];
            }
            if (masks) {
              const m = tf.expandDims(masks[t], 1);
              hNew = tf.add(tf.mul(hNew, m), tf.mul(h, tf.sub(1, m)));
              cNew = tf.add(tf.mul(cNew, m), tf.mul(c, tf.sub(1, m)));
            }
            h = probe ? tf.add(hNew, probe[t]) : hNew;
            c = cNew;
            outs[t] = h;
          }
          return outs;
        };
        const forwardOrder = Array.from({ length: T }, (_, t) => t);
        let top: Tensor | null = null;
        this.layers.rnn.forEach((layer, l) => {
          if (!this.spec.bidirectional) {
            inputs = direction(layer as unknown as CellLayer, l, forwardOrder, probes[l]);
            return;
          }
          // a bidirectional layer: the probes sit on the forward direction (the per-step gradients of a bidirectional model are its forward direction's)
          const bi = layer as unknown as { forwardLayer: CellLayer; backwardLayer: CellLayer };
          const f = direction(bi.forwardLayer, l, forwardOrder, probes[l]);
          const k = direction(bi.backwardLayer, l, [...forwardOrder].reverse(), null);
          inputs = f.map((ft, t) => this.mergeDirections(ft, k[t]));
          if (l === this.spec.layers - 1 && !this.spec.returnSequences) top = this.mergeDirections(f[T - 1], k[0]);
        });
        top ??= this.spec.returnSequences ? tf.stack(inputs, 1) : inputs[T - 1];
        return this.lossOf(this.layers.head.apply(top) as Tensor, b);
      }, probes.flat());
      try {
        const all = await Promise.all(probes.map((row) => Promise.all(row.map((v) => read(grads[v.name])))));
        return all.map((row) => {
          const d = new Float32Array(B * T * H);
          row.forEach((g, t) => {
            for (let bb = 0; bb < B; bb++) d.set(g.subarray(bb * H, (bb + 1) * H), (bb * T + t) * H);
          });
          return d;
        });
      } finally {
        value.dispose();
        tf.dispose(Object.values(grads));
      }
    } finally {
      tf.dispose(probes.flat());
    }
  }

  /** A trainable variable holding `t` (which is disposed: the variable keeps its own reference). */
  private variableOf(t: Tensor): Variable {
    const v = this.tf.variable(t, true);
    t.dispose();
    return v;
  }

  /** The layers, applied eagerly (masks and initial states go to each recurrent layer). */
  private run(b: Batch, x: Tensor, init: { h: Tensor[]; c?: Tensor[] } | null): { logits: Tensor; states: Tensor[][] } {
    const tf = this.tf;
    const mask = b.mask ? tf.tensor2d(Float32Array.from(b.mask), [b.batchSize, b.seqLen]) : undefined;
    const states: Tensor[][] = [];
    let h = this.embed(x);
    this.layers.rnn.forEach((layer, l) => {
      const initialState = init ? [init.h[l], ...(init.c ? [init.c[l]] : [])] : undefined;
      const out = layer.apply(h, { mask, ...(initialState ? { initialState } : {}) }) as Tensor[];
      h = out[0];
      // a Bidirectional layer returns the forward direction's states, then the backward one's: the final state is the forward one's
      const st = out.slice(1);
      states.push(this.spec.bidirectional ? st.slice(0, st.length / 2) : st);
    });
    return { logits: this.layers.head.apply(h) as Tensor, states };
  }

  /**
   * Token ids through the embedding layer, when the model has one. The wasm backend has no kernel
   * for the gradient of a gather (UnsortedSegmentSum), so there the lookup is written as
   * one-hot rows times the embedding matrix: the same values (a one-hot row selects exactly one
   * row), a gradient the backend can compute.
   */
  private embed(x: Tensor): Tensor {
    const emb = this.layers.embedding;
    if (!emb) return x;
    return embedIds(this.tf, this.backend, emb, emb.trainableWeights[0].read(), x);
  }

  /** The two directions' outputs of one step merged as tfjs's Bidirectional merges them (forward first). */
  private mergeDirections(f: Tensor, k: Tensor): Tensor {
    const tf = this.tf;
    switch (this.spec.merge) {
      case 'concat':
        return tf.concat([f, k], -1);
      case 'sum':
        return tf.add(f, k);
      case 'mul':
        return tf.mul(f, k);
      default:
        return tf.mul(tf.add(f, k), 0.5);
    }
  }

  private lossOf(logits: Tensor, b: Batch): Scalar {
    return specLoss(this.tf, this.spec, logits, b);
  }

  private async readState(states: Tensor[][]): Promise<State> {
    const h = await Promise.all(states.map((s) => read(s[0])));
    if (!carries(this.spec).includes('c')) return { h };
    return { h, c: await Promise.all(states.map((s) => read(s[1]))) };
  }
}

/**
 * The loss, defined as in the scratch engine: cross-entropy logsumexp(z) - z_y with
 * tf.logSoftmax (tf.layers losses clip probabilities and are not used), or mse (mean over outputs),
 * weighted per position: mean over (unmasked) positions, or summed over time / B.
 */
export function specLoss(tf: Tf, s: ModelSpec, logits: Tensor, b: Batch): Scalar {
  const { batchSize: B, seqLen: T } = b;
  const N = s.returnSequences ? B * T : B;
  const O = s.outputSize;
  const w = new Float32Array(N);
  let valid = 0;
  for (let i = 0; i < N; i++) {
    const on = !s.returnSequences || !b.mask || b.mask[i] !== 0;
    w[i] = on ? 1 : 0;
    if (on) valid++;
  }
  const scale = s.lossReduction === 'mean' ? (valid > 0 ? 1 / valid : 0) : 1 / B;
  const weights = tf.mul(tf.tensor1d(w), scale);
  const z = tf.reshape(logits, [N, O]);
  let per: Tensor;
  if (s.loss === 'softmaxCrossEntropy') {
    const logp = tf.logSoftmax(z);
    const onehot = oneHotFloat(tf, tf.tensor1d(b.y as Int32Array, 'int32'), O);
    per = tf.neg(tf.sum(tf.mul(logp, onehot), -1));
  } else {
    const y = tf.tensor2d(b.y instanceof Float32Array ? b.y : Float32Array.from(b.y as Float64Array), [N, O]);
    per = tf.mean(tf.square(tf.sub(z, y)), -1);
  }
  return tf.sum(tf.mul(per, weights)) as Scalar;
}

/** A tfjs optimizer with the spec's settings; `note` hears where tfjs cannot do exactly what was asked. */
export function tfjsOptimizer(tf: Tf, o: OptimizerSpec, note: (msg: string) => void): Optimizer {
  switch (o.name) {
    case 'sgd':
      return tf.train.sgd(o.lr);
    case 'momentum':
      return tf.train.momentum(o.lr, o.momentum, false);
    case 'adam':
      return tf.train.adam(o.lr, o.beta1, o.beta2, o.epsilon);
    case 'rmsprop':
      return tf.train.rmsprop(o.lr, o.rho, o.momentum, o.epsilon, false);
    case 'adagrad':
      if (o.epsilon !== TFJS_EPSILON) note(`tfjs adagrad always uses epsilon ${TFJS_EPSILON} (asked ${o.epsilon})`);
      return tf.train.adagrad(o.lr, o.initialAccumulatorValue);
  }
}

/** Gradients clipped as the scratch engine clips them: each element by value, then all by global norm (call inside tf.tidy). */
export function clipGradients(tf: Tf, grads: Tensor[], o: Pick<OptimizerSpec, 'clipValue' | 'clipNorm'>): Tensor[] {
  const gs = clipByValue(tf, grads, o);
  return scaleToNorm(tf, gs, o.clipNorm === undefined ? 0 : globalNorm(tf, gs).dataSync()[0], o.clipNorm);
}

/** Each gradient element clipped to [-clipValue, clipValue] (the same tensors when there is no clipValue). */
function clipByValue(tf: Tf, grads: Tensor[], o: Pick<OptimizerSpec, 'clipValue'>): Tensor[] {
  const { clipValue } = o;
  return clipValue === undefined ? grads : grads.map((g) => tf.clipByValue(g, -clipValue, clipValue));
}

/**
 * sqrt of the sum of every gradient element squared, a scalar tensor. The sums are added one by one
 * (the order and the float32 results of tf.addN), not by tf.addN: on webgpu an addN of more than
 * seven tensors needs more storage buffers than a device gets by default, and fails.
 */
function globalNorm(tf: Tf, grads: Tensor[]): Tensor {
  return tf.sqrt(grads.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
}

/** All gradients scaled by clipNorm / norm when the global norm (read back) exceeds clipNorm. */
function scaleToNorm(tf: Tf, grads: Tensor[], norm: number, clipNorm: number | undefined): Tensor[] {
  return clipNorm !== undefined && norm > clipNorm ? grads.map((g) => tf.mul(g, clipNorm / norm)) : grads;
}

/**
 * One-hot rows of token or class ids, in float32. Each backend has its own bug here (tfjs 4.22):
 * webgpu's int32 oneHot does not compile (a WGSL type error), so there the rows are made as float32
 * directly; wasm's oneHot asked for float32 gives rows of (next to) zeros, so elsewhere they are
 * int32 rows cast to float32, as before. The same 0s and 1s either way.
 */
export function oneHotFloat(tf: Tf, ids: Tensor, depth: number): Tensor {
  if (tf.getBackend() === 'webgpu') return tf.oneHot(ids as Tensor1D, depth, 1, 0, 'float32');
  return tf.cast(tf.oneHot(ids as Tensor1D, depth), 'float32');
}

/**
 * A float tensor's values read back asynchronously (tfjs's `data()`): the one way that works on
 * every backend (webgpu's `dataSync()` reads through a canvas, which gives zeros on SwiftShader).
 */
/** An optimizer's state by canonical names: "<slot>.<param>" (in `layout` order, the order of its variables) plus "iterations". */
export async function readOptimizerState(optimizer: Optimizer, optSpec: OptimizerSpec, layout: readonly { name: string; shape: readonly number[] }[]): Promise<NamedParams> {
  const slots = optimizerSlots(optSpec.name);
  const out: NamedParams = {};
  const weights = await optimizer.getWeights();
  const iter = weights.length > 0 ? (await weights[0].tensor.data())[0] : 0;
  if (weights.length > 0) weights[0].tensor.dispose(); // a fresh scalar; the slots are live variables
  out.iterations = { dtype: 'F64', shape: [1], data: Float64Array.of(iter) };
  const rest = weights.slice(1);
  for (const [s, slot] of slots.entries()) {
    for (const [i, p] of layout.entries()) {
      const w = rest[s * layout.length + i];
      const size = p.shape.reduce((a, c) => a * c, 1);
      const init = slot === 'acc' ? optSpec.initialAccumulatorValue : 0;
      out[`${slot}.${p.name}`] = {
        dtype: 'F32',
        shape: [...p.shape],
        data: w ? (await read(w.tensor)).slice() : new Float32Array(size).fill(init),
      };
    }
  }
  return out;
}

/** A fresh optimizer (from `make`) holding the state `s` (canonical names, `layout` in the order of `vars`). */
export async function optimizerWithState(tf: Tf, make: () => Optimizer, s: NamedParams, optSpec: OptimizerSpec, layout: readonly { name: string; shape: readonly number[] }[], vars: readonly { variable: Variable }[]): Promise<Optimizer> {
  const slots = optimizerSlots(optSpec.name);
  const it = s.iterations;
  if (!it || it.data.length !== 1) throw new InputError('optimizer state: "iterations" is missing or invalid');
  const suffix: Record<string, string> = { m: 'm', v: optSpec.name === 'momentum' ? 'momentum' : 'v', ms: 'rms', mom: 'momentum', acc: 'accumulator' };
  const values: { name: string; tensor: Tensor }[] = [{ name: 'iter', tensor: tf.scalar(Number(it.data[0]), 'int32') }];
  for (const slot of slots) {
    layout.forEach((p, i) => {
      const key = `${slot}.${p.name}`;
      const t = s[key];
      const size = p.shape.reduce((a, c) => a * c, 1);
      if (!t || t.data.length !== size) throw new InputError(`optimizer state: ${key} is missing or has the wrong size`);
      values.push({ name: `${vars[i].variable.name}/${suffix[slot]}`, tensor: tf.tensor(Float32Array.from(t.data as ArrayLike<number>), [...p.shape]) });
    });
  }
  const fresh = make();
  await fresh.setWeights(values);
  tf.dispose(values.map((v) => v.tensor));
  return fresh;
}

export async function read(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/** A scalar tensor's value, read back, and the tensor disposed. */
async function readScalar(t: Tensor): Promise<number> {
  try {
    return (await read(t))[0];
  } finally {
    t.dispose();
  }
}

/**
 * Token ids [B, n] through an embedding layer whose table [V, E] is `table`. The wasm backend has
 * no kernel for the gradient of a gather, so there the lookup is one-hot rows times the table: the
 * same values (a one-hot row selects exactly one row), a gradient the backend can compute.
 */
export function embedIds(tf: Tf, backend: BackendName, layer: import('@tensorflow/tfjs').layers.Layer, table: Tensor, ids: Tensor): Tensor {
  if (backend !== 'wasm') return layer.apply(ids) as Tensor;
  const [B, n] = ids.shape;
  const [V, E] = table.shape;
  const rows = tf.matMul(oneHotFloat(tf, tf.reshape(ids, [B * n]), V), table);
  return tf.reshape(rows, [B, n, E]);
}
