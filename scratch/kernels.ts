/**
 * The hot loops of the scratch engine, BLAS-style: explicit sizes, row-major operands given as
 * (array, leading dimension), caller-owned output, beta = 0 to overwrite or 1 to accumulate.
 * Operands are typed-array views (subarray) whose first element is the matrix's [0, 0].
 * One code path serves float32 and float64 (the dtype is the arrays').
 */

/** Every buffer of the scratch engine: a float32 or float64 typed array (the engine's dtype), row-major. */
export type Arr = Float32Array | Float64Array;

/** The matrix product every hot path goes through (see `gemm` below for the contract). */
export type Gemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  A: Arr,
  lda: number,
  B: Arr,
  ldb: number,
  beta: 0 | 1,
  C: Arr,
  ldc: number,
) => void;

/**
 * Optional fast routines a kernel set may add beyond gemm: the hot element-wise loops of a time
 * step (sigmoid gates only), the softmax of the head and the Adam update. Each returns false (null)
 * when it cannot take the operands (a buffer outside its memory, float64); the caller then runs its
 * own TypeScript loop, which is the reference. The fast versions agree with the reference to a few
 * float32 ulps; test/kernels.test.ts holds them to that.
 */
export interface FastKernels {
  /**
   * The set multiplies by a stored transpose faster than by a transposed operand whose rows are a
   * multiple of 4 KiB apart (OpenBLAS packs such a B^T at a quarter of its speed): a layer that made
   * U^T for its forward pass (`transposedRecurrent` in sequence.ts) hands it to the cells' backward
   * too, whose dP U^T then reads it in place.
   */
  readonly transposedBackward?: boolean;
  /** LSTM step, sigmoid gates: z [B, 4H] pre-activations -> gates; c_t, h_t, tanh(c_t) [B, H] (cells/lstm.ts). */
  lstmForward?(B: number, H: number, z: Arr, cPrev: Arr, c: Arr, h: Arr, tanhC: Arr): boolean;
  /** GRU (reset before), sigmoid gates: z, r of a [B, 3H] in place; rh = r * h_{t-1} (cells/gru.ts). */
  gruForwardZR?(B: number, H: number, a: Arr, hPrev: Arr, rh: Arr): boolean;
  /** GRU (reset before): hh = tanh(a_h) in place; h_t = z h_{t-1} + (1 - z) hh. */
  gruForwardH?(B: number, H: number, a: Arr, hPrev: Arr, h: Arr): boolean;
  /**
   * GRU (reset after), sigmoid gates: the whole step after M = h_{t-1} U + b_rec [B, 3H], the
   * recurrent product with its own bias (cells/gru-reset-after.ts); Mh [B, H] keeps its h block M_h.
   */
  gruResetAfterForward?(B: number, H: number, a: Arr, M: Arr, hPrev: Arr, Mh: Arr, h: Arr): boolean;
  /** LSTM step backward, sigmoid gates: gates z, tanh(c_t), c_{t-1}, dh, dc -> dP [B, 4H], dc_{t-1}. */
  lstmBackward?(B: number, H: number, z: Arr, tanhC: Arr, cPrev: Arr, dh: Arr, dc: Arr, dP: Arr, dcPrev: Arr): boolean;
  /** GRU (reset before) backward, sigmoid gates: dP_z, dP_h and dh_{t-1} = dh z. */
  gruBackwardZH?(B: number, H: number, a: Arr, hPrev: Arr, dh: Arr, dP: Arr, dhPrev: Arr): boolean;
  /** GRU (reset before) backward: dP_r from d(r h_{t-1}); dh_{t-1} += d(r h_{t-1}) r. */
  gruBackwardR?(B: number, H: number, a: Arr, hPrev: Arr, dRh: Arr, dP: Arr, dhPrev: Arr): boolean;
  /** GRU (reset after) backward, sigmoid gates: dP, dM [B, 3H] and dh_{t-1} = dh z. */
  gruResetAfterBackward?(B: number, H: number, a: Arr, Mh: Arr, hPrev: Arr, dh: Arr, dP: Arr, dM: Arr, dhPrev: Arr): boolean;
  /** y += x, n elements. */
  addInto?(n: number, y: Arr, x: Arr): boolean;
  /** gatherRows below (token input), bit for bit. */
  gatherRows?(rows: number, n: number, ids: Int32Array, W: Arr, bias: Arr, C: Arr): boolean;
  /** scatterAddRows below (its gradient), bit for bit. */
  scatterAddRows?(rows: number, n: number, ids: Int32Array, D: Arr, dW: Arr): boolean;
  /** out[j, i] = A[i, j]: A [rows, cols] (row stride lda) into out [cols, rows] (row stride ldo). */
  transpose?(rows: number, cols: number, A: Arr, lda: number, out: Arr, ldo: number): boolean;
  /** addColumnSums below (bias gradients), bit for bit. */
  addColumnSums?(rows: number, n: number, A: Arr, lda: number, out: Arr): boolean;
  /** x = tanh(x), n elements. */
  tanh?(n: number, x: Arr): boolean;
  /** d = dh (1 - h^2), n elements (tanh's backward from its output). */
  tanhBackward?(n: number, h: Arr, dh: Arr, d: Arr): boolean;
  /**
   * Softmax of N rows of O logits: out row r = weight[r] * softmax(row r) and lse[r] its
   * log-sum-exp, for rows of non-zero weight (the others are left alone).
   */
  softmaxRows?(N: number, O: number, logits: Arr, weight: Float64Array, out: Arr, lse: Float64Array): boolean;
  /** Adam over n elements (see optim.ts; b1, b2 and their complements, bias corrections c1, c2). */
  adam?(n: number, p: Arr, g: Arr, m: Arr, v: Arr, b1: number, omb1: number, b2: number, omb2: number, lr: number, c1: number, c2: number, eps: number): boolean;
}

