/**
 * TfjsSeq2SeqEngine: the TensorFlow.js twin of the encoder-decoder model of src/seq2seq/spec.ts,
 * built with tfjs's functional API from standard layers:
 *
 *   source ids [B, S] ─ Embedding ─ encoder RNN layers (returnSequences, returnState) ─ o [B, S, D]
 *                                                         │ final states (h, c) of every layer
 *   decoder ids [B, T] ─ Embedding ─ decoder RNN layers (initialState = the encoder's, layer by layer) ─ h [B, T, D]
 *   bidirectional encoder (as Keras's seq2seq examples build it): each encoder layer is
 *               Bidirectional(RNN(H), mergeMode "concat") with returnState, so it returns
 *               [o, forward h, (c), backward h, (c)]; the decoder (D = 2H units) starts from
 *               Concatenate([forward, backward]) of each state, layer by layer
 *   attention:  keys = o (dot) | Dense(D, no bias)(o) (general: attention.kernel)
 *               scores = Dot(axes [2, 2])([h, keys]) [B, T, S]
 *                 | LuongConcatScore(A)([h, o]) (concat: attention.kernel, attention.v; seq2seq-attention.ts)
 *               a = Activation(softmax)(scores)
 *               context = Dot(axes [2, 1])([a, o]) [B, T, D]
 *               z = Dense(D, tanh, no bias)(Concatenate([context, h]))  (attention.combine.kernel)
 *   head:       logits = Dense(V_tgt)(z or h)  (head.kernel, head.bias)
 *
 * `model` is that graph as a tf.model (inputs [source ids, decoder ids]; outputs [logits] or
 * [logits, attention]): what a tfjs user would export or call with model.predict. It carries no
 * masks: it is the model for unpadded inputs (every source position a real token).
 *
 * Masks (the engine's own calls): the engine applies the SAME layer objects eagerly, as
 * tfjs/engine.ts does, because a symbolic tf.model cannot take a per-batch mask for the attention
 * softmax from standard layers:
 *   - the source mask goes to every encoder RNN layer (layer.apply(x, {mask})): masked steps keep
 *     the state, so the final state handed to the decoder is that of the last real token;
 *   - the scores of padded source positions are set to -30000 before the softmax (a select; half
 *     floats hold it): exp(-30000 - max) is exactly 0, so those positions get weight 0 and no gradient;
 *   - the decoder takes no mask (as in the scratch engine): padding only follows the real target
 *     steps, which never read it, and the loss skips padded steps.
 * Without any padding the eager pass and model.predict compute the same thing (a test checks it).
 *
 * Step-wise decoding (src/seq2seq/state.ts): `encode` applies the embedding and the encoder layers
 * (with the mask) and reads back o, the keys and the final states; `decodeStep` applies the decoder
 * layers to one step from the state's h (and c) as their initialState, then the same attention and
 * head as the whole pass.
 *
 * The wasm backend has no gradient kernel for a gather, so there the embedding lookup is one-hot
 * rows times the table (the same values). Weights: zeros initialisers, then the canonical
 * parameters written in (seq2seqLayout order; Keras layout, so each tensor maps one to one).
 * Everything runs in float32; every call disposes what it creates.
 */
import { carries, cellOf } from '../src/cells.js';
import { InputError } from '../src/errors.js';
import { type OptimizerSpec, optimizerSpec } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import type { FloatArray } from '../src/tensor.js';
import { type Seq2SeqEngine, type Seq2SeqForward, type Seq2SeqGrads, validateSeq2SeqBatch, validateSeq2SeqSources } from '../src/seq2seq/engine.js';
import { initSeq2SeqParams, validateSeq2SeqParams } from '../src/seq2seq/params.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, embeddingName, keySize, parseSeq2SeqSpec, seq2seqLayout } from '../src/seq2seq/spec.js';
import { type DecoderState, type DecoderStepOut, type Seq2SeqSources, validateDecoderState } from '../src/seq2seq/state.js';
import { type BackendName, type LoadedTf, type Tf, activate } from './backend.js';
import { clipGradients, embedIds, oneHotFloat, optimizerWithState, read, readOptimizerState, tfjsOptimizer } from './engine.js';
import { recurrentLayer } from './model.js';
import { readVariablesAsync, writeVariables } from './weights.js';
import { type ResetAfterConfig, resetAfterGruClass } from './gru-reset-after.js';
import { type ConcatScoreLayer, concatScoreClass } from './seq2seq-attention.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type Scalar = import('@tensorflow/tfjs').Scalar;
type Variable = import('@tensorflow/tfjs').Variable;
type Optimizer = import('@tensorflow/tfjs').Optimizer;
type Layer = import('@tensorflow/tfjs').layers.Layer;
type LayersModel = import('@tensorflow/tfjs').LayersModel;
type SymbolicTensor = import('@tensorflow/tfjs').SymbolicTensor;

