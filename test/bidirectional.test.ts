/**
 * Bidirectional layers and token embeddings in the scratch engine (issue 15, the scratch part):
 * - finite differences (float64) for every cell and variant, each merge mode, stacked, many-to-one
 *   and many-to-many, masks, token input, embeddings: limit 1e-6 (TOLERANCES.gradcheck);
 * - the semantics against an independent composition: two unidirectional engines (the forward
 *   weights on the sequence, the backward weights on each sequence reversed), merged and passed
 *   through the head by hand, to 1e-12 (float64 rounding of the same sums in another order);
 * - a padded, masked batch gives each sequence what it gives alone (the backward direction starts
 *   at each sequence's own last real step);
 * - an embedding is a lookup: the model equals a dense-input model fed the embedding's rows.
 */
import { describe, expect, test } from 'vitest';
import { TOLERANCES } from '../src/tolerance.js';
import { gradcheck } from '../compare/gradcheck.js';
import { ScratchEngine } from '../scratch/engine.js';
import { randomBatch } from '../src/data/synthetic.js';
import type { Batch } from '../src/engine.js';
import { type NamedParams, paramCount, paramLayout, randomTestParams } from '../src/params.js';
import { type ModelSpec, parseSpec, specToJSON } from '../src/spec.js';
import { VARIANTS } from './helpers/cases.js';
import { expectClose } from './helpers/close.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { needing, pythonWith } from './helpers/python.js';
import { fromPyTorch, toPyTorch } from '../src/pytorch.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTfjsEngine } from '../tfjs/engine.js';
import { openProvider, parseEngineRef } from '../src/engines/registry.js';
import { optimizerSpec } from '../src/optimizer.js';

const MERGES = ['concat', 'sum', 'mul', 'ave'] as const;

describe('spec and parameters', () => {
  test('canonical names and shapes: backward direction, embedding first, the head reading 2H after concat', () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 50, input: 'tokens', embedding: 8, hiddenSize: 4, layers: 2, outputSize: 3, bidirectional: true });
    expect(paramLayout(spec).map((p) => `${p.name} [${p.shape}]`)).toEqual([
      'embedding [50,8]',
      'layers.0.kernel [8,16]',
      'layers.0.recurrentKernel [4,16]',
      'layers.0.bias [16]',
      'layers.0.backward.kernel [8,16]',
      'layers.0.backward.recurrentKernel [4,16]',
      'layers.0.backward.bias [16]',
      'layers.1.kernel [8,16]',
      'layers.1.recurrentKernel [4,16]',
      'layers.1.bias [16]',
      'layers.1.backward.kernel [8,16]',
      'layers.1.backward.recurrentKernel [4,16]',
      'layers.1.backward.bias [16]',
      'head.kernel [8,3]',
      'head.bias [3]',
    ]);
    for (const merge of MERGES) {
      const s = parseSpec({ cell: 'gru', gruResetAfter: true, inputSize: 5, hiddenSize: 6, layers: 3, outputSize: 2, bidirectional: true, merge });
      expect(paramCount(s), merge).toBe(paramLayout(s).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
    }
    expect(paramCount(spec)).toBe(paramLayout(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
  });

  test('spec.json of a model without them is unchanged; bad combinations are refused in one line', () => {
    expect(Object.keys(specToJSON(parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2 })))).not.toContain('bidirectional');
    expect(specToJSON(parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2, bidirectional: true, merge: 'sum' }))).toMatchObject({ bidirectional: true, merge: 'sum' });
    expect(() => parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2, merge: 'sum' })).toThrow(/"merge" applies to bidirectional models only/);
    expect(() => parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2, embedding: 4 })).toThrow(/"embedding" looks up token ids; it needs "input": "tokens"/);
    expect(() => parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2, embedding: 1.5 })).toThrow(/"embedding" must be an integer >= 0/);
  });
});

