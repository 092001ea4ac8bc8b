/**
 * The WebAssembly SIMD kernel set (scratch/wasm) against the TypeScript reference gemm:
 * - every variant (NN, TN, NT), beta 0 and 1, many shapes, leading dimensions wider than the
 *   matrices, operands that are subarrays at odd offsets (so not 16-byte aligned);
 * - nothing outside the logical C is written;
 * - threads: 1 and 2 threads give bit-identical C, on every path and both ways of cutting C;
 * - alloc: aligned, zeroed, and views that survive memory growth;
 * - operands outside the memory fall back to the reference; too-short operands throw;
 * - end to end: a ScratchEngine on these kernels gives the loss and gradients of the default one.
 * - the kernels beyond gemm (FastKernels): exp, sigmoid and tanh within 3 float32 ulps of the exact
 *   value (measured worst: 0.94, 2.22 and 1.26 ulps); the fused softmax within 1e-6 of the
 *   reference (a few ulps of each probability); Adam, computed in float32 where the reference
 *   computes in float64, within 1e-6 of it (relative to the largest value) after 5 steps: each step
 *   is a few float32 ulps of the update apart.
 *
 * Tolerance of one element of C (u = 2^-24, S = sum_p |a_ip b_pj| + beta |C0_ij|):
 *   |wasm - ref| <= 2 (k + 2) u S.
 * The wasm kernels add k rounded products one by one in float32 (dot products: four lane sums,
 * two pairwise additions and the tail), error <= (k + 1) u S to first order; the reference adds
 * groups of four products in float64 and rounds to float32 once per group, error
 * <= (k/4 + 2) u S. Their difference is within the sum of both, (1.25 k + 3) u S < 2 (k + 2) u S.
 * A wrong product or a missed term is off by about |a_ip b_pj|, far beyond this for k <= 1600.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareArrays } from '../src/tolerance.js';
import { ScratchEngine, makeCell } from '../scratch/engine.js';
import { lossRows, softmaxCrossEntropy } from '../scratch/head.js';
import { Optimizer } from '../scratch/optim.js';
import { optimizerSpec } from '../src/optimizer.js';
import { type Arr, type FastKernels, addColumnSums, gatherRows, gemm as refGemm, scatterAddRows } from '../scratch/kernels.js';
import { type WasmKernels, createWasmKernels, wasmPath } from '../scratch/wasm/index.js';
import { randomBatch } from '../src/data/synthetic.js';
import { Rng } from '../src/rng.js';
import { parseSpec } from '../src/spec.js';
import { projectRoot } from '../src/version.js';
import { expectClose, expectNear } from './helpers/close.js';

const U = 2 ** -24;

// `npm test` builds first; a bare `vitest run` after editing an .as file rebuilds the module here.
beforeAll(() => {
  const dir = join(projectRoot(), 'scratch', 'wasm');
  const newest = Math.max(...readdirSync(dir).filter((f) => f.endsWith('.as')).map((f) => statSync(join(dir, f)).mtimeMs));
  if (!existsSync(wasmPath()) || statSync(wasmPath()).mtimeMs < newest) {
    execFileSync(process.execPath, [join(projectRoot(), 'scratch', 'wasm', 'build.mjs')], { stdio: 'inherit' });
  }
});

let K1: WasmKernels; // one thread
let K2: WasmKernels; // two threads, every call spread over both
beforeAll(async () => {
  K1 = await createWasmKernels();
  K2 = await createWasmKernels({ threads: 2, minParallelMacs: 0, adaptive: false }); // always both threads, however loaded the machine
});
afterAll(async () => {
  await K1?.dispose();
  await K2?.dispose();
});

const fill = (x: Arr, rng: Rng): void => {
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
};

interface Case {
  tA: boolean;
  tB: boolean;
  m: number;
  n: number;
  k: number;
  beta: 0 | 1;
  /** extra columns of each operand's leading dimension */
  pad: number;
  /** elements before [0, 0] inside each operand's buffer */
  offset: number;
}

const label = (c: Case): string =>
  `${c.tA ? 'T' : 'N'}${c.tB ? 'T' : 'N'} m=${c.m} n=${c.n} k=${c.k} beta=${c.beta} pad=${c.pad} offset=${c.offset}`;