export interface TfjsSeq2SeqOptions {
  params?: NamedParams;
  seed?: number;
  optimizer?: OptimizerSpec;
}

/** The layer objects of the model (shared by the tf.model and the engine's eager calls). */
export interface Seq2SeqLayers {
  /** One table when the spec shares it (the same object twice). */
  encoderEmbedding: Layer;
  decoderEmbedding: Layer;
  /** RNN layers, or Bidirectional ones (a bidirectional encoder). */
  encoder: Layer[];
  decoder: Layer[];
  /** A bidirectional encoder: Concatenate, joining the two directions' final states. */
  joinStates?: Layer;
  /** attention "general": Dense(D, no bias) on the encoder outputs (attention.kernel). */
  attentionKernel?: Layer;
  /** attention "concat": the score layer (attention.kernel, attention.v); it is `scores` too. */
  concatScore?: ConcatScoreLayer;
  /** Dot(axes [2, 2]) (or the concat score): scores [B, T, S]; softmax; Dot(axes [2, 1]): context [B, T, D]; Concatenate; Dense(D, tanh, no bias). */
  scores?: Layer;
  softmax?: Layer;
  context?: Layer;
  concat?: Layer;
  combine?: Layer;
  head: Layer;
}

/** Loads nothing: takes a LoadedTf (tfjs/backend.ts loadTf) and builds the engine on its backend. */
export async function createTfjsSeq2SeqEngine(loaded: LoadedTf, spec: Seq2SeqSpec, opts: TfjsSeq2SeqOptions = {}): Promise<TfjsSeq2SeqEngine> {
  return new TfjsSeq2SeqEngine(loaded, spec, opts);
}

/**
 * The reset-after GRU (tfjs/gru-reset-after.ts) taking its initial state as a second input, as a
 * symbolic graph needs it ([x, h0] -> the layer's outputs); a plain x with kwargs works as before.
 */
const listGruClasses = new WeakMap<Tf, new (c: ResetAfterConfig) => Layer>();
function resetAfterGruWithState(tf: Tf): new (c: ResetAfterConfig) => Layer {
  const known = listGruClasses.get(tf);
  if (known) return known;
  const Base = resetAfterGruClass(tf);
  class GRUResetAfterWithState extends Base {
    static className = 'RnnlabGRUResetAfterWithState';
    override call(inputs: Tensor | Tensor[], kwargs: { mask?: Tensor | Tensor[]; initialState?: Tensor[] }): Tensor | Tensor[] {
      const mask = Array.isArray(kwargs?.mask) ? kwargs.mask[0] : kwargs?.mask;
      if (Array.isArray(inputs) && inputs.length > 1) return super.call(inputs[0], { ...kwargs, ...(mask ? { mask } : { mask: undefined }), initialState: inputs.slice(1) });
      return super.call(inputs, { ...kwargs, ...(mask ? { mask } : { mask: undefined }) });
    }
  }
  tf.serialization.registerClass(GRUResetAfterWithState as never);
  listGruClasses.set(tf, GRUResetAfterWithState);
  return GRUResetAfterWithState;
}