describe('gradcheck (float64 central differences, limit 1e-6)', () => {
  const cases: { label: string; spec: ModelSpec; mask: boolean }[] = [];
  for (const v of VARIANTS) {
    for (const merge of MERGES) {
      cases.push({ label: `${v.label}, ${merge}, 2 layers, many-to-many, mask`, spec: parseSpec({ ...v.fields, inputSize: 3, hiddenSize: 4, outputSize: 5, layers: 2, bidirectional: true, merge }), mask: true });
    }
    cases.push({ label: `${v.label}, concat, many-to-one, mask`, spec: parseSpec({ ...v.fields, inputSize: 3, hiddenSize: 4, outputSize: 5, bidirectional: true, returnSequences: false }), mask: true });
    cases.push({ label: `${v.label}, embedding, bidirectional mul, many-to-one mse`, spec: parseSpec({ ...v.fields, inputSize: 7, input: 'tokens', embedding: 3, hiddenSize: 4, outputSize: 2, bidirectional: true, merge: 'mul', returnSequences: false, loss: 'mse' }), mask: false });
    cases.push({ label: `${v.label}, embedding, unidirectional, mask`, spec: parseSpec({ ...v.fields, inputSize: 7, input: 'tokens', embedding: 3, hiddenSize: 4, outputSize: 5 }), mask: true });
  }
  test.each(cases)('$label', ({ spec, mask }) => {
    const r = gradcheck(spec, { batch: 3, seq: 5, seed: 1, mask });
    expect(r.maxRelError).toBeLessThanOrEqual(TOLERANCES.gradcheck.limit);
    expect(r.pass).toBe(true);
  });
});

/** The h of every step of a unidirectional one-layer engine, stepping with the state carried: [T][B*H]. */
function statesByStep(engine: ScratchEngine, x: Float64Array, B: number, T: number, F: number): Float64Array[] {
  const out: Float64Array[] = [];
  let state: Batch['initialState'];
  for (let t = 0; t < T; t++) {
    const xs = new Float64Array(B * F);
    for (let b = 0; b < B; b++) xs.set(x.subarray((b * T + t) * F, (b * T + t + 1) * F), b * F);
    const r = engine.forward({ batchSize: B, seqLen: 1, x: xs, ...(state ? { initialState: state } : {}) });
    state = r.finalState;
    out.push(Float64Array.from(r.finalState.h[0]));
  }
  return out;
}

function oneDirection(spec: ModelSpec, params: NamedParams, dir: '' | 'backward.'): ScratchEngine {
  const uni = parseSpec({ ...specToJSON(spec), bidirectional: false, merge: 'concat', returnSequences: true, outputSize: 2, loss: 'softmaxCrossEntropy' });
  const p: NamedParams = {};
  for (const k of ['kernel', 'recurrentKernel', 'bias']) p[`layers.0.${k}`] = params[`layers.0.${dir}${k}`];
  p['head.kernel'] = { dtype: 'F64', shape: [spec.hiddenSize, 2], data: new Float64Array(spec.hiddenSize * 2) };
  p['head.bias'] = { dtype: 'F64', shape: [2], data: new Float64Array(2) };
  return new ScratchEngine(uni, { dtype: 'float64', params: p });
}

