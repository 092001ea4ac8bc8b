/**
 * What every cell provides to the time loop in ../sequence.ts.
 *
 * A cell computes one time step for a batch: from this step's input projection
 * P_t = x_t·W + b (computed for all steps at once by the sequence, since it does not depend on the
 * state) and the previous carry, the new carry, filling its cache for step t. `backward` reads that
 * cache and turns the gradient of the new carry into dP_t and the gradient of the previous carry.
 * The recurrent weights' gradient (dU, and the recurrent bias of a reset-after gru) does not depend
 * on the time loop's order: `weightGrads` accumulates it after the loop for all steps at once, one
 * matrix product with k = T*B instead of T products with k = B.
 *
 * The carry is what a cell hands from one step to the next: `carry` buffers of [B, H], the first
 * always h (the layer's output): [h] for rnn and gru, [h, c] for lstm. The time loop treats every
 * carry buffer alike (masking, initial and final state), so it knows nothing of any cell.
 *
 * Shapes: B batch rows, H hidden units, G gates; every per-step array is [B, H] or [B, G*H], rows
 * contiguous.
 */
import type { Arr, Gemm } from '../kernels.js';

export type Alloc = (n: number) => Arr;

export interface CellWeights {
  /** [H, G*H] */
  U: Arr;
  /** [G*H] recurrent bias (gru reset-after only), else null. */
  bRec: Arr | null;
}

export interface CellGrads {
  dU: Arr; // [H, G*H], accumulated
  dbRec: Arr | null; // [G*H], accumulated
}

export interface StepArgs {
  t: number;
  B: number;
  /** [B, G*H] this step's input projection, bias included. */
  P: Arr;
  /** The carry before the step: [h_{t-1}] or [h_{t-1}, c_{t-1}], each [B, H]. */
  prev: readonly Arr[];
  /** The carry after the step, written: [h_t] or [h_t, c_t]. */
  next: readonly Arr[];
  /**
   * The recurrent kernel transposed, [G*H, H], when the layer made it for this pass (see
   * `transposedRecurrent` in sequence.ts): h_{t-1} U is then the product with UT^T, whose rows
   * the gemm reads contiguously. Absent or null: the product reads U. In `backward` it is given
   * only to kernel sets that multiply faster by a stored transpose (`FastKernels.transposedBackward`):
   * dP U^T is then the plain product dP · UT (see `timesUTransposed`).
   */
  UT?: Arr | null;
}

/** Every step of a layer at once, for `weightGrads` (time-major, step t at rows t*B .. t*B+B-1). */
export interface AllStepsArgs {
  T: number;
  B: number;
  /** [T*B, H] h_{t-1} of every step t (the carry h of steps 0 .. T-1). */
  hPrev: Arr;
  /** [T*B, H] h_t of every step t (the carry h after each step). */
  h?: Arr;
  /** [T*B, G*H] dLoss/dP_t of every step, as `backward` wrote them. */
  dP: Arr;
}

export interface BackArgs extends StepArgs {
  /** dLoss/d(next carry), the total gradient of each buffer of `next` (read only). */
  dNext: readonly Arr[];
  /** [B, G*H] written: dLoss/dP_t. */
  dP: Arr;
  /** Written: dLoss/d(prev carry) through this step, each [B, H]. */
  dPrev: readonly Arr[];
}

export interface Cell<C> {
  readonly G: number;
  /** Buffers of [B, H] carried from step to step: 1 (h) or 2 (h, c). */
  readonly carry: 1 | 2;
  newCache(T: number, B: number, alloc: Alloc): C;
  forward(w: CellWeights, cache: C, a: StepArgs): void;
  backward(w: CellWeights, cache: C, a: BackArgs, g: CellGrads): void;
  /** After every step's backward: dU (and dbRec) += the recurrent weights' gradient of all steps. */
  weightGrads(cache: C, a: AllStepsArgs, g: CellGrads): void;
  /**
   * Which side of each kink every kinked activation of the last forward pass was on (relu at 0,
   * hardSigmoid at +-2.5), or null for smooth cells. For finite-difference checks only.
   * hOut is the layer's output [T, B, H].
   */
  kinkPattern(cache: C, hOut: Arr, T: number, B: number): Uint8Array | null;
}

/**
 * The gate function and the derivatives a planted mistake replaces (src/engines/mistakes/, the
 * catalogue of check's diagnosis); absent: the right ones. Each derivative is written from the
 * activation's output y, as the cells compute them; a cell given any of these runs its TypeScript
 * loops (not a kernel set's fast ones).
 */
export interface CellDerivatives {
  /** The recurrent activation itself (lstm, gru gates). */
  gate?: (x: number) => number;
  /** d gate / d pre-activation, from the gate's output. */
  gateGrad?: (y: number) => number;
  /** tanh' of the candidate (lstm c~, gru h~, the rnn's tanh), from its output. */
  candidateGrad?: (y: number) => number;
  /** tanh' of tanh(c_t) (lstm), from its output. */
  cellOutGrad?: (y: number) => number;
}

/** 0 = clipped low, 1 = linear part, 2 = clipped high. */
export function hardSigmoidRegion(y: number): number {
  return y <= 0 ? 0 : y >= 1 ? 2 : 1;
}

/** Regions of the gate columns [from, to) of every row of a [rows, G*H] gate buffer. */
export function gateRegions(gates: Arr, rows: number, GH: number, cols: [number, number][]): Uint8Array {
  const width = cols.reduce((n, [a, b]) => n + b - a, 0);
  const out = new Uint8Array(rows * width);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (const [a, b] of cols) for (let j = a; j < b; j++) out[k++] = hardSigmoidRegion(gates[r * GH + j]);
  }
  return out;
}

/** Recurrent activations and their derivatives written from the output y = f(x). */
export type GateActivation = 'sigmoid' | 'hardSigmoid';

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** tfjs's hardSigmoid: clip(0.2 x + 0.5, 0, 1). */
export function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y <= 0 ? 0 : y >= 1 ? 1 : y;
}

export function gateFn(kind: GateActivation): (x: number) => number {
  return kind === 'sigmoid' ? sigmoid : hardSigmoid;
}

/** dy/dx from y: sigmoid y(1-y); hardSigmoid 0.2 inside the linear part, 0 where clipped. */
export function gateGradFn(kind: GateActivation): (y: number) => number {
  return kind === 'sigmoid' ? (y) => y * (1 - y) : (y) => (y > 0 && y < 1 ? 0.2 : 0);
}

/**
 * The recurrent product of a cell's backward: out = beta out + dP · U[:, c0 .. c0+k)^T, with dP
 * [B, k] of row stride GH and U [H, GH]; out [B, H]. With UT (U transposed, [GH, H]) it is the
 * product with rows c0 .. c0+k of UT, read in place: the same sum, in the order the kernel set
 * chooses for that product.
 */
export function timesUTransposed(gemm: Gemm, B: number, H: number, GH: number, c0: number, k: number, dP: Arr, U: Arr, UT: Arr | null | undefined, beta: 0 | 1, out: Arr): void {
  if (UT) gemm(false, false, B, H, k, dP, GH, UT.subarray(c0 * H), H, beta, out, H);
  else gemm(false, true, B, H, k, dP, GH, U.subarray(c0), GH, beta, out, H);
}

/** A view of step t of a [T, n] sequence buffer. */
export function at(buf: Arr, t: number, n: number): Arr {
  return buf.subarray(t * n, (t + 1) * n);
}