/** The layers of a spec, with zeros initialisers (weights are written from canonical parameters). */
export function buildSeq2SeqLayers(tf: Tf, s: Seq2SeqSpec): Seq2SeqLayers {
  const D = decoderSize(s);
  const zeros = 'zeros' as const;
  const embedding = (V: number): Layer => tf.layers.embedding({ inputDim: V, outputDim: s.embedding, embeddingsInitializer: zeros });
  const encoderEmbedding = embedding(s.srcVocab);
  const decoderEmbedding = s.sharedEmbedding ? encoderEmbedding : embedding(s.tgtVocab);
  const rnn = (units: number): Layer => recurrentLayer(tf, { ...s, hiddenSize: units }, { returnSequences: true, returnState: true }, resetAfterGruWithState(tf));
  const encoder = Array.from({ length: s.layers }, () => (s.bidirectional ? tf.layers.bidirectional({ layer: rnn(s.hiddenSize) as never, mergeMode: 'concat' }) : rnn(s.hiddenSize)));
  const decoder = Array.from({ length: s.layers }, () => rnn(D));
  const head = tf.layers.dense({ units: s.tgtVocab, useBias: true, kernelInitializer: zeros, biasInitializer: zeros });
  const joinStates = s.bidirectional ? { joinStates: tf.layers.concatenate({ axis: -1 }) } : {};
  if (s.attention === 'none') return { encoderEmbedding, decoderEmbedding, encoder, decoder, ...joinStates, head };
  const concatScore = s.attention === 'concat' ? new (concatScoreClass(tf))({ units: s.attentionUnits! }) : undefined;
  return {
    encoderEmbedding,
    decoderEmbedding,
    encoder,
    decoder,
    ...joinStates,
    ...(s.attention === 'general' ? { attentionKernel: tf.layers.dense({ units: D, useBias: false, kernelInitializer: zeros }) } : {}),
    ...(concatScore ? { concatScore } : {}),
    scores: concatScore ?? tf.layers.dot({ axes: [2, 2] }),
    softmax: tf.layers.activation({ activation: 'softmax' }),
    context: tf.layers.dot({ axes: [2, 1] }),
    concat: tf.layers.concatenate({ axis: -1 }),
    combine: tf.layers.dense({ units: D, activation: 'tanh', useBias: false, kernelInitializer: zeros }),
    head,
  };
}

/** A state's array as tfjs takes it (float32). */
const f32 = (a: FloatArray): Float32Array => (a instanceof Float32Array ? a : Float32Array.from(a));

/** A bidirectional layer's states [forward h, (c), backward h, (c)] joined per state: [h, (c)] of 2H; others as they are. */
function joinFinals<T>(states: T[], join: ((pair: T[]) => T) | null): T[] {
  if (!join) return states;
  const n = states.length / 2;
  return states.slice(0, n).map((f, i) => join([f, states[n + i]]));
}

/**
 * The functional tf.model of the layers: inputs [source ids [B, S], decoder ids [B, T]] (int32),
 * outputs [logits [B, T, V_tgt]] plus [attention [B, T, S]] with attention. No masks (see the top).
 * Building it also builds (creates the weights of) every layer.
 */
export function buildSeq2SeqModel(tf: Tf, s: Seq2SeqSpec, L: Seq2SeqLayers): LayersModel {
  const src = tf.input({ shape: [null], dtype: 'int32', name: 'source' });
  const tgt = tf.input({ shape: [null], dtype: 'int32', name: 'decoder_input' });
  const sym = (layer: Layer, x: SymbolicTensor | SymbolicTensor[], kwargs?: object): SymbolicTensor[] => {
    const r = layer.apply(x, kwargs as never);
    return (Array.isArray(r) ? r : [r]) as SymbolicTensor[];
  };
  let x = sym(L.encoderEmbedding, src)[0];
  const finals: SymbolicTensor[][] = [];
  const join = L.joinStates ? (pair: SymbolicTensor[]): SymbolicTensor => sym(L.joinStates!, pair)[0] : null;
  for (const layer of L.encoder) {
    const [out, ...states] = sym(layer, x);
    x = out;
    finals.push(joinFinals(states, join));
  }
  const o = x; // [B, S, D]
  let h = sym(L.decoderEmbedding, tgt)[0];
  L.decoder.forEach((layer, l) => {
    // tfjs's RNN layers take initialState as an argument; the reset-after GRU takes it as a second input
    h = cellOf(s).tfjs.rnnlabLayer?.(s) ? sym(layer, [h, ...finals[l]])[0] : sym(layer, h, { initialState: finals[l] })[0];
  });
  if (s.attention === 'none') return tf.model({ inputs: [src, tgt], outputs: sym(L.head, h)[0], name: 'seq2seq' });
  // concat: the score layer reads o itself (and makes its own keys)
  const keys = L.attentionKernel ? sym(L.attentionKernel, o)[0] : o; // [B, S, D]
  const a = sym(L.softmax!, sym(L.scores!, [h, keys])[0])[0]; // [B, T, S]
  const context = sym(L.context!, [a, o])[0]; // [B, T, D]
  const z = sym(L.combine!, sym(L.concat!, [context, h])[0])[0]; // [B, T, D]
  return tf.model({ inputs: [src, tgt], outputs: [sym(L.head, z)[0], a], name: 'seq2seq' });
}