describe('semantics against two unidirectional engines composed by hand', () => {
  test.each(
    VARIANTS.flatMap((v) =>
      MERGES.flatMap((merge) => [true, false].map((rs) => ({ label: `${v.label}, ${merge}, ${rs ? 'many-to-many' : 'many-to-one'}`, fields: v.fields, merge, rs }))),
    ),
  )('$label', ({ fields, merge, rs }) => {
    const B = 2;
    const T = 5;
    const F = 3;
    const H = 4;
    const O = 3;
    const spec = parseSpec({ ...fields, inputSize: F, hiddenSize: H, outputSize: O, bidirectional: true, merge, returnSequences: rs, loss: 'mse' });
    const params = randomTestParams(spec, 5, 'F64');
    const bi = new ScratchEngine(spec, { dtype: 'float64', params });
    const batch = randomBatch(spec, B, T, 6, { dtype: 'F64' });
    const x = batch.x as Float64Array;
    const fwd = statesByStep(oneDirection(spec, params, ''), x, B, T, F);
    // the backward direction: each sequence reversed in time
    const rev = new Float64Array(x.length);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) rev.set(x.subarray((b * T + T - 1 - t) * F, (b * T + T - t) * F), (b * T + t) * F);
    const bwdRev = statesByStep(oneDirection(spec, params, 'backward.'), rev, B, T, F);
    const bwd = Array.from({ length: T }, (_, t) => bwdRev[T - 1 - t]); // back in the original time
    const W = merge === 'concat' ? 2 * H : H;
    const merged = (t: number, b: number): number[] =>
      Array.from({ length: W }, (_, j) => {
        if (merge === 'concat') return j < H ? fwd[t][b * H + j] : bwd[t][b * H + j - H];
        const f = fwd[t][b * H + j];
        const k = bwd[t][b * H + j];
        return merge === 'sum' ? f + k : merge === 'mul' ? f * k : (f + k) / 2;
      });
    const hk = params['head.kernel'].data;
    const hb = params['head.bias'].data;
    const head = (v: number[]): number[] => Array.from({ length: O }, (_, o) => v.reduce((a, vi, j) => a + vi * hk[j * O + o], hb[o]));
    const expected: number[] = [];
    for (let b = 0; b < B; b++) {
      if (rs) for (let t = 0; t < T; t++) expected.push(...head(merged(t, b)));
      else {
        // many-to-one (as Keras): the forward direction's last output and the backward direction's output at the first step
        const v = Array.from({ length: W }, (_, j) => merged(0, b)[j]);
        const last = merged(T - 1, b);
        for (let j = 0; j < W; j++) {
          if (merge === 'concat') v[j] = j < H ? last[j] : v[j];
          else {
            const f = fwd[T - 1][b * H + j];
            const k = bwd[0][b * H + j];
            v[j] = merge === 'sum' ? f + k : merge === 'mul' ? f * k : (f + k) / 2;
          }
        }
        expected.push(...head(v));
      }
    }
    expectClose('bidirectional output', bi.forward(batch).output, expected, 1e-12, { absolute: true });
  });
});

describe('masks and embeddings', () => {
  test.each(MERGES.map((merge) => ({ merge })))('a padded batch gives every sequence what it gives alone ($merge, many-to-many and many-to-one)', ({ merge }) => {
    for (const rs of [true, false]) {
      const spec = parseSpec({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, layers: 2, bidirectional: true, merge, returnSequences: rs, loss: 'mse' });
      const engine = new ScratchEngine(spec, { dtype: 'float64', params: randomTestParams(spec, 9, 'F64') });
      const T = 6;
      const lengths = [6, 3, 1];
      const full = randomBatch(spec, 3, T, 10, { dtype: 'F64' });
      const mask = new Uint8Array(3 * T);
      lengths.forEach((L, b) => mask.fill(1, b * T, b * T + L));
      const x = Float64Array.from(full.x as Float64Array);
      lengths.forEach((L, b) => x.fill(123, (b * T + L) * 3, (b + 1) * T * 3)); // padding holds garbage the mask must hide
      const padded = engine.forward({ batchSize: 3, seqLen: T, x, mask }).output;
      lengths.forEach((L, b) => {
        const alone = engine.forward({ batchSize: 1, seqLen: L, x: x.subarray(b * T * 3, (b * T + L) * 3) }).output;
        const got = rs ? padded.subarray(b * T * 2, (b * T + L) * 2) : padded.subarray(b * 2, (b + 1) * 2);
        expectClose(`sequence ${b} (length ${L}, ${rs ? 'many-to-many' : 'many-to-one'})`, got, alone, 1e-12, { absolute: true });
      });
    }
  });

  test('an embedding is a lookup: the same model fed the embedding rows as dense input gives the same outputs and gradients', () => {
    const spec = parseSpec({ cell: 'gru', inputSize: 9, input: 'tokens', embedding: 4, hiddenSize: 5, outputSize: 3, bidirectional: true });
    const params = randomTestParams(spec, 11, 'F64');
    const dense = parseSpec({ ...specToJSON(spec), input: 'dense', inputSize: 4, embedding: 0 });
    const dp: NamedParams = { ...params };
    delete dp.embedding;
    const a = new ScratchEngine(spec, { dtype: 'float64', params });
    const b = new ScratchEngine(dense, { dtype: 'float64', params: dp });
    const batch = randomBatch(spec, 2, 6, 12, { dtype: 'F64' });
    const ids = batch.x as Int32Array;
    const E = params.embedding.data;
    const x = new Float64Array(ids.length * 4);
    ids.forEach((id, i) => x.set(E.subarray(id * 4, id * 4 + 4), i * 4));
    const dbatch = { ...batch, x };
    expectClose('output', a.forward(batch).output, b.forward(dbatch).output, 1e-14, { absolute: true });
    const ga = a.lossAndGrads(batch);
    const gb = b.lossAndGrads(dbatch, { inputGrad: true });
    for (const k of Object.keys(gb.grads)) expectClose(`gradient ${k}`, ga.grads[k].data, gb.grads[k].data, 1e-14, { absolute: true });
    // dEmbedding[v] is the sum of dx over the positions that read token v
    const want = new Float64Array(9 * 4);
    ids.forEach((id, i) => {
      for (let j = 0; j < 4; j++) want[id * 4 + j] += gb.dx![i * 4 + j];
    });
    expectClose('gradient embedding', ga.grads.embedding.data, want, 1e-14, { absolute: true });
  });
});

