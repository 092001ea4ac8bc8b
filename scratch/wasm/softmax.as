// The softmax cross-entropy head, one row at a time (AssemblyScript; see kernels.as).

import { hsum, vexp } from './math';

/** The largest logit of the last softmax_row (a global, not memory: see softmax_row). */
let lastMax: f32 = 0;

/** The largest logit of the row softmax_row last saw. */
export function softmax_max(): f64 {
  return <f64>lastMax;
}

/**
 * One row of the softmax cross-entropy head: out = w * softmax(x) over O logits; returns
 * sum exp(x - max) (over four lanes, then the tail), the max left in softmax_max(). The caller
 * takes the logarithm: Math.log here would bring AssemblyScript's lookup tables as data segments,
 * which every instantiation (each worker's too) writes into the shared memory the engine owns.
 */
export function softmax_row(O: i32, x: usize, out: usize, w: f64): f64 {
  let mv = f32x4.splat(f32.NEGATIVE_INFINITY);
  let j = 0;
  for (; j + 4 <= O; j += 4) mv = f32x4.max(mv, v128.load(x + (<usize>j << 2)));
  let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let q = j; q < O; q++) mx = max(mx, load<f32>(x + (<usize>q << 2)));
  const ms = f32x4.splat(mx);
  let sv = f32x4.splat(0);
  for (j = 0; j + 4 <= O; j += 4) {
    const e = vexp(f32x4.sub(v128.load(x + (<usize>j << 2)), ms));
    v128.store(out + (<usize>j << 2), e);
    sv = f32x4.add(sv, e);
  }
  let sum = hsum(sv);
  for (let q = j; q < O; q++) {
    const e = f32x4.extract_lane(vexp(f32x4.sub(v128.load32_zero(x + (<usize>q << 2)), ms)), 0);
    store<f32>(out + (<usize>q << 2), e);
    sum += e;
  }
  const scale = f32x4.splat(<f32>(w / <f64>sum));
  for (j = 0; j + 4 <= O; j += 4) v128.store(out + (<usize>j << 2), f32x4.mul(v128.load(out + (<usize>j << 2)), scale));
  for (let q = j; q < O; q++) store<f32>(out + (<usize>q << 2), load<f32>(out + (<usize>q << 2)) * f32x4.extract_lane(scale, 0));
  lastMax = mx;
  return <f64>sum;
}