/**
 * A kernel set: where buffers live and how they are multiplied. The TypeScript kernels of this
 * file are the reference; a fast path (WebAssembly SIMD, worker threads) implements the same
 * interface and must agree with them to float32 rounding.
 */
export interface Kernels extends FastKernels {
  /** "js", or the fast path's name */
  readonly name: string;
  /**
   * One line on what the set runs on beyond its name, for the headers that name the kernels: the
   * BLAS library, or why there is none where one was looked for.
   */
  readonly about?: string;
  /** threads the gemm may use */
  readonly threads: number;
  readonly dtype: 'float32' | 'float64';
  /** A zeroed buffer of n elements that this kernel set can operate on. */
  alloc(n: number): Arr;
  gemm: Gemm;
}

export function jsKernels(dtype: 'float32' | 'float64'): Kernels {
  return {
    name: 'js',
    threads: 1,
    dtype,
    alloc: dtype === 'float32' ? (n) => new Float32Array(n) : (n) => new Float64Array(n),
    gemm,
  };
}

/**
 * C = beta * C + op(A) · op(B), with op(A) [m, k] and op(B) [k, n].
 * transA: A is stored [k, m] (lda >= m); transB: B is stored [n, k] (ldb >= k).
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  A: Arr,
  lda: number,
  B: Arr,
  ldb: number,
  beta: 0 | 1,
  C: Arr,
  ldc: number,
): void {
  if (m === 0 || n === 0) return;
  if (transB) {
    if (transA) throw new Error('gemm: transA with transB is not used');
    gemmNT(m, n, k, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (beta === 0) {
    for (let i = 0; i < m; i++) C.fill(0, i * ldc, i * ldc + n);
  }
  if (transA) gemmTN(m, n, k, A, lda, B, ldb, C, ldc);
  else gemmNN(m, n, k, A, lda, B, ldb, C, ldc);
}

/** C[m, n] += A[m, k] · B[k, n]; four rows of B per pass over a row of C. */
function gemmNN(m: number, n: number, k: number, A: Arr, lda: number, B: Arr, ldb: number, C: Arr, ldc: number): void {
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    const ai = i * lda;
    let p = 0;
    for (; p < k4; p += 4) {
      const a0 = A[ai + p];
      const a1 = A[ai + p + 1];
      const a2 = A[ai + p + 2];
      const a3 = A[ai + p + 3];
      const b0 = p * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      for (let j = 0; j < n; j++) {
        C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
      }
    }
    for (; p < k; p++) {
      const a = A[ai + p];
      const bp = p * ldb;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[bp + j];
    }
  }
}

/** C[m, n] += A^T · B with A stored [k, m], B [k, n]. */
function gemmTN(m: number, n: number, k: number, A: Arr, lda: number, B: Arr, ldb: number, C: Arr, ldc: number): void {
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    let p = 0;
    for (; p < k4; p += 4) {
      const a0 = A[p * lda + i];
      const a1 = A[(p + 1) * lda + i];
      const a2 = A[(p + 2) * lda + i];
      const a3 = A[(p + 3) * lda + i];
      const b0 = p * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      for (let j = 0; j < n; j++) {
        C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
      }
    }
    for (; p < k; p++) {
      const a = A[p * lda + i];
      const bp = p * ldb;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[bp + j];
    }
  }
}

/** C[m, n] = beta * C + A[m, k] · B^T with B stored [n, k]: dot products of rows. */
function gemmNT(m: number, n: number, k: number, A: Arr, lda: number, B: Arr, ldb: number, beta: 0 | 1, C: Arr, ldc: number): void {
  for (let i = 0; i < m; i++) {
    const ai = i * lda;
    const ci = i * ldc;
    for (let j = 0; j < n; j++) {
      const bj = j * ldb;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[ai + p] * B[bj + p];
      C[ci + j] = beta === 0 ? s : C[ci + j] + s;
    }
  }
}

/** out[j] += sum over rows of A[r, j]. */
export function addColumnSums(rows: number, n: number, A: Arr, lda: number, out: Arr): void {
  for (let r = 0; r < rows; r++) {
    const a = r * lda;
    for (let j = 0; j < n; j++) out[j] += A[a + j];
  }
}

/** C[r, :] = W[ids[r], :] + bias: x·W for one-hot rows, without building them. */
export function gatherRows(rows: number, n: number, ids: Int32Array, W: Arr, bias: Arr, C: Arr): void {
  for (let r = 0; r < rows; r++) {
    const w = ids[r] * n;
    const c = r * n;
    for (let j = 0; j < n; j++) C[c + j] = W[w + j] + bias[j];
  }
}

/** dW[ids[r], :] += D[r, :]: the gradient of a row gather. */
export function scatterAddRows(rows: number, n: number, ids: Int32Array, D: Arr, dW: Arr): void {
  for (let r = 0; r < rows; r++) {
    const w = ids[r] * n;
    const d = r * n;
    for (let j = 0; j < n; j++) dW[w + j] += D[d + j];
  }
}

/** out[t, b, :] = src[b, t, :]: batch-major <-> time-major (swap the first two of three axes). */
export function swapAxes01(d0: number, d1: number, inner: number, src: ArrayLike<number>, out: Arr | Int32Array | Uint8Array): void {
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      const s = (i * d1 + j) * inner;
      const o = (j * d0 + i) * inner;
      for (let q = 0; q < inner; q++) out[o + q] = src[s + q];
    }
  }
}
