/**
 * The loss a Keras model was compiled with, as rnnlab's head and loss. Keras keeps it in the file:
 * `training_config.loss` (Keras 2, tensorflowjs_converter's model.json and legacy .h5) or
 * `compile_config.loss` (Keras 3 .keras), as a name ("sparse_categorical_crossentropy", "mse"), a
 * serialized Loss object ({class_name: "SparseCategoricalCrossentropy", config: {from_logits, ...}})
 * or a serialized function (Keras 3: {class_name: "function", config: "mse"}).
 *
 * rnnlab's losses are softmax cross-entropy on the head's logits and mean squared error on its
 * values. They are what Keras computes for:
 *   - (sparse_)categorical_crossentropy with from_logits on a linear head, or without it on a
 *     softmax head (the one-hot form has the same value for one-hot targets; rnnlab takes class ids);
 *   - mean_squared_error on a linear head;
 * each with Keras's default reduction (the mean over batch and time). Everything else is refused
 * with the reason; a model compiled with nothing takes `--loss` (ce or mse), else its head decides
 * (softmax: cross-entropy, linear: mse).
 */
import { InputError } from '../errors.js';
import type { ModelSpec } from '../spec.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A loss as the file names it. */
export interface CompiledLoss {
  /** Normalised: "sparsecategoricalcrossentropy", "meansquarederror", ... */
  kind: string;
  /** As the file writes it, for people: SparseCategoricalCrossentropy(from_logits=True). */
  label: string;
  config: Json;
}

/** The loss of training_config / compile_config, or null when the model was not compiled. */
export function compiledLoss(raw: unknown, where: string): CompiledLoss | null {
  if (raw === undefined || raw === null) return null;
  let v: unknown = raw;
  // one output: Keras writes a list or a one-key dict for multi-output models
  if (Array.isArray(v)) {
    if (v.length !== 1) throw new InputError(`${where}: the model was compiled with ${v.length} losses (one per output); rnnlab reads a model with one output`);
    v = v[0];
  } else if (isObj(v) && !('class_name' in v) && Object.keys(v).length === 1 && !('config' in v)) {
    v = Object.values(v)[0];
  }
  if (typeof v === 'string') return { kind: normalise(v), label: v, config: {} };
  if (isObj(v) && typeof v.class_name === 'string') {
    // Keras 3 serializes a loss function as {class_name: "function", config: "name"}
    if (v.class_name === 'function' && typeof v.config === 'string') return { kind: normalise(v.config), label: v.config, config: {} };
    const config = isObj(v.config) ? v.config : {};
    const args = ['from_logits', 'label_smoothing', 'ignore_class', 'reduction']
      // what differs from the defaults (reduction auto / sum_over_batch_size is the mean, rnnlab's)
      .filter((k) => config[k] !== undefined && config[k] !== null && !(k === 'from_logits' && config[k] === false) && !(k === 'label_smoothing' && config[k] === 0) && !(k === 'reduction' && (config[k] === 'auto' || config[k] === 'sum_over_batch_size')))
      .map((k) => `${k}=${config[k] === true ? 'True' : JSON.stringify(config[k])}`);
    return { kind: normalise(v.class_name), label: `${v.class_name}(${args.join(', ')})`, config };
  }
  throw new InputError(`${where}: the compiled loss ${JSON.stringify(v).slice(0, 80)} is not a loss name or a serialized Keras loss`);
}

const normalise = (name: string): string => name.toLowerCase().replace(/[^a-z]/g, '');
const CROSS_ENTROPY = new Set(['sparsecategoricalcrossentropy', 'categoricalcrossentropy']);
const MSE = new Set(['mse', 'meansquarederror']);

export interface LossChoice {
  loss: ModelSpec['loss'];
  /** For the import table: which loss, and where it came from. */
  how: string;
  note?: string;
}

/**
 * rnnlab's loss for a head with this activation: the compiled one, else --loss, else the head's
 * own (softmax: cross-entropy, linear: mse). A loss rnnlab does not have is one line naming it.
 */
