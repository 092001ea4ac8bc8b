/**
 * Reading a TensorFlow.js layers model (model.json + binary weight shards, as tensorflowjs_converter
 * writes them from Keras 2 and as tfjs's LayersModel.save writes them) into a ModelSpec and
 * canonical parameters. The canonical layout is Keras's, so the tensors move as they are; what
 * this file does is read the topology, decide whether rnnlab can represent it exactly, and find
 * every weight by name. Nothing here imports tfjs: `check --model` loads the same files through
 * tf.loadLayersModel separately (tfjs/keras.ts) and compares.
 *
 * What is read: a Sequential model, or a functional model whose layers form one chain, of
 *   InputLayer, Masking, Embedding, SimpleRNN / LSTM / GRU (reset_after true or false),
 *   Bidirectional around one of them, Dropout-like layers (identity at inference), and a Dense or
 *   TimeDistributed(Dense) head with softmax or linear activation (or a following Activation).
 * Everything else, and every option with no exact counterpart, is one line naming the layer, the
 * option and its value.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { readInputFile, readJsonInput } from '../io/files.js';
import { type NamedParams, paramLayout } from '../params.js';
import { ACTIVATIONS, CELLS, CELL_TABLE, type CellType, appliesToCell, cellOfKerasClass } from '../cells.js';
import { type ModelSpec, parseSpec } from '../spec.js';
import { chooseLoss, compiledLoss } from './keras-loss.js';
import { shapeStr } from '../tensor.js';
import type { Batch } from '../engine.js';

/** How the model derives a mask from its input (rnnlab's engines take the mask with the batch). */
import { type KerasMasking, maskFromInput } from './mask.js';
export { type KerasMasking, maskFromInput };

export interface KerasWeightSpec {
  name: string;
  shape: number[];
  /** rnnlab reads float32 weights only */
  dtype: 'float32';
}

export interface ImportedLayer {
  name: string;
  /** "LSTM", "Bidirectional(GRU)", "TimeDistributed(Dense)", ... */
  kind: string;
  /** What it does in rnnlab's model (the tfjs engine applies the loaded layers by it). */
  op: 'input' | 'identity' | 'mask' | 'embedding' | 'rnn' | 'head' | 'activation';
  /** What rnnlab makes of it, for people: "layers.0", "embedding", "head (softmax)", ... */
  role: string;
}

export interface ImportedModel {
  spec: ModelSpec;
  /** Canonical parameters (F32, the file's bits). */
  params: NamedParams;
  /** Canonical parameter name -> the model.json weight it came from. */
  sources: Record<string, string>;
  masking: KerasMasking;
  /** The activation after the head in the model (the engines return the head's logits or values). */
  outputActivation: 'softmax' | 'linear';
  /** Which loss the spec has and why (the compiled one, --loss, or the head's). */
  loss: string;
  /** The sequence length fixed by the input shape, or null when any length is accepted. */
  seqLen: number | null;
  layers: ImportedLayer[];
  /** What the import leaves out or reads differently (Dropout at inference, stateful, ...). */
  notes: string[];
  /** format: layers-model (model.json), keras (Keras 3 .keras), h5 (Keras 2 full-model HDF5). */
  source: { path: string; format: string; generatedBy: string | null; convertedBy: string | null; kerasVersion: string | null; modelClass: string };
  /** The files as read, for loading the very same model into tfjs (tf.io.fromMemory). */
  artifacts: { modelTopology: object; weightSpecs: KerasWeightSpec[]; weightData: ArrayBuffer };
}

type Json = Record<string, unknown>;
export interface LayerEntry {
  className: string;
  config: Json;
  name: string;
}

/** The Keras classes of the cell table's cells (SimpleRNN, LSTM, GRU). */
const RNN_CLASSES = CELLS.map((c) => CELL_TABLE[c].keras);
/** Identity at inference. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout', 'ActivityRegularization']);
const READABLE = 'InputLayer, Masking, Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dropout, Dense, TimeDistributed(Dense), Activation';

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What the import takes from the user beyond the file. */
export interface ImportOptions {
  /** The loss of a model compiled with none (or none that says): ce or mse. */
  loss?: 'ce' | 'mse';
}

/** Reads model.json and the weight shards it names (beside it). */
export function readModelJson(path: string, o: ImportOptions = {}): ImportedModel {
  const json = readJsonInput(path, 'the model.json of a TensorFlow.js layers model');
  const dir = dirname(path);
  return importKerasModel(
    json,
    path,
    (shard) => {
      const p = join(dir, shard);
      if (!existsSync(p)) throw new InputError(`${path}: the weight file ${shard} it names is missing (looked for ${p})`);
      return readInputFile(p, 'weights');
    },
    o,
  );
}

