/**
 * Optimizers: the first three updates of each, against the formulas written out here in float64
 * (tfjs-core 4.22, ARCHITECTURE.md), and clipping (by value, then by global norm).
 * Float64 throughout, so agreement is to 1e-14 (rounding only).
 */
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { Optimizer, clipGradients } from '../scratch/optim.js';
import { randomBatch } from '../src/data/synthetic.js';
import { optimizerSpec } from '../src/optimizer.js';
import { randomTestParams } from '../src/params.js';
import { makeSpec } from './helpers/cases.js';
import { expectClose } from './helpers/close.js';

const P0 = [0.5, -0.3, 0.2, 0.05];
const GRADS = [
  [0.1, -0.2, 0.3, 0.0],
  [-0.05, 0.4, 0.1, 0.2],
  [0.3, 0.1, -0.25, -0.1],
];

function run(name: string, overrides = {}): number[][] {
  const spec = optimizerSpec(name, overrides);
  const opt = new Optimizer(spec, [{ name: 'w', shape: [4], size: 4 }], (n) => new Float64Array(n));
  const p = { w: Float64Array.from(P0) };
  const out: number[][] = [];
  for (const g of GRADS) {
    opt.apply(p, { w: Float64Array.from(g) });
    out.push(Array.from(p.w));
  }
  return out;
}

/** The same three updates, element by element, from the formulas. */
function expected(name: string, o: Record<string, number>): number[][] {
  const p = [...P0];
  const s1 = P0.map(() => o.acc0 ?? 0);
  const s2 = P0.map(() => 0);
  const out: number[][] = [];
  GRADS.forEach((g, step) => {
    const t = step + 1;
    for (let i = 0; i < 4; i++) {
      const gi = g[i];
      if (name === 'sgd') p[i] = p[i] - o.lr * gi;
      if (name === 'momentum') {
        s1[i] = o.mu * s1[i] + gi;
        p[i] = p[i] - o.lr * s1[i];
      }
      if (name === 'adam') {
        s1[i] = 0.9 * s1[i] + 0.1 * gi;
        s2[i] = 0.999 * s2[i] + 0.001 * gi * gi;
        const mhat = s1[i] / (1 - 0.9 ** t);
        const vhat = s2[i] / (1 - 0.999 ** t);
        p[i] = p[i] - (o.lr * mhat) / (Math.sqrt(vhat) + o.eps);
      }
      if (name === 'rmsprop') {
        s1[i] = 0.9 * s1[i] + 0.1 * gi * gi;
        s2[i] = o.mu * s2[i] + (o.lr * gi) / Math.sqrt(s1[i] + o.eps);
        p[i] = p[i] - s2[i];
      }
      if (name === 'adagrad') {
        s1[i] = s1[i] + gi * gi;
        p[i] = p[i] - (o.lr * gi) / Math.sqrt(s1[i] + o.eps);
      }
    }
    out.push([...p]);
  });
  return out;
}

/** Parameters after each step against the formulas written out above (float64; 1e-14 leaves room for a different summation order). */
function expectSteps(a: number[][], b: number[][]): void {
  expect(a.length).toBe(b.length);
  for (let s = 0; s < a.length; s++) expectClose(`parameters after step ${s + 1}`, a[s], b[s], 1e-14, { absolute: true });
}

