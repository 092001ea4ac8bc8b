/**
 * The tfjs weight adapter, memory, optimizer state, backends and export.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { TOLERANCES, compareArrays } from '../src/tolerance.js';
import { ScratchEngine } from '../scratch/engine.js';
import { writeCheckpoint } from '../src/io/checkpoint.js';
import { randomBatch } from '../src/data/synthetic.js';
import { optimizerSpec } from '../src/optimizer.js';
import { type NamedParams, randomTestParams } from '../src/params.js';
import { type LoadedTf, loadTf } from '../tfjs/backend.js';
import { createTfjsEngine } from '../tfjs/engine.js';
import { exportTfjs } from '../tfjs/export.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { expectClose } from './helpers/close.js';

let loaded: LoadedTf;
beforeAll(async () => {
  loaded = await loadTf('wasm');
});

/** Swaps gate blocks a and b in every [.., G*H] parameter of recurrent layer 0. */
function swapGates(p: NamedParams, H: number, G: number, a: number, b: number): NamedParams {
  const out: NamedParams = {};
  for (const [name, t] of Object.entries(p)) {
    const data = t.data.slice() as Float32Array;
    if (name.startsWith('layers.0.')) {
      const cols = G * H;
      for (let r = 0; r < data.length / cols; r++) {
        for (let j = 0; j < H; j++) {
          const x = data[r * cols + a * H + j];
          data[r * cols + a * H + j] = data[r * cols + b * H + j];
          data[r * cols + b * H + j] = x;
        }
      }
    }
    out[name] = { ...t, data };
  }
  return out;
}

describe('weight adapter', () => {
  test.each(VARIANTS)('$label: canonical -> tfjs -> canonical is bit exact', async ({ fields }) => {
    const spec = makeSpec({ ...fields, layers: 2 });
    const params = randomTestParams(spec, 8);
    const e = await createTfjsEngine(spec, { backend: 'wasm', params });
    const back = await e.getParams();
    expect(Object.keys(back)).toEqual(Object.keys(params));
    for (const name of Object.keys(params)) {
      expect(back[name].shape).toEqual(params[name].shape);
      expect(Buffer.from(back[name].data.buffer).equals(Buffer.from(params[name].data.buffer)), name).toBe(true);
    }
    e.dispose();
  });

  test.each([
    { cell: 'lstm' as const, G: 4, a: 0, b: 1, label: 'lstm i <-> f' },
    { cell: 'lstm' as const, G: 4, a: 2, b: 3, label: 'lstm c <-> o' },
    { cell: 'gru' as const, G: 3, a: 0, b: 1, label: 'gru z <-> r' },
  ])('a swapped gate order is detected ($label)', async ({ cell, G, a, b }) => {
    const spec = makeSpec({ cell }, { inputSize: 5, hiddenSize: 8, outputSize: 6 });
    const params = randomTestParams(spec, 9);
    const batch = randomBatch(spec, 2, 5, 10);
    const scratch = new ScratchEngine(spec, { params });
    const good = await createTfjsEngine(spec, { backend: 'wasm', params });
    const bad = await createTfjsEngine(spec, { backend: 'wasm', params: swapGates(params, 8, G, a, b) });
    const ref = scratch.forward(batch).output;
    expectClose('output', (await good.forward(batch)).output, ref, 'forward');
    expect(compareArrays((await bad.forward(batch)).output, ref).maxRelError).toBeGreaterThan(100 * TOLERANCES.forward.limit);
    good.dispose();
    bad.dispose();
  });
});

describe('memory', () => {
  test('50 training steps keep tf.memory().numTensors flat', async () => {
    const spec = makeSpec({ cell: 'lstm', layers: 2 }, { inputSize: 5, hiddenSize: 8, outputSize: 6 });
    const e = await createTfjsEngine(spec, { backend: 'wasm', optimizer: optimizerSpec('adam', { clipNorm: 1, clipValue: 1 }) });
    const batch = randomBatch(spec, 3, 6, 1, { mask: true, initialState: true });
    let at5 = 0;
    for (let i = 1; i <= 50; i++) {
      await e.step(batch);
      if (i === 5) at5 = e.numTensors();
    }
    expect(e.numTensors()).toBe(at5);
    // forward, gradients and optimizer state reads do not leak either
    const before = e.numTensors();
    await e.forward(batch);
    await e.lossAndGrads(batch, { inputGrad: true, stateGrads: true });
    await e.optimizerState();
    await e.setOptimizerState(await e.optimizerState());
    expect(e.numTensors()).toBe(before);
    const { tf } = loaded;
    const all = tf.memory().numTensors;
    e.dispose();
    expect(tf.memory().numTensors).toBeLessThan(all);
  });
});

