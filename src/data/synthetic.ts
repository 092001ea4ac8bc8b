/**
 * Seeded generated batches for checks, tests and benchmarks: inputs uniform in [-1, 1] (or random
 * token ids), random class ids or values in [-1, 1], optional right-padded masks and random carried
 * state. Same seed, same batch.
 */
import { type Batch, stateOf } from '../engine.js';
import { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';

export interface BatchOptions {
  dtype?: 'F32' | 'F64';
  /** Right-padded sequences: row b keeps its first len_b steps, len_b in [ceil(T/2), T], row 0 full. */
  mask?: boolean;
  /** A random carried state (values in [-0.5, 0.5]) instead of zeros. */
  initialState?: boolean;
  withTargets?: boolean;
}

export function randomBatch(spec: ModelSpec, B: number, T: number, seed: number, opts: BatchOptions = {}): Batch {
  const rng = new Rng(seed);
  const f = (n: number): Float32Array | Float64Array => (opts.dtype === 'F64' ? new Float64Array(n) : new Float32Array(n));
  let x: Float32Array | Float64Array | Int32Array;
  if (spec.input === 'tokens') {
    x = new Int32Array(B * T);
    for (let i = 0; i < x.length; i++) x[i] = rng.int(spec.inputSize);
  } else {
    x = f(B * T * spec.inputSize);
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  }
  const batch: Batch = { batchSize: B, seqLen: T, x };
  if (opts.withTargets !== false) {
    const steps = spec.returnSequences ? T : 1;
    if (spec.loss === 'softmaxCrossEntropy') {
      const y = new Int32Array(B * steps);
      for (let i = 0; i < y.length; i++) y[i] = rng.int(spec.outputSize);
      batch.y = y;
    } else {
      const y = f(B * steps * spec.outputSize);
      for (let i = 0; i < y.length; i++) y[i] = rng.uniform(-1, 1);
      batch.y = y;
    }
  }
  if (opts.mask) {
    const mask = new Uint8Array(B * T);
    for (let b = 0; b < B; b++) {
      const len = b === 0 ? T : Math.ceil(T / 2) + rng.int(T - Math.ceil(T / 2) + 1);
      mask.fill(1, b * T, b * T + len);
    }
    batch.mask = mask;
  }
  if (opts.initialState) {
    const n = B * spec.hiddenSize;
    const make = (): Float32Array | Float64Array => {
      const a = f(n);
      for (let i = 0; i < n; i++) a[i] = rng.uniform(-0.5, 0.5);
      return a;
    };
    // h of every layer, then c (an lstm's), in this order from the rng
    batch.initialState = stateOf(spec, () => Array.from({ length: spec.layers }, make));
  }
  return batch;
}
