/**
 * The forward pass of the scratch engine against references that share no code with it:
 * - a published NumPy exercise (SimpleRNN), to 1e-7;
 * - helpers/reference.ts, the equations written out element by element in float64 (1e-12: both
 *   are float64, summing the same terms in a different order);
 * - a hand loop over a cell (its own float32 input projection, then cell.forward step by step),
 *   which must equal the sequence loop to float32 rounding (2e-6: the projections are summed in
 *   another order; the cell arithmetic is the same code).
 */
import { describe, test } from 'vitest';
import { ScratchEngine, makeCell } from '../scratch/engine.js';
import { headForward } from '../scratch/head.js';
import { gemm } from '../scratch/kernels.js';
import { randomBatch } from '../src/data/synthetic.js';
import { randomTestParams } from '../src/params.js';
import { parseSpec } from '../src/spec.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';
import { referenceForward } from './helpers/reference.js';
import { expectClose, expectNear } from './helpers/close.js';

describe('published NumPy SimpleRNN exercise', () => {
  test('last hidden state matches to 1e-7', () => {
    // x = [[[1,2],[2,3],[3,4]]]/100, kernel [[1,3,5,7],[3,5,7,8]]/100,
    // recurrent [[1,3,5,7],[2,4,6,8],[3,5,7,8],[4,6,8,10]]/100, bias [1,1,1,1], h0 = 0
    const spec = parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 4, outputSize: 1, loss: 'mse' });
    const f64 = (v: number[], s = 100): Float64Array => Float64Array.from(v, (x) => x / s);
    const engine = new ScratchEngine(spec, {
      dtype: 'float64',
      params: {
        'layers.0.kernel': { dtype: 'F64', shape: [2, 4], data: f64([1, 3, 5, 7, 3, 5, 7, 8]) },
        'layers.0.recurrentKernel': { dtype: 'F64', shape: [4, 4], data: f64([1, 3, 5, 7, 2, 4, 6, 8, 3, 5, 7, 8, 4, 6, 8, 10]) },
        'layers.0.bias': { dtype: 'F64', shape: [4], data: Float64Array.of(1, 1, 1, 1) },
        'head.kernel': { dtype: 'F64', shape: [4, 1], data: new Float64Array(4) },
        'head.bias': { dtype: 'F64', shape: [1], data: new Float64Array(1) },
      },
    });
    const { finalState } = engine.forward({ batchSize: 1, seqLen: 3, x: f64([1, 2, 2, 3, 3, 4]) });
    const expected = [0.79494228, 0.81839002, 0.83939649, 0.85584174];
    expectClose('h_3', finalState.h[0], expected, 1e-7, { absolute: true }); // the expected values are given to 8 decimals
  });
});

describe.each(VARIANTS)('forward of $label equals the written-out equations', ({ fields }) => {
  test.each([
    { name: 'many-to-many ce, 2 layers, mask, carried state', f: { layers: 2 }, mask: true, state: true },
    { name: 'many-to-one mse, tokens', f: { returnSequences: false, loss: 'mse', input: 'tokens', inputSize: 7 }, mask: false, state: false },
    { name: 'many-to-one ce sumOverTime, mask', f: { returnSequences: false, lossReduction: 'sumOverTime' }, mask: true, state: false },
    { name: 'many-to-many mse sumOverTime, mask', f: { loss: 'mse', lossReduction: 'sumOverTime' }, mask: true, state: true },
  ] as const)('$name', ({ f, mask, state }) => {
    const spec = makeSpec({ ...fields, ...f } as never);
    const params = randomTestParams(spec, 11, 'F64');
    const engine = new ScratchEngine(spec, { dtype: 'float64', params });
    const batch = randomBatch(spec, 3, 5, 12, { dtype: 'F64', mask, initialState: state });
    const ref = referenceForward(spec, params, batch);
    const { output } = engine.forward(batch);
    expectClose('output', output, ref.output, 1e-12, { absolute: true });
    const { loss } = engine.lossAndGrads(batch);
    expectNear('loss', loss, ref.loss!, 1e-12);
  });
});

describe('the sequence loop equals a hand loop over the cell', () => {
  test.each(VARIANTS)('$label', ({ fields }) => {
    const spec = makeSpec(fields);
    const params = randomTestParams(spec, 21, 'F32');
    const engine = new ScratchEngine(spec, { params });
    const B = 2;
    const T = 6;
    const batch = randomBatch(spec, B, T, 22);
    const { output, finalState } = engine.forward(batch);

    // By hand: x_t W + b, then cell.forward step by step, then the head.
    const H = spec.hiddenSize;
    const I = spec.inputSize;
    const O = spec.outputSize;
    const cell = makeCell(spec);
    const GH = cell.G * H;
    const W = params['layers.0.kernel'].data as Float32Array;
    const bias = params['layers.0.bias'].data as Float32Array;
    const U = params['layers.0.recurrentKernel'].data as Float32Array;
    const resetAfter = spec.cell === 'gru' && spec.gruResetAfter;
    const w = { U, bRec: resetAfter ? bias.subarray(GH) : null };
    const cache = cell.newCache(T, B, (n) => new Float32Array(n));
    let h = new Float32Array(B * H);
    let c = new Float32Array(B * H);
    const hs: Float32Array[] = [];
    for (let t = 0; t < T; t++) {
      const P = new Float32Array(B * GH);
      for (let b = 0; b < B; b++) {
        for (let q = 0; q < GH; q++) {
          let s = 0;
          for (let i = 0; i < I; i++) s += (batch.x as Float32Array)[(b * T + t) * I + i] * W[i * GH + q];
          P[b * GH + q] = s + bias[q];
        }
      }
      const hn = new Float32Array(B * H);
      const cn = new Float32Array(B * H);
      cell.forward(w, cache, { t, B, P, prev: cell.carry === 2 ? [h, c] : [h], next: cell.carry === 2 ? [hn, cn] : [hn] });
      hs.push(hn);
      h = hn;
      c = cn;
    }
    // compare the logits of step t, batch row b
    const logits = new Float32Array(B * O);
    for (let t = 0; t < T; t++) {
      headForward(gemm, B, H, O, hs[t], params['head.kernel'].data as Float32Array, params['head.bias'].data as Float32Array, logits);
      // float32 input projections summed in another order: agreement to float32 rounding
      const engineStep = Float32Array.from({ length: B * O }, (_, i) => output[(Math.floor(i / O) * T + t) * O + (i % O)]);
      expectClose(`logits of step ${t}`, engineStep, logits, 2e-6, { absolute: true });
    }
    // the final hidden state (and the LSTM cell state) the engine hands on, against the hand loop's last step
    expectClose('final h', finalState.h[0], hs[T - 1], 2e-6, { absolute: true });
    if (spec.cell === 'lstm') expectClose('final c', finalState.c![0], c, 2e-6, { absolute: true });
  });
});
