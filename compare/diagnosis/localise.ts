/**
 * Where in time an engine without per-step gradients goes wrong: it reruns on the batch cut to its
 * first L steps (L = 1, 2, 4, ..., then bisection between the longest length that agrees and the
 * shortest that does not) beside the reference on the same cut batch, and reports the shortest
 * length at which anything (outputs, loss, a gradient) disagrees.
 */
import type { Precision } from '../../src/tolerance.js';
import type { Batch, Engine } from '../../src/engine.js';
import { type Computed, distance } from './match.js';

/** The batch's first L steps (targets, mask and all; the initial state as it is). */
export function cutBatch(b: Batch, L: number, o: { inputWidth: number; outputWidth: number; perStep: boolean }): Batch {
  const { batchSize: B, seqLen: T } = b;
  const cut = <A extends Float32Array | Float64Array | Int32Array | Uint8Array>(a: A, w: number): A => {
    const out = new (a.constructor as new (n: number) => A)(B * L * w);
    for (let r = 0; r < B; r++) out.set(a.subarray(r * T * w, (r * T + L) * w), r * L * w);
    return out;
  };
  return {
    batchSize: B,
    seqLen: L,
    x: cut(b.x, b.x instanceof Int32Array ? 1 : o.inputWidth),
    ...(b.y ? { y: o.perStep ? cut(b.y, b.y instanceof Int32Array ? 1 : o.outputWidth) : b.y } : {}),
    ...(b.mask ? { mask: cut(b.mask, 1) } : {}),
    ...(b.initialState ? { initialState: b.initialState } : {}),
  };
}

export async function computeOn(e: Engine, b: Batch): Promise<Computed> {
  const { output } = await e.forward(b);
  const g = await e.lossAndGrads(b);
  return { output, loss: g.loss, grads: g.grads };
}

export interface Localised {
  /** The shortest length that disagrees (the full length when every shorter one agrees). */
  length: number;
  /** Reruns made (each on both engines). */
  probes: number;
}

/**
 * The shortest failing length, or null when the deadline came first. `engine` and `reference` hold
 * the initial weights; the full batch is known to fail.
 */
export async function shortestFailingLength(o: {
  engine: Engine;
  reference: Engine;
  batch: Batch;
  widths: { inputWidth: number; outputWidth: number; perStep: boolean };
  dtype: Precision;
  grads: readonly string[];
  deadline: number;
}): Promise<Localised | null> {
  const T = o.batch.seqLen;
  let probes = 0;
  const fails = async (L: number): Promise<boolean | null> => {
    if (L >= T) return true;
    if (performance.now() > o.deadline) return null;
    const b = cutBatch(o.batch, L, o.widths);
    if (b.mask && o.widths.perStep && !b.mask.includes(1)) return false; // nothing counted yet: nothing to disagree on
    probes++;
    const d = distance(await computeOn(o.engine, b), await computeOn(o.reference, b), o.dtype, o.grads);
    return !d.within;
  };
  let lo = 0; // the longest length known to agree
  let hi = T; // the shortest known to fail
  for (let L = 1; L < T; L *= 2) {
    const f = await fails(L);
    if (f === null) return null;
    if (f) {
      hi = L;
      break;
    }
    lo = L;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const f = await fails(mid);
    if (f === null) return null;
    if (f) hi = mid;
    else lo = mid;
  }
  return { length: hi, probes };
}

/** What the shortest failing length says, in words. */
export function lengthWords(L: number, T: number): string {
  if (L === 1) return 'it disagrees already on sequences of 1 step: the mistake is inside one step (the cell, its derivatives, the head or the loss), not in how the gradient flows between steps';
  if (L === 2) return 'it agrees on sequences of 1 step and disagrees from 2: the gradient passed from step t+1 to step t is wrong';
  if (L === T) return `it agrees on every shorter sequence (cut to 1..${T - 1} steps) and disagrees only on the whole ${T}: what goes wrong needs all ${T} steps (a gradient cut or truncated ${T - 2} or more steps back?)`;
  return `it agrees on sequences of up to ${L - 1} steps and disagrees from ${L}: the gradient that travels ${L - 1} step${L > 2 ? 's' : ''} back is lost or wrong (a truncation of backpropagation through time?)`;
}