/** The same from parsed JSON and a shard reader (tests feed files they build in memory). */
export function importKerasModel(json: unknown, where: string, readShard: (name: string) => Uint8Array, o: ImportOptions = {}): ImportedModel {
  if (!isObj(json)) throw new InputError(`${where}: not a TensorFlow.js model.json (expected a JSON object)`);
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new InputError(
      `${where}: format ${JSON.stringify(json.format)} is not a layers model` +
        (json.format === 'graph-model' ? ' (a graph model has no layers to read; convert the Keras model with --output_format tfjs_layers_model)' : ''),
    );
  }
  const topo = json.modelTopology;
  if (!isObj(topo)) throw new InputError(`${where}: no "modelTopology" object (is this a TensorFlow.js layers model.json?)`);
  const manifest = readManifest(json.weightsManifest, where, readShard);
  const meta = isObj(json.userDefinedMetadata) && isObj(json.userDefinedMetadata.rnnlab) ? json.userDefinedMetadata.rnnlab : null;
  const training = isObj(topo.training_config) ? topo.training_config : isObj(json.trainingConfig) ? json.trainingConfig : null;
  return importKerasParts(
    {
      where,
      modelConfig: isObj(topo.model_config) ? topo.model_config : topo,
      kerasVersion: typeof topo.keras_version === 'string' ? topo.keras_version : null,
      loss: training ? training.loss : undefined,
      weights: manifest.weights,
      rnnlabSpec: meta ? meta.spec : undefined,
      source: {
        path: where,
        format: String(json.format ?? 'layers-model'),
        generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : null,
        convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : null,
      },
      artifacts: { modelTopology: topo, weightSpecs: manifest.specs, weightData: manifest.buffer },
    },
    o,
  );
}

/** A Keras model as read from any of its files: the model config, the compiled loss, the weights by Keras name. */
export interface KerasFileParts {
  where: string;
  /** {class_name, config}: Sequential, Functional or Model. */
  modelConfig: Json;
  kerasVersion: string | null;
  /** training_config.loss or compile_config.loss; undefined when the model was not compiled. */
  loss: unknown;
  /** Every weight of the file by its Keras (tfjs) name: "gru/gru_cell/kernel", "bidirectional/forward_lstm/kernel", ... */
  weights: KerasWeight[];
  /** rnnlab's own spec, when rnnlab exported the file (userDefinedMetadata.rnnlab.spec). */
  rnnlabSpec?: unknown;
  source: Omit<ImportedModel['source'], 'kerasVersion' | 'modelClass'>;
  artifacts: ImportedModel['artifacts'];
}

/** One recurrent layer of the chain (a Bidirectional's inner layer read through it). */
interface Rnn {
  name: string;
  cell: CellType;
  cfg: Json;
  bidirectional: boolean;
  merge: ModelSpec['merge'];
  weights: KerasWeight[];
}

interface Head {
  name: string;
  units: number;
  activation: string;
  kernel: KerasWeight;
  bias: KerasWeight;
  timeDistributed: boolean;
}

/** What reading one file shares: where it is, its notes, and the canonical parameters taken from its weights so far. */
interface Reading {
  where: string;
  notes: string[];
  params: NamedParams;
  sources: Record<string, string>;
  used: Set<string>;
  weights: KerasWeight[];
}

const refuse = (where: string, layer: string, key: string, value: unknown, why: string): never => {
  throw new InputError(`${where}: layer ${layer}: ${key} ${JSON.stringify(value)} ${why}`);
};

/** The weights of a layer (model.json names them "<layer>/..."). */
const weightsOf = (r: Reading, layerName: string): KerasWeight[] => r.weights.filter((w) => w.name.startsWith(`${layerName}/`));

/** The one weight of `ws` named `what` (kernel, recurrent_kernel, bias, embeddings). */
function pick(r: Reading, layer: string, ws: KerasWeight[], what: string): KerasWeight {
  const found = ws.filter((w) => lastPart(w.name) === what);
  if (found.length === 0) throw new InputError(`${r.where}: layer ${layer} has no weight "${what}" in the weights manifest (found: ${ws.map((w) => w.name).join(', ') || 'none'})`);
  if (found.length > 1) throw new InputError(`${r.where}: layer ${layer} has ${found.length} weights named "${what}": ${found.map((w) => w.name).join(', ')}`);
  return found[0];
}

/** A weight as the canonical parameter `canonical`, of the shape the layout wants. */
function take(r: Reading, layer: string, canonical: string, w: KerasWeight, shape: number[]): void {
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new InputError(`${r.where}: weight ${w.name} has shape ${shapeStr(w.shape)}, but layer ${layer} needs ${shapeStr(shape)}`);
  }
  r.params[canonical] = { dtype: 'F32', shape: [...shape], data: w.data };
  r.sources[canonical] = w.name;
  r.used.add(w.name);
}

/** What the walk over the layer chain finds. */
interface Chain {
  layers: ImportedLayer[];
  inputShape: (number | null)[] | null;
  masking: KerasMasking;
  embedding: { V: number; E: number } | null;
  rnns: Rnn[];
  head: Head | null;
  outputActivation: 'softmax' | 'linear' | null;
}

