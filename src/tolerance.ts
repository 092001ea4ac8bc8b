/**
 * How agreement is measured, in one place (docs/architecture.md, "How agreement is measured").
 *
 * Per tensor: maxRelError = max|a - ref| / max(max|ref|, 1e-3). The floor 1e-3 keeps a tensor that
 * is (nearly) all zeros from turning rounding noise into a huge relative error.
 */

export type ToleranceKind = 'gradcheck' | 'forward' | 'grad' | 'loss' | 'trajectory' | 'kink';

export interface Tolerance {
  limit: number;
  reason: string;
}

export const TOLERANCES: Record<ToleranceKind, Tolerance> = {
  gradcheck: {
    limit: 1e-6,
    reason:
      'central differences in float64 with step 1e-5: truncation ~1e-10 and rounding ~1e-11 relative, so 1e-6 fails only on a wrong gradient',
  },
  forward: {
    limit: 1e-5,
    reason: 'float32 forward: each of ~T*(in+H) accumulated products rounds at ~6e-8; 1e-5 covers sums of a few hundred terms',
  },
  grad: {
    limit: 1e-4,
    reason: 'float32 gradients: BPTT sums T steps of products that were rounded in the forward pass; 10x the forward limit',
  },
  loss: {
    limit: 1e-5,
    reason: 'the loss is a float32 sum of per-row terms, compared like an output',
  },
  trajectory: {
    limit: 2e-3,
    reason: 'parameters after N optimizer steps: rounding differences are amplified by adaptive steps (Adam divides by sqrt(v) of tiny gradients)',
  },
  kink: {
    limit: 1e-4,
    reason: 'finite differences are meaningless across a kink (relu at 0, hardSigmoid at +-2.5): elements whose perturbation crosses one are skipped and counted',
  },
};

/**
 * An engine under test that computes in float64 (scratch-f64 in tests, pytorch-f64, a NumPy
 * engine) is held to float64 limits: its rounding is ~1e-16 per operation, so agreement with the
 * float64 reference is ~1e-13 and these limits leave a thousandfold margin while any real mistake
 * is many orders of magnitude above them.
 */
export const TOLERANCES_F64: Record<'forward' | 'grad' | 'loss' | 'trajectory', Tolerance> = {
  forward: { limit: 1e-10, reason: 'float64 forward: sums of a few hundred products rounded at ~1e-16 each' },
  grad: { limit: 1e-9, reason: 'float64 gradients: BPTT over T steps of float64 products; 10x the forward limit' },
  loss: { limit: 1e-10, reason: 'the float64 loss, compared like an output' },
  trajectory: { limit: 1e-8, reason: 'float64 parameters after N adaptive steps: rounding amplified by 1/sqrt(v), as in float32' },
};

/** What an engine computes in, as far as the tolerance policy goes (Engine.dtype). */
export type Precision = 'float32' | 'float64' | 'float16';

/**
 * Half floats (tfjs-webgl-f16: webgl with WEBGL_FORCE_F16_TEXTURES, what a phone whose GPU cannot
 * render to float32 textures computes). Every tensor between two shader passes (inputs, weights,
 * each op's result, the optimizer's slots) is stored as a half float: 11 significant bits, unit
 * roundoff u = 2^-11 = 4.9e-4, largest 65504, smallest normal 6.1e-5; the arithmetic inside a pass
 * stays float32. So an error of a few u is the expected cost, not a bug, and the limits are set in
 * units of u, as the float32 ones are in units of float32's 6e-8, with the same 10x between
 * outputs and gradients. Measured here (check's defaults, B 8, T 20, H 32; rnn, lstm, gru both
 * variants, SwiftShader): outputs 8e-4 to 1.5e-3, losses up to 5e-4, gradients 1.3e-3 to 5.6e-3,
 * parameters after 10 sgd steps 3e-3 to 4e-3 (README, "TensorFlow.js where it runs"). A wrong gate, a
 * dropped BPTT term or a swapped weight is off by O(1), far above these limits. `check` also
 * prints how far each result is from the float32 policy.
 */
export const TOLERANCES_F16: Record<'forward' | 'grad' | 'loss' | 'trajectory', Tolerance> = {
  forward: {
    limit: 1e-2,
    reason: 'half-float storage: each stored intermediate rounds at u = 4.9e-4; ~20 u covers a few roundings per step over tens of steps (measured 8e-4 to 1.5e-3 at T = 20)',
  },
  grad: {
    limit: 5e-2,
    reason: 'half-float gradients: BPTT sums T steps of products stored in half floats; 10x the forward limit, as in float32 (measured up to 5.6e-3)',
  },
  loss: { limit: 1e-2, reason: 'the loss of half-float logits, compared like an output' },
  trajectory: {
    limit: 5e-2,
    reason:
      'parameters after N steps, stored as half floats: an update under half a parameter\'s ulp (u |w|) is lost; Adam fails it by far: its second moment (squared gradients, ~1e-8) is under half floats\' smallest value, so sqrt(v) + epsilon is tiny and the steps blow up, which is what a phone would train',
  },
};

/** The limit for a kind of comparison of an engine that computes in `dtype`. */
export function limitFor(kind: ToleranceKind, dtype: Precision = 'float32'): number {
  if (dtype === 'float64' && kind in TOLERANCES_F64) return TOLERANCES_F64[kind as keyof typeof TOLERANCES_F64].limit;
  if (dtype === 'float16' && kind in TOLERANCES_F16) return TOLERANCES_F16[kind as keyof typeof TOLERANCES_F16].limit;
  return TOLERANCES[kind].limit;
}

/** Reference floor of maxRelError. */
export const REL_FLOOR = 1e-3;

export interface Agreement {
  maxAbsError: number;
  maxRelError: number;
  /** Flat index of the largest absolute difference (-1 when empty). */
  worstIndex: number;
  /** Cosine similarity of the two tensors (1 when both are all zeros). */
  cosine: number;
  /** max |ref| */
  refScale: number;
}

export function compareArrays(a: ArrayLike<number>, ref: ArrayLike<number>, skip?: Uint8Array): Agreement {
  if (a.length !== ref.length) throw new Error(`compare: lengths differ (${a.length} vs ${ref.length})`);
  let maxAbs = 0;
  let worst = -1;
  let refScale = 0;
  let dot = 0;
  let na = 0;
  let nr = 0;
  for (let i = 0; i < a.length; i++) {
    if (skip && skip[i]) continue;
    const x = a[i];
    const r = ref[i];
    const d = Math.abs(x - r);
    if (d > maxAbs || Number.isNaN(d)) {
      maxAbs = Number.isNaN(d) ? Infinity : d;
      worst = i;
    }
    if (Math.abs(r) > refScale) refScale = Math.abs(r);
    dot += x * r;
    na += x * x;
    nr += r * r;
  }
  const cosine = na === 0 && nr === 0 ? 1 : dot / Math.sqrt(na * nr || Number.MIN_VALUE);
  return { maxAbsError: maxAbs, maxRelError: maxAbs / Math.max(refScale, REL_FLOOR), worstIndex: worst, cosine, refScale };
}

/** The pass test of every comparison: an error at most the limit. NaN fails (a comparison with NaN is false). */
export function within(err: number, limit: number): boolean {
  return err <= limit;
}