describe('optimizer state', () => {
  test.each(['adam', 'rmsprop', 'adagrad', 'momentum', 'sgd'])('%s: saved, restored into a new engine, continues identically', async (name) => {
    const spec = makeSpec({ cell: 'gru' }, { inputSize: 5, hiddenSize: 8, outputSize: 6 });
    const opt = optimizerSpec(name, { lr: 0.01, ...(name === 'rmsprop' ? { momentum: 0.5 } : {}) });
    const a = await createTfjsEngine(spec, { backend: 'wasm', seed: 1, optimizer: opt });
    const batch = randomBatch(spec, 3, 6, 2);
    for (let i = 0; i < 3; i++) await a.step(batch);
    const state = await a.optimizerState();
    expect(state.iterations.data[0]).toBe(3);
    const b = await createTfjsEngine(spec, { backend: 'wasm', params: await a.getParams(), optimizer: opt });
    await b.setOptimizerState(state);
    const la = (await a.step(batch)).loss;
    const lb = (await b.step(batch)).loss;
    expect(lb).toBe(la);
    const pa = await a.getParams();
    const pb = await b.getParams();
    for (const p of Object.keys(pa)) expect(Array.from(pb[p].data)).toEqual(Array.from(pa[p].data));
    // the scratch engine reads the same state (same slot names)
    const s = new ScratchEngine(spec, { params: pa, optimizer: opt });
    await s.setOptimizerState(state);
    a.dispose();
    b.dispose();
  });
});

describe('backends', () => {
  test('auto picks the best available and says which', async () => {
    const l = await loadTf('auto');
    expect(['node', 'wasm']).toContain(l.backend);
    if (l.backend === 'wasm') expect(l.skipped.node).toBeTruthy();
  });

  test('asking for tfjs-node where it is not installed is a clear error', async () => {
    const l = await loadTf('auto');
    if (l.backend === 'node') return; // installed here: nothing to refuse
    await expect(loadTf('node')).rejects.toThrow(/backend node is not available: @tensorflow\/tfjs-node is unavailable/);
  });
});

describe('export --format tfjs', () => {
  test.each(VARIANTS.filter((v) => !v.fields.gruResetAfter))('$label: tf.loadLayersModel loads it and gives the same outputs', async ({ fields }) => {
    const { tf } = loaded;
    const spec = makeSpec({ ...fields, layers: 2, input: 'tokens', inputSize: 7 });
    const params = randomTestParams(spec, 12);
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-export-'));
    await exportTfjs(tf, spec, params, dir);
    // load it as a user would, from the two files
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const bin = readFileSync(join(dir, 'weights.bin'));
    const model = await tf.loadLayersModel({
      load: async () => ({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    });
    const batch = randomBatch(spec, 2, 5, 13);
    const out = tf.tidy(() => (model.predict(tf.oneHot(tf.tensor2d(batch.x as Int32Array, [2, 5], 'int32'), 7).toFloat()) as import('@tensorflow/tfjs').Tensor).dataSync());
    const ref = new ScratchEngine(spec, { dtype: 'float64', params }).forward(batch).output;
    expectClose('output', out, ref, 'forward');
    expect(modelJson.userDefinedMetadata.rnnlab.spec.cell).toBe(spec.cell);
    model.dispose();
  });

  test.each(['concat', 'ave'])('a bidirectional LSTM with an embedding (%s): tf.loadLayersModel loads Embedding and Bidirectional layers and gives the same outputs', async (merge) => {
    const { tf } = loaded;
    const spec = makeSpec({ cell: 'lstm', layers: 2, input: 'tokens', inputSize: 9, embedding: 4, bidirectional: true, merge: merge as 'concat' });
    const params = randomTestParams(spec, 14);
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-export-'));
    await exportTfjs(tf, spec, params, dir);
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const bin = readFileSync(join(dir, 'weights.bin'));
    const model = await tf.loadLayersModel({
      load: async () => ({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }),
    });
    const classes = modelJson.modelTopology.model_config.config.layers.map((l: { class_name: string }) => l.class_name);
    expect(classes).toEqual(['Embedding', 'Bidirectional', 'Bidirectional', 'TimeDistributed']);
    const batch = randomBatch(spec, 2, 5, 15);
    const out = tf.tidy(() => (model.predict(tf.tensor2d(batch.x as Int32Array, [2, 5], 'int32')) as import('@tensorflow/tfjs').Tensor).dataSync());
    expectClose('output', out, new ScratchEngine(spec, { dtype: 'float64', params }).forward(batch).output, 'forward');
    expect(modelJson.userDefinedMetadata.rnnlab.input).toMatch(/^token ids \[batch, time\]/);
    model.dispose();
  });

  test('the CLI exports a checkpoint directory; a reset-after GRU is written as a Keras GRU with reset_after and a note on registerLayers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-export-'));
    const spec = makeSpec({ cell: 'lstm' });
    writeCheckpoint(join(dir, 'ck'), { spec, params: randomTestParams(spec, 1) });
    const r = rnnlab(['export', join(dir, 'ck'), '--format', 'tfjs', '-o', join(dir, 'web'), '--backend', 'wasm']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backend wasm');
    expect(JSON.parse(readFileSync(join(dir, 'web', 'model.json'), 'utf8')).format).toBe('layers-model');
    const gspec = makeSpec({ cell: 'gru', gruResetAfter: true });
    writeCheckpoint(join(dir, 'gru'), { spec: gspec, params: randomTestParams(gspec, 1) });
    const g = rnnlab(['export', join(dir, 'gru'), '-o', join(dir, 'web2'), '--backend', 'wasm']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/loads only after registerLayers\(tf\)/);
    const layers = JSON.parse(readFileSync(join(dir, 'web2', 'model.json'), 'utf8')).modelTopology.model_config.config.layers;
    expect(layers[0]).toMatchObject({ class_name: 'GRU', config: { reset_after: true, units: gspec.hiddenSize } });
    expectOneLineError(rnnlab(['export', join(dir, 'nothing'), '-o', join(dir, 'web3')]), /no such checkpoint directory or weights file/, expect);
  });
});
