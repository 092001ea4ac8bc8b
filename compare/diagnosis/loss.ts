/**
 * The loss: scaled by a constant (found from the ratio of the engine's gradients to the
 * reference's, and named when it is a known factor: the batch, time, the outputs, the 1/2
 * convention, a flipped sign), or taken at the last step only.
 */
import type { Batch } from '../../src/engine.js';
import type { Mistake } from '../../src/engines/registry.js';
import type { ModelSpec } from '../../src/spec.js';
import type { Entry, SearchContext } from './entry.js';

/** <a, b> / <b, b> over the compared gradients: the least-squares factor of a against b. */
function ratio(x: SearchContext): number {
  let ab = 0;
  let bb = 0;
  for (const n of x.grads) {
    const a = x.engine.grads[n].data;
    const b = x.reference.grads[n].data;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      bb += b[i] * b[i];
    }
  }
  return bb > 0 ? ab / bb : NaN;
}

const near = (c: number, v: number): boolean => Math.abs(c / v - 1) < 1e-4;

/** c, or the integer or integer's reciprocal it is to rounding (3.0000000000000004 is 3). */
function snap(c: number): number {
  const close = (v: number): boolean => v !== 0 && Math.abs(c / v - 1) < 1e-9;
  if (close(Math.round(c))) return Math.round(c);
  if (Math.abs(c) < 1 && close(1 / Math.round(1 / c))) return 1 / Math.round(1 / c);
  return c;
}

/** The likely cause of a factor c, in words, or null. */
export function likelyCause(c: number, spec: ModelSpec, batch: Batch): string | null {
  const B = batch.batchSize;
  const T = spec.returnSequences ? batch.seqLen : 1;
  const counted = batch.mask && spec.returnSequences ? batch.mask.reduce((n, m) => n + (m ? 1 : 0), 0) : B * T;
  const mean = spec.lossReduction === 'mean';
  const mse = spec.loss === 'mse';
  const causes: [number, string][] = [];
  const add = (v: number, why: string): void => {
    if (v !== 1 && Number.isFinite(v) && v !== 0) causes.push([v, why]);
  };
  if (mean) {
    add(B, 'the loss summed over the batch instead of averaged');
    if (T > 1) add(T, 'the loss summed over time instead of averaged');
    if (T > 1) add(counted, `the loss summed over ${batch.mask ? 'the counted positions' : 'batch and time'} instead of averaged`);
    add(1 / B, 'the loss divided by the batch size once more');
    if (T > 1) add(1 / T, 'the loss divided by the number of steps once more');
  } else {
    add(B, 'the loss summed over the batch where sumOverTime averages it');
    if (T > 1) add(1 / T, 'the loss averaged over time where sumOverTime sums it');
  }
  if (mse) {
    add(spec.outputSize, 'the squared error summed over the outputs instead of averaged');
    add(0.5, 'the 1/2 convention: ½(z - y)² where (z - y)² was asked');
  }
  add(2, 'a factor 2: the derivative of (z - y)² taken without the 1/2 convention, or a loss counted twice');
  add(-1, "the gradient's sign flipped (y - p where p - y belongs)");
  for (const [v, why] of causes) if (near(c, v)) return why;
  for (const [v, why] of causes) if (near(c, -v)) return `${why}, and the sign flipped`;
  return null;
}

export const LOSS: Entry[] = [
  {
    id: 'loss-scale',
    title: 'loss and gradients the reference times a constant c (reported with its likely cause: summed over the batch, over time, over both; a factor 2 from (z - y)² without the 1/2 convention)',
    applies: () => true,
    candidates: (x) => {
      const out: Mistake[] = [];
      const c = snap(ratio(x));
      if (Number.isFinite(c) && c !== 0 && Math.abs(c - 1) > 1e-6) out.push({ id: 'loss-scale', c, scaled: 'both' }, { id: 'loss-scale', c, scaled: 'gradients' });
      const cl = snap(x.engine.loss / x.reference.loss);
      if (Number.isFinite(cl) && cl !== 0 && Math.abs(cl - 1) > 1e-6 && !(Math.abs(cl / c - 1) < 1e-6)) out.push({ id: 'loss-scale', c: cl, scaled: 'loss' });
      return out;
    },
    words: (m, x) => {
      const c = m.c!;
      const shown = Math.abs(c - Math.round(c)) < 1e-6 * Math.abs(c) ? String(Math.round(c)) : c.toPrecision(6);
      const what = m.scaled === 'both' ? 'the loss and every gradient are' : m.scaled === 'gradients' ? 'every gradient is' : 'the loss is';
      const right = m.scaled === 'gradients' ? ', the loss is right' : m.scaled === 'loss' ? ', the gradients are right' : '';
      const cause = likelyCause(c, x.spec, x.batch);
      return {
        detail: `${what} ${shown} times the reference's${right} (c = ${shown}: ${cause ?? 'no known cause of that factor'})`,
        where: `the loss's reduction and its gradient dLoss/dlogits: rnnlab's ${x.spec.lossReduction === 'mean' ? 'mean divides by the counted positions (batch and time)' : 'sumOverTime divides by the batch size'}${x.spec.loss === 'mse' ? ', and mse is the mean over the outputs of (z - y)²' : ''}`,
      };
    },
  },
  {
    id: 'head-last-step-only',
    title: "a many-to-many model's loss taken at the last step only",
    applies: (spec, b) => spec.returnSequences && b.seqLen >= 2,
    candidates: () => [{ id: 'head-last-step-only' }],
    words: () => ({
      detail: "the loss taken at the last step only (a many-to-many model's loss is the mean over every step)",
      where: 'the loss over time: every step\'s output has a target and a term in the loss',
    }),
  },
];
