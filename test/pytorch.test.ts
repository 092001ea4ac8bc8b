/**
 * PyTorch layout: fixtures made by PyTorch itself (test/fixtures/torch/generate.py, float64) are
 * imported with fromPyTorch and run on the float64 scratch engine; logits, loss, final states and
 * every gradient must agree to 1e-10 relative (two float64 computations of the same sums; the
 * limit leaves room for summation order, nothing else). Then conversion round trips.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { writeCheckpoint } from '../src/io/checkpoint.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { randomTestParams } from '../src/params.js';
import { fromPyTorch, toPyTorch } from '../src/pytorch.js';
import { parseSpec } from '../src/spec.js';
import type { NamedTensors } from '../src/tensor.js';
import { makeSpec } from './helpers/cases.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { expectClose, expectNear } from './helpers/close.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'torch');
const LIMIT = 1e-10;

describe.each(readdirSync(FIXTURES).filter((f) => f.endsWith('.safetensors')))('PyTorch fixture %s', (file) => {
  test('logits, loss, final state and gradients agree with the scratch engine', () => {
    const { tensors, metadata } = readSafetensors(join(FIXTURES, file));
    const spec = parseSpec(JSON.parse(metadata.spec));
    const weights: NamedTensors = {};
    for (const [k, v] of Object.entries(tensors)) if (/^(weight|bias)_|^head\./.test(k)) weights[k] = v;
    const params = fromPyTorch(spec, weights);
    const engine = new ScratchEngine(spec, { dtype: 'float64', params });
    const x = tensors.x;
    const [B, T] = x.shape;
    const y = tensors.y;
    const batch = { batchSize: B, seqLen: T, x: x.data as Float64Array, y: y.data as Int32Array | Float64Array };
    const r = engine.lossAndGrads(batch);
    expectClose('logits', engine.forward(batch).output, tensors.logits.data, LIMIT);
    expectNear('loss', r.loss, tensors.loss.data[0], LIMIT, { absolute: true });
    for (let l = 0; l < spec.layers; l++) {
      const n = B * spec.hiddenSize;
      const hn = tensors.h_n.data.subarray(l * n, (l + 1) * n);
      expectClose(`h_n[${l}]`, r.finalState.h[l], hn, LIMIT);
      if (spec.cell === 'lstm') expectClose(`c_n[${l}]`, r.finalState.c![l], tensors.c_n.data.subarray(l * n, (l + 1) * n), LIMIT);
    }
    // our gradients in PyTorch layout against PyTorch's
    const ours = toPyTorch(spec, r.grads);
    for (const name of Object.keys(ours)) {
      const theirs = tensors[`grad.${name}`].data;
      // RNN/LSTM: one canonical bias = bias_ih + bias_hh, so both PyTorch biases have our bias's gradient
      const mine = /^bias_hh/.test(name) && spec.cell !== 'gru' ? ours[name.replace('bias_hh', 'bias_ih')].data : ours[name].data;
      expectClose(name, mine, theirs, LIMIT);
    }
  });
});

describe('conversion', () => {
  test.each([
    { cell: 'lstm' as const },
    { cell: 'gru' as const, gruResetAfter: true },
    { cell: 'rnn' as const, activation: 'relu' as const },
  ])('canonical -> PyTorch -> canonical is exact ($cell)', (fields) => {
    const spec = makeSpec({ ...fields, layers: 2 });
    const p = randomTestParams(spec, 4);
    const back = fromPyTorch(spec, toPyTorch(spec, p));
    for (const name of Object.keys(p)) expect(Array.from(back[name].data), name).toEqual(Array.from(p[name].data));
  });

  test('GRU gates are reordered (PyTorch r, z, n = canonical z, r, h)', () => {
    const spec = makeSpec({ cell: 'gru', gruResetAfter: true }, { inputSize: 1, hiddenSize: 1, outputSize: 2 });
    const p = randomTestParams(spec, 1);
    p['layers.0.kernel'].data.set([10, 20, 30]); // z, r, h
    const t = toPyTorch(spec, p);
    expect(Array.from(t.weight_ih_l0.data)).toEqual([20, 10, 30]); // r, z, n
  });

  test('what PyTorch cannot express is refused, and wrong tensors are named', () => {
    expect(() => toPyTorch(makeSpec({ cell: 'gru' }), randomTestParams(makeSpec({ cell: 'gru' }), 1))).toThrow(/reset-after/);
    const hs = makeSpec({ cell: 'lstm', recurrentActivation: 'hardSigmoid' });
    expect(() => toPyTorch(hs, randomTestParams(hs, 1))).toThrow(/sigmoid gates/);
    const spec = makeSpec({ cell: 'lstm' });
    const t = toPyTorch(spec, randomTestParams(spec, 1));
    delete t.bias_hh_l0;
    t.weight_ih_l0 = { ...t.weight_ih_l0, shape: [3, 16] };
    expect(() => fromPyTorch(spec, t)).toThrow('PyTorch weights do not match the spec: missing bias_hh_l0; weight_ih_l0 has shape [3, 16], expected [16, 3]');
  });

  test('rnnlab convert: to PyTorch and back from a checkpoint, with a prefix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-convert-'));
    const spec = makeSpec({ cell: 'lstm' });
    const params = randomTestParams(spec, 2);
    writeCheckpoint(join(dir, 'ck'), { spec, params });
    const pt = join(dir, 'torch.safetensors');
    let r = rnnlab(['convert', join(dir, 'ck'), '--to', 'pytorch', '--prefix', 'rnn.', '--head', 'fc', '-o', pt]);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(readSafetensors(pt).tensors)).toContain('rnn.weight_ih_l0');
    expect(Object.keys(readSafetensors(pt).tensors)).toContain('fc.weight');
    const back = join(dir, 'back.safetensors');
    r = rnnlab(['convert', pt, '--spec', join(dir, 'ck', 'spec.json'), '--prefix', 'rnn.', '--head', 'fc', '--to', 'canonical', '-o', back]);
    expect(r.code, r.stderr).toBe(0);
    const got = readSafetensors(back).tensors;
    for (const name of Object.keys(params)) expect(Array.from(got[name].data)).toEqual(Array.from(params[name].data));
    expectOneLineError(rnnlab(['convert', pt, '--spec', join(dir, 'ck', 'spec.json'), '--to', 'canonical', '-o', back]), /missing weight_ih_l0/, expect);
    expectOneLineError(rnnlab(['convert', pt, '--to', 'canonical', '-o', back]), /needs --spec/, expect);
  });
});
