/**
 * The analytic gradients of the float64 scratch engine against central finite differences, for
 * every cell and variant, both heads, both losses and reductions, dense and token input, stacked
 * layers, masks and carried state. Tolerance: maxRelError <= 1e-6 (src/tolerance.ts).
 */
import { describe, expect, test } from 'vitest';
import { gradcheck } from '../compare/gradcheck.js';
import { TOLERANCES } from '../src/tolerance.js';
import type { Cell } from '../scratch/cells/cell.js';
import { gruCell } from '../scratch/cells/gru.js';
import { lstmCell } from '../scratch/cells/lstm.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';

const HEADS = [
  { label: 'many-to-many', returnSequences: true },
  { label: 'many-to-one', returnSequences: false },
] as const;
const LOSSES = [
  { label: 'ce mean', loss: 'softmaxCrossEntropy', lossReduction: 'mean' },
  { label: 'ce sumOverTime', loss: 'softmaxCrossEntropy', lossReduction: 'sumOverTime' },
  { label: 'mse mean', loss: 'mse', lossReduction: 'mean' },
  { label: 'mse sumOverTime', loss: 'mse', lossReduction: 'sumOverTime' },
] as const;

describe.each(VARIANTS)('gradcheck $label', ({ fields }) => {
  test.each(HEADS.flatMap((h) => LOSSES.map((l) => ({ ...h, ...l, name: `${h.label}, ${l.label}` }))))(
    '$name',
    ({ returnSequences, loss, lossReduction }) => {
      const spec = makeSpec({ ...fields, returnSequences, loss, lossReduction });
      const r = gradcheck(spec, { batch: 2, seq: 4, seed: 3 });
      const failing = r.params.filter((p) => !p.pass).map((p) => `${p.name} ${p.maxRelError}`);
      expect(failing).toEqual([]);
      expect(r.maxRelError).toBeLessThanOrEqual(TOLERANCES.gradcheck.limit);
      // every parameter and the input were checked
      expect(r.params.map((p) => p.name)).toContain('input x');
      expect(r.params.map((p) => p.name)).toContain('head.kernel');
    },
  );

  test('two layers, token input, mask and carried state', () => {
    const spec = makeSpec({ ...fields, layers: 2, input: 'tokens', inputSize: 6 });
    const r = gradcheck(spec, { batch: 3, seq: 5, seed: 5, mask: true, initialState: true });
    expect(r.params.filter((p) => !p.pass).map((p) => p.name)).toEqual([]);
    expect(r.params.map((p) => p.name)).toContain('initial h.1');
    expect(r.params.map((p) => p.name)).toContain('layers.1.recurrentKernel');
  });

  test('large weights reach saturated and clipped activations', () => {
    // Kernels in +-2.5: most hardSigmoid gates land in the clipped part, where the gradient is 0.
    const spec = makeSpec({ ...fields, layers: 2 });
    const r = gradcheck(spec, { batch: 3, seq: 5, seed: 7, kernelScale: 2.5, mask: true });
    expect(r.params.filter((p) => !p.pass).map((p) => p.name)).toEqual([]);
    const checked = r.params.reduce((n, p) => n + p.checked, 0);
    expect(r.skipped).toBeLessThan(checked / 10); // kinks are rare, and counted
  });
});

describe('gradcheck catches a wrong gradient', () => {
  test('an lstm whose backward drops the c_{t-1} path fails, naming the parameters', () => {
    const spec = makeSpec({ cell: 'lstm' });
    const good = lstmCell(spec.hiddenSize, 'sigmoid');
    const broken: Cell<unknown> = {
      ...(good as Cell<unknown>),
      backward(w, cache, a, g) {
        good.backward(w, cache as never, a, g);
        a.dPrev[1].fill(0); // BPTT without the cell-state path
      },
    };
    const r = gradcheck(spec, { batch: 2, seq: 4, seed: 3, cell: broken });
    expect(r.pass).toBe(false);
    const failing = r.params.filter((p) => !p.pass).map((p) => p.name);
    expect(failing).toContain('layers.0.recurrentKernel');
    expect(failing).not.toContain('head.kernel'); // the head does not depend on the broken path
  });

  test('a gru with a 0.1% error in one gate derivative fails the 1e-6 limit', () => {
    const spec = makeSpec({ cell: 'gru' });
    const good = gruCell(spec.hiddenSize, 'sigmoid');
    const broken: Cell<unknown> = {
      ...(good as Cell<unknown>),
      backward(w, cache, a, g) {
        good.backward(w, cache as never, a, g);
        a.dPrev[0][0] *= 1.001;
      },
    };
    const r = gradcheck(spec, { batch: 2, seq: 4, seed: 3, cell: broken });
    expect(r.pass).toBe(false);
    expect(r.maxRelError).toBeGreaterThan(1e-6);
  });
});