/** Operands of a case in `alloc`'s memory, as subarrays at the case's offset; C0 is C before. */
function operands(c: Case, alloc: (n: number) => Float32Array, rng: Rng) {
  const lda = (c.tA ? c.m : c.k) + c.pad;
  const ldb = (c.tB ? c.k : c.n) + c.pad;
  const ldc = c.n + c.pad;
  const rowsA = c.tA ? c.k : c.m;
  const rowsB = c.tB ? c.n : c.k;
  const bufA = alloc(c.offset + rowsA * lda);
  const bufB = alloc(c.offset + rowsB * ldb);
  const bufC = alloc(c.offset + c.m * ldc + 3); // 3 guard elements after the last row
  fill(bufA, rng);
  fill(bufB, rng);
  fill(bufC, rng);
  return {
    lda,
    ldb,
    ldc,
    bufC,
    A: bufA.subarray(c.offset),
    B: bufB.subarray(c.offset),
    C: bufC.subarray(c.offset),
  };
}

/**
 * Runs one case on `K` and on the reference; returns the number of elements checked. Checks
 * every element of C within the bound above and every element around it unchanged.
 */
function checkCase(K: WasmKernels, c: Case, rng: Rng): number {
  const { A, B, C, bufC, lda, ldb, ldc } = operands(c, (n) => K.alloc(n), rng);
  const A0 = Float32Array.from(A);
  const B0 = Float32Array.from(B);
  const C0 = Float32Array.from(C);
  const ref = Float32Array.from(C);
  const before = Float32Array.from(bufC);
  K.gemm(c.tA, c.tB, c.m, c.n, c.k, A, lda, B, ldb, c.beta, C, ldc);
  refGemm(c.tA, c.tB, c.m, c.n, c.k, A0, lda, B0, ldb, c.beta, ref, ldc);
  const inside = new Uint8Array(bufC.length);
  let worst = 0;
  let where = '';
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = c.beta ? Math.abs(C0[i * ldc + j]) : 0;
      for (let p = 0; p < c.k; p++) {
        const a = c.tA ? A0[p * lda + i] : A0[i * lda + p];
        const b = c.tB ? B0[j * ldb + p] : B0[p * ldb + j];
        s += Math.abs(a * b);
      }
      const bound = 2 * (c.k + 2) * U * s;
      const err = Math.abs(C[i * ldc + j] - ref[i * ldc + j]);
      // NaN fails too: !(err <= bound)
      if (!(err <= bound) && (worst === 0 || err / bound > worst)) {
        worst = err / bound;
        where = `C[${i}, ${j}] = ${C[i * ldc + j]}, reference ${ref[i * ldc + j]}, bound ${bound}`;
      }
      inside[c.offset + i * ldc + j] = 1;
    }
  }
  expect(where, label(c)).toBe('');
  let touched = -1;
  for (let i = 0; i < bufC.length; i++) if (!inside[i] && !Object.is(bufC[i], before[i])) touched = i;
  expect(touched, `${label(c)}: element ${touched} of C's buffer is outside C`).toBe(-1);
  return c.m * c.n;
}

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 65, 128];
const VARIANTS = [
  { tA: false, tB: false, name: 'NN' },
  { tA: true, tB: false, name: 'TN' },
  { tA: false, tB: true, name: 'NT' },
];

