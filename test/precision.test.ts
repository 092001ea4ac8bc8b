/**
 * float32 and float64 runs of the same engine code agree to float32 precision, using the
 * tolerance policy (forward 1e-5, gradients 1e-4, maxRelError against the float64 run).
 */
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { randomBatch } from '../src/data/synthetic.js';
import { randomTestParams } from '../src/params.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';
import { expectClose, expectNear } from './helpers/close.js';

describe.each(VARIANTS)('float32 vs float64: $label', ({ fields }) => {
  test('forward, loss and every gradient', () => {
    const spec = makeSpec({ ...fields, layers: 2 }, { inputSize: 8, hiddenSize: 16, outputSize: 10 });
    const params = randomTestParams(spec, 31, 'F64');
    const f64 = new ScratchEngine(spec, { dtype: 'float64', params });
    const f32 = new ScratchEngine(spec, { dtype: 'float32', params });
    const batch = randomBatch(spec, 4, 20, 32, { mask: true });
    const o64 = f64.forward(batch).output;
    const o32 = f32.forward(batch).output;
    expect(o32).toBeInstanceOf(Float32Array);
    expect(o64).toBeInstanceOf(Float64Array);
    expectClose('float32 output', o32, o64, 'forward');
    const g64 = f64.lossAndGrads(batch);
    const g32 = f32.lossAndGrads(batch);
    expectNear('float32 loss', g32.loss, g64.loss, 'loss');
    for (const name of Object.keys(g64.grads)) {
      expectClose(`float32 gradient ${name}`, g32.grads[name].data, g64.grads[name].data, 'grad');
    }
  });
});
