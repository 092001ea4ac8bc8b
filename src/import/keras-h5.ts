/**
 * Keras files in HDF5, read with jsfive (pure JavaScript, no native code): the small helpers every
 * HDF5 read here needs, and the legacy Keras 2 full-model file, `model.save("model.h5")`.
 *
 * Its layout (keras/saving/legacy/hdf5_format.py of Keras 2; keras/src/legacy/saving/
 * legacy_h5_format.py of Keras 3, which writes the same):
 *   attributes of the root: model_config (JSON: {class_name, config}), training_config (JSON with
 *     "loss", when the model was compiled), keras_version, backend;
 *   group model_weights, attribute layer_names (one per layer of model.layers), and per layer a
 *     group of its name with attribute weight_names ("gru/gru_cell/kernel:0", ...; a Bidirectional's
 *     "bidirectional/forward_lstm/lstm_cell_1/kernel:0") and one dataset per weight at that path
 *     inside the layer's group (model_weights/gru/gru/gru_cell/kernel:0). A long list is split
 *     into attributes weight_names0, weight_names1, ...
 * tensorflowjs_converter turns exactly this into a model.json (the same topology, the weight names
 * without ":0"), so what is read here goes through the same import as a model.json.
 */
import * as hdf5 from 'jsfive';
import { InputError } from '../errors.js';
import { parseJsonText } from '../io/files.js';
import type { ImportedModel } from './keras.js';
import { type ImportOptions, type KerasWeight, importKerasParts, weightArtifacts } from './keras.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** An HDF5 file in memory (jsfive reads from an ArrayBuffer). */
export function openH5(bytes: Uint8Array, where: string): hdf5.File {
  try {
    return new hdf5.File(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, where);
  } catch (e) {
    throw new InputError(`${where}: not an HDF5 file rnnlab can read (${String(e instanceof Error ? e.message : e).split('\n')[0]})`);
  }
}

/** The object at a path, or null (jsfive throws a string for a missing name). */
export function h5get(g: hdf5.Group, path: string): hdf5.Group | hdf5.Dataset | null {
  try {
    return g.get(path);
  } catch {
    return null;
  }
}

export const isGroup = (v: unknown): v is hdf5.Group => v instanceof hdf5.Group;
export const isDataset = (v: unknown): v is hdf5.Dataset => v instanceof hdf5.Dataset;