/** The tfjs weights of every canonical parameter, in seq2seqLayout order. */
export function seq2seqVariables(s: Seq2SeqSpec, L: Seq2SeqLayers): { name: string; variable: import('@tensorflow/tfjs').LayerVariable }[] {
  const byName = new Map<string, import('@tensorflow/tfjs').LayerVariable>();
  const one = (name: string, layer: Layer, n = 1): import('@tensorflow/tfjs').LayerVariable[] => {
    const w = layer.trainableWeights;
    if (w.length !== n) throw new Error(`tfjs layer ${layer.name} (${name}) has ${w.length} weights, expected ${n}`);
    return w;
  };
  byName.set(embeddingName(s, 'encoder'), one('embedding', L.encoderEmbedding)[0]);
  byName.set(embeddingName(s, 'decoder'), one('embedding', L.decoderEmbedding)[0]);
  for (const side of ['encoder', 'decoder'] as const) {
    L[side].forEach((layer, l) => {
      // tfjs's own order of an RNN layer's weights: kernel, recurrent kernel, bias (a Bidirectional layer: the forward layer's, then the backward one's)
      const dirs = side === 'encoder' && s.bidirectional ? ['', 'backward.'] : [''];
      const w = one(`${side}.layers.${l}`, layer, 3 * dirs.length);
      dirs.forEach((dir, d) => {
        byName.set(`${side}.layers.${l}.${dir}kernel`, w[3 * d]);
        byName.set(`${side}.layers.${l}.${dir}recurrentKernel`, w[3 * d + 1]);
        byName.set(`${side}.layers.${l}.${dir}bias`, w[3 * d + 2]);
      });
    });
  }
  if (L.attentionKernel) byName.set('attention.kernel', one('attention.kernel', L.attentionKernel)[0]);
  if (L.concatScore) {
    const [k, v] = one('attention.kernel, attention.v', L.concatScore, 2);
    byName.set('attention.kernel', k);
    byName.set('attention.v', v);
  }
  if (L.combine) byName.set('attention.combine.kernel', one('attention.combine.kernel', L.combine)[0]);
  const [hk, hb] = one('head', L.head, 2);
  byName.set('head.kernel', hk);
  byName.set('head.bias', hb);
  return seq2seqLayout(s).map((p) => {
    const variable = byName.get(p.name);
    if (!variable) throw new Error(`no tfjs weight for ${p.name}`);
    const shape = variable.shape as number[];
    if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) throw new Error(`tfjs weight of ${p.name} has shape [${shape}], expected [${p.shape}]`);
    return { name: p.name, variable };
  });
}

/** Tensors kept out of a tidy, by name, read back with data() (async; webgpu's dataSync reads zeros on SwiftShader) and then disposed. */
async function readAndDispose<K extends string>(kept: Record<K, Tensor[]>): Promise<Record<K, Float32Array[]>> {
  const names = Object.keys(kept) as K[];
  try {
    const values = await Promise.all(names.map((k) => Promise.all(kept[k].map(read))));
    return Object.fromEntries(names.map((k, i) => [k, values[i]])) as Record<K, Float32Array[]>;
  } finally {
    for (const k of names) for (const t of kept[k]) t.dispose();
  }
}

export class TfjsSeq2SeqEngine implements Seq2SeqEngine {
  readonly name: string;
  readonly spec: Seq2SeqSpec;
  readonly dtype = 'float32' as const;
  readonly detail: string;
  readonly backend: BackendName;
  /** Where tfjs cannot do exactly what was asked (e.g. adagrad's epsilon is fixed at 1e-7). */
  readonly notes: string[] = [];
  /** The functional model (no masks: for unpadded inputs; the engine's calls apply its layers eagerly with masks). */
  readonly model: LayersModel;
  readonly layers: Seq2SeqLayers;
  private readonly tf: Tf;
  private readonly vars: { name: string; variable: Variable }[];
  private optSpec: OptimizerSpec;
  private optimizer: Optimizer;

  constructor(loaded: LoadedTf, spec: Seq2SeqSpec, opts: TfjsSeq2SeqOptions = {}) {
    this.tf = loaded.tf;
    this.backend = loaded.backend;
    this.name = loaded.engineName;
    this.spec = parseSeq2SeqSpec(spec);
    this.detail = `functional tf.model, masks applied eagerly, backend ${loaded.backend}`;
    activate(this.tf, this.backend);
    this.layers = buildSeq2SeqLayers(this.tf, this.spec);
    this.model = buildSeq2SeqModel(this.tf, this.spec, this.layers);
    this.vars = seq2seqVariables(this.spec, this.layers).map(({ name, variable }) => ({ name, variable: variable.read() as Variable }));
    this.setParams(opts.params ?? initSeq2SeqParams(this.spec, opts.seed ?? 0));
    this.optSpec = opts.optimizer ?? optimizerSpec('adam');
    this.optimizer = this.makeOptimizer(this.optSpec);
  }