/** A recurrent layer, or a Bidirectional around one. */
function readRecurrent(r: Reading, e: LayerEntry, c: Chain): void {
  const cfg = e.config;
  let inner = e;
  let merge: ModelSpec['merge'] = 'concat';
  const bidirectional = e.className === 'Bidirectional';
  if (bidirectional) {
    const l = cfg.layer;
    if (!isObj(l) || typeof l.class_name !== 'string' || !isObj(l.config)) refuse(r.where, e.name, 'layer', l, 'is not a layer config');
    const lj = l as Json;
    inner = { className: lj.class_name as string, config: lj.config as Json, name: String((lj.config as Json).name ?? e.name) };
    if (cellOfKerasClass(inner.className) === undefined) refuse(r.where, e.name, 'layer', inner.className, `is not a recurrent layer rnnlab reads (${RNN_CLASSES.join(', ')})`);
    const m = cfg.merge_mode;
    if (m !== 'concat' && m !== 'sum' && m !== 'mul' && m !== 'ave') refuse(r.where, e.name, 'merge_mode', m ?? null, 'is not one of concat, sum, mul, ave');
    merge = m as ModelSpec['merge'];
    if (isObj(cfg.backward_layer) && !mirrorsForward(lj, cfg.backward_layer)) refuse(r.where, e.name, 'backward_layer', 'custom', 'is not representable: rnnlab\'s backward direction is a copy of the forward layer');
  }
  c.rnns.push({ name: e.name, cell: cellOfKerasClass(inner.className)!, cfg: inner.config, bidirectional, merge, weights: weightsOf(r, e.name) });
  c.layers.push({ name: e.name, kind: bidirectional ? `Bidirectional(${inner.className})` : e.className, op: 'rnn', role: `layers.${c.rnns.length - 1}` });
}

/** The Dense head (or a TimeDistributed one). */
function readHead(r: Reading, e: LayerEntry, c: Chain): void {
  const cfg = e.config;
  if (c.rnns.length === 0) refuse(r.where, e.name, 'class', e.className, 'before any recurrent layer: rnnlab\'s model is recurrent layers, then one Dense head');
  let dcfg = cfg;
  if (e.className === 'TimeDistributed') {
    const l = cfg.layer;
    if (!isObj(l) || l.class_name !== 'Dense' || !isObj(l.config)) refuse(r.where, e.name, 'layer', isObj(l) ? l.class_name : l, 'inside TimeDistributed is not a Dense layer');
    dcfg = (l as Json).config as Json;
  }
  const units = dcfg.units;
  if (!Number.isInteger(units) || (units as number) < 1) refuse(r.where, e.name, 'units', units, 'is not a positive integer');
  if (dcfg.use_bias === false) refuse(r.where, e.name, 'use_bias', false, 'is not representable: rnnlab\'s head has a bias');
  const act = String(dcfg.activation ?? 'linear');
  if (act !== 'softmax' && act !== 'linear') {
    refuse(r.where, e.name, 'activation', act, 'is not representable: rnnlab\'s head is softmax (classes, cross-entropy) or linear (values, mse)' + (act === 'sigmoid' ? '; a one-unit sigmoid head is a two-class softmax: retrain with Dense(2, softmax)' : ''));
  }
  const ws = weightsOf(r, e.name);
  c.head = { name: e.name, units: units as number, activation: act, kernel: pick(r, e.name, ws, 'kernel'), bias: pick(r, e.name, ws, 'bias'), timeDistributed: e.className === 'TimeDistributed' };
  c.outputActivation = act === 'softmax' ? 'softmax' : 'linear';
  c.layers.push({ name: e.name, kind: e.className === 'TimeDistributed' ? 'TimeDistributed(Dense)' : 'Dense', op: 'head', role: `head (${act})` });
}

/** One layer before the head that is not recurrent: the input, a Masking, an Embedding (null: not one of those). */
function readInputSide(r: Reading, e: LayerEntry, c: Chain): boolean {
  const cfg = e.config;
  if (e.className === 'Masking') {
    if (c.rnns.length || c.embedding) refuse(r.where, e.name, 'class', e.className, 'after the first layer: rnnlab masks at the input only');
    const v = cfg.mask_value ?? 0;
    if (typeof v !== 'number') refuse(r.where, e.name, 'mask_value', v, 'is not a number');
    c.masking = { kind: 'value', value: v as number };
    c.layers.push({ name: e.name, kind: e.className, op: 'mask', role: `mask (steps whose features all equal ${v})` });
    return true;
  }
  if (e.className === 'Embedding') {
    if (c.rnns.length || c.embedding || c.masking.kind !== 'none') refuse(r.where, e.name, 'class', e.className, 'not at the start of the model: rnnlab embeds the input only');
    const V = cfg.input_dim;
    const E = cfg.output_dim;
    if (!Number.isInteger(V) || (V as number) < 1) refuse(r.where, e.name, 'input_dim', V, 'is not a vocabulary size');
    if (!Number.isInteger(E) || (E as number) < 1) refuse(r.where, e.name, 'output_dim', E, 'is not an embedding width');
    c.embedding = { V: V as number, E: E as number };
    if (cfg.mask_zero === true) c.masking = { kind: 'zero' };
    take(r, e.name, 'embedding', pick(r, e.name, weightsOf(r, e.name), 'embeddings'), [c.embedding.V, c.embedding.E]);
    c.layers.push({ name: e.name, kind: e.className, op: 'embedding', role: `embedding${cfg.mask_zero === true ? ' (mask_zero: token 0 is padding)' : ''}` });
    return true;
  }
  return false;
}

