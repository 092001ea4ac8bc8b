/**
 * The dense output layer and the losses.
 *   logits = h W_o + b_o                         rows [N, O] (N = T*B many-to-many, B many-to-one)
 *   softmaxCrossEntropy per row: logsumexp(z) - z_y   (from logits, unclipped)
 *   mse per row: mean over outputs of (z - y)^2
 * Reduction: "mean" averages the rows (the unmasked ones when a mask is given); "sumOverTime" sums
 * over time and averages over the batch (divides by B).
 */
import { type Arr, type FastKernels, type Gemm } from './kernels.js';

/** logits [N, O] = Hin [N, H] · W [H, O] + b */
export function headForward(gemm: Gemm, N: number, H: number, O: number, Hin: Arr, W: Arr, b: Arr, logits: Arr): void {
  for (let r = 0; r < N; r++) logits.set(b, r * O);
  gemm(false, false, N, O, H, Hin, H, W, O, 1, logits, O);
}

/** dW += Hin^T dlogits; db += column sums; dHin = dlogits W^T (overwritten). */
export function headBackward(gemm: Gemm, N: number, H: number, O: number, Hin: Arr, W: Arr, dlogits: Arr, dW: Arr, db: Arr, dHin: Arr): void {
  gemm(true, false, H, O, N, Hin, H, dlogits, O, 1, dW, O);
  for (let r = 0; r < N; r++) {
    const o = r * O;
    for (let j = 0; j < O; j++) db[j] += dlogits[o + j];
  }
  gemm(false, true, N, H, O, dlogits, O, W, O, 0, dHin, H);
}

/**
 * Where the target of logits row r is, and how much the row weighs in the loss.
 * `targetRow[r]` indexes the targets (class id, or a row of O values); weight 0 skips the row.
 */
export interface LossRows {
  N: number;
  targetRow: Int32Array;
  weight: Float64Array;
  /** Scratch of the fused softmax: each row's log-sum-exp. */
  lse?: Float64Array;
}

/**
 * Loss of all rows; writes dLoss/dlogits. Sums in float64 whatever the dtype. With `fast.softmaxRows`
 * (a kernel set's fused softmax: the weighted softmax and the log-sum-exp of every row in one pass
 * of WebAssembly), only the target's terms are left to this loop.
 */
export function softmaxCrossEntropy(O: number, logits: Arr, y: Int32Array, rows: LossRows, dlogits: Arr, fast: FastKernels = {}): number {
  let loss = 0;
  const lse = fast.softmaxRows ? (rows.lse ??= new Float64Array(rows.N)) : null;
  // fused: dlogits already holds w * softmax and lse each row's log-sum-exp
  const fused = lse !== null && fast.softmaxRows!(rows.N, O, logits, rows.weight, dlogits, lse);
  for (let r = 0; r < rows.N; r++) {
    const o = r * O;
    const w = rows.weight[r];
    if (w === 0) {
      dlogits.fill(0, o, o + O);
      continue;
    }
    let rowLse: number;
    if (fused) {
      rowLse = lse![r];
    } else {
      let max = -Infinity;
      for (let j = 0; j < O; j++) if (logits[o + j] > max) max = logits[o + j];
      let sum = 0;
      for (let j = 0; j < O; j++) sum += Math.exp(logits[o + j] - max);
      rowLse = max + Math.log(sum);
      for (let j = 0; j < O; j++) dlogits[o + j] = w * Math.exp(logits[o + j] - rowLse);
    }
    const target = y[rows.targetRow[r]];
    loss += w * (rowLse - logits[o + target]);
    dlogits[o + target] -= w;
  }
  return loss;
}

export function meanSquaredError(O: number, logits: Arr, y: ArrayLike<number>, rows: LossRows, dlogits: Arr): number {
  let loss = 0;
  for (let r = 0; r < rows.N; r++) {
    const o = r * O;
    const w = rows.weight[r] / O;
    const yo = rows.targetRow[r] * O;
    let s = 0;
    for (let j = 0; j < O; j++) {
      const d = logits[o + j] - y[yo + j];
      s += d * d;
      dlogits[o + j] = w * 2 * d;
    }
    loss += w * s;
  }
  return loss;
}

/**
 * Row bookkeeping for a batch. Many-to-many rows are time-major (r = t*B + b) and their targets
 * batch-major (b*T + t); many-to-one has one row per sequence.
 */
export function lossRows(
  B: number,
  T: number,
  manyToMany: boolean,
  reduction: 'mean' | 'sumOverTime',
  maskTimeMajor: Uint8Array | null,
  out?: LossRows,
): LossRows {
  const N = manyToMany ? T * B : B;
  const rows = out && out.N === N ? out : { N, targetRow: new Int32Array(N), weight: new Float64Array(N) };
  let valid = 0;
  for (let r = 0; r < N; r++) {
    const b = r % B;
    const t = manyToMany ? Math.floor(r / B) : 0;
    rows.targetRow[r] = manyToMany ? b * T + t : b;
    const on = !manyToMany || !maskTimeMajor || maskTimeMajor[r] !== 0;
    rows.weight[r] = on ? 1 : 0;
    if (on) valid++;
  }
  const scale = reduction === 'mean' ? (valid > 0 ? 1 / valid : 0) : 1 / B;
  for (let r = 0; r < N; r++) rows.weight[r] *= scale;
  return rows;
}