  /** Read back with data(), not dataSync(): webgpu's synchronous read gives zeros on SwiftShader. */
  getParams(): Promise<NamedParams> {
    activate(this.tf, this.backend);
    return readVariablesAsync(this.vars);
  }

  setParams(p: NamedParams): void {
    validateSeq2SeqParams(this.spec, p);
    activate(this.tf, this.backend);
    writeVariables(this.tf, this.vars, p);
  }

  setOptimizer(o: OptimizerSpec): void {
    this.optimizer.dispose();
    this.optSpec = o;
    this.optimizer = this.makeOptimizer(o);
  }

  /** "<slot>.<param>" (canonical names) plus "iterations", read from tfjs's optimizer (a resumed run continues exactly). */
  async optimizerState(): Promise<NamedParams> {
    activate(this.tf, this.backend);
    return readOptimizerState(this.optimizer, this.optSpec, seq2seqLayout(this.spec));
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    activate(this.tf, this.backend);
    const fresh = await optimizerWithState(this.tf, () => this.makeOptimizer(this.optSpec), s, this.optSpec, seq2seqLayout(this.spec), this.vars);
    this.optimizer.dispose();
    this.optimizer = fresh;
  }

  async forward(b: Seq2SeqBatch): Promise<Seq2SeqForward> {
    validateSeq2SeqBatch(this.spec, b, false);
    activate(this.tf, this.backend);
    const [logits, attention] = this.tf.tidy(() => {
      const r = this.run(b, null);
      return r.attention ? [r.logits, r.attention] : [r.logits];
    });
    try {
      return { logits: await read(logits), attention: attention ? await read(attention) : null };
    } finally {
      this.tf.dispose([logits, ...(attention ? [attention] : [])]);
    }
  }

