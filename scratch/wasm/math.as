// Vector arithmetic of the element-wise kernels (AssemblyScript; see kernels.as): loads and stores
// of four lanes or one, exp, sigmoid and tanh on four lanes, the lane sum, the sigmoid's
// derivative; and map_f32.

// ---------------------------------------------------------------- element-wise (float32 SIMD)
//
// The time step's gate arithmetic, the softmax of the head and the Adam update, so that they run
// in WebAssembly like the products. Lanes are independent: a tail element (H % 4) is computed as
// lane 0 of the same vector code, so every element goes through the same operations wherever it is.
// exp is Cephes' expf (a degree-5 polynomial after range reduction by ln 2; about 1 ulp), tanh
// Cephes' tanhf (a polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) above), sigmoid
// 1 / (1 + exp(-x)): results differ from the TypeScript loops (Math.exp, Math.tanh in float64, then
// rounded) by a few float32 ulps.

@inline
export function ld(p: usize, wide: bool): v128 {
  return wide ? v128.load(p) : v128.load32_zero(p);
}

@inline
export function st(p: usize, v: v128, wide: bool): void {
  if (wide) v128.store(p, v);
  else v128.store32_lane(p, v, 0);
}

@inline
export function vexp(x0: v128): v128 {
  // Clamped so that 2^n stays a normal float. pmax/pmin (a < b ? b : a) are one instruction on
  // x86 where max/min are seven (IEEE -0 and NaN rules); they differ only there, and a NaN x0
  // still comes out NaN (every comparison with it is false).
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  // n = nearest(x log2 e) by the magic-number addition: adding 1.5 * 2^23 rounds to an integer
  // (ties to even, as nearest), and the integer is then in the low bits of the sum: the same fx as
  // f32x4.nearest (but +0 where nearest gave -0, which changes no result), and 2^n below without
  // a saturating float-to-int conversion.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), f32x4.splat(12582912.0));
  const fx = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23); // bits of t = 0x4b400000 + n
  return f32x4.mul(y, pow2);
}

@inline
export function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), vexp(f32x4.neg(x))));
}

@inline
export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = vexp(f32x4.add(ax, ax));
  const big = v128.or(f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1)))), v128.and(x, i32x4.splat(0x80000000)));
  const s = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, s), x), x);
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** f(v) for f = 0 tanh, 1 sigmoid, 2 exp: inlined with a constant f, so that only that one is computed. */
@inline
function applyFn(v: v128, fn: i32): v128 {
  return fn === 0 ? vtanh(v) : fn === 1 ? vsigmoid(v) : vexp(v);
}

/** x[i] = f(x[i]) for n elements (f constant: see map_f32). */
@inline
function mapWith(n: i32, x: usize, fn: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, applyFn(v128.load(p), fn));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    v128.store32_lane(p, applyFn(v128.load32_zero(p), fn), 0);
  }
}

/**
 * x[i] = f(x[i]) for n elements: 0 tanh (the rnn's activation), 1 sigmoid, 2 exp. One loop per f:
 * a choice inside the loop was made branch-free by computing all three.
 */
export function map_f32(n: i32, x: usize, fn: i32): void {
  if (fn === 0) mapWith(n, x, 0);
  else if (fn === 1) mapWith(n, x, 1);
  else mapWith(n, x, 2);
}

/** LSTM step, sigmoid gates: z [B, 4H] (i, f, g, o pre-activations, overwritten by the gates), c_{t-1}, c_t, h_t, tanh(c_t) [B, H]. */

/** The sum of the four lanes, always as (l0 + l1) + (l2 + l3). */
@inline
export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** The sigmoid's derivative from its output: s' = s (1 - s). */

@inline
export function dsig(y: v128): v128 {
  return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
}

