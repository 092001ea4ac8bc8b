// The Adam update in float32 arithmetic (AssemblyScript; see kernels.as).

import { ld, st } from './math';

// ---------------------------------------------------------------- Adam (float32 arithmetic)

/** One lane group (four elements, or one with wide false) of adam. */
@inline
function adamLane(p: usize, g: usize, m: usize, v: usize, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, c1: f32, c2: f32, eps: f32, o: usize, wide: bool): void {
  const gv = ld(g + o, wide);
  const mv = f32x4.add(f32x4.mul(f32x4.splat(b1), ld(m + o, wide)), f32x4.mul(f32x4.splat(omb1), gv));
  const vv = f32x4.add(f32x4.mul(f32x4.splat(b2), ld(v + o, wide)), f32x4.mul(f32x4.mul(f32x4.splat(omb2), gv), gv));
  st(m + o, mv, wide);
  st(v + o, vv, wide);
  const upd = f32x4.div(f32x4.mul(f32x4.splat(lr), f32x4.div(mv, f32x4.splat(c1))), f32x4.add(f32x4.sqrt(f32x4.div(vv, f32x4.splat(c2))), f32x4.splat(eps)));
  st(p + o, f32x4.sub(ld(p + o, wide), upd), wide);
}

/**
 * Adam on float32 buffers in float32 arithmetic (as tfjs computes it), four elements at a time,
 * the TypeScript optimizer's formula operation for operation: m = b1 m + (1 - b1) g;
 * v = b2 v + ((1 - b2) g) g; p -= (lr (m / c1)) / (sqrt(v / c2) + eps). The TypeScript update
 * computes in float64 and rounds once per stored value; this one rounds after every operation
 * (a few ulps of the update apart). Lanes are independent, so any split of the elements between
 * threads gives the same bits.
 */
export function adam(n: i32, p: usize, g: usize, m: usize, v: usize, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, c1: f32, c2: f32, eps: f32): void {
  // the vector loop and the tail separately, so that `wide` is a constant in each
  let i = 0;
  for (; i + 4 <= n; i += 4) adamLane(p, g, m, v, b1, omb1, b2, omb2, lr, c1, c2, eps, <usize>i << 2, true);
  for (; i < n; i++) adamLane(p, g, m, v, b1, omb1, b2, omb2, lr, c1, c2, eps, <usize>i << 2, false);
}