/** Every layer of the chain, in order: what each is in rnnlab's model, or one line saying why it cannot be. */
function readChain(r: Reading, entries: LayerEntry[]): Chain {
  const c: Chain = { layers: [], inputShape: null, masking: { kind: 'none' }, embedding: null, rnns: [], head: null, outputActivation: null };
  for (const [i, e] of entries.entries()) {
    const cfg = e.config;
    const shape = cfg.batch_input_shape ?? cfg.batch_shape;
    if (Array.isArray(shape) && c.inputShape === null) c.inputShape = shape as (number | null)[];
    const afterHead = c.head !== null;
    if (e.className === 'InputLayer') {
      if (i !== 0) refuse(r.where, e.name, 'class', e.className, 'in the middle of the chain');
      c.layers.push({ name: e.name, kind: e.className, op: 'input', role: 'input' });
      continue;
    }
    if (INFERENCE_IDENTITY.has(e.className)) {
      const rate = typeof cfg.rate === 'number' ? ` (rate ${cfg.rate})` : typeof cfg.stddev === 'number' ? ` (stddev ${cfg.stddev})` : '';
      r.notes.push(`${e.name}: ${e.className}${rate} is the identity at inference and is left out; rnnlab trains without it`);
      c.layers.push({ name: e.name, kind: e.className, op: 'identity', role: 'left out (identity at inference)' });
      continue;
    }
    if (e.className === 'Activation') {
      if (!afterHead) refuse(r.where, e.name, 'class', e.className, 'before the head: rnnlab has no activation layer between recurrent layers');
      const a = String(cfg.activation);
      if (c.outputActivation === 'softmax' || (a !== 'softmax' && a !== 'linear')) refuse(r.where, e.name, 'activation', a, 'after the head is not representable (rnnlab heads end in softmax for classes or nothing for values)');
      if (a === 'softmax') c.outputActivation = 'softmax';
      c.layers.push({ name: e.name, kind: `Activation(${a})`, op: 'activation', role: 'head activation' });
      continue;
    }
    if (afterHead) refuse(r.where, e.name, 'class', e.className, `after the head layer ${c.head!.name}: rnnlab's model ends with one Dense head`);
    if (readInputSide(r, e, c)) continue;
    if (cellOfKerasClass(e.className) !== undefined || e.className === 'Bidirectional') readRecurrent(r, e, c);
    else if (e.className === 'Dense' || e.className === 'TimeDistributed') readHead(r, e, c);
    else throw new InputError(`${r.where}: layer ${e.name}: class ${e.className} is not something rnnlab can represent (it reads ${READABLE})`);
  }
  return c;
}

/** A layer's Keras option, or its Keras default. */
const option = (r: Rnn, key: string, def: unknown): unknown => (r.cfg[key] === undefined ? def : r.cfg[key]);

/** The recurrent stack: one cell type, one width, one set of options, every layer; returns the width. */
function checkStack(r: Reading, rnns: Rnn[], kerasVersion: string | null): number {
  const first = rnns[0];
  const units = first.cfg.units;
  if (!Number.isInteger(units) || (units as number) < 1) refuse(r.where, first.name, 'units', units, 'is not a positive integer');
  const H = units as number;
  // the cell table says which Keras options a cell reads: activation (SimpleRNN), recurrent_activation (LSTM, GRU), reset_after (GRU)
  const reads = (field: string): boolean => appliesToCell(field, first.cell);
  for (const x of rnns) {
    const no = (opt: string, value: unknown, why: string): never => refuse(r.where, x.name, opt, value, why);
    if (x.cell !== first.cell) no('class', x.cfg.name ? `${x.cell}` : x.cell, `differs from ${first.name}'s ${first.cell}: rnnlab stacks layers of one cell type`);
    if (x.cfg.units !== H) no('units', x.cfg.units, `differs from ${first.name}'s ${H}: rnnlab stacks layers of one width`);
    if (x.bidirectional !== first.bidirectional) no('Bidirectional', x.bidirectional, `differs from ${first.name}: rnnlab's bidirectional models read both ways in every layer`);
    if (x.merge !== first.merge) no('merge_mode', x.merge, `differs from ${first.name}'s ${first.merge}`);
    if (option(x, 'use_bias', true) !== true) no('use_bias', x.cfg.use_bias, 'is not representable: rnnlab\'s cells have biases');
    if (option(x, 'go_backwards', false) !== false && !x.bidirectional) no('go_backwards', true, 'is not representable outside Bidirectional');
    if (option(x, 'time_major', false) !== false) no('time_major', true, 'is not representable: rnnlab reads [batch, time, features]');
    if (option(x, 'return_state', false) !== false) no('return_state', true, 'is not representable: the model\'s outputs come from its head');
    if (!reads('activation') && option(x, 'activation', 'tanh') !== 'tanh') no('activation', x.cfg.activation, `is not representable: rnnlab's ${first.cell.toUpperCase()} uses tanh`);
    if (reads('activation') && !(ACTIVATIONS as readonly string[]).includes(String(option(x, 'activation', 'tanh')))) no('activation', x.cfg.activation, `is not representable: rnnlab's ${CELL_TABLE[first.cell].keras} uses ${ACTIVATIONS.join(' or ')}`);
    if (String(option(x, 'activation', 'tanh')) !== String(option(first, 'activation', 'tanh'))) no('activation', x.cfg.activation, `differs from ${first.name}'s`);
    if (reads('recurrentActivation')) {
      const ra = String(option(x, 'recurrent_activation', 'sigmoid'));
      if (ra !== 'sigmoid' && ra !== 'hard_sigmoid') no('recurrent_activation', ra, 'is not representable: rnnlab\'s gates use sigmoid or hard_sigmoid');
      if (ra === 'hard_sigmoid' && kerasVersion?.startsWith('3')) no('recurrent_activation', ra, `from Keras ${kerasVersion} is x/6 + 1/2 (Keras 2 and tfjs: 0.2x + 1/2); rnnlab has the Keras 2 one`);
      if (ra !== String(option(first, 'recurrent_activation', 'sigmoid'))) no('recurrent_activation', ra, `differs from ${first.name}'s`);
    }
    if (reads('gruResetAfter') && option(x, 'reset_after', false) !== option(first, 'reset_after', false)) no('reset_after', x.cfg.reset_after, `differs from ${first.name}'s`);
    if (option(x, 'stateful', false) === true) r.notes.push(`${x.name}: stateful (the state carried between batches) is not part of the model; rnnlab starts each batch from zeros unless it carries state itself`);
    const dropout = Number(option(x, 'dropout', 0)) || 0;
    const rdrop = Number(option(x, 'recurrent_dropout', 0)) || 0;
    if (dropout > 0 || rdrop > 0) r.notes.push(`${x.name}: dropout ${dropout} / recurrent_dropout ${rdrop} act only in training and are left out; rnnlab trains without them`);
  }
  rnns.forEach((x, l) => {
    if (l < rnns.length - 1 && option(x, 'return_sequences', false) !== true) refuse(r.where, x.name, 'return_sequences', false, 'on a layer that feeds another recurrent layer');
  });
  return H;
}

