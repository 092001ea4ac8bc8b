/**
 * The tfjs twin against the scratch engine, on the wasm and cpu backends, for every cell and
 * variant, with the limits of the tolerance policy (src/tolerance.ts):
 *   forward outputs 1e-5 and loss 1e-5, gradients 1e-4 (both engines against float64 scratch,
 *   the reference), parameters after 20 steps of each optimizer 2e-3 (tfjs against float32 scratch).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { randomBatch } from '../src/data/synthetic.js';
import { OPTIMIZERS, optimizerSpec } from '../src/optimizer.js';
import { randomTestParams } from '../src/params.js';
import { type BackendName, loadTf } from '../tfjs/backend.js';
import { createTfjsEngine } from '../tfjs/engine.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';
import { expectClose, expectNear } from './helpers/close.js';

const SIZES = { inputSize: 5, hiddenSize: 8, outputSize: 6 };
const LR: Record<string, number> = { sgd: 0.1, momentum: 0.05, adam: 0.01, rmsprop: 0.01, adagrad: 0.1 };

describe.each(['wasm', 'cpu'] as BackendName[])('tfjs-%s against scratch', (backend) => {
  beforeAll(async () => {
    await loadTf(backend);
  });

  describe.each(VARIANTS)('$label', ({ fields }) => {
    test('forward, loss, gradients (params, input, initial state), final state', async () => {
      for (const extra of [{ layers: 2 }, { returnSequences: false, loss: 'mse' as const }, { input: 'tokens' as const, inputSize: 7, lossReduction: 'sumOverTime' as const }]) {
        const spec = makeSpec({ ...fields, ...extra }, SIZES);
        const params = randomTestParams(spec, 3);
        const tfe = await createTfjsEngine(spec, { backend, params });
        const ref = new ScratchEngine(spec, { dtype: 'float64', params });
        const s32 = new ScratchEngine(spec, { params });
        const batch = randomBatch(spec, 3, 6, 4, { mask: true, initialState: true });
        const want = { inputGrad: spec.input === 'dense', stateGrads: true };
        const r = ref.lossAndGrads(batch, want);
        const label = `${JSON.stringify(extra)}`;
        expectClose(`${label} forward`, (await tfe.forward(batch)).output, ref.forward(batch).output, 'forward');
        for (const e of [tfe, s32]) {
          const g = await e.lossAndGrads(batch, want);
          expectNear(`${e.name} ${label} loss`, g.loss, r.loss, 'loss');
          for (const name of Object.keys(r.grads)) {
            expectClose(`${e.name} ${label} grad ${name}`, g.grads[name].data, r.grads[name].data, 'grad');
          }
          if (want.inputGrad) expectClose(`${e.name} dx`, g.dx!, r.dx!, 'grad');
          for (let l = 0; l < spec.layers; l++) {
            expectClose(`${e.name} dh0.${l}`, g.dState!.h[l], r.dState!.h[l], 'grad');
            expectClose(`${e.name} final h.${l}`, g.finalState.h[l], r.finalState.h[l], 'forward');
            if (spec.cell === 'lstm') {
              expectClose(`${e.name} dc0.${l}`, g.dState!.c![l], r.dState!.c![l], 'grad');
              expectClose(`${e.name} final c.${l}`, g.finalState.c![l], r.finalState.c![l], 'forward');
            }
          }
        }
        tfe.dispose();
      }
    });

    test('parameters after 20 steps of each optimizer', async () => {
      const spec = makeSpec(fields, SIZES);
      const params = randomTestParams(spec, 5);
      const batch = randomBatch(spec, 3, 6, 6, { mask: true });
      for (const name of OPTIMIZERS) {
        const opt = optimizerSpec(name, { lr: LR[name], ...(name === 'rmsprop' ? { momentum: 0.5 } : {}), clipNorm: 5 });
        const tfe = await createTfjsEngine(spec, { backend, params, optimizer: opt });
        const s32 = new ScratchEngine(spec, { params, optimizer: opt });
        let firstLoss = 0;
        let lastLoss = 0;
        for (let i = 0; i < 20; i++) {
          const a = (await tfe.step(batch)).loss;
          const b = s32.step(batch).loss;
          if (i === 0) firstLoss = b;
          lastLoss = b;
          expectNear(`${name} loss at step ${i}`, a, b, 'trajectory');
        }
        expect(lastLoss, `${name} learns`).toBeLessThan(firstLoss);
        const pt = await tfe.getParams();
        const ps = s32.getParams();
        for (const p of Object.keys(ps)) {
          expectClose(`${name} ${p}`, pt[p].data, ps[p].data, 'trajectory');
        }
        tfe.dispose();
      }
    });
  });
});
