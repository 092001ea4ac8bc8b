/**
 * Keras 3's model file, `model.save("model.keras")`: a zip (read with fflate) holding
 *   config.json    the model: {module, class_name: "Sequential" | "Functional", config: {layers:
 *                  [...]}, compile_config: {loss, ...} when compiled}
 *   metadata.json  {keras_version, date_saved}
 *   model.weights.h5  every layer's variables (read with jsfive), at the path keras/src/saving/
 *                  saving_lib.py gives them: the model's layers in a list "layers" (Sequential
 *                  without its InputLayer), each named by its class in snake case with a counter
 *                  for repeats (layers/lstm, layers/lstm_1; not by the layer's own name), then the
 *                  layer's own variables in vars/0, vars/1, ... in the order it created them, and
 *                  those of the objects it holds under their attribute names:
 *                    Embedding        vars/0 = embeddings
 *                    Dense            vars/0 = kernel, vars/1 = bias
 *                    LSTM, GRU, SimpleRNN   cell/vars/0, 1, 2 = kernel, recurrent_kernel, bias
 *                    Bidirectional    forward_layer/cell/vars/..., backward_layer/cell/vars/...
 *                    TimeDistributed  layer/vars/0, 1 = kernel, bias
 *                  (optimizer/vars/... holds the optimizer's state, which a model import leaves out).
 * The weights get the names a model.json gives them ("gru/kernel", "bidirectional/forward_lstm/
 * kernel"), so the same import reads them. For check --model, the config is also written in the
 * Keras 2 form tf.loadLayersModel reads (kerasTwoTopology).
 */
import { unzipSync } from 'fflate';
import { InputError } from '../errors.js';
import { parseJsonText } from '../io/files.js';
import type * as hdf5 from 'jsfive';
import { type ImportOptions, type ImportedModel, type KerasWeight, importKerasParts, weightArtifacts } from './keras.js';
import { guarded, h5get, isDataset, isGroup, openH5, readWeight } from './keras-h5.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

const FILES = ['config.json', 'metadata.json', 'model.weights.h5', 'model.weights.npz'];

/** A Keras 3 .keras file as an rnnlab model. */
export function readKerasZip(bytes: Uint8Array, path: string, o: ImportOptions = {}): ImportedModel {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => FILES.includes(f.name) });
  } catch (e) {
    throw new InputError(`${path}: not a zip archive rnnlab can read (${(e as Error).message})`);
  }
  if (!files['config.json']) throw new InputError(`${path}: a zip without config.json; a Keras 3 .keras file holds config.json, metadata.json and model.weights.h5`);
  const text = (name: string): string => new TextDecoder().decode(files[name]);
  const config = parseJsonText(text('config.json'), `${path}: config.json`);
  if (!isObj(config) || typeof config.class_name !== 'string') throw new InputError(`${path}: config.json is not a serialized Keras model ({class_name, config})`);
  const metadata = files['metadata.json'] ? parseJsonText(text('metadata.json'), `${path}: metadata.json`) : null;
  const kerasVersion = isObj(metadata) && typeof metadata.keras_version === 'string' ? metadata.keras_version : null;
  if (!files['model.weights.h5']) {
    throw new InputError(`${path}: no model.weights.h5` + (files['model.weights.npz'] ? ' (the weights are in npz form; save with the default weights_format "h5")' : ''));
  }
  const store = openH5(files['model.weights.h5'], `${path}: model.weights.h5`);
  const weights = guarded(`${path}: model.weights.h5`, () => layerWeights(config, store, path));
  const compile = isObj(config.compile_config) ? config.compile_config : null;
  const topology = { keras_version: kerasVersion, backend: 'tensorflow', model_config: kerasTwoTopology(config) };
  return importKerasParts(
    {
      where: path,
      modelConfig: config,
      kerasVersion,
      loss: compile ? compile.loss : undefined,
      weights,
      source: { path, format: 'keras', generatedBy: kerasVersion ? `keras v${kerasVersion}` : null, convertedBy: null },
      artifacts: weightArtifacts(topology, weights),
    },
    o,
  );
}

/** keras.src.utils.naming.to_snake_case: "SimpleRNN" -> "simple_rnn", "TimeDistributed" -> "time_distributed". */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Each layer's path in the weights file, by the layer's name: layers/<class in snake case>[_n]. */
export function storePaths(config: Json): Map<string, { path: string; className: string; config: Json }> {
  const list = isObj(config.config) && Array.isArray(config.config.layers) ? (config.config.layers as unknown[]) : [];
  const layers = list.filter(isObj);
  // Sequential.layers leaves out the InputLayer at the bottom of the stack; Functional.layers has every layer
  const saved = config.class_name === 'Sequential' && layers[0]?.class_name === 'InputLayer' ? layers.slice(1) : layers;
  const used = new Map<string, number>();
  const out = new Map<string, { path: string; className: string; config: Json }>();
  for (const l of saved) {
    const cls = String(l.class_name);
    const base = snakeCase(cls);
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    const cfg = isObj(l.config) ? l.config : {};
    out.set(String(cfg.name ?? l.name), { path: `layers/${n === 0 ? base : `${base}_${n}`}`, className: cls, config: cfg });
  }
  return out;
}

const RNN_VARS = ['kernel', 'recurrent_kernel', 'bias'];