/** Runs a read of the file; what jsfive throws on a damaged file (a string, a RangeError) becomes one line. */
export function guarded<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${where}: cannot read it (${String(e instanceof Error ? e.message : e).split('\n')[0]}); is the file cut or damaged?`);
  }
}

/** An attribute as text: h5py writes str as a variable-length string and bytes as a fixed-length one (NUL-padded). */
export function attrText(v: unknown): string | null {
  if (typeof v === 'string') return v.replace(/\0+$/, '');
  if (v instanceof Uint8Array) return new TextDecoder().decode(v).replace(/\0+$/, '');
  if (Array.isArray(v) && v.length === 1) return attrText(v[0]);
  return null;
}

/** A list attribute of strings, read as Keras reads it: `name`, or the chunks name0, name1, ... */
export function attrList(attrs: Record<string, unknown>, name: string): string[] {
  const one = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map((x) => attrText(x) ?? String(x));
  if (attrs[name] !== undefined) return one(attrs[name]);
  const out: string[] = [];
  for (let i = 0; attrs[`${name}${i}`] !== undefined; i++) out.push(...one(attrs[`${name}${i}`]));
  return out;
}

/** A float32 weight (any other type is one line: rnnlab reads float32 weights, as from model.json). */
export function readWeight(ds: hdf5.Dataset, name: string, where: string): KerasWeight {
  const dtype = String(ds.dtype);
  const kind = attrText(ds.attrs.dtype);
  if (kind === 'bfloat16' || !/^[<>|]?f4$/.test(dtype)) throw new InputError(`${where}: weight ${name} is ${kind ?? dtype}; rnnlab reads float32 weights`);
  const shape = [...ds.shape];
  const values = ds.value as ArrayLike<number>;
  const n = shape.reduce((a, d) => a * d, 1);
  if (!values || values.length !== n) throw new InputError(`${where}: weight ${name} holds ${values?.length ?? 0} values for shape [${shape.join(', ')}]`);
  // float32 -> double -> float32 is exact: the file's bits
  const data = Float32Array.from(values);
  for (let i = 0; i < n; i++) if (!Number.isFinite(data[i])) throw new InputError(`${where}: weight ${name} holds a non-finite value (${data[i]}) at index ${i}`);
  return { name, shape, data };
}

/** A JSON attribute (model_config, training_config). */
function attrJson(attrs: Record<string, unknown>, name: string, where: string): unknown {
  const text = attrText(attrs[name]);
  return text === null ? undefined : parseJsonText(text, `${where}: attribute ${name}`);
}

/** A legacy Keras full-model .h5 file (Keras 2's model.save("model.h5"), or Keras 3 with the .h5 suffix). */
export function readKerasH5(bytes: Uint8Array, path: string, o: ImportOptions = {}): ImportedModel {
  return guarded(path, () => readH5Model(bytes, path, o));
}

function readH5Model(bytes: Uint8Array, path: string, o: ImportOptions): ImportedModel {
  const f = openH5(bytes, path);
  const modelConfig = attrJson(f.attrs, 'model_config', path);
  if (!isObj(modelConfig)) {
    // Keras 2's save_weights writes layer_names at the root; Keras 3's .weights.h5 a layers/ group
    const weightsOnly = !!(h5get(f, 'layers') || h5get(f, 'vars') || f.attrs.layer_names !== undefined);
    throw new InputError(
      `${path}: an HDF5 file without a model_config attribute` +
        (weightsOnly ? ' (weights only, from save_weights): rnnlab reads a whole model, saved with model.save("model.keras") or model.save("model.h5")' : '; rnnlab reads Keras models saved with model.save("model.h5") or "model.keras"'),
    );
  }
  const mw = h5get(f, 'model_weights');
  if (!isGroup(mw)) throw new InputError(`${path}: no model_weights group (a Keras full-model .h5 keeps the weights there)`);
  const kerasVersion = attrText(f.attrs.keras_version) ?? attrText(mw.attrs.keras_version);
  const training = attrJson(f.attrs, 'training_config', path);
  const weights: KerasWeight[] = [];
  for (const layer of attrList(mw.attrs, 'layer_names')) {
    const g = h5get(mw, layer);
    if (!isGroup(g)) throw new InputError(`${path}: model_weights lists layer ${layer}, but has no group for it`);
    for (const wn of attrList(g.attrs, 'weight_names')) {
      const ds = h5get(g, wn);
      if (!isDataset(ds)) throw new InputError(`${path}: layer ${layer} names weight ${wn}, but model_weights/${layer} has no such dataset`);
      // the name as tfjs and model.json write it (no ":0"), under the layer's name
      const name = wn.replace(/:\d+$/, '');
      weights.push(readWeight(ds, name.startsWith(`${layer}/`) ? name : `${layer}/${name}`, path));
    }
  }
  const top = h5get(mw, 'top_level_model_weights');
  // weights of the model itself, outside its layers: none in a model rnnlab reads (the import names them if there are)
  if (isGroup(top)) {
    for (const wn of attrList(top.attrs, 'weight_names')) {
      const ds = h5get(top, wn);
      if (isDataset(ds)) weights.push(readWeight(ds, `top_level_model_weights/${wn.replace(/:\d+$/, '')}`, path));
    }
  }
  const trainingConfig = isObj(training) ? training : null;
  return importKerasParts(
    {
      where: path,
      modelConfig,
      kerasVersion,
      loss: trainingConfig ? trainingConfig.loss : undefined,
      weights,
      source: { path, format: 'h5', generatedBy: kerasVersion ? `keras v${kerasVersion}` : null, convertedBy: null },
      // what tensorflowjs_converter would write: tf.loadLayersModel reads the same topology
      artifacts: weightArtifacts({ keras_version: kerasVersion, backend: attrText(f.attrs.backend) ?? 'tensorflow', model_config: modelConfig, ...(trainingConfig ? { training_config: trainingConfig } : {}) }, weights),
    },
    o,
  );
}