describe('the tfjs twin on its wasm backend (Bidirectional and Embedding layers) against float64 scratch', () => {
  test.each(VARIANTS.flatMap((v) => MERGES.map((merge) => ({ label: `${v.label}, ${merge}`, fields: v.fields, merge }))))(
    '$label: outputs 1e-5, loss 1e-5, gradients and per-step dh 1e-4 (the tolerance policy), masks, stacked and many-to-one with an embedding',
    async ({ fields, merge }) => {
      for (const extra of [{ layers: 2 }, { input: 'tokens' as const, inputSize: 9, embedding: 4, returnSequences: false, loss: 'mse' as const }]) {
        const spec = parseSpec({ ...fields, inputSize: 5, hiddenSize: 6, outputSize: 4, bidirectional: true, merge, ...extra });
        const params = randomTestParams(spec, 3);
        const tfe = await createTfjsEngine(spec, { backend: 'wasm', params });
        const ref = new ScratchEngine(spec, { dtype: 'float64', params });
        const batch = randomBatch(spec, 3, 5, 4, { mask: true });
        const r = ref.lossAndGrads(batch, { stateGrads: true });
        const label = JSON.stringify(extra);
        expectClose(`${label} output`, (await tfe.forward(batch)).output, ref.forward(batch).output, 'forward');
        const g = await tfe.lossAndGrads(batch, { stateGrads: true });
        expectClose(`${label} loss`, [g.loss], [r.loss], 'loss');
        for (const name of Object.keys(r.grads)) expectClose(`${label} gradient ${name}`, g.grads[name].data, r.grads[name].data, 'grad');
        for (let l = 0; l < spec.layers; l++) expectClose(`${label} dLoss/dh_t of layer ${l} (forward direction)`, g.dh![l], r.dh![l], 'grad');
        tfe.dispose();
      }
    },
  );

  test('on the wasm backend too (no gather gradient there: the lookup is one-hot rows times the table), embedding and bidirectional GRU', async () => {
    const spec = parseSpec({ cell: 'gru', inputSize: 9, input: 'tokens', embedding: 4, hiddenSize: 6, outputSize: 3, bidirectional: true, merge: 'sum', returnSequences: false });
    const params = randomTestParams(spec, 31);
    const tfe = await createTfjsEngine(spec, { backend: 'wasm', params });
    const ref = new ScratchEngine(spec, { dtype: 'float64', params });
    const batch = randomBatch(spec, 3, 5, 32, { mask: true });
    expectClose('output', (await tfe.forward(batch)).output, ref.forward(batch).output, 'forward');
    const g = await tfe.lossAndGrads(batch);
    const r = ref.lossAndGrads(batch);
    for (const name of Object.keys(r.grads)) expectClose(`gradient ${name}`, g.grads[name].data, r.grads[name].data, 'grad');
    tfe.dispose();
  });

});

