/** Canonical parameters: layout, seeded initialisers, validation of user weights, the spec. */
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { randomBatch } from '../src/data/synthetic.js';
import { optimizerSpec } from '../src/optimizer.js';
import { gateOf, initParams, paramCount, paramLayout, randomTestParams, validateParams } from '../src/params.js';
import { parseSpec } from '../src/spec.js';
import { makeSpec } from './helpers/cases.js';

describe('canonical layout', () => {
  test('names and shapes for a 2-layer lstm', () => {
    const spec = makeSpec({ cell: 'lstm', layers: 2 }, { inputSize: 3, hiddenSize: 4, outputSize: 5 });
    expect(paramLayout(spec).map((p) => `${p.name} ${p.shape.join('x')}`)).toEqual([
      'layers.0.kernel 3x16',
      'layers.0.recurrentKernel 4x16',
      'layers.0.bias 16',
      'layers.1.kernel 4x16',
      'layers.1.recurrentKernel 4x16',
      'layers.1.bias 16',
      'head.kernel 4x5',
      'head.bias 5',
    ]);
  });

  test('reset-after gru bias is [2, 3H]; gates are named by column block', () => {
    const spec = makeSpec({ cell: 'gru', gruResetAfter: true });
    const bias = paramLayout(spec).find((p) => p.name === 'layers.0.bias')!;
    expect(bias.shape).toEqual([2, 12]);
    const rk = paramLayout(spec).find((p) => p.name === 'layers.0.recurrentKernel')!;
    // row 1, columns 0..3 = z, 4..7 = r, 8..11 = h
    expect([12 + 0, 12 + 4, 12 + 11].map((i) => gateOf(spec, rk, i))).toEqual(['z', 'r', 'h']);
  });
});

