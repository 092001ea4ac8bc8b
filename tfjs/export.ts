/**
 * Export for TensorFlow.js users: model.json + weights.bin that tf.loadLayersModel loads, written
 * through tf.io.withSaveHandler (no tfjs-node needed). The model is a tf.Sequential of tfjs's own
 * layers (reset-after GRUs as Keras GRU configs with reset_after: true, which tfjs loads after
 * registerLayers); token models take ids through their Embedding layer, or one-hot input
 * [B, T, vocabulary] (tf.oneHot of the ids) when they have none. The topology has the
 * training_config a compiled Keras model converted by tensorflowjs_converter has, and rnnlab's own
 * spec rides along in userDefinedMetadata, so that `rnnlab import` gives back the same model.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';
import type { NamedParams } from '../src/params.js';
import { type ModelSpec, specToJSON } from '../src/spec.js';
import { VERSION } from '../src/version.js';
import { kerasTrainingConfig } from '../src/import/keras-loss.js';
import type { Tf } from './backend.js';
import { buildSequential } from './model.js';
import { setLayerWeights } from './weights.js';

export interface ExportResult {
  dir: string;
  files: string[];
  weightBytes: number;
  inputShape: (number | null)[];
}

export async function exportTfjs(tf: Tf, spec: ModelSpec, params: NamedParams, dir: string): Promise<ExportResult> {
  const { model, layers } = buildSequential(tf, spec);
  setLayerWeights(tf, spec, layers, params);
  let modelJson = '';
  let weights = new Uint8Array(0);
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData;
      const buffers = Array.isArray(data) ? data : data ? [data] : [];
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      weights = new Uint8Array(total);
      let o = 0;
      for (const b of buffers) {
        weights.set(new Uint8Array(b), o);
        o += b.byteLength;
      }
      modelJson = JSON.stringify({
        format: 'layers-model',
        generatedBy: `rnnlab ${VERSION} (TensorFlow.js ${tf.version.tfjs})`,
        convertedBy: null,
        modelTopology: convertedTopology(kerasGruConfigs(a.modelTopology) as Record<string, unknown>, spec),
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
        userDefinedMetadata: {
          rnnlab: {
            spec: specToJSON(spec),
            input:
              spec.embedding > 0
                ? `token ids [batch, time] (int32, < ${spec.inputSize})`
                : spec.input === 'tokens'
                  ? `one-hot [batch, time, ${spec.inputSize}] (tf.oneHot of token ids)`
                  : `[batch, time, ${spec.inputSize}]`,
            output: `${spec.loss === 'mse' ? 'values' : 'logits'} ${spec.returnSequences ? '[batch, time, ' : '[batch, '}${spec.outputSize}]`,
          },
        },
      });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: total } };
    }),
  );
  model.dispose();
  // weights first: a model.json always finds the weights it names
  writeFileAtomic(join(dir, 'weights.bin'), weights);
  writeFileAtomic(join(dir, 'model.json'), modelJson + '\n');
  return { dir, files: ['model.json', 'weights.bin'], weightBytes: weights.length, inputShape: spec.embedding > 0 ? [null, null] : [null, null, spec.inputSize] };
}

/**
 * The topology as tensorflowjs_converter writes a compiled Keras model's: model_config (the layers),
 * and training_config with the loss a Keras user compiles this model with (the head is linear, so
 * cross-entropy is SparseCategoricalCrossentropy(from_logits=True)). tf.loadLayersModel reads
 * model_config; rnnlab import reads both, and rnnlab's spec from userDefinedMetadata.
 */
function convertedTopology(topology: Record<string, unknown>, spec: ModelSpec): Record<string, unknown> {
  const { class_name, config, keras_version, backend, ...rest } = topology;
  return { keras_version, backend, ...rest, model_config: { class_name, config }, training_config: kerasTrainingConfig(spec) };
}

/**
 * rnnlab's reset-after GRU layers written as Keras writes a GRU with reset_after: true (class GRU,
 * Keras config keys), so the file is a Keras-format model: tfjs loads it after registerLayers(tf)
 * (tfjs/keras.ts), and any Keras-format reader sees a standard GRU. The layer names, and so the
 * weight names, stay as they are.
 */
function kerasGruConfigs<T>(topology: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (o.class_name === 'RnnlabGRUResetAfter') {
      const c = o.config as Record<string, unknown>;
      return {
        class_name: 'GRU',
        config: {
          name: c.name,
          trainable: c.trainable ?? true,
          ...(c.batch_input_shape ? { batch_input_shape: c.batch_input_shape } : {}),
          dtype: 'float32',
          return_sequences: c.return_sequences,
          return_state: c.return_state,
          go_backwards: c.go_backwards,
          stateful: false,
          unroll: false,
          units: c.units,
          activation: 'tanh',
          recurrent_activation: c.recurrent_activation === 'hardSigmoid' || c.recurrent_activation === 'hard_sigmoid' ? 'hard_sigmoid' : 'sigmoid',
          use_bias: true,
          dropout: 0,
          recurrent_dropout: 0,
          reset_after: true,
        },
      };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
  };
  return walk(topology) as T;
}