describe('the PyTorch layout (convert --to pytorch)', () => {
  test('bidirectional layers and an embedding round-trip, under PyTorch\'s names: weight_ih_l{k}_reverse, embedding.weight', () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 11, input: 'tokens', embedding: 3, hiddenSize: 4, layers: 2, outputSize: 5, bidirectional: true });
    const params = randomTestParams(spec, 21, 'F64');
    const pt = toPyTorch(spec, params);
    expect(Object.keys(pt)).toEqual(expect.arrayContaining(['embedding.weight', 'weight_ih_l0', 'weight_ih_l0_reverse', 'weight_hh_l1_reverse', 'bias_ih_l1_reverse', 'head.weight']));
    expect(pt.weight_ih_l1.shape).toEqual([16, 8]); // the second layer reads both directions: 2H
    expect(pt['head.weight'].shape).toEqual([5, 8]);
    const back = fromPyTorch(spec, pt);
    for (const [k, t] of Object.entries(params)) expectClose(k, back[k].data, t.data, 0, { absolute: true });
  });

  const py = pythonWith('torch, numpy');
  test.skipIf(!py)(needing('torch, numpy', 'nn.Embedding + bidirectional nn.LSTM / nn.GRU / nn.RNN + nn.Linear, loaded with the converted weights, give the scratch engine\'s outputs (float64, 1e-10)'), () => {
    for (const cell of ['lstm', 'gru', 'rnn'] as const) {
      const spec = parseSpec({ cell, ...(cell === 'gru' ? { gruResetAfter: true } : {}), inputSize: 11, input: 'tokens', embedding: 3, hiddenSize: 4, layers: 2, outputSize: 5, bidirectional: true });
      const params = randomTestParams(spec, 22, 'F64');
      const batch = randomBatch(spec, 2, 6, 23, { dtype: 'F64' });
      const ours = new ScratchEngine(spec, { dtype: 'float64', params }).forward(batch).output;
      const pt = toPyTorch(spec, params);
      const dir = mkdtempSync(join(tmpdir(), 'rnnlab-pt-bi-'));
      const file = join(dir, 'model.json');
      const tensors = Object.fromEntries(Object.entries(pt).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data as Float64Array) }]));
      writeFileSync(file, JSON.stringify({ cell, tensors, ids: Array.from(batch.x as Int32Array), B: 2, T: 6, V: 11, E: 3, H: 4, L: 2, O: 5 }));
      const script = [
        'import json, sys, torch',
        'd = json.load(open(sys.argv[1]))',
        "sd = {k: torch.tensor(v['data'], dtype=torch.float64).reshape(v['shape']) for k, v in d['tensors'].items()}",
        "emb = torch.nn.Embedding(d['V'], d['E']).double()",
        "emb.weight.data = sd['embedding.weight']",
        "cls = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'rnn': torch.nn.RNN}[d['cell']]",
        "rnn = cls(d['E'], d['H'], num_layers=d['L'], bidirectional=True, batch_first=True).double()",
        "rnn.load_state_dict({k: v for k, v in sd.items() if k.startswith(('weight_', 'bias_'))})",
        "head = torch.nn.Linear(2 * d['H'], d['O']).double()",
        "head.weight.data = sd['head.weight']",
        "head.bias.data = sd['head.bias']",
        "x = torch.tensor(d['ids']).reshape(d['B'], d['T'])",
        'with torch.no_grad():',
        '    y, _ = rnn(emb(x))',
        '    print(json.dumps(head(y).flatten().tolist()))',
      ].join('\n');
      const r = spawnSync(py!, ['-c', script, file], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expectClose(`${cell}: PyTorch against scratch-f64`, JSON.parse(r.stdout), ours, 1e-10);
    }
  });
});

