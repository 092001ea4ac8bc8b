/**
 * The TensorFlow.js twin (tfjs/) in Node: `tfjs` (the --backend choice), `tfjs-wasm`, `tfjs-cpu`,
 * `tfjs-node`; a Keras model loaded through tf.loadLayersModel (`check --model`, the `keras` kind:
 * no engine name); the tfjs export; and the tfjs encoder-decoder. tfjs is imported lazily, only
 * when one of them is opened.
 */
import type { BackendRequest } from '../../tfjs/backend.js';
import type { ExportResult } from '../../tfjs/export.js';
import type { ImportedModel } from '../import/keras.js';
import type { ModelSpec } from '../spec.js';
import { FULL_SUPPORT, type Supports } from '../supports.js';
import type { NamedTensors } from '../tensor.js';
import { type BrowserBackend, openBrowserProvider } from './browser.js';
import type { EngineKind } from './provider.js';

export interface TfjsRef {
  kind: 'tfjs';
  backend: BackendRequest;
}

/** A Keras / tfjs model.json loaded through tf.loadLayersModel (`check --model`); not an engine name. `browser`: in a headless Chromium page. */
export interface KerasRef {
  kind: 'keras';
  model: ImportedModel;
  backend: BackendRequest;
  browser?: BrowserBackend;
}

export const tfjsKind: EngineKind<TfjsRef> = {
  kind: 'tfjs',
  names: ['tfjs', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-node'],
  parse: (name, backend) => {
    if (name === 'tfjs') return { kind: 'tfjs', backend };
    if (name === 'tfjs-wasm' || name === 'tfjs-cpu' || name === 'tfjs-node') return { kind: 'tfjs', backend: name.slice(5) as BackendRequest };
    return null;
  },
  homes: ['tfjs/'],
  open: async (ref) => {
    const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
    const { TfjsEngine } = await import('../../tfjs/engine.js');
    const loaded = await loadTf(ref.backend);
    const notes: string[] = [];
    return {
      ref,
      name: loaded.engineName,
      dtype: 'float32',
      threads: 1,
      detail: describeBackend(loaded),
      supports: { ...FULL_SUPPORT, dtypes: ['float32'] },
      notes,
      tfjs: { backend: loaded.backend, version: loaded.version, numTensors: () => loaded.tf.memory().numTensors },
      open: async (spec, m) => {
        const e = new TfjsEngine(loaded, spec, { params: m.params, optimizer: m.optimizer });
        for (const n of e.notes) if (!notes.includes(n)) notes.push(n);
        return e;
      },
      close: async () => {},
    };
  },
  openSeq2Seq: async (ref, spec, o) => {
    const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
    const { createTfjsSeq2SeqEngine } = await import('../../tfjs/seq2seq.js');
    const loaded = await loadTf(o.backend ?? ref.backend);
    const engine = await createTfjsSeq2SeqEngine(loaded, spec, { params: o.params, seed: o.seed, optimizer: o.optimizer });
    return { engine, detail: describeBackend(loaded), close: async () => {} };
  },
};

export const kerasKind: EngineKind<KerasRef> = {
  kind: 'keras',
  names: [],
  parse: () => null,
  homes: ['tfjs/'],
  open: async (ref, o) => {
    if (ref.browser) return openBrowserProvider({ ...ref, browser: ref.browser }, o, kerasSupports(ref.model));
    const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
    const { KerasModelEngine } = await import('../../tfjs/keras.js');
    const loaded = await loadTf(ref.backend);
    return {
      ref,
      name: 'keras-model',
      dtype: 'float32',
      threads: 1,
      detail: `${ref.model.source.path} through tf.loadLayersModel; ${describeBackend(loaded)}`,
      supports: kerasSupports(ref.model),
      notes: [],
      tfjs: { backend: loaded.backend, version: loaded.version, numTensors: () => loaded.tf.memory().numTensors },
      open: async (_spec, m) => KerasModelEngine.load(loaded, ref.model, m.params),
      close: async () => {},
    };
  },
};

/** What the loaded Keras model of `check --model` can be asked: outputs, loss and gradients; its masks are the ones it derives from its input. */
function kerasSupports(model: ImportedModel): Required<Supports> {
  return {
    ...FULL_SUPPORT,
    dtypes: ['float32'],
    optimizers: [],
    clipping: false,
    inputGrad: false,
    stateGrads: false,
    carriedState: false,
    optimizerState: false,
    mask: model.masking.kind !== 'none',
  };
}

/** `rnnlab export --format tfjs`: model.json and weights.bin that tf.loadLayersModel loads, and the backend that built them. */
export async function exportTfjsModel(spec: ModelSpec, params: NamedTensors, dir: string, backend: BackendRequest): Promise<ExportResult & { backend: string; engineName: string; detail: string }> {
  const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
  const { exportTfjs } = await import('../../tfjs/export.js');
  const loaded = await loadTf(backend);
  const r = await exportTfjs(loaded.tf, spec, params, dir);
  return { ...r, backend: loaded.backend, engineName: loaded.engineName, detail: describeBackend(loaded) };
}
