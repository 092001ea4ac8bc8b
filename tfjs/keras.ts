/**
 * Keras models in TensorFlow.js: `registerLayers` makes tf.loadLayersModel accept Keras GRU layers
 * with reset_after: true (tfjs's own GRU refuses them: "GRUCell does not support reset_after
 * parameter set to true") by deserializing them into rnnlab's reset-after GRU layer; and
 * KerasModelEngine runs a model.json loaded through tf.loadLayersModel behind the Engine interface,
 * so that `rnnlab check --model` compares the very model a tfjs user loads with the scratch engine
 * on the imported weights.
 */
import type { Batch, Engine, GradRequest, LossAndGrads, State } from '../src/engine.js';
import { validateBatch } from '../src/engine.js';
import { InputError, UnsupportedError } from '../src/errors.js';
import type { ImportedModel } from '../src/import/keras.js';
import { maskFromInput } from '../src/import/mask.js';
import { type NamedParams, paramLayout, validateParams } from '../src/params.js';
import type { ModelSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { type BackendName, type LoadedTf, type Tf, activate, describeBackend } from './backend.js';
import { embedIds, read, specLoss } from './engine.js';
import { readVariablesAsync, writeVariables } from './weights.js';
import { resetAfterGruClass } from './gru-reset-after.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type Variable = import('@tensorflow/tfjs').Variable;
type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Layer = import('@tensorflow/tfjs').layers.Layer;
type LayerVariable = import('@tensorflow/tfjs').LayerVariable;
type Config = Record<string, unknown>;

const registered = new WeakSet<Tf>();

/**
 * Registers rnnlab's layers with this tfjs instance: after it, a Keras GRU with reset_after: true
 * (the Keras 2 default) loads as rnnlab's reset-after GRU layer, inside Bidirectional too; every
 * other GRU loads as tfjs's own. Call it once before tf.loadLayersModel; calling it again does
 * nothing.
 */
export function registerLayers(tf: Tf): void {
  if (registered.has(tf)) return;
  const ResetAfter = resetAfterGruClass(tf);
  const probe = tf.layers.gru({ units: 1 });
  const TfGRU = probe.constructor as unknown as { fromConfig(cls: unknown, c: Config): Layer };
  class GRU {
    static className = 'GRU';
    static fromConfig(_cls: unknown, c: Config): Layer {
      if (c.resetAfter !== true) return TfGRU.fromConfig(TfGRU, c);
      const name = String(c.name ?? 'gru');
      if (c.activation !== undefined && c.activation !== 'tanh') throw new InputError(`GRU layer ${name}: activation ${JSON.stringify(c.activation)} (rnnlab's reset-after GRU uses tanh)`);
      if (c.useBias === false) throw new InputError(`GRU layer ${name}: use_bias false (rnnlab's reset-after GRU has biases)`);
      const ra = c.recurrentActivation ?? 'sigmoid';
      if (ra !== 'sigmoid' && ra !== 'hardSigmoid') throw new InputError(`GRU layer ${name}: recurrent_activation ${JSON.stringify(ra)} (rnnlab's reset-after GRU uses sigmoid or hard_sigmoid)`);
      return new ResetAfter({
        units: Number(c.units),
        recurrentActivation: ra,
        returnSequences: c.returnSequences === true,
        returnState: c.returnState === true,
        goBackwards: c.goBackwards === true,
        name,
        ...(Array.isArray(c.batchInputShape) ? { batchInputShape: c.batchInputShape as (number | null)[] } : {}),
      });
    }
  }
  tf.serialization.registerClass(GRU as never);
  registered.add(tf);
}

/** Loads a model.json's files into tfjs (through tf.loadLayersModel, after registerLayers). */
export async function loadLayersModel(tf: Tf, m: Pick<ImportedModel, 'artifacts' | 'source'>): Promise<LayersModel> {
  registerLayers(tf);
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: m.artifacts.modelTopology, weightSpecs: m.artifacts.weightSpecs, weightData: m.artifacts.weightData }),
    );
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${m.source.path}: tf.loadLayersModel refused it (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
  }
}