/** The variables each layer owns, as paths in the weights file -> the model.json name of the weight. */
function varNames(name: string, l: { path: string; className: string; config: Json }): Map<string, string> {
  const m = new Map<string, string>();
  const add = (dir: string, names: string[], prefix: string): void => names.forEach((n, i) => m.set(`${l.path}/${dir}vars/${i}`, `${prefix}/${n}`));
  if (l.className === 'Embedding') add('', ['embeddings'], name);
  else if (l.className === 'Dense') add('', ['kernel', 'bias'], name);
  else if (l.className === 'TimeDistributed') add('layer/', ['kernel', 'bias'], name);
  else if (['SimpleRNN', 'LSTM', 'GRU'].includes(l.className)) add('cell/', RNN_VARS, name);
  else if (l.className === 'Bidirectional') {
    const inner = isObj(l.config.layer) && isObj(l.config.layer.config) ? String(l.config.layer.config.name ?? 'rnn') : 'rnn';
    const base = inner.replace(/^forward_/, '');
    add('forward_layer/cell/', RNN_VARS, `${name}/forward_${base}`);
    add('backward_layer/cell/', RNN_VARS, `${name}/backward_${base}`);
  }
  return m;
}

/** Every dataset under a group, by its path. */
function datasets(g: hdf5.Group, prefix: string, out: [string, hdf5.Dataset][]): void {
  for (const k of g.keys) {
    const v = h5get(g, k);
    if (isDataset(v)) out.push([`${prefix}${k}`, v]);
    else if (isGroup(v)) datasets(v, `${prefix}${k}/`, out);
  }
}

/** The weights of the model's layers, named as a model.json names them; a variable no layer explains keeps its path. */
function layerWeights(config: Json, store: hdf5.Group, where: string): KerasWeight[] {
  const names = new Map<string, string>();
  for (const [name, l] of storePaths(config)) for (const [path, w] of varNames(name, l)) names.set(path, w);
  const found: [string, hdf5.Dataset][] = [];
  const layers = h5get(store, 'layers');
  if (isGroup(layers)) datasets(layers, 'layers/', found);
  const own = h5get(store, 'vars');
  if (isGroup(own)) datasets(own, 'vars/', found);
  return found.map(([path, ds]) => readWeight(ds, names.get(path) ?? path, `${where}: model.weights.h5`));
}

/**
 * The Keras 3 config in the Keras 2 form tfjs's tf.loadLayersModel reads (for check --model's
 * keras-model engine): dtype policies as their names, batch_shape as batch_input_shape, the
 * functional graph's nodes as [[layer, node, tensor, {}]] lists, Bidirectional without the
 * backward layer (tfjs copies the forward one, which the import has checked is what Keras
 * stored), and initializers as zeros (the weights are loaded over them).
 */
export function kerasTwoTopology(model: Json): Json {
  const cfg = isObj(model.config) ? model.config : {};
  const layers = Array.isArray(cfg.layers) ? cfg.layers.filter(isObj) : [];
  const out: Json = { name: cfg.name ?? 'model', layers: layers.map((l) => kerasTwoLayer(l)) };
  if (cfg.input_layers !== undefined) out.input_layers = tensorRefs(cfg.input_layers);
  if (cfg.output_layers !== undefined) out.output_layers = tensorRefs(cfg.output_layers);
  return { class_name: model.class_name, config: out };
}

function kerasTwoLayer(l: Json): Json {
  const out: Json = { class_name: l.class_name, config: kerasTwoConfig(isObj(l.config) ? l.config : {}) };
  if (l.name !== undefined) out.name = l.name;
  if (Array.isArray(l.inbound_nodes)) out.inbound_nodes = l.inbound_nodes.map((n) => (isObj(n) ? nodeArgs(n.args) : n));
  return out;
}

function kerasTwoConfig(c: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(c)) {
    if (k === 'backward_layer' || k === 'seed' || k === 'lora_rank' || k === 'lora_alpha' || k === 'quantization_config' || k === 'optional') continue;
    if (k === 'dtype') out.dtype = isObj(v) && isObj(v.config) ? (v.config.name ?? 'float32') : v;
    else if (k === 'batch_shape') out.batch_input_shape = v;
    else if (k.endsWith('_initializer')) out[k] = { class_name: 'Zeros', config: {} };
    else if (k.endsWith('_regularizer') || k.endsWith('_constraint')) out[k] = null;
    else if (k === 'layer' && isObj(v)) {
      const inner = kerasTwoConfig(isObj(v.config) ? v.config : {});
      if (typeof inner.name === 'string') inner.name = inner.name.replace(/^forward_/, '');
      out.layer = { class_name: v.class_name, config: inner };
    } else out[k] = v;
  }
  return out;
}

/** Keras 3 node arguments ({class_name: "__keras_tensor__", config: {keras_history: [layer, node, tensor]}}) as Keras 2 refs. */
function nodeArgs(args: unknown): unknown[] {
  const refs: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v) && isObj(v.config) && Array.isArray(v.config.keras_history)) refs.push([...v.config.keras_history, {}]);
  };
  walk(args);
  return refs;
}

/** ["input", 0, 0] or [["input", 0, 0]] -> [["input", 0, 0]]. */
function tensorRefs(v: unknown): unknown {
  return Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
}