describe('the PyTorch engine (bidirectional=True, nn.Embedding)', () => {
  const py = pythonWith('torch, numpy');
  test.skipIf(!py)(
    needing('torch, numpy', 'pytorch-f64 against scratch-f64 (float64 limits: outputs 1e-10, gradients and per-step dh 1e-9): masks, many-to-one, embeddings, merges; stacked non-concat merges refused with the reason'),
    async () => {
      // one Python process opens every model in turn
      const provider = await openProvider(parseEngineRef('pytorch-f64'), { python: py!, threads: 1 });
      try {
        const cases: Partial<ModelSpec>[] = [
          { cell: 'lstm', input: 'tokens', inputSize: 9, embedding: 4 },
          { cell: 'gru', gruResetAfter: true, merge: 'mul', returnSequences: false },
          { cell: 'lstm', layers: 2 },
          { cell: 'rnn', activation: 'relu', merge: 'ave' },
          { cell: 'gru', recurrentActivation: 'hardSigmoid', merge: 'sum', returnSequences: false },
        ];
        for (const c of cases) {
          const spec = parseSpec({ inputSize: 3, hiddenSize: 4, outputSize: 3, bidirectional: true, ...c });
          const params = randomTestParams(spec, 41, 'F64');
          const batch = randomBatch(spec, 3, 5, 42, { dtype: 'F64', mask: true });
          const ref = new ScratchEngine(spec, { dtype: 'float64', params });
          const pt = await provider.open(spec, { params, optimizer: optimizerSpec('sgd') });
          const label = JSON.stringify(c);
          expectClose(`${label} output`, (await pt.forward(batch)).output, ref.forward(batch).output, 1e-10);
          const g = await pt.lossAndGrads(batch, { stateGrads: true });
          const r = ref.lossAndGrads(batch, { stateGrads: true });
          for (const name of Object.keys(r.grads)) expectClose(`${label} gradient ${name}`, g.grads[name].data, r.grads[name].data, 1e-9);
          for (let l = 0; l < spec.layers; l++) expectClose(`${label} dLoss/dh_t layer ${l}`, g.dh![l], r.dh![l], 1e-9);
          await pt.dispose();
        }
        const stacked = parseSpec({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 3, bidirectional: true, merge: 'sum', layers: 2 });
        await expect(provider.open(stacked, { params: randomTestParams(stacked, 1, 'F64'), optimizer: optimizerSpec('sgd') })).rejects.toThrow(/merge sum between stacked bidirectional layers/);
      } finally {
        await provider.close();
      }
      // an engine that finds such a limit only when it sees the model can run none of the check: one line with its reason (exit 2)
      const skip = rnnlab(['check', '--cell', 'lstm', '--bidirectional', '--merge', 'sum', '--layers', '2', '--hidden', '4', '--seq', '4', '--batch', '2', '--steps', '2', '--engines', 'scratch,pytorch-f64', '--no-tfjs']);
      expectOneLineError(skip, /engine pytorch-f64 cannot run any of this check: it refused the model at init with "merge sum between stacked bidirectional layers \(PyTorch's modules concatenate the directions between layers\)"; its handshake claims: /, expect);
    },
  );
});

describe('sentiment from a folder of labelled texts (--dataset-dir)', () => {
  const words = { pos: ['great', 'wonderful', 'loved', 'superb'], neg: ['awful', 'boring', 'hated', 'dull'] };
  const folder = (root: string, label: 'pos' | 'neg', n: number): void => {
    mkdirSync(join(root, label), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(root, label, `${i}_${label}.txt`), `The film was ${words[label][i % 4]} and the cast ${words[label][(i + 1) % 4]}.`);
  };

  test('the IMDB layout: train/ and test/ with a folder per label; the test set is the folder\'s own, unsup/ is left out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-imdb-'));
    folder(join(dir, 'train'), 'pos', 40);
    folder(join(dir, 'train'), 'neg', 40);
    folder(join(dir, 'test'), 'pos', 7);
    folder(join(dir, 'test'), 'neg', 5);
    mkdirSync(join(dir, 'train', 'unsup'));
    writeFileSync(join(dir, 'train', 'unsup', '0_0.txt'), 'no label');
    writeFileSync(join(dir, 'train', 'urls_pos.txt'), 'http://example.com'); // files beside the label folders are not examples
    const r = rnnlab(['train', '--task', 'classify', '--dataset-dir', dir, '--bidirectional', '--embedding', '8', '--hidden', '8', '--epochs', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const final = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(final.test.n).toBe(12);
    expect(final.test.classes).toEqual(['neg', 'pos']);
    const human = rnnlab(['train', '--task', 'classify', '--dataset-dir', dir, '--hidden', '4', '--steps', '2']);
    expect(human.stdout).toMatch(/left out, found on one side only: unsup/);
  });

  test('bad folders: one line, exit 2', () => {
    const none = mkdtempSync(join(tmpdir(), 'rnnlab-imdb-'));
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--dataset-dir', none, '--steps', '1']), /no label folders; --dataset-dir needs a folder per label/, expect);
    const empty = mkdtempSync(join(tmpdir(), 'rnnlab-imdb-'));
    folder(empty, 'pos', 3);
    mkdirSync(join(empty, 'neg'));
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--dataset-dir', empty, '--steps', '1']), /the label "neg" has no files/, expect);
    const bad = mkdtempSync(join(tmpdir(), 'rnnlab-imdb-'));
    folder(bad, 'pos', 3);
    folder(bad, 'neg', 3);
    writeFileSync(join(bad, 'neg', 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--dataset-dir', bad, '--steps', '1']), /latin1\.txt: is not valid UTF-8 text/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--dataset-dir', bad, '--dataset', 'names', '--steps', '1']), /give one of --dataset, --csv and --dataset-dir/, expect);
  });
});

