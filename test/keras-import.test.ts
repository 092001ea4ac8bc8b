/**
 * Keras / TensorFlow.js layers models in: `rnnlab import`, `check --model`, registerLayers, and
 * `export` of reset-after GRUs. The fixtures (test/fixtures/keras/) are Keras-format files written
 * without Keras by scripts/keras-fixtures.py, whose expected outputs NumPy computes in float64 from
 * the Keras 2 equations (independent of rnnlab).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openProvider, referenceEngine } from '../src/engines/registry.js';
import type { Batch } from '../src/engine.js';
import { batchForModel, importKerasModel, modelFiles } from '../src/import/keras.js';
import { readKerasModel } from '../src/import/keras-files.js';
import { optimizerSpec } from '../src/optimizer.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { loadTf } from '../tfjs/backend.js';
import { registerLayers } from '../tfjs/keras.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { expectClose } from './helpers/close.js';
import { unzipSync, zipSync } from 'fflate';
import { encodeSafetensors as safetensorsOf } from '../src/io/safetensors.js';

const FIX = join(ROOT, 'test', 'fixtures', 'keras');
const NAMES = ['gru-reset-after', 'gru-logits', 'lstm-stack', 'bilstm'] as const;
/** Every fixture file: the model.json of each model, and the same model as Keras 3 .keras and Keras 2 .h5 files. */
const FILES: [string, string][] = [
  ...NAMES.map((n): [string, string] => [n, 'model.json']),
  ...(['gru-logits', 'lstm-stack', 'bilstm'] as const).flatMap((n): [string, string][] => [[n, 'model.keras'], [n, 'model.h5']]),
];
const tmp = (): string => mkdtempSync(join(tmpdir(), 'rnnlab-keras-'));

interface Expected {
  x: { dtype: 'int32' | 'float32'; shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
}
const expected = (n: string): Expected => JSON.parse(readFileSync(join(FIX, n, 'expected.json'), 'utf8'));

function batchOf(n: string): Batch {
  const e = expected(n);
  const [B, T] = e.x.shape;
  return { batchSize: B, seqLen: T, x: e.x.dtype === 'int32' ? Int32Array.from(e.x.data) : Float32Array.from(e.x.data) };
}

/** The model's own output from the logits: softmax rows for a softmax head, else the values. */
function activate(logits: ArrayLike<number>, O: number, softmax: boolean): number[] {
  const out = Array.from(logits);
  if (!softmax) return out;
  for (let r = 0; r < out.length / O; r++) {
    const row = out.slice(r * O, r * O + O);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => (out[r * O + i] = v / s));
  }
  return out;
}