export function chooseLoss(compiled: CompiledLoss | null, head: { name: string; activation: 'softmax' | 'linear' }, override: 'ce' | 'mse' | undefined, where: string): LossChoice {
  const refuse = (why: string): never => {
    throw new InputError(`${where}: ${compiled ? `the compiled loss ${compiled.label}` : `--loss ${override}`} ${why}`);
  };
  if (!compiled) {
    if (override === 'mse' && head.activation === 'softmax') refuse(`does not fit head ${head.name}, which ends in softmax (mse is rnnlab's loss for a linear head's values)`);
    if (override) {
      const ce = override === 'ce';
      return { loss: ce ? 'softmaxCrossEntropy' : 'mse', how: `${ce ? `cross-entropy ${head.activation === 'linear' ? 'from the head\'s logits' : 'of the softmax head'}` : 'mse'} (--loss ${override}; the model has no compiled loss)` };
    }
    return head.activation === 'softmax'
      ? { loss: 'softmaxCrossEntropy', how: 'cross-entropy (the softmax head; the model has no compiled loss)' }
      : { loss: 'mse', how: 'mse (the linear head; the model has no compiled loss: --loss ce reads its outputs as logits)' };
  }
  const c = compiled.config;
  const reduction = c.reduction;
  if (reduction !== undefined && reduction !== null && reduction !== 'auto' && reduction !== 'sum_over_batch_size') {
    refuse(`reduces with ${JSON.stringify(reduction)}; rnnlab's loss is the mean over batch and time (Keras's default reduction)`);
  }
  let loss: ModelSpec['loss'];
  let note: string | undefined;
  if (CROSS_ENTROPY.has(compiled.kind)) {
    if (typeof c.label_smoothing === 'number' && c.label_smoothing !== 0) refuse(`smooths the labels (label_smoothing ${c.label_smoothing}); rnnlab's cross-entropy has no label smoothing`);
    if (c.ignore_class !== undefined && c.ignore_class !== null) refuse(`ignores class ${JSON.stringify(c.ignore_class)}; rnnlab masks steps, not classes`);
    if (c.axis !== undefined && c.axis !== -1) refuse(`takes the classes on axis ${JSON.stringify(c.axis)}; rnnlab's are the last axis`);
    const fromLogits = c.from_logits === true;
    if (fromLogits && head.activation === 'softmax') refuse(`takes logits, but head ${head.name} ends in softmax: Keras applies softmax twice; rnnlab cannot represent that (remove the softmax, or compile with from_logits=False)`);
    if (!fromLogits && head.activation === 'linear') refuse(`takes probabilities (from_logits False), but head ${head.name} is linear: Keras clips its outputs as probabilities; compile with from_logits=True`);
    loss = 'softmaxCrossEntropy';
    if (compiled.kind === 'categoricalcrossentropy') note = `${compiled.label} takes one-hot targets; rnnlab takes class ids (the same loss for one-hot targets)`;
  } else if (MSE.has(compiled.kind)) {
    if (head.activation === 'softmax') refuse(`applies to head ${head.name}, which ends in softmax; rnnlab's mse is on a linear head's values`);
    loss = 'mse';
  } else {
    const hint =
      compiled.kind === 'binarycrossentropy'
        ? ': a one-unit sigmoid head with binary cross-entropy is a two-class softmax (Dense(2) with SparseCategoricalCrossentropy(from_logits=True))'
        : '';
    return refuse(`is not one of rnnlab's losses (softmax cross-entropy, mean squared error)${hint}`);
  }
  if (override && (override === 'ce') !== (loss === 'softmaxCrossEntropy')) {
    refuse(`is the model's own; --loss ${override} contradicts it (--loss is for a model compiled with none)`);
  }
  const what = loss === 'mse' ? 'mse' : head.activation === 'linear' ? 'cross-entropy from the head\'s logits' : 'cross-entropy of the softmax head';
  return { loss, how: `${what} (compiled: ${compiled.label})`, ...(note ? { note } : {}) };
}

/** The training_config a Keras user gets for rnnlab's loss on the exported (linear) head. */
export function kerasTrainingConfig(spec: ModelSpec): Json {
  const loss =
    spec.loss === 'mse'
      ? { class_name: 'MeanSquaredError', config: { reduction: 'auto', name: 'mean_squared_error' } }
      : { class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: true, ignore_class: null } };
  return { loss, metrics: null, weighted_metrics: null, loss_weights: null };
}
