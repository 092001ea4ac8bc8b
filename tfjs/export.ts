/**
 * Export for TensorFlow.js users: model.json + weights.bin that tf.loadLayersModel loads, written
 * through tf.io.withSaveHandler (no tfjs-node needed). The model is a tf.Sequential of tfjs's own
 * layers; token models take one-hot input [B, T, vocabulary] (tf.oneHot of the ids), since the
 * twin never uses an Embedding layer.
 */
import { join } from 'node:path';
import { InputError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import type { NamedParams } from '../src/params.js';
import { type ModelSpec, specToJSON } from '../src/spec.js';
import { VERSION } from '../src/version.js';
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
  if (spec.cell === 'gru' && spec.gruResetAfter) {
    throw new InputError(
      'tfjs has no reset-after GRU layer, so tf.loadLayersModel could not load this model; export it for PyTorch with `rnnlab convert --to pytorch` instead',
    );
  }
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
        modelTopology: a.modelTopology,
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
  return { dir, files: ['model.json', 'weights.bin'], weightBytes: weights.length, inputShape: [null, null, spec.inputSize] };
}