/** The features of the input (the vocabulary with an embedding) and its fixed length, from the input shape (or the first kernel). */
function inputOf(r: Reading, c: Chain): { features: number; seqLen: number | null } {
  if (c.inputShape) {
    const rank = c.inputShape.length;
    if (c.embedding ? rank !== 2 : rank !== 3) {
      throw new InputError(
        `${r.where}: the model's input ${shapeStr(c.inputShape.map((d) => d ?? -1)).replace(/-1/g, 'null')} is not a sequence; rnnlab reads [batch, time, features]` +
          ' (or [batch, time] token ids into an Embedding)',
      );
    }
  }
  const kernel0 = c.rnns[0].weights.find((w) => lastPart(w.name) === 'kernel');
  const features = c.embedding ? c.embedding.V : c.inputShape && typeof c.inputShape[2] === 'number' ? c.inputShape[2] : kernel0?.shape[0];
  if (!Number.isInteger(features)) throw new InputError(`${r.where}: cannot tell how many features the input has (no input shape and no kernel for ${c.rnns[0].name})`);
  return { features: features as number, seqLen: c.inputShape && typeof c.inputShape[1] === 'number' ? c.inputShape[1] : null };
}

/** Every weight where the canonical layout wants it; a weight no layer read is refused. */
function placeWeights(r: Reading, spec: ModelSpec, c: Chain, head: Head): void {
  const layout = new Map(paramLayout(spec).map((p) => [p.name, p.shape]));
  c.rnns.forEach((x, l) => {
    for (const direction of x.bidirectional ? (['forward', 'backward'] as const) : ([null] as const)) {
      const ws = direction ? x.weights.filter((w) => w.name.split('/').some((part) => part.startsWith(`${direction}_`))) : x.weights;
      const layer = direction ? `${x.name} (${direction})` : x.name;
      const p = `layers.${l}.${direction === 'backward' ? 'backward.' : ''}`;
      take(r, layer, `${p}kernel`, pick(r, layer, ws, 'kernel'), layout.get(`${p}kernel`)!);
      take(r, layer, `${p}recurrentKernel`, pick(r, layer, ws, 'recurrent_kernel'), layout.get(`${p}recurrentKernel`)!);
      take(r, layer, `${p}bias`, pick(r, layer, ws, 'bias'), layout.get(`${p}bias`)!);
    }
  });
  take(r, head.name, 'head.kernel', head.kernel, layout.get('head.kernel')!);
  take(r, head.name, 'head.bias', head.bias, layout.get('head.bias')!);
  const unused = r.weights.filter((w) => !r.used.has(w.name)).map((w) => w.name);
  if (unused.length) throw new InputError(`${r.where}: weight(s) ${unused.join(', ')} belong to no layer rnnlab read; the weights do not match the topology`);
}