/**
 * A model loaded by tf.loadLayersModel behind the Engine interface. Its layers are applied one by
 * one, eagerly, with the mask the model derives from its input, up to the head; the head's kernel
 * and bias give the logits (the model's final softmax belongs to the loss, as in every engine).
 * `forward` also runs model.predict and requires it to agree with that, so the layer-by-layer
 * application is the model's own. No training: it is compared on outputs, loss and gradients.
 */
export class KerasModelEngine implements Engine {
  readonly name = 'keras-model';
  readonly dtype = 'float32' as const;
  readonly detail: string;
  readonly spec: ModelSpec;
  private readonly tf: Tf;
  private readonly backend: BackendName;
  private readonly vars: { name: string; variable: Variable }[];
  /** Parameters of layers the model marks trainable: false (their gradients are computed all the same, for the comparison). */
  readonly frozen: string[] = [];
  /** The largest difference between model.predict and the activation of the logits, over forward calls. */
  predictAgreement = 0;

  private constructor(
    loaded: LoadedTf,
    private readonly model: LayersModel,
    private readonly imported: ImportedModel,
  ) {
    this.tf = loaded.tf;
    this.backend = loaded.backend;
    this.spec = imported.spec;
    this.detail = `${imported.source.path} through tf.loadLayersModel; ${describeBackend(loaded)}`;
    const byName = new Map<string, LayerVariable>(model.weights.map((w) => [w.originalName, w]));
    this.vars = paramLayout(this.spec).map((p) => {
      const file = imported.sources[p.name];
      const parts = file.split('/');
      // tfjs drops the cell's name that Keras puts in a recurrent layer's weight names (gru/gru_cell/kernel -> gru/kernel)
      const v = byName.get(file) ?? byName.get([...parts.slice(0, -2), parts[parts.length - 1]].join('/'));
      if (!v) throw new Error(`tf.loadLayersModel made no variable for ${file} (it has ${[...byName.keys()].join(', ')})`);
      const variable = v.read() as Variable;
      // a frozen Keras layer (trainable: false) loads as non-trainable, and tf.variableGrads would leave it out; check compares every gradient
      if (!variable.trainable) {
        this.frozen.push(p.name);
        variable.trainable = true;
      }
      return { name: p.name, variable };
    });
  }