describe('parameter count', () => {
  test('paramCount (arithmetic) equals the sum over the shapes paramLayout lists, for every cell, variant and depth', () => {
    for (const cell of ['rnn', 'lstm', 'gru'] as const) {
      for (const gruResetAfter of cell === 'gru' ? [false, true] : [false]) {
        for (const layers of [1, 2, 3]) {
          const spec = parseSpec({ cell, inputSize: 7, hiddenSize: 5, outputSize: 3, layers, ...(gruResetAfter ? { gruResetAfter } : {}) });
          const listed = paramLayout(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
          expect(paramCount(spec), `${cell} ${layers} ${gruResetAfter}`).toBe(listed);
        }
      }
    }
  });
});

describe('seeded initialisers', () => {
  test('same seed, same bits; another seed, other values', () => {
    const spec = makeSpec({ cell: 'lstm' }, { hiddenSize: 8 });
    const a = initParams(spec, 7);
    const b = initParams(spec, 7);
    const c = initParams(spec, 8);
    for (const k of Object.keys(a)) expect(Buffer.from(a[k].data.buffer).equals(Buffer.from(b[k].data.buffer))).toBe(true);
    expect(Array.from(a['layers.0.kernel'].data)).not.toEqual(Array.from(c['layers.0.kernel'].data));
  });

  test('recurrent kernels have orthonormal rows; glorot kernels stay within their limit', () => {
    const H = 6;
    const spec = makeSpec({ cell: 'gru' }, { inputSize: 5, hiddenSize: H, outputSize: 3 });
    const p = initParams(spec, 3, 'F64');
    const U = p['layers.0.recurrentKernel'].data; // [H, 3H]
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        let dot = 0;
        for (let q = 0; q < 3 * H; q++) dot += U[i * 3 * H + q] * U[j * 3 * H + q];
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
    const limit = Math.sqrt(6 / (5 + 3 * H));
    const W = Array.from(p['layers.0.kernel'].data);
    expect(Math.max(...W.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...W.map(Math.abs))).toBeGreaterThan(limit * 0.8);
    expect(Array.from(p['layers.0.bias'].data).every((v) => v === 0)).toBe(true);
  });

  test('unitForgetBias sets the forget-gate slice to 1', () => {
    const spec = makeSpec({ cell: 'lstm', unitForgetBias: true });
    const b = Array.from(initParams(spec, 1)['layers.0.bias'].data);
    expect(b).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test('test weights are non-zero everywhere', () => {
    const p = randomTestParams(makeSpec({ cell: 'lstm' }), 1);
    for (const t of Object.values(p)) expect(Array.from(t.data).every((v) => v !== 0)).toBe(true);
  });
});

describe('determinism', () => {
  test('same seed: same weights, same batches, same training trajectory, bit for bit', () => {
    const spec = makeSpec({ cell: 'lstm', layers: 2 }, { hiddenSize: 8 });
    const runOnce = (): { losses: number[]; params: Float32Array } => {
      const e = new ScratchEngine(spec, { seed: 9, optimizer: optimizerSpec('adam', { lr: 0.01, clipNorm: 1 }) });
      const losses: number[] = [];
      const batch = randomBatch(spec, 3, 6, 100);
      for (let s = 0; s < 5; s++) losses.push(e.step(batch).loss);
      return { losses, params: e.getParams()['layers.1.recurrentKernel'].data as Float32Array };
    };
    const a = runOnce();
    const b = runOnce();
    expect(a.losses).toEqual(b.losses);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    expect(a.losses[4]).toBeLessThan(a.losses[0]); // and it learns
  });
});

describe('validation of user weights and specs', () => {
  const spec = makeSpec({ cell: 'lstm' });
  test('missing, extra and mis-shaped tensors are named', () => {
    const p = initParams(spec, 1);
    delete p['head.bias'];
    p['layers.0.extra'] = p['layers.0.bias'];
    p['layers.0.kernel'] = { ...p['layers.0.kernel'], shape: [16, 3] };
    expect(() => validateParams(spec, p)).toThrow(
      'weights do not match the spec: missing head.bias; unexpected layers.0.extra; layers.0.kernel has shape [16, 3], expected [3, 16]',
    );
  });

  test('NaN in weights is refused', () => {
    const p = initParams(spec, 1);
    (p['head.kernel'].data as Float32Array)[3] = NaN;
    expect(() => new ScratchEngine(spec, { params: p })).toThrow(/head.kernel holds a non-finite value/);
  });

  test('spec errors', () => {
    expect(() => parseSpec({ cell: 'lstm', inputSize: 3, hiddenSize: 4 })).toThrow(/missing required field "outputSize"/);
    expect(() => parseSpec({ cell: 'cnn', inputSize: 3, hiddenSize: 4, outputSize: 2 })).toThrow(/"cell" must be one of rnn, lstm, gru/);
    expect(() => parseSpec({ cell: 'lstm', inputSize: 0, hiddenSize: 4, outputSize: 2 })).toThrow(/"inputSize" must be an integer >= 1/);
    expect(() => parseSpec({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, hidden: 5 })).toThrow(/unknown field "hidden"/);
    expect(() => parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 2, gruResetAfter: true })).toThrow(/applies to gru only/);
    expect(() => parseSpec({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2, gruResetAfter: false })).not.toThrow();
    expect(() => parseSpec([1])).toThrow(/expected a JSON object/);
  });

  test('bad batches are named: token ids, class ids, NaN, shapes', () => {
    const e = new ScratchEngine(spec);
    const b = randomBatch(spec, 2, 3, 1);
    (b.x as Float32Array)[4] = NaN;
    expect(() => e.forward(b)).toThrow('x: non-finite value (NaN) at [0, 1, 1]');
    const c = randomBatch(spec, 2, 3, 1);
    (c.y as Int32Array)[5] = 5;
    expect(() => e.lossAndGrads(c)).toThrow('y: class id 5 at index 5 is outside 0..4');
    expect(() => e.forward({ ...c, seqLen: 4 })).toThrow(/x: expected 24 values \[2, 4, 3\], got 18/);
    const tok = new ScratchEngine(makeSpec({ cell: 'gru', input: 'tokens', inputSize: 4 }));
    expect(() => tok.forward({ batchSize: 1, seqLen: 2, x: Int32Array.of(1, 4) })).toThrow(/token id 4 at \[0, 1\] is outside 0..3/);
  });
});