describe('rnnlab import: Keras-format models', () => {
  it('reads each fixture as the ModelSpec it is', () => {
    const gru = readKerasModel(join(FIX, 'gru-reset-after', 'model.json'));
    expect(gru.spec).toMatchObject({ cell: 'gru', gruResetAfter: true, input: 'tokens', inputSize: 20, embedding: 6, hiddenSize: 8, outputSize: 4, returnSequences: false, loss: 'softmaxCrossEntropy' });
    expect(gru.masking).toEqual({ kind: 'zero' });
    expect(gru.sources['layers.0.bias']).toBe('gru/gru_cell/bias');
    const stack = readKerasModel(join(FIX, 'lstm-stack', 'model.json'));
    expect(stack.spec).toMatchObject({ cell: 'lstm', layers: 2, input: 'dense', inputSize: 5, returnSequences: true, loss: 'mse' });
    expect(stack.notes.join(' ')).toMatch(/dropout: Dropout \(rate 0\.2\) is the identity at inference/);
    const bi = readKerasModel(join(FIX, 'bilstm', 'model.json'));
    expect(bi.spec).toMatchObject({ cell: 'lstm', layers: 2, bidirectional: true, merge: 'concat', returnSequences: false });
    expect(bi.sources['layers.1.backward.recurrentKernel']).toBe('bidirectional_1/backward_lstm_1/lstm_cell_5/recurrent_kernel');
    // the compiled loss, and which loss rnnlab took
    expect(gru.loss).toBe('cross-entropy of the softmax head (compiled: sparse_categorical_crossentropy)');
    expect(stack.loss).toBe('mse (compiled: mse)');
    const logits = readKerasModel(join(FIX, 'gru-logits', 'model.json'));
    expect(logits.spec).toMatchObject({ cell: 'gru', gruResetAfter: true, embedding: 5, returnSequences: false, loss: 'softmaxCrossEntropy' });
    expect(logits.outputActivation).toBe('linear');
    expect(logits.loss).toBe("cross-entropy from the head's logits (compiled: SparseCategoricalCrossentropy(from_logits=True))");
  });

  it.each(['gru-logits', 'lstm-stack', 'bilstm'])('%s: model.keras (Keras 3) and model.h5 (Keras 2) read as the model.json: the same spec, loss and weights, bit for bit', (n) => {
    const json = readKerasModel(join(FIX, n, 'model.json'));
    for (const file of ['model.keras', 'model.h5']) {
      const m = readKerasModel(join(FIX, n, file));
      expect(m.source.format).toBe(file === 'model.keras' ? 'keras' : 'h5');
      expect(m.spec, file).toEqual(json.spec);
      expect(m.masking, file).toEqual(json.masking);
      expect(m.layers.filter((l) => l.op !== 'input').map((l) => [l.kind, l.role]), file).toEqual(json.layers.filter((l) => l.op !== 'input').map((l) => [l.kind, l.role]));
      expect(Object.keys(m.params).sort(), file).toEqual(Object.keys(json.params).sort());
      for (const [k, t] of Object.entries(json.params)) expect(Buffer.from(m.params[k].data.buffer, m.params[k].data.byteOffset, m.params[k].data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${file} ${k}`).toBe(true);
    }
    expect(readKerasModel(join(FIX, n, 'model.keras')).source.kerasVersion).toBe('3.6.0');
  });

  // float64 scratch on the file's float32 weights against NumPy's float64 on the same weights: both
  // compute in float64 from identical inputs, so they agree to rounding (1e-12 leaves room for the order of sums)
  it.each(FILES)('%s/%s: float64 scratch gives the outputs NumPy computed from the Keras equations (1e-12)', (n, file) => {
    const m = readKerasModel(join(FIX, n, file));
    const ref = referenceEngine(m.spec, { params: m.params, optimizer: optimizerSpec('sgd') });
    const { output } = ref.forward(batchForModel(m, batchOf(n), true));
    expectClose(`${n} output`, activate(output, m.spec.outputSize, m.outputActivation === 'softmax'), expected(n).output.data, 1e-12, { absolute: true });
  });

  // tfjs computes in float32: 1e-5 is the harness's forward limit for float32 engines
  it.each(FILES)('%s/%s: the model as tf.loadLayersModel loads it (keras-model engine, wasm) gives the same outputs (1e-5)', async (n, file) => {
    const m = readKerasModel(join(FIX, n, file));
    const p = await openProvider({ kind: 'keras', model: m, backend: 'wasm' });
    const e = await p.open(m.spec, { params: m.params, optimizer: optimizerSpec('sgd') });
    try {
      const { output } = await e.forward(batchForModel(m, batchOf(n), true));
      expectClose(`${n} output`, activate(output, m.spec.outputSize, m.outputActivation === 'softmax'), expected(n).output.data, 1e-5, { absolute: true });
      expect(p.tfjs!.numTensors()).toBeGreaterThan(0);
    } finally {
      await e.dispose();
    }
  });

  it('plain tfjs: registerLayers makes tf.loadLayersModel accept the reset-after GRU, and model.predict gives the expected outputs', async () => {
    const { tf } = await loadTf('wasm');
    const path = join(FIX, 'gru-reset-after', 'model.json');
    // without the registration tfjs refuses the layer, as it does for every Keras 2 GRU
    const fresh = JSON.parse(readFileSync(path, 'utf8'));
    const refused = await (async () => {
      try {
        const cfg = fresh.modelTopology.model_config.config.layers[2];
        tf.layers.gru({ units: 8, resetAfter: cfg.config.reset_after } as never);
        return null;
      } catch (err) {
        return String(err);
      }
    })();
    expect(refused).toMatch(/does not support reset_after/);
    registerLayers(tf);
    registerLayers(tf); // twice is harmless
    const model = await tf.loadLayersModel(modelFiles(path));
    const e = expected('gru-reset-after');
    const x = tf.tensor2d(e.x.data, e.x.shape as [number, number], 'int32');
    const y = model.predict(x) as import('@tensorflow/tfjs').Tensor;
    expectClose('model.predict', y.dataSync(), e.output.data, 1e-5, { absolute: true });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('check --model passes against scratch, the tfjs twin and the loaded model, naming keras-model in every table', () => {
    const r = rnnlab(['check', '--model', join(FIX, 'gru-reset-after', 'model.json'), '--batch', '3', '--seq', '6', '--mask', '--steps', '2', '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass).toBe(true);
    expect(j.data.masked).toBe(true);
    expect(j.engines.map((e: { name: string }) => e.name)).toEqual(expect.arrayContaining(['scratch', 'tfjs-wasm', 'keras-model', 'scratch-f64']));
    const kerasGrads = j.gradients.filter((g: { engine: string }) => g.engine === 'keras-model').map((g: { what: string }) => g.what);
    expect(kerasGrads).toEqual(['embedding', 'layers.0.kernel', 'layers.0.recurrentKernel', 'layers.0.bias', 'head.kernel', 'head.bias']);
    expect(j.skipped).toEqual(expect.arrayContaining([expect.objectContaining({ engine: 'keras-model', what: 'lockstep training' })]));
  });

  it('import writes a checkpoint that check, convert --to pytorch and export accept; the export loads back with registerLayers bit for bit', async () => {
    const d = tmp();
    const out = join(d, 'gru');
    const r = rnnlab(['import', join(FIX, 'gru-reset-after', 'model.json'), '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/as rnnlab: gru \(sigmoid, reset-after\) tokens<20 -> embedding 6 -> 1x8 -> 4/);
    expect(readdirSync(out).sort()).toEqual(['import.json', 'params.safetensors', 'spec.json']);
    const ck = readCheckpoint(out);
    const m = readKerasModel(join(FIX, 'gru-reset-after', 'model.json'));
    for (const [k, t] of Object.entries(m.params)) expect(Buffer.from((ck.params[k].data as Float32Array).buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'import.json'), 'utf8')).masking).toEqual({ kind: 'zero' });
    const c = rnnlab(['check', '--spec', join(out, 'spec.json'), '--weights', join(out, 'params.safetensors'), '--steps', '1', '--no-tfjs', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const pt = rnnlab(['convert', out, '--to', 'pytorch', '-o', join(d, 'gru.pt.safetensors')]);
    expect(pt.code, pt.stderr).toBe(0);
    expect(pt.stdout).toMatch(/bias_hh_l0/);
    // export as a Keras GRU with reset_after: true, then read it back both ways
    const ex = rnnlab(['export', out, '-o', join(d, 'web'), '--backend', 'wasm']);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(/registerLayers/);
    const topo = JSON.stringify(JSON.parse(readFileSync(join(d, 'web', 'model.json'), 'utf8')).modelTopology);
    expect(topo).toMatch(/"class_name":"GRU","config":\{[^}]*"reset_after":true/);
    expect(topo).not.toMatch(/"class_name":"RnnlabGRUResetAfter"/);
    const back = readKerasModel(join(d, 'web', 'model.json'));
    for (const [k, t] of Object.entries(m.params)) expect(Buffer.from(back.params[k].data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
    const { tf } = await loadTf('wasm');
    registerLayers(tf);
    const model = await tf.loadLayersModel(modelFiles(join(d, 'web', 'model.json')));
    const ids = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
    const y = model.predict(tf.tensor2d(ids, [2, 4], 'int32')) as import('@tensorflow/tfjs').Tensor;
    const ref = referenceEngine(m.spec, { params: m.params, optimizer: optimizerSpec('sgd') }).forward({ batchSize: 2, seqLen: 4, x: ids });
    // the export's head is linear (logits); float32 tfjs against float64 scratch: the forward limit
    expectClose('exported logits', y.dataSync(), ref.output, 1e-5, { absolute: true });
    y.dispose();
    model.dispose();
  });

  it('import --vocab makes a Keras character language model a checkpoint generate reads', () => {
    const d = tmp();
    // a small LM in Keras format: Embedding(5, 3) -> SimpleRNN(4, return_sequences) -> TimeDistributed(Dense(5, softmax))
    const V = 5;
    const shapes: [string, number[]][] = [
      ['embedding/embeddings', [V, 3]],
      ['simple_rnn/simple_rnn_cell/kernel', [3, 4]],
      ['simple_rnn/simple_rnn_cell/recurrent_kernel', [4, 4]],
      ['simple_rnn/simple_rnn_cell/bias', [4]],
      ['time_distributed/kernel', [4, V]],
      ['time_distributed/bias', [V]],
    ];
    const n = shapes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
    const w = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 0.5);
    writeFileSync(join(d, 'group1-shard1of1.bin'), Buffer.from(w.buffer));
    const model = {
      format: 'layers-model',
      modelTopology: {
        keras_version: '2.13.1',
        model_config: {
          class_name: 'Sequential',
          config: {
            name: 'lm',
            layers: [
              { class_name: 'Embedding', config: { name: 'embedding', batch_input_shape: [null, null], input_dim: V, output_dim: 3, mask_zero: false } },
              { class_name: 'SimpleRNN', config: { name: 'simple_rnn', units: 4, activation: 'tanh', use_bias: true, return_sequences: true } },
              { class_name: 'TimeDistributed', config: { name: 'time_distributed', layer: { class_name: 'Dense', config: { name: 'dense', units: V, activation: 'softmax', use_bias: true } } } },
            ],
          },
        },
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: shapes.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }],
    };
    writeFileSync(join(d, 'model.json'), JSON.stringify(model));
    // the newline is a token here, so the vocabulary is a JSON array (a one-per-line file cannot hold it)
    writeFileSync(join(d, 'vocab.json'), JSON.stringify(['\n', ' ', 'a', 'b', 'c']));
    const r = rnnlab(['import', join(d, 'model.json'), '-o', join(d, 'ck'), '--vocab', join(d, 'vocab.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rnnlab generate --checkpoint/);
    const g = rnnlab(['generate', '--checkpoint', join(d, 'ck'), '--length', '30', '--prime', 'ab', '--json']);
    expect(g.code, g.stderr).toBe(0);
    const text = JSON.parse(g.stdout).text as string;
    expect(text).toHaveLength(30);
    expect(text).toMatch(/^[\n abc]+$/);
    // a vocabulary of the wrong size is one line
    writeFileSync(join(d, 'short.json'), JSON.stringify(['a', 'b']));
    expectOneLineError(rnnlab(['import', join(d, 'model.json'), '-o', join(d, 'ck2'), '--vocab', join(d, 'short.json')]), /2 tokens, but the model's Embedding takes 5/, expect);
    expect(existsSync(join(d, 'ck2'))).toBe(false);
  });
});

describe('the loss a Keras model was compiled with', () => {
  const base = (): any => JSON.parse(readFileSync(join(FIX, 'gru-logits', 'model.json'), 'utf8'));
  const shard = (): Uint8Array => readFileSync(join(FIX, 'gru-logits', 'group1-shard1of1.bin'));
  /** gru-logits (a linear head) compiled with `loss`, its head's activation set to `activation`. */
  const compiled = (loss: unknown, activation = 'linear', o: { loss?: 'ce' | 'mse' } = {}) => {
    const m = base();
    if (loss === undefined) delete m.modelTopology.training_config;
    else m.modelTopology.training_config.loss = loss;
    m.modelTopology.model_config.config.layers[3].config.activation = activation;
    return importKerasModel(m, 'model.json', shard, o);
  };
  const sparse = (config: Record<string, unknown>) => ({ class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', ...config } });

  it('reads sparse and one-hot cross-entropy with and without from_logits, and mse, as rnnlab losses', () => {
    expect(compiled(sparse({ from_logits: true })).spec.loss).toBe('softmaxCrossEntropy');
    expect(compiled(sparse({ from_logits: false }), 'softmax').spec.loss).toBe('softmaxCrossEntropy');
    expect(compiled('sparse_categorical_crossentropy', 'softmax').spec.loss).toBe('softmaxCrossEntropy');
    const onehot = compiled({ class_name: 'CategoricalCrossentropy', config: { from_logits: true, label_smoothing: 0 } });
    expect(onehot.spec.loss).toBe('softmaxCrossEntropy');
    expect(onehot.notes.join(' ')).toMatch(/one-hot targets; rnnlab takes class ids/);
    expect(compiled('categorical_crossentropy', 'softmax').spec.loss).toBe('softmaxCrossEntropy');
    // Keras 3 writes a loss function as {class_name: "function", config: name}
    expect(compiled({ module: 'keras.losses', class_name: 'function', config: 'mean_squared_error', registered_name: 'function' }).spec.loss).toBe('mse');
    expect(compiled('mse').loss).toBe('mse (compiled: mse)');
    expect(compiled({ class_name: 'MeanSquaredError', config: { reduction: 'sum_over_batch_size' } }).spec.loss).toBe('mse');
  });

  it('refuses what rnnlab cannot compute, saying why', () => {
    expect(() => compiled(sparse({ from_logits: true }), 'softmax')).toThrow(/takes logits, but head dense ends in softmax: Keras applies softmax twice/);
    expect(() => compiled(sparse({ from_logits: false }))).toThrow(/takes probabilities \(from_logits False\), but head dense is linear/);
    expect(() => compiled('mse', 'softmax')).toThrow(/applies to head dense, which ends in softmax/);
    expect(() => compiled('binary_crossentropy')).toThrow(/binary_crossentropy is not one of rnnlab's losses .*two-class softmax/);
    expect(() => compiled('mean_absolute_error')).toThrow(/mean_absolute_error is not one of rnnlab's losses/);
    expect(() => compiled({ class_name: 'CategoricalCrossentropy', config: { from_logits: true, label_smoothing: 0.1 } })).toThrow(/label_smoothing 0\.1/);
    expect(() => compiled(sparse({ from_logits: true, ignore_class: 0 }))).toThrow(/ignores class 0/);
    expect(() => compiled(sparse({ from_logits: true, reduction: 'sum' }))).toThrow(/reduces with "sum"/);
    expect(() => compiled(['mse', 'mse'])).toThrow(/compiled with 2 losses/);
    // --loss is for a model compiled with none; it may not contradict the compiled one
    expect(() => compiled('mse', 'linear', { loss: 'ce' })).toThrow(/--loss ce contradicts it/);
    expect(compiled('mse', 'linear', { loss: 'mse' }).spec.loss).toBe('mse');
  });

  it('a model compiled with none: the head decides, or --loss', () => {
    expect(compiled(undefined).spec.loss).toBe('mse');
    expect(compiled(undefined).loss).toMatch(/mse \(the linear head; the model has no compiled loss: --loss ce reads its outputs as logits\)/);
    expect(compiled(undefined, 'softmax').spec.loss).toBe('softmaxCrossEntropy');
    const ce = compiled(undefined, 'linear', { loss: 'ce' });
    expect(ce.spec.loss).toBe('softmaxCrossEntropy');
    expect(ce.loss).toBe("cross-entropy from the head's logits (--loss ce; the model has no compiled loss)");
    expect(() => compiled(undefined, 'softmax', { loss: 'mse' })).toThrow(/--loss mse does not fit head dense, which ends in softmax/);
  });

  it('import prints the loss it used; check --model takes class ids for a from-logits model, and --loss for a model compiled with none', () => {
    const d = tmp();
    const imp = rnnlab(['import', join(FIX, 'gru-logits', 'model.keras'), '-o', join(d, 'ck')]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/^loss: cross-entropy from the head's logits \(compiled: SparseCategoricalCrossentropy\(from_logits=True\)\)$/m);
    expect(JSON.parse(readFileSync(join(d, 'ck', 'spec.json'), 'utf8')).loss).toBe('softmaxCrossEntropy');
    // the same model without its training_config, and class ids as y: --loss ce makes it the cross-entropy model
    cpSync(join(FIX, 'gru-logits'), join(d, 'bare'), { recursive: true });
    const m = base();
    delete m.modelTopology.training_config;
    writeFileSync(join(d, 'bare', 'model.json'), JSON.stringify(m));
    writeFileSync(join(d, 'data.safetensors'), safetensorsOf({ x: { dtype: 'I32', shape: [2, 3], data: Int32Array.from([3, 4, 5, 6, 0, 0]) }, y: { dtype: 'I32', shape: [2], data: Int32Array.from([1, 3]) } }));
    const common = ['check', '--model', join(d, 'bare', 'model.json'), '--data', join(d, 'data.safetensors'), '--steps', '1', '--no-tfjs', '--backend', 'wasm', '--json'];
    expectOneLineError(rnnlab(common), /y is I32 \[2\], but this spec \(mse, many-to-one\) needs F32/, expect);
    const r = rnnlab([...common, '--loss', 'ce']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.spec.loss).toBe('softmaxCrossEntropy');
    expect(j.pass).toBe(true);
  });
});

describe('Keras 3 .keras and Keras 2 .h5 files', () => {
  it('check --model runs scratch, the tfjs twin and the file as tf.loadLayersModel builds it, for a .keras and an .h5 file', () => {
    for (const [n, file, mask] of [['gru-logits', 'model.keras', true], ['bilstm', 'model.h5', false]] as const) {
      const r = rnnlab(['check', '--model', join(FIX, n, file), '--batch', '3', '--seq', '5', ...(mask ? ['--mask'] : []), '--steps', '2', '--backend', 'wasm', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.pass).toBe(true);
      expect(j.engines.map((e: { name: string }) => e.name)).toEqual(expect.arrayContaining(['scratch', 'tfjs-wasm', 'keras-model', 'scratch-f64']));
      expect(j.gradients.some((g: { engine: string }) => g.engine === 'keras-model')).toBe(true);
    }
  });

  /** The fixture's .keras zip with config.json edited and files left out. */
  function kerasVariant(edit: (config: any) => void, drop: string[] = []): string {
    const files = unzipSync(readFileSync(join(FIX, 'bilstm', 'model.keras')));
    const config = JSON.parse(Buffer.from(files['config.json']).toString('utf8'));
    edit(config);
    files['config.json'] = new TextEncoder().encode(JSON.stringify(config));
    for (const f of drop) delete files[f];
    const p = join(tmp(), 'model.keras');
    writeFileSync(p, zipSync(files, { level: 0 }));
    return p;
  }
  const cases: [string, () => string, RegExp][] = [
    ['a zip without config.json', () => kerasVariant(() => {}, ['config.json']), /a zip without config\.json/],
    ['a .keras without its weights', () => kerasVariant(() => {}, ['model.weights.h5']), /no model\.weights\.h5/],
    ['a custom backward layer', () => kerasVariant((c) => (c.config.layers[1].config.backward_layer.config.units = 7)), /layer bidirectional: backward_layer "custom" is not representable/],
    ['a layer rnnlab does not have', () => kerasVariant((c) => (c.config.layers[2].class_name = 'Conv1D')), /layer bidirectional_1: class Conv1D is not something rnnlab can represent/],
    ['a loss rnnlab does not have', () => kerasVariant((c) => (c.compile_config.loss = 'kl_divergence')), /the compiled loss kl_divergence is not one of rnnlab's losses/],
    ['an .h5 that is not HDF5', () => { const p = join(tmp(), 'model.h5'); writeFileSync(p, 'not hdf5'); return p; }, /neither a zip \(\.keras\) nor an HDF5 file/],
    ['a cut .h5', () => { const p = join(tmp(), 'model.h5'); writeFileSync(p, readFileSync(join(FIX, 'bilstm', 'model.h5')).subarray(0, 4000)); return p; }, /model\.h5: /],
  ];
  it.each(cases)('%s: one line', (_what, make, pattern) => {
    expect(() => readKerasModel(make())).toThrow(pattern);
  });

  it('through the CLI: a bad .keras is one line on stderr, exit 2, and nothing written', () => {
    const out = join(tmp(), 'out');
    expectOneLineError(rnnlab(['import', cases[2][1](), '-o', out]), cases[2][2], expect);
    expect(existsSync(out)).toBe(false);
  });
});

describe('an imported classifier: predict, and fine-tuning with train --init', () => {
  it('import --vocab --labels gives a checkpoint predict reads; train --init fine-tunes it from its weights', () => {
    const d = tmp();
    const words = ['<pad>', '<unk>', ...Array.from({ length: 18 }, (_, i) => `w${i}`)];
    writeFileSync(join(d, 'vocab.json'), JSON.stringify(words));
    const rows = ['text,label'];
    for (let i = 0; i < 60; i++) rows.push(`${[0, 1, 2, 3, 4, 5].map((k) => words[2 + 4 * (i % 4) + ((i + k) % 4)]).join(' ')},${'abcd'[i % 4]}`);
    writeFileSync(join(d, 'f.csv'), rows.join('\n') + '\n');
    const ck = join(d, 'ck');
    const imp = rnnlab(['import', join(FIX, 'gru-reset-after', 'model.json'), '-o', ck, '--vocab', join(d, 'vocab.json'), '--labels', 'a,b,c,d']);
    expect(imp.code, imp.stderr).toBe(0);
    // predict = softmax of the imported model on the ids of the text: the NumPy fixture's first row is [19, 13, 19, 6, 4, 4, 4]
    const text = [19, 13, 19, 6, 4, 4, 4].map((i) => words[i]).join(' ');
    const p = rnnlab(['predict', '--checkpoint', ck, text, '--json']);
    expect(p.code, p.stderr).toBe(0);
    const probs = JSON.parse(p.stdout).probabilities as Record<string, number>;
    // float32 scratch against NumPy's float64: the forward limit
    expectClose('predict', ['a', 'b', 'c', 'd'].map((c) => probs[c]), expected('gru-reset-after').output.data.slice(0, 4), 1e-5, { absolute: true });
    const common = ['train', '--task', 'classify', '--csv', join(d, 'f.csv'), '--text-column', 'text', '--label-column', 'label', '--init', ck, '--epochs', '1'];
    // a learning rate of 1e-12 moves no weight by more than ~1e-11 in one epoch: the run's weights are the imported ones (a fresh initialisation is not)
    const t = rnnlab([...common, '--lr', '1e-12', '--out', join(d, 'run'), '--json']);
    expect(t.code, t.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(d, 'run', 'run.json'), 'utf8'));
    expect(run.initialisedFrom).toBe(ck);
    expect(run.spec).toEqual(JSON.parse(readFileSync(join(ck, 'spec.json'), 'utf8')));
    const steps = readdirSync(join(d, 'run', 'checkpoints')).filter((f) => f.startsWith('step-'));
    const tuned = readCheckpoint(join(d, 'run', 'checkpoints', steps[0])).params;
    const start = readCheckpoint(ck).params;
    for (const k of Object.keys(start)) expectClose(k, tuned[k].data, start[k].data, 1e-9, { absolute: true });
    expectOneLineError(rnnlab([...common, '--hidden', '16', '--out', join(d, 'run2')]), /--init .*differs .* in hiddenSize \(8 there, 16 here\)/, expect);
    // a token model imported without its vocabulary: its ids mean nothing to this data
    const bare = join(d, 'bare');
    expect(rnnlab(['import', join(FIX, 'gru-reset-after', 'model.json'), '-o', bare]).code).toBe(0);
    const noVocab = common.map((a) => (a === ck ? bare : a));
    expectOneLineError(rnnlab([...noVocab, '--out', join(d, 'run3')]), /--init .*has no vocabulary .*import it with --vocab/, expect);
  });
});

describe('rnnlab import: bad input is one line, exit 2, nothing written', () => {
  /** A copy of a fixture with its model.json changed by `edit` (and its shard replaced by `shard`). */
  function variant(name: string, edit: (m: any) => void, shard?: (b: Buffer) => Buffer): string {
    const d = tmp();
    cpSync(join(FIX, name), d, { recursive: true });
    const p = join(d, 'model.json');
    const m = JSON.parse(readFileSync(p, 'utf8'));
    edit(m);
    writeFileSync(p, JSON.stringify(m));
    if (shard) writeFileSync(join(d, 'group1-shard1of1.bin'), shard(readFileSync(join(d, 'group1-shard1of1.bin'))));
    return p;
  }
  const layers = (m: any): any[] => m.modelTopology.model_config.config.layers;

  const cases: [string, () => string, RegExp][] = [
    ['a missing file', () => join(tmp(), 'model.json'), /model\.json: no such file/],
    ['malformed JSON', () => { const d = tmp(); writeFileSync(join(d, 'model.json'), '{"format": "layers-model",'); return join(d, 'model.json'); }, /not valid JSON/],
    ['a graph model', () => variant('lstm-stack', (m) => (m.format = 'graph-model')), /graph model has no layers/],
    ['a missing shard', () => variant('lstm-stack', (m) => (m.weightsManifest[0].paths = ['group1-shard1of2.bin'])), /weight file group1-shard1of2\.bin it names is missing/],
    ['a short shard', () => variant('lstm-stack', () => {}, (b) => b.subarray(0, b.length - 8)), /a shard is short or missing/],
    ['a weight of the wrong shape', () => variant('lstm-stack', (m) => (m.weightsManifest[0].weights[0].shape = [4, 32], m.weightsManifest[0].weights[1].shape = [9, 32])), /lstm\/lstm_cell\/kernel has shape \[4, 32\], but layer lstm needs \[5, 32\]/],
    ['a weight no layer has', () => variant('lstm-stack', (m) => (m.weightsManifest[0].weights[7].name = 'dense_9/bias')), /layer time_distributed has no weight "bias"/],
    ['an unsupported layer', () => variant('lstm-stack', (m) => (m.modelTopology.model_config.config.layers[2].class_name = 'Conv1D')), /layer dropout: class Conv1D is not something rnnlab can represent/],
    ['a sigmoid head', () => variant('gru-reset-after', (m) => (layers(m)[3].config.activation = 'sigmoid')), /layer dense: activation "sigmoid" is not representable.*Dense\(2, softmax\)/],
    ['mixed cells', () => variant('lstm-stack', (m) => (m.modelTopology.model_config.config.layers[3].class_name = 'GRU')), /layer lstm_1: class .*differs from lstm's lstm/],
    ['an input that is not a sequence', () => variant('lstm-stack', (m) => (m.modelTopology.model_config.config.layers[0].config.batch_input_shape = [null, 5])), /input \[null, 5\] is not a sequence/],
    ['an unsupported option', () => variant('gru-reset-after', (m) => (layers(m)[2].config.go_backwards = true)), /layer gru: go_backwards true is not representable outside Bidirectional/],
    ['quantized weights', () => variant('lstm-stack', (m) => (m.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', scale: 1, min: 0 })), /quantized \("uint8"\)/],
  ];
  // through the parser in process (the CLI's own path for these is the same call); three of them through the CLI below
  it.each(cases)('%s', (_what, make, pattern) => {
    const path = make();
    expect(() => readKerasModel(path)).toThrow(pattern);
  });

  it('through the CLI: one line on stderr, exit 2, and no directory written', () => {
    for (const i of [0, 4, 8]) {
      const [, make, pattern] = cases[i];
      const out = join(tmp(), 'out');
      expectOneLineError(rnnlab(['import', make(), '-o', out]), pattern, expect);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('the parser alone refuses a functional model that is not one chain', () => {
    const m = JSON.parse(readFileSync(join(FIX, 'lstm-stack', 'model.json'), 'utf8'));
    m.modelTopology.model_config.config.layers[3].inbound_nodes = [[['dropout', 0, 0, {}], ['series', 0, 0, {}]]];
    expect(() => importKerasModel(m, 'model.json', () => readFileSync(join(FIX, 'lstm-stack', 'group1-shard1of1.bin')))).toThrow(/layer lstm_1 is not fed by exactly one layer/);
  });
});
