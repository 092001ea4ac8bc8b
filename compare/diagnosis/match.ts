/**
 * When does a computation reproduce an engine under test: every tensor the check compares
 * (outputs, the loss, every parameter's gradient it compares, dLoss/dh_t when the engine gave them)
 * within the tolerance policy of the engine's dtype. Best first: the largest error of all those
 * tensors, each measured against its own limit, smallest wins.
 */
import type { NamedParams } from '../../src/params.js';
import type { FloatArray } from '../../src/tensor.js';
import { type Precision, compareArrays, limitFor } from '../../src/tolerance.js';

/** What an engine (or a variant of the reference) computed at the initial weights. */
export interface Computed {
  output: FloatArray;
  loss: number;
  grads: NamedParams;
  /** dLoss/dh_t per layer [B, T, H], when the engine gave them. */
  dh?: FloatArray[];
}

export interface Distance {
  /** The largest (max rel err / limit) over the tensors: <= 1 when every one is within its limit. */
  score: number;
  /** The largest max rel err over the tensors. */
  maxRelError: number;
  within: boolean;
}

/**
 * How far `a` is from `ref` over the outputs, the loss, the gradients named in `grads` and (when
 * both have them) dh, against the limits of `dtype`.
 */
export function distance(a: Computed, ref: Computed, dtype: Precision, grads: readonly string[]): Distance {
  let score = 0;
  let maxRel = 0;
  const add = (err: number, limit: number): void => {
    const e = Number.isNaN(err) ? Infinity : err;
    maxRel = Math.max(maxRel, e);
    score = Math.max(score, e / limit);
  };
  add(compareArrays(a.output, ref.output).maxRelError, limitFor('forward', dtype));
  add(compareArrays([a.loss], [ref.loss]).maxRelError, limitFor('loss', dtype));
  const g = limitFor('grad', dtype);
  for (const n of grads) add(compareArrays(a.grads[n].data, ref.grads[n].data).maxRelError, g);
  if (a.dh && ref.dh) for (let l = 0; l < a.dh.length; l++) add(compareArrays(a.dh[l], ref.dh[l]).maxRelError, g);
  return { score, maxRelError: maxRel, within: score <= 1 };
}
