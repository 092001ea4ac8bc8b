/**
 * Where a scratch training step's time goes: every routine of the engine's kernel set (gemm by
 * shape, and the element-wise, loss and optimizer kernels a fast kernel set adds) is timed while
 * the engine takes training steps, so the report says how fast each matrix product of a step ran
 * (GFLOP/s, 2 m n k flops per product) and what fraction of the step was spent outside gemm.
 * Used by `rnnlab bench --profile` (src/engines/scratch.ts builds the engine on these kernels).
 * Timing wraps each call with performance.now() (about 0.1 us a call); the step time is measured around whole steps, so both include that small overhead.
 */
import type { Batch } from '../src/engine.js';
import type { BlasKernels } from './blas-kernels.js';
import type { Kernels } from './kernels.js';

export interface GemmShapeTime {
  /** NN, TN (A transposed) or NT (B transposed) */
  op: 'NN' | 'TN' | 'NT';
  m: number;
  n: number;
  k: number;
  /** The kernel set that computed it: "blas", or the set's own gemm (its name). */
  on: string;
  callsPerStep: number;
  msPerStep: number;
  gflops: number;
  /** of the step's time */
  share: number;
}

export interface KernelTime {
  name: string;
  callsPerStep: number;
  msPerStep: number;
  share: number;
}

export interface StepProfile {
  steps: number;
  stepMs: number;
  gemmMs: number;
  /** The gemm's flops over its time, all shapes together. */
  gemmGflops: number;
  /** The products' flops of one step, in GFLOP. */
  gemmGflop: number;
  /**
   * What the WebAssembly gemm's microkernel reaches on this machine, one thread, operands in L1
   * (WasmKernels.peakGflops), or null on the TypeScript kernels.
   */
  peakGflops: number | null;
  /**
   * What the BLAS reaches on a 512^3 product at the row's thread count (BlasKernels.peakBlasGflops),
   * when the kernel set has one; else null.
   */
  blasGflops: number | null;
  /** The BLAS library, described, or null. */
  blasLibrary: string | null;
  /** 1 - gemm time / step time. */
  outsideGemm: number;
  /** Products, slowest first. */
  shapes: GemmShapeTime[];
  /** The kernel set's other timed routines (element-wise, loss, optimizer), slowest first. */
  kernels: KernelTime[];
}

interface Acc {
  calls: number;
  ms: number;
  flops: number;
}

/** A kernel set's functions that are not kernels of a step (or are timed by shape: gemm). */
const NOT_TIMED = new Set(['gemm', 'alloc', 'dispose', 'map', 'peakGflops', 'peakBlasGflops', 'routeOf']);

/**
 * A kernel set that times every call of every routine of `k` (alloc aside) and answers for the
 * same memory: an engine built on it runs exactly as on `k`.
 */
export function timedKernels(k: Kernels): { kernels: Kernels; reset(): void; gemm: Map<string, Acc>; other: Map<string, Acc> } {
  const gemm = new Map<string, Acc>();
  const other = new Map<string, Acc>();
  const wrapped = Object.create(k) as Kernels & Record<string, unknown>;
  const inner = k.gemm;
  wrapped.gemm = (tA, tB, m, n, kk, A, lda, B, ldb, beta, C, ldc) => {
    const t0 = performance.now();
    inner(tA, tB, m, n, kk, A, lda, B, ldb, beta, C, ldc);
    const ms = performance.now() - t0;
    const key = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${m} ${n} ${kk}`;
    const a = gemm.get(key) ?? { calls: 0, ms: 0, flops: 0 };
    a.calls++;
    a.ms += ms;
    a.flops += 2 * m * n * kk;
    gemm.set(key, a);
  };
  for (const name of Object.keys(k)) {
    const f = (k as unknown as Record<string, unknown>)[name];
    if (NOT_TIMED.has(name) || typeof f !== 'function') continue;
    wrapped[name] = (...args: unknown[]): unknown => {
      const t0 = performance.now();
      const r = (f as (...a: unknown[]) => unknown).apply(k, args);
      const a = other.get(name) ?? { calls: 0, ms: 0, flops: 0 };
      a.calls++;
      a.ms += performance.now() - t0;
      other.set(name, a);
      return r;
    };
  }
  return {
    kernels: wrapped,
    gemm,
    other,
    reset() {
      gemm.clear();
      other.clear();
    },
  };
}

/**
 * Takes `warmup` untimed and then `steps` timed training steps of `engine` (built on
 * `timed.kernels`) on `batch`, and reports per step.
 */
export function profileSteps(engine: { step(b: Batch): unknown }, timed: ReturnType<typeof timedKernels>, batch: Batch, warmup: number, steps: number): StepProfile {
  for (let i = 0; i < warmup; i++) engine.step(batch);
  timed.reset();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) engine.step(batch);
  const stepMs = (performance.now() - t0) / steps;
  let gemmMs = 0;
  let flops = 0;
  const shapes: GemmShapeTime[] = [];
  const route = (timed.kernels as Partial<BlasKernels>).routeOf;
  for (const [key, a] of timed.gemm) {
    const [op, m, n, k] = key.split(' ');
    gemmMs += a.ms / steps;
    flops += a.flops / steps;
    shapes.push({
      op: op as GemmShapeTime['op'],
      m: +m,
      n: +n,
      k: +k,
      on: route ? route(+m, +n, +k) : timed.kernels.name,
      callsPerStep: a.calls / steps,
      msPerStep: a.ms / steps,
      gflops: a.ms > 0 ? a.flops / a.ms / 1e6 : 0,
      share: a.ms / steps / stepMs,
    });
  }
  const kernels = [...timed.other].map(([name, a]) => ({ name, callsPerStep: a.calls / steps, msPerStep: a.ms / steps, share: a.ms / steps / stepMs }));
  shapes.sort((a, b) => b.msPerStep - a.msPerStep);
  kernels.sort((a, b) => b.msPerStep - a.msPerStep);
  return { steps, stepMs, gemmMs, gemmGflops: gemmMs > 0 ? flops / gemmMs / 1e6 : 0, gemmGflop: flops / 1e9, peakGflops: null, blasGflops: null, blasLibrary: null, outsideGemm: Math.max(0, 1 - gemmMs / stepMs), shapes, kernels };
}