  async lossAndGrads(b: Seq2SeqBatch, want: { stepGrads?: boolean } = {}): Promise<Seq2SeqGrads> {
    validateSeq2SeqBatch(this.spec, b, true);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const { value, grads } = tf.variableGrads(() => this.lossOf(this.run(b, null).logits, b), this.vars.map((v) => v.variable));
    try {
      const out: Seq2SeqGrads = { loss: (await read(value))[0], grads: {} };
      for (const { name, variable } of this.vars) out.grads[name] = { dtype: 'F32', shape: [...variable.shape], data: await read(grads[variable.name]) };
      if (want.stepGrads) Object.assign(out, await this.stepGrads(b));
      return out;
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  async step(b: Seq2SeqBatch): Promise<{ loss: number }> {
    validateSeq2SeqBatch(this.spec, b, true);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const { value, grads } = tf.variableGrads(() => this.lossOf(this.run(b, null).logits, b), this.vars.map((v) => v.variable));
    try {
      const loss = (await read(value))[0];
      if (!Number.isFinite(loss)) return { loss };
      tf.tidy(() => {
        // canonical order, clipped as the scratch engine clips
        const gs = clipGradients(tf, this.vars.map(({ variable }) => grads[variable.name]), this.optSpec);
        this.optimizer.applyGradients(this.vars.map(({ variable }, i) => ({ name: variable.name, tensor: gs[i] })));
      });
      return { loss };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }

  /** Live tensor count of tfjs (memory checks). */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  /**
   * Step-wise decoding (src/seq2seq/state.ts): the encoder once, and the decoder's state before its
   * first step. The tensors leave the tidy kept and are read back with data() (readAndDispose).
   */
  async encode(src: Seq2SeqSources): Promise<DecoderState> {
    const { batchSize: B, srcLen: S } = src;
    validateSeq2SeqSources(this.spec, src);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const s = this.spec;
    const kept = tf.tidy(() => {
      const { o, finals } = this.encoder(tf.tensor2d(src.src, [B, S], 'int32'), tf.tensor2d(Float32Array.from(src.srcMask), [B, S]), null);
      return {
        memory: s.attention === 'none' ? [] : [o],
        keys: s.attention === 'general' || s.attention === 'concat' ? [this.keys(o)] : [],
        h: finals.map((f) => f[0]),
        c: carries(s).includes('c') ? finals.map((f) => f[1]) : [],
      };
    });
    const { memory, keys, h, c } = await readAndDispose(kept);
    return { batchSize: B, srcLen: S, srcMask: src.srcMask.slice(), memory: memory[0] ?? null, keys: keys[0] ?? null, h, c: carries(s).includes('c') ? c : null };
  }

  /** One decoder step from `state` for every row, fed `tokens` [B]: logits [B, V], attention [B, S], the next state (read back with data(), as encode). */
  async decodeStep(state: DecoderState, tokens: Int32Array): Promise<DecoderStepOut> {
    validateDecoderState(this.spec, state, tokens);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const s = this.spec;
    const L = this.layers;
    const { batchSize: B, srcLen: S } = state;
    const D = decoderSize(s);
    const kept = tf.tidy(() => {
      let x = this.embed(L.decoderEmbedding, tf.tensor2d(tokens, [B, 1], 'int32')); // [B, 1, E]
      const h: Tensor[] = [];
      const c: Tensor[] = [];
      L.decoder.forEach((layer, l) => {
        const init = [tf.tensor2d(f32(state.h[l]), [B, D]), ...(state.c ? [tf.tensor2d(f32(state.c[l]), [B, D])] : [])];
        const [y, hl, cl] = layer.apply(x, { initialState: init }) as Tensor[];
        x = y; // [B, 1, D]
        h.push(hl);
        if (cl) c.push(cl);
      });
      let top = x;
      const attention: Tensor[] = [];
      if (s.attention !== 'none') {
        const o = tf.tensor3d(f32(state.memory!), [B, S, D]);
        const keys = state.keys ? tf.tensor3d(f32(state.keys), [B, S, keySize(s)]) : this.keys(o);
        const r = this.attend(x, o, keys, tf.tensor2d(Float32Array.from(state.srcMask), [B, S]));
        top = r.z;
        attention.push(r.a);
      }
      return { logits: [L.head.apply(top) as Tensor], attention, h, c };
    });
    const { logits, attention, h, c } = await readAndDispose(kept);
    return { logits: logits[0], attention: attention[0] ?? null, state: { ...state, h, c: carries(s).includes('c') ? c : null } };
  }

  // ---- internals ----

  private makeOptimizer(o: OptimizerSpec): Optimizer {
    return tfjsOptimizer(this.tf, o, (msg) => {
      if (!this.notes.includes(msg)) this.notes.push(msg);
    });
  }

  /**
   * The model applied eagerly with masks (see the top). With `probes` (one zero variable per layer
   * and step, encoder [B, H] or [B, 2H] (bidirectional: its first H units go to the forward
   * direction's h_t, the rest to the backward one's at step t) and decoder [B, D]), each recurrent
   * layer runs as a loop over its own cell with probe t added to h_t (after masking), so that
   * dLoss/dprobe_t is the total gradient reaching h_t; without, each layer is applied whole
   * (layer.apply with mask and initialState).
   */
  private run(b: Seq2SeqBatch, probes: { encoder: Variable[][]; decoder: Variable[][] } | null): { logits: Tensor; attention: Tensor | null } {
    const tf = this.tf;
    const s = this.spec;
    const L = this.layers;
    const { batchSize: B, srcLen: S, tgtLen: T } = b;
    const srcMask = tf.tensor2d(Float32Array.from(b.srcMask), [B, S]); // [B, S]
    const { o, finals } = this.encoder(tf.tensor2d(b.src, [B, S], 'int32'), srcMask, probes?.encoder ?? null);
    let h = this.embed(L.decoderEmbedding, tf.tensor2d(b.tgtIn, [B, T], 'int32')); // [B, T, E]
    L.decoder.forEach((layer, l) => {
      h = (probes ? this.loop(layer, h, null, finals[l], probes.decoder[l], false) : (layer.apply(h, { initialState: finals[l] }) as Tensor[]))[0]; // [B, T, D]
    });
    if (s.attention === 'none') return { logits: L.head.apply(h) as Tensor, attention: null };
    const { z, a } = this.attend(h, o, this.keys(o), srcMask);
    return { logits: L.head.apply(z) as Tensor, attention: a };
  }

  /** The embedding and encoder layers over source ids [B, S] with the mask: o [B, S, D] and each layer's final states (joined across directions) for the decoder. */
  private encoder(srcIds: Tensor, srcMask: Tensor, probes: Variable[][] | null): { o: Tensor; finals: Tensor[][] } {
    const tf = this.tf;
    let x = this.embed(this.layers.encoderEmbedding, srcIds); // [B, S, E]
    const join = this.spec.bidirectional ? (pair: Tensor[]): Tensor => tf.concat(pair, -1) : null;
    const finals: Tensor[][] = [];
    this.layers.encoder.forEach((layer, l) => {
      const [out, ...states] = probes ? this.loopEncoder(layer, x, srcMask, probes[l]) : (layer.apply(x, { mask: srcMask }) as Tensor[]);
      x = out; // [B, S, D]
      finals.push(joinFinals(states, join)); // h (and c), [B, D] each: the last real step's
    });
    return { o: x, finals };
  }

  /** What the scores read of the encoder outputs: o K_a (general), o W_o (concat), o itself (dot). */
  private keys(o: Tensor): Tensor {
    const L = this.layers;
    if (L.concatScore) return L.concatScore.keysOf(o);
    return L.attentionKernel ? (L.attentionKernel.apply(o) as Tensor) : o; // [B, S, K]
  }

  /** The attention and combine layer: h [B, T, D], o [B, S, D], keys [B, S, K], srcMask [B, S] -> z [B, T, D], a [B, T, S]. */
  private attend(h: Tensor, o: Tensor, keys: Tensor, srcMask: Tensor): { z: Tensor; a: Tensor } {
    const tf = this.tf;
    const L = this.layers;
    const [B, S] = srcMask.shape;
    const scores = L.concatScore ? L.concatScore.scoresFromKeys(h, keys) : (L.scores!.apply([h, keys]) as Tensor); // [B, T, S]
    // padded source positions: the score -30000 (a select), so exp(-30000 - max) is exactly 0 and they get
    // no gradient. Not an added -1e9: on half-float textures 1e9 is Infinity and 0 * Infinity NaN; not
    // -Infinity: webgl's softmax on half floats turns a row holding one into NaN. 30000 < 65504 (half's largest).
    const real = tf.broadcastTo(tf.reshape(tf.greater(srcMask, 0), [B, 1, S]), scores.shape); // [B, T, S]
    const a = L.softmax!.apply(tf.where(real, scores, tf.fill(scores.shape, -30000))) as Tensor; // [B, T, S]
    const context = L.context!.apply([a, o]) as Tensor; // [B, T, D]
    return { z: L.combine!.apply(L.concat!.apply([context, h]) as Tensor) as Tensor, a }; // [B, T, D]
  }

  /** An encoder layer as loops over its cell(s) with probes: [o, h, (c)], or for a Bidirectional layer [o (2H), forward h, (c), backward h, (c)]. */
  private loopEncoder(layer: Layer, x: Tensor, mask: Tensor, probe: Variable[]): Tensor[] {
    if (!this.spec.bidirectional) return this.loop(layer, x, mask, null, probe, false);
    const tf = this.tf;
    const H = this.spec.hiddenSize;
    const B = x.shape[0];
    const bi = layer as unknown as { forwardLayer: Layer; backwardLayer: Layer };
    const [of, ...sf] = this.loop(bi.forwardLayer, x, mask, null, probe.map((p) => tf.slice(p, [0, 0], [B, H])), false);
    const [ob, ...sb] = this.loop(bi.backwardLayer, x, mask, null, probe.map((p) => tf.slice(p, [0, H], [B, H])), true);
    return [tf.concat([of, ob], -1), ...sf, ...sb];
  }

  /**
   * One recurrent layer (or one direction) as a loop over its cell (tfjs's LSTM/GRU/SimpleRNN cell,
   * or the reset-after layer's step): x [B, T, in], mask [B, T] or null, initial state or zeros;
   * probe t added to h_t; `backwards` reads the steps from the last (a bidirectional layer's backward
   * direction). Returns [outputs [B, T, H] in the input's time order, h, (c)] as layer.apply does.
   */
  private loop(layer: Layer, x: Tensor, mask: Tensor | null, init: Tensor[] | null, probe: Tensor[], backwards: boolean): Tensor[] {
    const tf = this.tf;
    const [B, T] = x.shape;
    const H = probe[0].shape[1] as number;
    const lstm = carries(this.spec).includes('c');
    const inputs = tf.unstack(x, 1); // T x [B, in]
    const masks = mask ? tf.unstack(mask, 1) : null; // T x [B]
    let h: Tensor = init ? init[0] : tf.zeros([B, H]);
    let c: Tensor = init && lstm ? init[1] : tf.zeros([B, H]);
    type CellLayer = { cell?: { call(i: Tensor[], k: object): Tensor[] }; step?(x: Tensor, h: Tensor): Tensor };
    const cl = layer as unknown as CellLayer;
    const outs: Tensor[] = new Array(T);
    for (let k = 0; k < T; k++) {
      const t = backwards ? T - 1 - k : k;
      let hNew: Tensor;
      let cNew = c;
      if (cl.step) hNew = cl.step(inputs[t], h);
      else {
        const r = cl.cell!.call(lstm ? [inputs[t], h, c] : [inputs[t], h], {});
        hNew = r[1];
        if (lstm) cNew = r[2];
      }
      if (masks) {
        const m = tf.expandDims(masks[t], 1); // [B, 1]: a masked step keeps the state
        hNew = tf.add(tf.mul(hNew, m), tf.mul(h, tf.sub(1, m)));
        cNew = tf.add(tf.mul(cNew, m), tf.mul(c, tf.sub(1, m)));
      }
      h = tf.add(hNew, probe[t]);
      c = cNew;
      outs[t] = h;
    }
    return [tf.stack(outs, 1), h, ...(lstm ? [c] : [])];
  }

  /** dLoss/dh_t of every layer (encoder [B, S, H] or [B, S, 2H], decoder [B, T, D] per layer), through zero probes. */
  private async stepGrads(b: Seq2SeqBatch): Promise<{ dhEncoder: Float32Array[]; dhDecoder: Float32Array[] }> {
    const tf = this.tf;
    const { batchSize: B, srcLen: S, tgtLen: T } = b;
    const zero = (n: number): Variable => {
      const z = tf.zeros([B, n]);
      const v = tf.variable(z, true); // the variable keeps its own reference to the data
      z.dispose();
      return v;
    };
    const make = (steps: number, n: number): Variable[][] => Array.from({ length: this.spec.layers }, () => Array.from({ length: steps }, () => zero(n)));
    const encWidth = this.spec.bidirectional ? 2 * this.spec.hiddenSize : this.spec.hiddenSize;
    const probes = { encoder: make(S, encWidth), decoder: make(T, decoderSize(this.spec)) };
    const all = [...probes.encoder.flat(), ...probes.decoder.flat()];
    try {
      const { value, grads } = tf.variableGrads(() => this.lossOf(this.run(b, probes).logits, b), all);
      const gather = async (rows: Variable[][], steps: number, n: number): Promise<Float32Array[]> => {
        const out: Float32Array[] = [];
        for (const row of rows) {
          const d = new Float32Array(B * steps * n); // [B, steps, n]
          for (let t = 0; t < row.length; t++) {
            const g = await read(grads[row[t].name]);
            for (let bb = 0; bb < B; bb++) d.set(g.subarray(bb * n, (bb + 1) * n), (bb * steps + t) * n);
          }
          out.push(d);
        }
        return out;
      };
      const out = { dhEncoder: await gather(probes.encoder, S, encWidth), dhDecoder: await gather(probes.decoder, T, decoderSize(this.spec)) };
      value.dispose();
      tf.dispose(Object.values(grads));
      return out;
    } finally {
      tf.dispose(all);
    }
  }

  private embed(layer: Layer, ids: Tensor): Tensor {
    return embedIds(this.tf, this.backend, layer, layer.trainableWeights[0].read(), ids);
  }

  /** Mean cross-entropy over the real target steps: logsumexp(z) - z_y with tf.logSoftmax (as specLoss in engine.ts). */
  private lossOf(logits: Tensor, b: Seq2SeqBatch): Scalar {
    const tf = this.tf;
    const N = b.batchSize * b.tgtLen;
    const V = this.spec.tgtVocab;
    let real = 0;
    for (let i = 0; i < N; i++) real += b.tgtMask[i] ? 1 : 0;
    if (real === 0) throw new InputError('seq2seq batch: no real target step');
    const w = tf.tensor1d(Float32Array.from(b.tgtMask, (m) => (m ? 1 / real : 0))); // [N]
    const logp = tf.logSoftmax(tf.reshape(logits, [N, V])); // [N, V]
    const onehot = oneHotFloat(tf, tf.tensor1d(b.tgtOut, 'int32'), V); // [N, V]
    const per = tf.neg(tf.sum(tf.mul(logp, onehot), -1)); // [N]
    return tf.sum(tf.mul(per, w)) as Scalar;
  }
}