  static async load(loaded: LoadedTf, imported: ImportedModel, params?: NamedParams): Promise<KerasModelEngine> {
    activate(loaded.tf, loaded.backend);
    const model = await loadLayersModel(loaded.tf, imported);
    try {
      const e = new KerasModelEngine(loaded, model, imported);
      if (params) e.setParams(params);
      return e;
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  getParams(): Promise<NamedParams> {
    activate(this.tf, this.backend);
    return readVariablesAsync(this.vars);
  }

  setParams(p: NamedParams): void {
    validateParams(this.spec, p);
    activate(this.tf, this.backend);
    writeVariables(this.tf, this.vars, p);
  }

  async forward(b: Batch): Promise<{ output: FloatArray; finalState: State }> {
    this.accept(b, false);
    activate(this.tf, this.backend);
    const tf = this.tf;
    const { logits, gap } = tf.tidy(() => {
      const x = this.inputTensor(b);
      const logits = this.run(b, x);
      // the model's own prediction (with its softmax), against the logits through the same activation
      const predicted = this.model.predict(x) as Tensor;
      const expected = this.imported.outputActivation === 'softmax' ? tf.softmax(logits) : logits;
      return { logits, gap: tf.max(tf.abs(tf.sub(tf.reshape(predicted, expected.shape), expected))) };
    });
    try {
      const diff = (await read(gap))[0];
      this.predictAgreement = Math.max(this.predictAgreement, diff);
      if (!(diff <= 1e-4)) throw new Error(`keras-model: model.predict differs from the layer-by-layer outputs by ${diff} (a bug in rnnlab's application of the loaded layers)`);
      // no carried state to report: a loaded Keras model starts every batch from zeros and keeps no state
      return { output: await read(logits), finalState: { h: [] } };
    } finally {
      tf.dispose([logits, gap]);
    }
  }

  async lossAndGrads(b: Batch, want: GradRequest = {}): Promise<LossAndGrads> {
    this.accept(b, true);
    if (want.inputGrad) throw new UnsupportedError('keras-model', 'input gradients');
    activate(this.tf, this.backend);
    const tf = this.tf;
    const { value, grads } = tf.variableGrads(() => specLoss(tf, this.spec, this.run(b, this.inputTensor(b)), b), this.vars.map((v) => v.variable));
    try {
      const out: LossAndGrads = { loss: (await read(value))[0], grads: {}, finalState: { h: [] } };
      const layout = paramLayout(this.spec);
      for (const [i, { name, variable }] of this.vars.entries()) {
        out.grads[name] = { dtype: 'F32', shape: layout[i].shape, data: await read(grads[variable.name]) };
      }
      return out;
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  step(): never {
    throw new UnsupportedError('keras-model', 'training (a model loaded from model.json is compared on its outputs, loss and gradients)');
  }

  optimizerState(): Promise<NamedParams> {
    return Promise.reject(new UnsupportedError('keras-model', 'optimizer state'));
  }

  setOptimizerState(): Promise<void> {
    return Promise.reject(new UnsupportedError('keras-model', 'optimizer state'));
  }

  dispose(): void {
    this.model.dispose();
  }

  // ---- internals ----

  /** The batch must carry exactly the mask the model derives from its input (Embedding mask_zero, Masking). */
  private accept(b: Batch, targets: boolean): void {
    validateBatch(this.spec, b, targets);
    if (b.initialState) throw new UnsupportedError('keras-model', 'a carried initial state');
    const F = this.spec.input === 'tokens' ? 1 : this.spec.inputSize;
    const derived = maskFromInput(this.imported.masking, b.x, b.batchSize, b.seqLen, F);
    const given = b.mask;
    const same = derived ? (given ? derived.every((v, i) => v === given[i]) : derived.every((v) => v === 1)) : !given || given.every((v) => v === 1);
    if (!same) {
      throw new InputError(
        derived
          ? `the batch's mask is not the one the model derives from its input (${this.imported.masking.kind === 'zero' ? 'token 0 is padding' : `steps whose features all equal ${(this.imported.masking as { value: number }).value}`})`
          : 'the batch has a mask, but the model has no Masking layer or mask_zero embedding to apply one',
      );
    }
  }

  private inputTensor(b: Batch): Tensor {
    const tf = this.tf;
    const { batchSize: B, seqLen: T } = b;
    if (this.spec.input === 'tokens') {
      const ids = tf.tensor2d(b.x as Int32Array, [B, T], 'int32');
      if (this.spec.embedding > 0) return ids;
      // a token model without an Embedding (rnnlab's export of a character model) reads one-hot rows
      const oneHot = tf.cast(tf.oneHot(ids, this.spec.inputSize), 'float32');
      ids.dispose();
      return oneHot;
    }
    return tf.tensor3d(b.x instanceof Float32Array ? b.x : Float32Array.from(b.x), [B, T, this.spec.inputSize]);
  }

  /** The loaded layers applied in order with the batch's mask; returns the head's logits (or values). */
  private run(b: Batch, x: Tensor): Tensor {
    const tf = this.tf;
    const mask = b.mask ? tf.tensor2d(Float32Array.from(b.mask), [b.batchSize, b.seqLen]) : undefined;
    let h = x;
    for (const l of this.imported.layers) {
      if (l.op === 'input' || l.op === 'identity' || l.op === 'activation') continue;
      const layer = this.model.getLayer(l.name);
      if (l.op === 'embedding') h = this.embed(layer, h);
      else if (l.op === 'mask') h = layer.apply(h) as Tensor;
      else if (l.op === 'rnn') h = layer.apply(h, mask ? { mask } : {}) as Tensor;
      else {
        const [kernel, bias] = [this.vars[this.vars.length - 2].variable, this.vars[this.vars.length - 1].variable];
        const shape = h.shape;
        const flat = tf.reshape(h, [-1, shape[shape.length - 1] as number]);
        const z = tf.add(tf.matMul(flat, kernel), bias);
        return tf.reshape(z, [...shape.slice(0, -1), this.spec.outputSize] as number[]);
      }
    }
    throw new Error('keras-model: the model has no head');
  }

  /** The embedding lookup (one-hot rows times the loaded table on wasm, which has no gather gradient). */
  private embed(layer: Layer, ids: Tensor): Tensor {
    return embedIds(this.tf, this.backend, layer, this.vars[0].variable, ids);
  }
}