describe('wasm gemm equals the reference within float32 rounding', () => {
  test.each(VARIANTS)('$name: every m, n, k in {1 .. 128}, beta 0 and 1, padded, offset', ({ tA, tB }) => {
    const rng = new Rng(tA ? 1 : tB ? 2 : 3);
    let elements = 0;
    let i = 0;
    for (const m of SIZES) {
      for (const n of SIZES) {
        for (const k of SIZES) {
          // beta, padding and offset vary with the case: all combinations over the sweep
          const beta = (i & 1) as 0 | 1;
          const pad = [0, 3, 1][i % 3];
          const offset = [0, 1, 5, 2][i % 4];
          elements += checkCase(K1, { tA, tB, m, n, k, beta, pad, offset }, rng);
          i++;
        }
      }
    }
    expect(elements).toBeGreaterThan(1e6);
    expect(K1.stats.jsFallbacks).toBe(0);
  });

  // The packed route (gemm_packed) is taken for TN with k >= 256 and NT with k < 128 and m >= 64;
  // the sweep above covers the NT one, these the TN one (and long k in general).
  test.each([
    ...[8, 9, 13, 65].flatMap((m) => [1, 7, 8, 17, 64].map((n) => ({ tA: true, tB: false, m, n, k: [256, 257, 300][(m + n) % 3] }))),
    { tA: false, tB: false, m: 5, n: 19, k: 1600 },
    { tA: false, tB: true, m: 6, n: 11, k: 1601 },
    { tA: false, tB: true, m: 70, n: 9, k: 127 },
    { tA: true, tB: false, m: 7, n: 33, k: 1600 }, // m < 8: direct TN kernel with a long k
    { tA: false, tB: false, m: 19, n: 1021, k: 40 }, // NN with B rows 4 KiB apart (pad 3: ldb 1024): packed
  ])('long k: $m x $n x $k transA=$tA transB=$tB', ({ tA, tB, m, n, k }) => {
    const rng = new Rng(m * 1000 + n + k);
    for (const beta of [0, 1] as const) {
      checkCase(K1, { tA, tB, m, n, k, beta, pad: 2, offset: 3 }, rng);
      checkCase(K2, { tA, tB, m, n, k, beta, pad: 0, offset: 1 }, rng);
    }
  });

  test('k = 0: C = beta C', () => {
    const C = K1.alloc(6).fill(2);
    const A = K1.alloc(4);
    K1.gemm(false, false, 2, 3, 0, A, 0, A, 3, 1, C, 3);
    expect([...C]).toEqual([2, 2, 2, 2, 2, 2]);
    K1.gemm(false, true, 2, 3, 0, A, 0, A, 0, 0, C, 3);
    expect([...C]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('threads', () => {
  // Both cuts of C (rows when m >= n, else columns) and every routine: direct NN/TN, packed TN,
  // dot-product NT, packed NT; sizes that do not divide into whole register blocks.
  test.each([
    { tA: false, tB: false, m: 1600, n: 512, k: 65 },
    { tA: false, tB: false, m: 1, n: 515, k: 128 },
    { tA: false, tB: false, m: 33, n: 517, k: 129 },
    { tA: false, tB: false, m: 32, n: 1023, k: 256 }, // ldb 1024: packed NN, cut by columns
    { tA: true, tB: false, m: 128, n: 512, k: 32 },
    { tA: true, tB: false, m: 65, n: 512, k: 1600 },
    { tA: true, tB: false, m: 130, n: 65, k: 801 },
    { tA: false, tB: true, m: 32, n: 128, k: 512 },
    { tA: false, tB: true, m: 1, n: 131, k: 512 },
    { tA: false, tB: true, m: 1601, n: 65, k: 512 },
    { tA: false, tB: true, m: 1599, n: 128, k: 65 },
  ])('1 and 2 threads bit-identical: $m x $n x $k transA=$tA transB=$tB', ({ tA, tB, m, n, k }) => {
    const rng = new Rng(m + n + k);
    for (const beta of [0, 1] as const) {
      const c: Case = { tA, tB, m, n, k, beta, pad: 1, offset: 2 };
      const one = operands(c, (len) => K1.alloc(len), rng);
      const two = operands(c, (len) => K2.alloc(len), rng);
      two.A.set(one.A);
      two.B.set(one.B);
      two.C.set(one.C);
      const calls = K2.stats.parallelCalls;
      K1.gemm(tA, tB, m, n, k, one.A, one.lda, one.B, one.ldb, beta, one.C, one.ldc);
      K2.gemm(tA, tB, m, n, k, two.A, two.lda, two.B, two.ldb, beta, two.C, two.ldc);
      expect(K2.stats.parallelCalls).toBe(calls + 1);
      const x = new Uint32Array(one.C.buffer, one.C.byteOffset, one.C.length);
      const y = new Uint32Array(two.C.buffer, two.C.byteOffset, two.C.length);
      let diff = -1;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) diff = i;
      expect(diff, `first different element of C (beta ${beta})`).toBe(-1);
    }
  });

  test('small products stay on the calling thread by default; workers end on dispose', async () => {
    const K = await createWasmKernels({ threads: 2 });
    expect(K.threads).toBe(2);
    expect(K.name).toBe('wasm-simd x2');
    const A = K.alloc(128 * 512);
    const B = K.alloc(512 * 512);
    const C = K.alloc(128 * 512);
    K.gemm(false, false, 1, 512, 128, A, 128, B, 512, 0, C, 512); // batch 1: 65536 MACs
    expect(K.stats.parallelCalls).toBe(0);
    K.gemm(false, false, 128, 512, 128, A, 128, B, 512, 0, C, 512);
    expect(K.stats.parallelCalls).toBe(1);
    await K.dispose();
    expect(K.threads).toBe(1);
    K.gemm(false, false, 128, 512, 128, A, 128, B, 512, 1, C, 512); // still works, one thread
    expect(K.stats.parallelCalls).toBe(1);
  });
});

describe('memory', () => {
  test('alloc: zeroed, 64-byte aligned, disjoint', async () => {
    const K = await createWasmKernels();
    let end = 0;
    for (const n of [1, 3, 16, 17, 1000, 5]) {
      const x = K.alloc(n);
      expect(x).toBeInstanceOf(Float32Array);
      expect(x.length).toBe(n);
      expect(x.byteOffset % 64).toBe(0);
      expect(x.byteOffset).toBeGreaterThanOrEqual(end);
      expect(x.every((v) => v === 0)).toBe(true);
      x.fill(7);
      end = x.byteOffset + 4 * n;
    }
  });

  test('views survive memory growth, and gemm takes views of old and new buffers alike', async () => {
    const K = await createWasmKernels({ threads: 2, minParallelMacs: 0, adaptive: false });
    const old = K.alloc(64 * 64);
    const rng = new Rng(5);
    fill(old, rng);
    const copy = Float32Array.from(old);
    const bufferBefore = old.buffer;
    const big: Float32Array[] = [];
    for (let i = 0; i < 12; i++) big.push(K.alloc(1 << 20)); // 48 MiB: several grows
    expect(big[11].buffer).not.toBe(bufferBefore); // a new SharedArrayBuffer object...
    expect(old.length).toBe(64 * 64); // ...and the old view is not detached
    expect(old).toEqual(copy);
    expect(big.every((x) => x[0] === 0 && x[x.length - 1] === 0)).toBe(true);
    // C in the newest buffer, A in the oldest: both are ours, so no fallback; the worker sees
    // the grown memory too.
    const C = big[11].subarray(0, 64 * 64);
    K.gemm(false, false, 64, 64, 64, old, 64, big[0], 64, 0, C, 64);
    const ref = new Float32Array(64 * 64);
    refGemm(false, false, 64, 64, 64, copy, 64, new Float32Array(64 * 64), 64, 0, ref, 64);
    expect(C).toEqual(ref); // B is still zero
    fill(big[0].subarray(0, 64 * 64), rng);
    K.gemm(false, true, 64, 64, 64, old, 64, big[0], 64, 0, C, 64);
    refGemm(false, true, 64, 64, 64, copy, 64, big[0].slice(0, 64 * 64), 64, 0, ref, 64);
    expectClose('gemm C', C, ref, 1e-5);
    expect(K.stats.jsFallbacks).toBe(0);
    expect(K.stats.parallelCalls).toBe(2);
    await K.dispose();
  });

  test('a full memory hands out plain arrays, which gemm still multiplies correctly', async () => {
    const K = await createWasmKernels({ maxMemoryMiB: 2 });
    const inMem = K.alloc(1000);
    const outside = K.alloc(1 << 20); // 4 MiB > 2 MiB
    expect(K.stats.plainAllocs).toBe(1);
    expect(outside.buffer).not.toBe(inMem.buffer);
    inMem.fill(1);
    outside.fill(2, 0, 100);
    const C = K.alloc(100);
    K.gemm(false, false, 10, 10, 10, inMem, 10, outside, 10, 0, C, 10);
    expect(K.stats.jsFallbacks).toBe(1);
    expect([...C]).toEqual(new Array(100).fill(20));
  });

  test('no room for the packed route\'s scratch: the reference computes it', async () => {
    const K = await createWasmKernels({ maxMemoryMiB: 1 });
    const [m, n, k] = [100, 8, 1600]; // TN with a long k: packed, scratch ~690 KB
    const A = K.alloc(k * m); // 640 KB
    const B = K.alloc(k * n);
    const C = K.alloc(m * n);
    const rng = new Rng(4);
    fill(A, rng);
    fill(B, rng);
    K.gemm(true, false, m, n, k, A, m, B, n, 0, C, n);
    expect(K.stats.plainAllocs).toBe(0);
    expect(K.stats.jsFallbacks).toBe(1);
    const ref = new Float32Array(m * n);
    refGemm(true, false, m, n, k, A, m, B, n, 0, ref, n);
    expect(C).toEqual(ref);
  });
});

describe('operands outside the memory', () => {
  test('plain Float32Array and Float64Array operands fall back to the reference', () => {
    const rng = new Rng(9);
    const A = new Float32Array(6 * 7);
    const B = K1.alloc(7 * 5);
    fill(A, rng);
    fill(B, rng);
    const C = K1.alloc(6 * 5);
    const ref = new Float32Array(6 * 5);
    const calls = K1.stats.jsFallbacks;
    K1.gemm(false, false, 6, 5, 7, A, 7, B, 5, 0, C, 5);
    refGemm(false, false, 6, 5, 7, A, 7, B, 5, 0, ref, 5);
    expect(C).toEqual(ref); // the same code computed both
    const C64 = new Float64Array(6 * 5);
    const ref64 = new Float64Array(6 * 5);
    K1.gemm(false, false, 6, 5, 7, Float64Array.from(A), 7, Float64Array.from(B), 5, 0, C64, 5);
    refGemm(false, false, 6, 5, 7, Float64Array.from(A), 7, Float64Array.from(B), 5, 0, ref64, 5);
    expect(C64).toEqual(ref64);
    expect(K1.stats.jsFallbacks).toBe(calls + 2);
  });

  test('an operand shorter than its shape says throws instead of reading past it', () => {
    const A = K1.alloc(4 * 8);
    const B = K1.alloc(8 * 8);
    const C = K1.alloc(4 * 8);
    expect(() => K1.gemm(false, false, 4, 8, 8, A, 8, B, 8, 0, C, 8)).not.toThrow();
    expect(() => K1.gemm(false, false, 4, 8, 8, A.subarray(1), 8, B, 8, 0, C, 8)).toThrow(RangeError);
    expect(() => K1.gemm(true, false, 8, 8, 4, A, 9, B, 8, 0, C, 8)).toThrow(RangeError); // A^T: 3*9 + 8 > 32
    expect(() => K1.gemm(false, true, 4, 8, 8, A, 8, B, 9, 0, C, 8)).toThrow(RangeError); // B [8, 8] with ldb 9
    expect(() => K1.gemm(false, false, 4, 8, 8, A, 8, B, 8, 0, C.subarray(0, 31), 8)).toThrow(RangeError);
  });
});

describe('end to end: a ScratchEngine on the wasm kernels', () => {
  test.each([
    { cell: 'lstm', B: 1 },
    { cell: 'lstm', B: 8 },
    { cell: 'gru', B: 1 },
    { cell: 'gru', B: 8 },
    { cell: 'gru', B: 5, gruResetAfter: true },
    { cell: 'rnn', B: 5 },
    // G*H a multiple of 1024: the forward multiplies by U transposed (sequence.ts transposedRecurrent)
    { cell: 'lstm', B: 3, hiddenSize: 256 },
    { cell: 'lstm', B: 2, hiddenSize: 256, bidirectional: true }, // each direction's own U^T
  ] as const)('$cell batch $B: loss and gradients of the default engine', async ({ cell, B, hiddenSize, ...variant }: { cell: 'lstm' | 'gru' | 'rnn'; B: number; hiddenSize?: number; gruResetAfter?: boolean; bidirectional?: boolean }) => {
    // H % 4 != 0: the vector loops' tails; the H = 256 cases with one layer (a layer's U^T is its own; the second would only add time)
    const spec = parseSpec({ cell, inputSize: 9, hiddenSize: hiddenSize ?? 23, outputSize: 7, layers: hiddenSize ? 1 : 2, ...variant });
    const batch = randomBatch(spec, B, hiddenSize ? 9 : 13, 21, { mask: B > 1, initialState: !variant.bidirectional });
    const ref = new ScratchEngine(spec, { seed: 3 }).lossAndGrads(batch, { inputGrad: true, stateGrads: true });
    const runs = [];
    for (const opts of [{}, { threads: 2, minParallelMacs: 0, adaptive: false }]) {
      const kernels = await createWasmKernels(opts);
      let transposed = 0;
      const counted = Object.create(kernels) as WasmKernels;
      counted.transpose = (...args) => kernels.transpose!(...args) && ++transposed > 0;
      const engine = new ScratchEngine(spec, { seed: 3, kernels: counted });
      runs.push(engine.lossAndGrads(batch, { inputGrad: true, stateGrads: true }));
      expect(kernels.stats.jsFallbacks).toBe(0);
      expect(transposed, 'forward passes through U transposed').toBe(hiddenSize ? (variant.bidirectional ? 2 : 1) : 0); // one per layer and direction
      if (opts.threads) expect(kernels.stats.parallelCalls).toBeGreaterThan(0);
      await kernels.dispose();
    }
    for (const got of runs) {
      expectNear('loss', got.loss, ref.loss, 'loss');
      expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
      for (const name of Object.keys(ref.grads)) {
        expectClose(name, got.grads[name].data, ref.grads[name].data, 'grad');
        expect(compareArrays(got.grads[name].data, ref.grads[name].data).cosine, name).toBeGreaterThan(0.999999);
      }
      expectClose('dx', got.dx!, ref.dx!, 'grad');
    }
    // one thread and two: the same numbers to the bit
    expect(runs[1].loss).toBe(runs[0].loss);
    for (const name of Object.keys(ref.grads)) expect(runs[1].grads[name].data, name).toEqual(runs[0].grads[name].data);
  });
});

describe('a time step through U transposed (the forward of G*H = 1024k, sequence.ts transposedRecurrent)', () => {
  test('lstm H=256: three training steps on the wasm kernels follow the TypeScript engine (U^T is made again after each update)', async () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 9, hiddenSize: 256, outputSize: 7 });
    const batch = randomBatch(spec, 3, 9, 22);
    const ref = new ScratchEngine(spec, { seed: 4, optimizer: optimizerSpec('adam', { lr: 0.01 }) });
    let transposed = 0;
    const counted = Object.create(K1) as WasmKernels;
    counted.transpose = (...args) => K1.transpose!(...args) && ++transposed > 0;
    const fast = new ScratchEngine(spec, { seed: 4, kernels: counted, optimizer: optimizerSpec('adam', { lr: 0.01 }) });
    for (let i = 0; i < 3; i++) {
      // float32 against float32: products summed in another order and Adam rounded per operation
      // (see the Adam test) stay within 1e-4 relative over three steps; a stale U^T (the weights
      // before an update) moves the loss by the update itself, about 1e-2 at lr 0.01
      expectNear(`loss, step ${i + 1}`, fast.step(batch).loss, ref.step(batch).loss, 1e-4);
    }
    expect(transposed).toBe(3); // once per forward pass
    const a = fast.getParams();
    const b = ref.getParams();
    for (const name of Object.keys(b)) expectClose(name, a[name].data, b[name].data, 1e-4);
  });

  test.each([
    { cell: 'rnn' },
    { cell: 'lstm' },
    { cell: 'gru' },
    { cell: 'gru', gruResetAfter: true },
  ] as const)('$cell $gruResetAfter: the same new carry and cache as through U, within float32 rounding', ({ cell, ...variant }) => {
    const H = 23; // odd: the tails of every loop
    const B = 5;
    const spec = parseSpec({ cell, inputSize: 3, hiddenSize: H, outputSize: 2, ...variant });
    const c = makeCell(spec, K1);
    const GH = c.G * H;
    const rng = new Rng(13);
    const w = { U: K1.alloc(H * GH), bRec: spec.cell === 'gru' && spec.gruResetAfter ? K1.alloc(GH) : null };
    fill(w.U, rng);
    if (w.bRec) fill(w.bRec, rng);
    const UT = K1.alloc(GH * H);
    expect(K1.transpose!(H, GH, w.U, GH, UT, H)).toBe(true);
    const P = K1.alloc(B * GH);
    fill(P, rng);
    const prev = Array.from({ length: c.carry }, () => K1.alloc(B * H));
    prev.forEach((x) => fill(x, rng));
    const run = (ut: Float32Array | null): Arr[] => {
      const cache = c.newCache(1, B, (n) => K1.alloc(n));
      const next = Array.from({ length: c.carry }, () => K1.alloc(B * H));
      c.forward(w, cache, { t: 0, B, P, prev, next, UT: ut });
      const kept = Object.values(cache as Record<string, unknown>).filter((x): x is Float32Array => x instanceof Float32Array && x.length >= B * H);
      return [...next, ...kept];
    };
    const viaU = run(null);
    const viaUT = run(UT);
    expect(viaUT.length).toBe(viaU.length);
    // the two products sum the same H terms in another order: a few float32 roundings apart
    viaU.forEach((x, i) => expectClose(`output ${i}`, viaUT[i], x, 1e-5));
    // and the step did read U: a step with a zero U differs
    const zero = run(K1.alloc(GH * H));
    expect(compareArrays(zero[0], viaU[0]).maxAbsError).toBeGreaterThan(1e-3);
  });
});

describe('the kernels beyond gemm agree with the TypeScript reference', () => {
  const ULP_LIMIT = 3;
  /** Error of a in units in the last place of the float32 nearest to the exact value r. */
  const ulps = (a: number, r: number): number => Math.abs(a - r) / 2 ** (Math.max(-126, Math.floor(Math.log2(Math.abs(Math.fround(r)) || 2 ** -126))) - 23);

  test.each([
    { fn: 'exp', lo: -87, hi: 88, exact: Math.exp },
    { fn: 'sigmoid', lo: -87, hi: 87, exact: (x: number) => 1 / (1 + Math.exp(-x)) },
    { fn: 'tanh', lo: -12, hi: 12, exact: Math.tanh },
    { fn: 'tanh', lo: -0.7, hi: 0.7, exact: Math.tanh }, // both sides of the polynomial's edge at 0.625
  ] as const)('$fn on [$lo, $hi] within 3 ulps of the exact value', ({ fn, lo, hi, exact }) => {
    const n = 40_003; // not a multiple of 4: the tail goes through lane 0 of the same code
    const x = K1.alloc(n);
    for (let i = 0; i < n; i++) x[i] = lo + ((hi - lo) * i) / (n - 1);
    const x0 = Float32Array.from(x);
    K1.map(fn, x);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const e = ulps(x[i], exact(x0[i]));
      if (!(e <= worst)) [worst, at] = [e, x0[i]];
    }
    expect(worst, `${fn}(${at})`).toBeLessThanOrEqual(ULP_LIMIT);
  });

  test('sigmoid and tanh far out saturate without overflow; NaN stays NaN', () => {
    const x = K1.alloc(6);
    x.set([-1000, -90, 90, 1000, NaN, 0]);
    const t = K1.alloc(6);
    t.set(x);
    K1.map('sigmoid', x);
    expect(x[0]).toBeLessThan(1e-37);
    expect(x[0]).toBeGreaterThanOrEqual(0);
    expect(x[1]).toBeLessThan(1e-37);
    expect([x[2], x[3]]).toEqual([1, 1]);
    expect(x[4]).toBeNaN();
    K1.map('tanh', t);
    expect([t[0], t[1], t[2], t[3], t[5]]).toEqual([-1, -1, 1, 1, 0]);
    expect(t[4]).toBeNaN();
  });

  test('the fused softmax cross-entropy: loss and dLoss/dlogits within 1e-6 of the reference; rows of weight 0 are zero', () => {
    const rng = new Rng(12);
    for (const O of [3, 65, 5000]) {
      const B = 3;
      const T = 5;
      const N = B * T;
      const logits = K1.alloc(N * O);
      for (let i = 0; i < logits.length; i++) logits[i] = rng.uniform(-8, 8);
      logits[O + 1] = 60; // a dominant logit
      const y = Int32Array.from({ length: N }, () => Math.floor(rng.uniform(0, O)));
      const mask = Uint8Array.from({ length: N }, (_, i) => (i % 7 === 3 ? 0 : 1));
      const rows = lossRows(B, T, true, 'mean', mask);
      const fast = K1.alloc(N * O).fill(9);
      const ref = new Float32Array(N * O);
      const loss = softmaxCrossEntropy(O, logits, y, rows, fast, K1);
      const refLoss = softmaxCrossEntropy(O, logits, y, lossRows(B, T, true, 'mean', mask), ref);
      expectNear(`loss O=${O}`, loss, refLoss, 1e-6);
      expectClose(`dlogits O=${O}`, fast, ref, 1e-6);
      for (let r = 0; r < N; r++) if (!mask[r]) expect(fast.subarray(r * O, (r + 1) * O).every((v) => v === 0)).toBe(true);
    }
  });

  test('Adam in WebAssembly: within 1e-6 of the TypeScript update after 5 steps (odd sizes); 1 and 2 threads bit-identical', () => {
    const shapes = [
      { name: 'a', shape: [7, 13], size: 91 },
      { name: 'b', shape: [1], size: 1 },
      { name: 'c', shape: [1000], size: 1000 },
      { name: 'd', shape: [70001], size: 70001 }, // large enough to be split between threads
    ];
    const spec = optimizerSpec('adam', { lr: 0.01 });
    let ran = 0; // updates the WebAssembly kernel took
    const adam: FastKernels['adam'] = (...args) => (K1.adam!(...args) ? ++ran > 0 : false);
    const withWasm = new Optimizer(spec, shapes, (n) => K1.alloc(n), { adam });
    const reference = new Optimizer(spec, shapes, (n) => new Float32Array(n));
    const twoThreads = new Optimizer(spec, shapes, (n) => K2.alloc(n), K2);
    const rng = new Rng(5);
    const p1: Record<string, Float32Array> = {};
    const p2: Record<string, Float32Array> = {};
    const p3: Record<string, Float32Array> = {};
    const g1: Record<string, Float32Array> = {};
    const g3: Record<string, Float32Array> = {};
    for (const s of shapes) {
      p1[s.name] = K1.alloc(s.size);
      g1[s.name] = K1.alloc(s.size);
      fill(p1[s.name], rng);
      p2[s.name] = Float32Array.from(p1[s.name]);
      p3[s.name] = K2.alloc(s.size);
      p3[s.name].set(p1[s.name]);
      g3[s.name] = K2.alloc(s.size);
    }
    for (let step = 0; step < 5; step++) {
      for (const s of shapes) for (let i = 0; i < s.size; i++) g1[s.name][i] = rng.uniform(-3, 3) * 10 ** (i % 5 - 2);
      const g2 = Object.fromEntries(shapes.map((s) => [s.name, Float32Array.from(g1[s.name])]));
      for (const s of shapes) g3[s.name].set(g1[s.name]);
      withWasm.apply(p1, g1);
      reference.apply(p2, g2);
      twoThreads.apply(p3, g3);
    }
    expect(ran).toBe(5 * shapes.length);
    for (const s of shapes) expect(p3[s.name], `${s.name}, 2 threads`).toEqual(p1[s.name]);
    for (const s of shapes) expectClose(s.name, p1[s.name], p2[s.name], 1e-6);
    const st1 = withWasm.getState('F32');
    const st2 = reference.getState('F32');
    for (const k of Object.keys(st2)) expectClose(k, st1[k].data, st2[k].data, 1e-6);
  });
  test('token rows (gather, scatter-add) and column sums: bit for bit the TypeScript loops; a bad id or a plain array is left to them', () => {
    const rng = new Rng(11);
    const V = 9;
    const rows = 37;
    for (const n of [1, 4, 1027]) { // the vector loop, its tail, and both
      const W = K1.alloc(V * n);
      const bias = K1.alloc(n);
      const D = K1.alloc(rows * n);
      fill(W, rng);
      fill(bias, rng);
      fill(D, rng);
      const ids = Int32Array.from({ length: rows }, () => Math.floor(rng.uniform(0, V))); // repeats: scatter-add sums them in row order
      const C = K1.alloc(rows * n);
      const Cref = new Float32Array(rows * n);
      expect(K1.gatherRows!(rows, n, ids, W, bias, C)).toBe(true);
      gatherRows(rows, n, ids, W, bias, Cref);
      expect(C, `gather n=${n}`).toEqual(Cref);
      const dW = K1.alloc(V * n);
      fill(dW, rng);
      const dWref = Float32Array.from(dW);
      expect(K1.scatterAddRows!(rows, n, ids, D, dW)).toBe(true);
      scatterAddRows(rows, n, ids, D, dWref);
      expect(dW, `scatter n=${n}`).toEqual(dWref);
      const out = K1.alloc(n);
      fill(out, rng);
      const outRef = Float32Array.from(out);
      const lda = n + 3; // a strided view: rows of n out of lda
      expect(K1.addColumnSums!(Math.floor((rows * n - n) / lda) + 1, n, D, lda, out)).toBe(true);
      addColumnSums(Math.floor((rows * n - n) / lda) + 1, n, D, lda, outRef);
      expect(out, `column sums n=${n}`).toEqual(outRef);
    }
    const W = K1.alloc(4 * 8);
    const C = K1.alloc(2 * 8);
    expect(K1.gatherRows!(2, 8, Int32Array.from([1, 4]), W, K1.alloc(8), C)).toBe(false); // id 4 of a 4-row table
    expect(K1.gatherRows!(2, 8, Int32Array.from([1, -1]), W, K1.alloc(8), C)).toBe(false);
    expect(K1.scatterAddRows!(2, 8, Int32Array.from([0, 1]), new Float32Array(16), W)).toBe(false); // not our memory
  });

  test('transpose: every element lands where it belongs, for shapes with and without 4 x 4 blocks and strided rows', () => {
    const rng = new Rng(12);
    for (const [rows, cols] of [[1, 1], [4, 4], [7, 9], [256, 1024], [13, 4], [4, 13]]) {
      const lda = cols + 2;
      const ldo = rows + 1;
      const A = K1.alloc(rows * lda);
      fill(A, rng);
      const out = K1.alloc(cols * ldo);
      out.fill(-7); // the padding columns must stay as they are
      expect(K1.transpose!(rows, cols, A, lda, out, ldo)).toBe(true);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (out[j * ldo + i] !== A[i * lda + j]) throw new Error(`[${rows}x${cols}] (${i}, ${j})`);
      for (let j = 0; j < cols; j++) expect(out[j * ldo + rows]).toBe(-7);
    }
    expect(K1.transpose!(2, 2, new Float32Array(4), 2, K1.alloc(4), 2)).toBe(false);
  });
});