describe('from the command line', () => {
  test('gradcheck, check and train take --bidirectional, --merge and --embedding, with tfjs beside scratch; a language model refuses --bidirectional', () => {
    const g = rnnlab(['gradcheck', '--cell', 'lstm', '--bidirectional', '--merge', 'ave', '--tokens', '--input', '6', '--embedding', '3', '--many-to-one', '--json']);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).pass).toBe(true);
    const t = rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--bidirectional', '--embedding', '8', '--hidden', '8', '--steps', '3', '--json']);
    expect(t.code, t.stderr).toBe(0);
    // timed like any model
    const bench = rnnlab(['bench', '--cell', 'gru', '--hidden', '8', '--batch', '1,2', '--seq', '4', '--tokens', '20', '--embedding', '4', '--bidirectional', '--engine', 'scratch', '--threads', '1', '--repeats', '1', '--warmup', '0', '--budget', '1']);
    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stdout).toMatch(/^  model: bidirectional \(concat\) gru \(sigmoid, reset-before\) tokens<20 -> embedding 4 -> 1xH -> 20, /m);
    expect(bench.stdout.split('\n').filter((l) => /^gru\s+8\s+[12]\s+scratch/.test(l))).toHaveLength(2);
    // a bidirectional encoder for many-to-one forecasts
    const series = rnnlab(['train', '--task', 'series', '--dataset', 'synthetic', '--bidirectional', '--merge', 'sum', '--hidden', '8', '--epochs', '1', '--json']);
    expect(series.code, series.stderr).toBe(0);
    expect(JSON.parse(series.stdout.trim().split('\n').pop()!).test.model.mae).toBeGreaterThan(0);
    const lm = rnnlab(['train', '--task', 'text', '--bidirectional', '--steps', '2']);
    expect(lm.code).toBe(2);
    expect(lm.stderr).toMatch(/--bidirectional is refused for a language model: its backward direction would read the very tokens it has to predict/);
    const both = rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--bidirectional', '--embedding', '8', '--hidden', '8', '--engine', 'both', '--backend', 'cpu', '--steps', '4', '--json']);
    expect(both.code, both.stderr).toBe(0);
    const final = JSON.parse(both.stdout.trim().split('\n').pop()!);
    expect(final.paramDiff.driftStep).toBeNull(); // scratch and tfjs train the same bidirectional model
    const c = rnnlab(['check', '--cell', 'lstm', '--bidirectional', '--merge', 'mul', '--mask', '--hidden', '4', '--seq', '4', '--batch', '2', '--steps', '3', '--per-step', '--backend', 'cpu', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).pass ?? JSON.parse(c.stdout).report.pass).toBe(true);
    // rnnlab's reset-after GRU layer runs backwards inside tf.layers.bidirectional too
    const ra = rnnlab(['check', '--cell', 'gru', '--gru-reset-after', '--bidirectional', '--mask', '--per-step', '--hidden', '4', '--seq', '4', '--batch', '2', '--steps', '2', '--backend', 'wasm', '--json']);
    expect(ra.code, ra.stderr).toBe(0);
    expect(JSON.parse(ra.stdout).skipped ?? []).toEqual([]);
  });
});