/** A Keras model as a ModelSpec and canonical parameters, or one line saying why it cannot be one. */
export function importKerasParts(parts: KerasFileParts, o: ImportOptions = {}): ImportedModel {
  const { where, modelConfig, kerasVersion } = parts;
  const modelClass = String(modelConfig.class_name ?? '');
  const r: Reading = { where, notes: [], params: {}, sources: {}, used: new Set(), weights: parts.weights };
  const c = readChain(r, layerChain(modelConfig, where));
  if (c.rnns.length === 0) throw new InputError(`${where}: the model has no recurrent layer (SimpleRNN, LSTM, GRU or Bidirectional); rnnlab imports recurrent models`);
  if (!c.head) throw new InputError(`${where}: the model does not end with a Dense head after its recurrent layers; rnnlab's model is recurrent layers, then one Dense head`);
  const h = c.head;
  const H = checkStack(r, c.rnns, kerasVersion);
  const first = c.rnns[0];
  const returnSequences = option(c.rnns[c.rnns.length - 1], 'return_sequences', false) === true;
  if (h.timeDistributed && !returnSequences) refuse(where, h.name, 'class', 'TimeDistributed', `after ${c.rnns[c.rnns.length - 1].name}, which returns its last step only`);
  const { features, seqLen } = inputOf(r, c);

  const cell = first.cell;
  // the variant fields this cell reads, from the first layer's options
  const variant: Record<string, unknown> = {};
  if (appliesToCell('activation', cell)) variant.activation = String(option(first, 'activation', 'tanh'));
  if (appliesToCell('recurrentActivation', cell)) variant.recurrentActivation = String(option(first, 'recurrent_activation', 'sigmoid')) === 'hard_sigmoid' ? 'hardSigmoid' : 'sigmoid';
  if (appliesToCell('gruResetAfter', cell)) variant.gruResetAfter = option(first, 'reset_after', false) === true;
  const chosen = chooseLoss(compiledLoss(parts.loss, where), { name: h.name, activation: c.outputActivation ?? 'linear' }, o.loss, where);
  if (chosen.note) r.notes.push(chosen.note);
  const fromLayers = parseSpec(
    {
      cell,
      inputSize: features,
      hiddenSize: H,
      layers: c.rnns.length,
      outputSize: h.units,
      input: c.embedding ? 'tokens' : 'dense',
      returnSequences,
      loss: chosen.loss,
      ...variant,
      ...(first.bidirectional ? { bidirectional: true, merge: first.merge } : {}),
      ...(c.embedding ? { embedding: c.embedding.E } : {}),
    },
    `${where} (as a ModelSpec)`,
  );
  const spec = parts.rnnlabSpec === undefined ? fromLayers : withRnnlabSpec(fromLayers, parts.rnnlabSpec, r.notes);
  const masking: KerasMasking = !c.embedding && c.masking.kind === 'zero' ? { kind: 'none' } : c.masking;
  placeWeights(r, spec, c, h);
  return {
    spec,
    params: r.params,
    sources: r.sources,
    masking,
    outputActivation: c.outputActivation ?? 'linear',
    seqLen,
    layers: c.layers,
    notes: r.notes,
    loss: chosen.how,
    source: { ...parts.source, kerasVersion, modelClass },
    artifacts: parts.artifacts,
  };
}

/** The spec fields the layers decide; rnnlab's own spec must agree with them to be used. */
const FROM_LAYERS: (keyof ModelSpec)[] = ['cell', 'inputSize', 'hiddenSize', 'layers', 'outputSize', 'returnSequences', 'loss', 'activation', 'recurrentActivation', 'gruResetAfter', 'bidirectional', 'merge', 'embedding'];

/**
 * A file rnnlab exported carries its spec in userDefinedMetadata.rnnlab.spec. It adds what the layers
 * cannot say: token ids read one-hot (a dense input of the vocabulary's width in the file), the
 * loss's reduction over time, the forget-gate bias initialiser. Where it disagrees with the layers
 * (the file was edited since), the layers win and a note says so.
 */
function withRnnlabSpec(fromLayers: ModelSpec, raw: unknown, notes: string[]): ModelSpec {
  let own: ModelSpec;
  try {
    own = parseSpec(raw, 'userDefinedMetadata.rnnlab.spec');
  } catch (e) {
    notes.push(`rnnlab's spec in userDefinedMetadata is not a ModelSpec (${(e as Error).message}); the layers alone are read`);
    return fromLayers;
  }
  const differ = FROM_LAYERS.filter((k) => own[k] !== fromLayers[k]);
  const oneHot = own.input === 'tokens' && fromLayers.input === 'dense' && own.embedding === 0;
  if (own.input !== fromLayers.input && !oneHot) differ.push('input');
  if (differ.length) {
    notes.push(`rnnlab's spec in userDefinedMetadata differs from the layers in ${differ.join(', ')}; the layers are read`);
    return fromLayers;
  }
  return parseSpec({ ...fromLayers, input: own.input, lossReduction: own.lossReduction, ...(appliesToCell('unitForgetBias', own.cell) ? { unitForgetBias: own.unitForgetBias } : {}) }, 'userDefinedMetadata.rnnlab.spec');
}

const lastPart = (name: string): string => name.split('/').pop()!.replace(/:\d+$/, '');