describe('optimizer updates (first three steps)', () => {
  test('sgd, lr 0.01 by default', () => expectSteps(run('sgd'), expected('sgd', { lr: 0.01 })));
  test('momentum, mu 0.9 by default', () => expectSteps(run('momentum'), expected('momentum', { lr: 0.01, mu: 0.9 })));
  test('adam, lr 0.001, eps 1e-7', () => expectSteps(run('adam'), expected('adam', { lr: 0.001, eps: 1e-7 })));
  test('adam with another lr', () => expectSteps(run('adam', { lr: 0.05 }), expected('adam', { lr: 0.05, eps: 1e-7 })));
  test('rmsprop without momentum', () => expectSteps(run('rmsprop'), expected('rmsprop', { lr: 0.001, mu: 0, eps: 1e-7 })));
  test('rmsprop with momentum 0.5', () =>
    expectSteps(run('rmsprop', { momentum: 0.5 }), expected('rmsprop', { lr: 0.001, mu: 0.5, eps: 1e-7 })));
  test('adagrad, accumulator starting at 0.1', () => expectSteps(run('adagrad'), expected('adagrad', { lr: 0.01, acc0: 0.1, eps: 1e-7 })));
  test('classic adagrad (accumulator 0, eps 1e-8)', () =>
    expectSteps(run('adagrad', { initialAccumulatorValue: 0, epsilon: 1e-8 }), expected('adagrad', { lr: 0.01, acc0: 0, eps: 1e-8 })));

  test('state save and restore continues identically', () => {
    const spec = optimizerSpec('adam', { lr: 0.01 });
    const shapes = [{ name: 'w', shape: [4], size: 4 }];
    const a = new Optimizer(spec, shapes, (n) => new Float64Array(n));
    const pa = { w: Float64Array.from(P0) };
    a.apply(pa, { w: Float64Array.from(GRADS[0]) });
    const saved = a.getState('F64');
    expect(Object.keys(saved).sort()).toEqual(['iterations', 'm.w', 'v.w']);
    const b = new Optimizer(spec, shapes, (n) => new Float64Array(n));
    b.setState(saved);
    const pb = { w: Float64Array.from(pa.w) };
    a.apply(pa, { w: Float64Array.from(GRADS[1]) });
    b.apply(pb, { w: Float64Array.from(GRADS[1]) });
    expect(Array.from(pb.w)).toEqual(Array.from(pa.w));
  });

  test('restoring a state of the wrong optimizer is a clear error', () => {
    const shapes = [{ name: 'w', shape: [4], size: 4 }];
    const adam = new Optimizer(optimizerSpec('adam'), shapes, (n) => new Float64Array(n));
    const rms = new Optimizer(optimizerSpec('rmsprop'), shapes, (n) => new Float64Array(n));
    expect(() => rms.setState(adam.getState('F64'))).toThrow(/missing ms\.w/);
  });
});

describe('gradient clipping', () => {
  test('by value, then by global norm (order matters)', () => {
    const a = Float64Array.of(10, 0.1);
    const b = Float64Array.of(-0.2);
    const norm = clipGradients([a, b], 1, 1);
    // after value clipping: [1, 0.1], [-0.2]; norm sqrt(1.05)
    expect(norm).toBeCloseTo(Math.sqrt(1.05), 14);
    const s = 1 / Math.sqrt(1.05);
    expect(Array.from(a)).toEqual([1 * s, 0.1 * s]);
    expect(Array.from(b)).toEqual([-0.2 * s]);
  });

  test('norm below the limit leaves gradients alone', () => {
    const a = Float64Array.of(0.3, -0.4);
    clipGradients([a], undefined, 1);
    expect(Array.from(a)).toEqual([0.3, -0.4]);
  });

  test('the engine clips inside step; lossAndGrads stays unclipped', () => {
    const spec = makeSpec({ cell: 'lstm' });
    const params = randomTestParams(spec, 41, 'F64');
    const batch = randomBatch(spec, 2, 4, 42, { dtype: 'F64' });
    const clip = 0.001;
    const engine = new ScratchEngine(spec, { dtype: 'float64', params, optimizer: optimizerSpec('sgd', { lr: 1, clipValue: clip }) });
    const { grads } = engine.lossAndGrads(batch);
    const largest = Math.max(...Object.values(grads).flatMap((g) => Array.from(g.data, Math.abs)));
    expect(largest).toBeGreaterThan(clip); // unclipped
    engine.step(batch);
    const after = engine.getParams();
    for (const [name, t] of Object.entries(after)) {
      const g = grads[name].data;
      const want = Float64Array.from(params[name].data, (p, i) => p - Math.max(-clip, Math.min(clip, g[i])));
      expectClose(`${name} after one clipped step`, t.data, want, 1e-15, { absolute: true });
    }
  });

  test('global norm clipping in the engine scales every gradient by clipNorm / norm', () => {
    const spec = makeSpec({ cell: 'gru' });
    const params = randomTestParams(spec, 43, 'F64');
    const batch = randomBatch(spec, 2, 4, 44, { dtype: 'F64' });
    const engine = new ScratchEngine(spec, { dtype: 'float64', params, optimizer: optimizerSpec('sgd', { lr: 1, clipNorm: 0.01 }) });
    const { grads } = engine.lossAndGrads(batch);
    const norm = Math.sqrt(Object.values(grads).reduce((s, g) => s + Array.from(g.data).reduce((a, v) => a + v * v, 0), 0));
    expect(norm).toBeGreaterThan(0.01);
    engine.step(batch);
    const after = engine.getParams();
    for (const [name, t] of Object.entries(after)) {
      const want = Float64Array.from(params[name].data, (p, i) => p - (grads[name].data[i] * 0.01) / norm);
      expectClose(`${name} after one norm-clipped step`, t.data, want, 1e-15, { absolute: true });
    }
  });
});
