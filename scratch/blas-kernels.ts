/**
 * The BLAS kernel set: the matrix products of the scratch engine on the machine's BLAS (blas.ts),
 * everything else (the cells' element-wise steps, the softmax, Adam, the token gathers) on the
 * kernel set underneath, unchanged: WebAssembly SIMD for float32, the TypeScript loops for float64.
 * The engine sees one `Kernels` like any other; only `gemm` differs.
 *
 * Which products go to the BLAS depends on the product's shape alone (`blasTakes`), never on a
 * timing, so that a run is the same bits run after run. The rule, measured on this project's
 * 2-core machine (OpenBLAS 0.3.21, one thread, engines alternating in one process):
 *   - below MIN_BLAS_MACS multiply-adds a product stays in WebAssembly: a call through koffi costs
 *     about 1 us before any arithmetic, as long as a whole product of 4K multiply-adds there;
 *   - everything else goes to the BLAS, 1.5 to 4 times faster than the WebAssembly gemm from
 *     batch 4 up (a time step's h U at lstm H=256 B=32: 78 against 31 GFLOP/s).
 * Operands the BLAS cannot take as they are (leading dimensions BLAS forbids, mixed types) go to
 * the set underneath, which computes anything correctly.
 */
import type { Blas } from './blas.js';
import { type Arr, type Kernels } from './kernels.js';

/** Products of fewer multiply-adds than this stay on the kernel set underneath (see the top of this file). */
export const MIN_BLAS_MACS = 1 << 14;

/** Whether the BLAS computes a product of this shape (`minMacs` as in BlasKernelOptions). */
export function blasTakes(m: number, n: number, k: number, minMacs: number = MIN_BLAS_MACS): boolean {
  return m * n * k >= minMacs;
}

export interface BlasKernelOptions {
  /** Threads the BLAS may use for one product (the engine's thread count). */
  threads: number;
  /** Smallest product (m n k) sent to the BLAS (default MIN_BLAS_MACS; 0: every product). */
  minMacs?: number;
}

export interface BlasKernels extends Kernels {
  readonly blas: Blas;
  /** Which kernel set computes a product of this shape: "blas" or the name of the one underneath. */
  routeOf(m: number, n: number, k: number): string;
  readonly stats: { blasCalls: number; otherCalls: number };
  /**
   * What the BLAS reaches on a 512 x 512 x 512 product at this set's thread count (median of five
   * runs of about 20 ms), in GFLOP/s: the library's own rate on a large product, the ceiling of
   * `bench --profile` for the products it computes.
   */
  peakBlasGflops(): number;
  dispose(): Promise<void>;
}

/** 16384 -> "2^14" (a power of two), else the number. */
function macs(n: number): string {
  const p = Math.log2(n);
  return Number.isInteger(p) ? `2^${p}` : String(n);
}

/** Elements a [rows, cols] operand with leading dimension ld spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/** `base` with its products on `blas` (see the top of this file). */
export function blasKernels(base: Kernels, blas: Blas, o: BlasKernelOptions): BlasKernels {
  const threads = Math.max(1, Math.floor(o.threads));
  const minMacs = o.minMacs ?? MIN_BLAS_MACS;
  const stats = { blasCalls: 0, otherCalls: 0 };
  const baseGemm = base.gemm;
  const Type = base.dtype === 'float32' ? Float32Array : Float64Array;
  function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, A: Arr, lda: number, B: Arr, ldb: number, beta: 0 | 1, C: Arr, ldc: number): void {
    if (m === 0 || n === 0) return;
    const fits =
      k > 0 &&
      blasTakes(m, n, k, minMacs) &&
      A instanceof Type && B instanceof Type && C instanceof Type &&
      lda >= Math.max(1, transA ? m : k) && ldb >= Math.max(1, transB ? k : n) && ldc >= Math.max(1, n);
    if (!fits) {
      stats.otherCalls++;
      baseGemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc);
      return;
    }
    // C reads and writes raw memory: an operand shorter than the product would be read past its end
    if (A.length < (transA ? span(k, m, lda) : span(m, k, lda)) || B.length < (transB ? span(n, k, ldb) : span(k, n, ldb)) || C.length < span(m, n, ldc)) {
      throw new RangeError(`gemm: operand too short for m=${m} n=${n} k=${k} lda=${lda} ldb=${ldb} ldc=${ldc}`);
    }
    stats.blasCalls++;
    blas.useThreads(threads);
    blas.gemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc);
  }
  let peakArea: Float32Array | null = null;
  const set: BlasKernels = {
    ...base,
    name: 'blas',
    threads,
    about: `${blas.library} from ${blas.path}${blas.threadControl ? '' : ', on threads of its own'}; ${minMacs > 1 ? `products under ${macs(minMacs)} multiply-adds and ` : ''}the rest on ${base.name}`,
    dtype: base.dtype,
    alloc: (n) => base.alloc(n),
    gemm,
    transposedBackward: true,
    blas,
    stats,
    routeOf: (m, n, k) => (blasTakes(m, n, k, minMacs) ? 'blas' : base.name),
    peakBlasGflops() {
      const N = 512;
      peakArea ??= Float32Array.from({ length: 3 * N * N }, (_, i) => 1 + (i % 7) / 8);
      const [a, b, c] = [0, 1, 2].map((i) => peakArea!.subarray(i * N * N, (i + 1) * N * N));
      blas.useThreads(threads);
      const run = (reps: number): number => {
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) blas.gemm(false, false, N, N, N, a, N, b, N, 0, c, N);
        return performance.now() - t0;
      };
      run(1);
      let reps = 1;
      while (run(reps) < 5 && reps < 1 << 12) reps *= 2;
      reps = Math.max(1, Math.round((reps * 20) / Math.max(run(reps), 1e-3)));
      const times = Array.from({ length: 5 }, () => run(reps)).sort((x, y) => x - y);
      return (2 * N * N * N * reps) / times[2] / 1e6;
    },
    async dispose() {
      const d = (base as { dispose?: () => Promise<void> }).dispose;
      if (d) await d.call(base);
    },
  };
  return set;
}