/** The layers in data-flow order: Sequential's list, or a functional model's single chain. */
export function layerChain(modelConfig: Json, where: string): LayerEntry[] {
  const cls = modelConfig.class_name;
  const config = modelConfig.config;
  const entry = (l: unknown, i: number): LayerEntry => {
    if (!isObj(l) || typeof l.class_name !== 'string' || !isObj(l.config)) throw new InputError(`${where}: layer ${i} is not a {class_name, config} object`);
    const name = String(l.config.name ?? l.name ?? `layer ${i}`);
    return { className: l.class_name, config: l.config, name };
  };
  if (cls === 'Sequential') {
    const list = Array.isArray(config) ? config : isObj(config) ? config.layers : undefined;
    if (!Array.isArray(list) || list.length === 0) throw new InputError(`${where}: the Sequential model lists no layers`);
    return list.map(entry);
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isObj(config) || !Array.isArray(config.layers)) throw new InputError(`${where}: the ${cls} model lists no layers`);
    const all = config.layers.map((l, i) => ({ ...entry(l, i), raw: l as Json }));
    const byName = new Map(all.map((l) => [String(l.raw.name ?? l.name), l]));
    const ins = config.input_layers;
    const outs = config.output_layers;
    const oneRef = (v: unknown, what: string): string => {
      // [["name", 0, 0]] or ["name", 0, 0]
      const ref = Array.isArray(v) && Array.isArray(v[0]) ? (v.length === 1 ? v[0] : null) : v;
      if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new InputError(`${where}: the model has ${Array.isArray(v) ? v.length : 'no'} ${what}s; rnnlab imports a model with one input and one output`);
      return ref[0];
    };
    const input = oneRef(ins, 'input');
    let at = oneRef(outs, 'output');
    const chain: LayerEntry[] = [];
    const seen = new Set<string>();
    for (;;) {
      const l = byName.get(at);
      if (!l) throw new InputError(`${where}: the chain names a layer "${at}" that the model does not list`);
      if (seen.has(at)) throw new InputError(`${where}: the layers form a cycle at "${at}"`);
      seen.add(at);
      chain.unshift(l);
      if (at === input) break;
      const nodes = l.raw.inbound_nodes;
      const inbound = Array.isArray(nodes) && nodes.length === 1 ? nodes[0] : null;
      // Keras 2: [["dropout", 0, 0, {}]]; Keras 3: {args: [{class_name: "__keras_tensor__", config: {keras_history: ["dropout", 0, 0]}}], kwargs}
      const refs = Array.isArray(inbound) ? inbound : isObj(inbound) && Array.isArray(inbound.args) ? kerasTensorRefs(inbound.args) : null;
      if (!refs || refs.length !== 1 || !Array.isArray(refs[0]) || typeof refs[0][0] !== 'string') {
        throw new InputError(`${where}: layer ${l.name} is not fed by exactly one layer; rnnlab imports a functional model whose layers form one chain`);
      }
      at = refs[0][0];
    }
    const extra = all.filter((l) => !seen.has(String(l.raw.name ?? l.name)));
    if (extra.length) throw new InputError(`${where}: layer(s) ${extra.map((l) => l.name).join(', ')} are off the chain from input to output; rnnlab imports one chain`);
    return chain;
  }
  throw new InputError(`${where}: model class ${JSON.stringify(cls)} is not a Sequential or functional model (class_name Sequential, Functional or Model)`);
}

/** The layers a Keras 3 node's arguments come from: every keras_history [layer, node, tensor] in them. */
function kerasTensorRefs(args: unknown[]): unknown[][] {
  const refs: unknown[][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v) && isObj(v.config) && Array.isArray(v.config.keras_history)) refs.push(v.config.keras_history);
  };
  walk(args);
  return refs;
}

export interface KerasWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Every weight of the manifest with its float32 data, read from the groups' shards in order. */
function readManifest(m: unknown, where: string, readShard: (name: string) => Uint8Array): { weights: KerasWeight[]; specs: KerasWeightSpec[]; buffer: ArrayBuffer } {
  if (!Array.isArray(m) || m.length === 0) throw new InputError(`${where}: no "weightsManifest" (the list of weight files and the weights in them)`);
  const weights: KerasWeight[] = [];
  const specs: KerasWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  const names = new Set<string>();
  for (const [g, group] of m.entries()) {
    if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new InputError(`${where}: weightsManifest[${g}] needs "paths" and "weights" lists`);
    const parts = group.paths.map((p) => {
      if (typeof p !== 'string' || p.includes('..') || p.startsWith('/')) throw new InputError(`${where}: weightsManifest[${g}] names ${JSON.stringify(p)}, not a file beside model.json`);
      return readShard(p);
    });
    const total = parts.reduce((n, b) => n + b.length, 0);
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const b of parts) {
      bytes.set(b, o);
      o += b.length;
    }
    let at = 0;
    for (const w of group.weights as unknown[]) {
      if (!isObj(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new InputError(`${where}: weightsManifest[${g}] has an entry that is not {name, shape, dtype}: ${JSON.stringify(w).slice(0, 80)}`);
      }
      if (w.quantization !== undefined) throw new InputError(`${where}: weight ${w.name} is quantized (${JSON.stringify((w.quantization as Json)?.dtype ?? w.quantization)}); rnnlab reads float32 weights: convert without quantization`);
      if (w.dtype !== 'float32') throw new InputError(`${where}: weight ${w.name} is ${JSON.stringify(w.dtype)}; rnnlab reads float32 weights`);
      if (names.has(w.name)) throw new InputError(`${where}: weight ${w.name} appears twice in the manifest`);
      names.add(w.name);
      const shape = w.shape as number[];
      const n = shape.reduce((a, d) => a * d, 1);
      if (at + 4 * n > total) {
        throw new InputError(`${where}: the weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${total} bytes, but the manifest needs ${at + 4 * n} by weight ${w.name}: a shard is short or missing`);
      }
      const data = new Float32Array(n);
      new Uint8Array(data.buffer).set(bytes.subarray(at, at + 4 * n));
      at += 4 * n;
      weights.push({ name: w.name, shape, data });
      specs.push({ name: w.name, shape, dtype: 'float32' });
    }
    if (at !== total) throw new InputError(`${where}: the weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${total} bytes, but the manifest names ${at}; they do not belong together`);
    chunks.push(bytes);
  }
  for (const w of weights) {
    for (let i = 0; i < w.data.length; i++) {
      if (!Number.isFinite(w.data[i])) throw new InputError(`${where}: weight ${w.name} holds a non-finite value (${w.data[i]}) at index ${i}`);
    }
  }
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(size);
  let o = 0;
  for (const c of chunks) {
    new Uint8Array(buffer, o, c.length).set(c);
    o += c.length;
  }
  return { weights, specs, buffer };
}

