/**
 * import(export(checkpoint)) is the checkpoint: `export --format tfjs` writes the layers, the
 * training_config a Keras user gets and rnnlab's spec in userDefinedMetadata; `import` reads them
 * back to the same ModelSpec and the same parameters, bit for bit, for every kind of model. Without
 * rnnlab's metadata (a file Keras tools rewrote) the layers and the training_config alone give the
 * same model, except what Keras cannot say: token ids read one-hot, the loss summed over time, the
 * forget-gate bias initialiser.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportTfjsModel } from '../src/engines/registry.js';
import { readKerasModel } from '../src/import/keras-files.js';
import { randomTestParams } from '../src/params.js';
import { type ModelSpec, parseSpec } from '../src/spec.js';

const KINDS: [string, Record<string, unknown>][] = [
  ['rnn tanh, dense, many-to-many, ce', { cell: 'rnn', inputSize: 5, hiddenSize: 4, outputSize: 3 }],
  ['rnn relu, token ids one-hot, ce summed over time (a character language model)', { cell: 'rnn', activation: 'relu', inputSize: 7, hiddenSize: 4, outputSize: 7, input: 'tokens', lossReduction: 'sumOverTime' }],
  ['lstm, unit forget bias, 2 layers, many-to-one, mse', { cell: 'lstm', unitForgetBias: true, layers: 2, inputSize: 3, hiddenSize: 5, outputSize: 2, returnSequences: false, loss: 'mse' }],
  ['lstm hardSigmoid, embedding, many-to-one, ce', { cell: 'lstm', recurrentActivation: 'hardSigmoid', inputSize: 9, embedding: 4, input: 'tokens', hiddenSize: 5, outputSize: 3, returnSequences: false }],
  ['gru reset-before, many-to-many, mse', { cell: 'gru', inputSize: 4, hiddenSize: 3, outputSize: 2, loss: 'mse' }],
  ['gru reset-after hardSigmoid, embedding, many-to-one, ce', { cell: 'gru', gruResetAfter: true, recurrentActivation: 'hardSigmoid', inputSize: 8, embedding: 3, input: 'tokens', hiddenSize: 4, outputSize: 3, returnSequences: false }],
  ['bidirectional lstm concat, 2 layers, many-to-many, ce', { cell: 'lstm', bidirectional: true, layers: 2, inputSize: 3, hiddenSize: 4, outputSize: 3 }],
  ['bidirectional gru reset-after sum, many-to-one, mse', { cell: 'gru', gruResetAfter: true, bidirectional: true, merge: 'sum', inputSize: 3, hiddenSize: 4, outputSize: 2, returnSequences: false, loss: 'mse' }],
  ['bidirectional rnn ave, embedding, many-to-many, ce', { cell: 'rnn', bidirectional: true, merge: 'ave', inputSize: 6, embedding: 3, input: 'tokens', hiddenSize: 4, outputSize: 3 }],
  ['bidirectional gru reset-before mul, token ids one-hot, many-to-one, ce', { cell: 'gru', bidirectional: true, merge: 'mul', inputSize: 5, input: 'tokens', hiddenSize: 3, outputSize: 4, returnSequences: false }],
];

/** What Keras's own files cannot say, and a file without rnnlab's metadata therefore reads otherwise. */
function withoutMetadata(spec: ModelSpec): ModelSpec {
  return parseSpec({ ...spec, input: spec.embedding ? spec.input : 'dense', lossReduction: 'mean', ...(spec.cell === 'lstm' ? { unitForgetBias: false } : {}) });
}

describe('import(export(checkpoint)): the same spec and the same parameters, bit for bit', () => {
  it.each(KINDS)('%s', async (_what, raw) => {
    const spec = parseSpec(raw);
    const params = randomTestParams(spec, 7); // asymmetric, non-zero biases: a swapped or dropped tensor cannot pass
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-roundtrip-'));
    await exportTfjsModel(spec, params, dir, 'wasm');
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    // the training_config a Keras user gets for this model (the exported head is linear)
    expect(json.modelTopology.training_config.loss).toEqual(
      spec.loss === 'mse'
        ? { class_name: 'MeanSquaredError', config: { reduction: 'auto', name: 'mean_squared_error' } }
        : { class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: true, ignore_class: null } },
    );
    const back = readKerasModel(join(dir, 'model.json'));
    expect(back.spec).toEqual(spec);
    expect(back.notes).toEqual([]);
    expect(Object.keys(back.params).sort()).toEqual(Object.keys(params).sort());
    for (const [k, t] of Object.entries(params)) {
      expect(back.params[k].shape, k).toEqual(t.shape);
      expect(Buffer.from(back.params[k].data.buffer, back.params[k].data.byteOffset, back.params[k].data.byteLength).equals(Buffer.from((t.data as Float32Array).buffer)), k).toBe(true);
    }
    // the same file as Keras tools leave it, without rnnlab's metadata: the layers and training_config alone
    delete json.userDefinedMetadata;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    expect(readKerasModel(join(dir, 'model.json')).spec).toEqual(withoutMetadata(spec));
  });
});
