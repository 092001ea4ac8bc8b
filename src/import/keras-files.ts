/**
 * A Keras model as people have it, whichever file it is: a TensorFlow.js model.json (with its
 * weight shards beside it), a Keras 3 .keras zip, or a Keras 2 full-model .h5. The content decides,
 * not the name: a zip is a .keras file, an HDF5 signature an .h5 file, anything else is read as a
 * model.json. No Python and no converter: fflate unzips, jsfive reads HDF5 (docs/architecture.md).
 */
import { InputError } from '../errors.js';
import { readInputFile } from '../io/files.js';
import { type ImportOptions, type ImportedModel, readModelJson } from './keras.js';
import { readKerasH5 } from './keras-h5.js';
import { readKerasZip } from './keras3.js';

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const HDF5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (b: Uint8Array, sig: number[]): boolean => b.length >= sig.length && sig.every((v, i) => b[i] === v);

/** model.json, model.keras or model.h5 as an rnnlab model (spec, canonical weights, the file's own topology for tfjs). */
export function readKerasModel(path: string, o: ImportOptions = {}): ImportedModel {
  const bytes = readInputFile(path, 'weights', 'a Keras model: model.json, model.keras or model.h5');
  if (startsWith(bytes, ZIP)) return readKerasZip(bytes, path, o);
  if (startsWith(bytes, HDF5)) return readKerasH5(bytes, path, o);
  if (/\.(keras|h5|hdf5)$/i.test(path)) throw new InputError(`${path}: neither a zip (.keras) nor an HDF5 file (.h5): the first bytes are not either signature`);
  return readModelJson(path, o);
}