/**
 * Keras 3 writes every Bidirectional's backward layer into the config: the forward layer's config
 * with go_backwards true and another name. Anything else is a custom backward layer.
 */
function mirrorsForward(forward: Json, backward: Json): boolean {
  if (backward.class_name !== forward.class_name || !isObj(backward.config) || !isObj(forward.config)) return false;
  if (backward.config.go_backwards !== true) return false;
  const strip = (c: Json): string => JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'name' && k !== 'go_backwards').sort(([a], [b]) => (a < b ? -1 : 1))));
  return strip(backward.config) === strip(forward.config);
}

/** The files tf.loadLayersModel takes for weights read from a .keras or .h5 file: the topology, the weights in one buffer. */
export function weightArtifacts(modelTopology: object, weights: KerasWeight[]): ImportedModel['artifacts'] {
  const buffer = new ArrayBuffer(weights.reduce((n, w) => n + 4 * w.data.length, 0));
  let o = 0;
  for (const w of weights) {
    new Float32Array(buffer, o, w.data.length).set(w.data);
    o += 4 * w.data.length;
  }
  return { modelTopology, weightSpecs: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })), weightData: buffer };
}

/**
 * A batch for an imported model: its padding written the way the model recognises it (token 0, or
 * every feature equal to the Masking value) and its mask the one the model derives from the input.
 * A generated batch's padded steps are rewritten so; a given batch must already agree.
 */
export function batchForModel(m: Pick<ImportedModel, 'masking' | 'spec'>, b: Batch, given: boolean): Batch {
  const F = m.spec.input === 'tokens' ? 1 : m.spec.inputSize;
  const { batchSize: B, seqLen: T } = b;
  if (m.masking.kind === 'none') return b;
  if (!given) {
    const x = b.x;
    for (let s = 0; s < B * T; s++) {
      const padded = b.mask ? b.mask[s] === 0 : false;
      if (m.masking.kind === 'zero') x[s] = padded ? 0 : x[s] === 0 ? 1 : x[s];
      else if (padded) for (let f = 0; f < F; f++) x[s * F + f] = m.masking.value;
    }
  }
  const derived = maskFromInput(m.masking, b.x, B, T, F)!;
  if (given && b.mask && !derived.every((v, i) => v === b.mask![i])) {
    const why = m.masking.kind === 'zero' ? 'token 0 is padding' : `a step whose features all equal ${m.masking.value} is padding`;
    throw new InputError(`the data's mask is not the one the model derives from its input (${why}); leave the mask out or make them agree`);
  }
  if (!derived.includes(1)) throw new InputError('the model masks every step of this batch (all padding); there is nothing to compare');
  const out: Batch = { ...b };
  if (derived.includes(0)) out.mask = derived;
  else delete out.mask;
  return out;
}

/**
 * What tf.loadLayersModel takes (an IOHandler) for a model.json and its weight shards on disk:
 * plain @tensorflow/tfjs in Node has no file:// loader. float32 weights, as everything here.
 *   registerLayers(tf); const model = await tf.loadLayersModel(modelFiles('web/model.json'));
 */
export function modelFiles(path: string): { load(): Promise<{ modelTopology: object; weightSpecs: KerasWeightSpec[]; weightData: ArrayBuffer; format: string }> } {
  return {
    load: async () => {
      const json = readJsonInput(path, 'the model.json of a TensorFlow.js layers model');
      if (!isObj(json) || !isObj(json.modelTopology)) throw new InputError(`${path}: no "modelTopology" object (is this a TensorFlow.js layers model.json?)`);
      const dir = dirname(path);
      const { specs, buffer } = readManifest(json.weightsManifest, path, (shard) => {
        const p = join(dir, shard);
        if (!existsSync(p)) throw new InputError(`${path}: the weight file ${shard} it names is missing (looked for ${p})`);
        return readInputFile(p, 'weights');
      });
      return { modelTopology: json.modelTopology, weightSpecs: specs, weightData: buffer, format: String(json.format ?? 'layers-model') };
    },
  };
}
