/**
 * The BLAS kernel set (scratch/blas.ts, scratch/blas-kernels.ts) against the WebAssembly and
 * TypeScript ones, on the machine's BLAS through koffi. CI installs libopenblas0-pthread and koffi
 * comes with `npm ci`; where either is missing the BLAS tests are skipped and say why, and the
 * fallback tests still run.
 *
 * Tolerances:
 * - one element of a product against the TypeScript reference gemm, as in kernels.test.ts:
 *   |blas - ref| <= 2 (k + 2) u S, u = 2^-24 (float32) or 2^-53 (float64), S = sum_p |a_ip b_pj|
 *   + beta |C0_ij|: each side's rounding error is at most (k + 1) u S to first order, whatever the
 *   order of the sum (BLAS: blocked, with fused multiply-adds);
 * - loss, gradients and a short training trajectory: the tolerance policy's float32 limits
 *   (src/tolerance.ts), the same that `check` holds the float32 engine to against float64:
 *   the two kernel sets sum each product in another order, which is float32 rounding;
 * - float64 engine on dgemm against the TypeScript float64 engine: the policy's float64 limits.
 * Across kernel sets results agree to rounding, not to the bit; within one (same kernel set, same
 * thread count) the same seed gives the same bits (tested).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { limitFor } from '../src/tolerance.js';
import { type Blas, findBlas, koffiMissing, pretendKoffiMissing } from '../scratch/blas.js';
import { type BlasKernels, MIN_BLAS_MACS, blasKernels } from '../scratch/blas-kernels.js';
import { ScratchEngine } from '../scratch/engine.js';
import { describeKernels, disposeKernels, float64Kernels, makeKernels } from '../scratch/kernel-choice.js';
import { type Arr, type Kernels, gemm as refGemm, jsKernels } from '../scratch/kernels.js';
import { type WasmKernels, createWasmKernels } from '../scratch/wasm/index.js';
import { randomBatch } from '../src/data/synthetic.js';
import { InputError } from '../src/errors.js';
import { optimizerSpec } from '../src/optimizer.js';
import { Rng } from '../src/rng.js';
import { parseSpec } from '../src/spec.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { expectClose, expectNear } from './helpers/close.js';

const found = findBlas();
const blas: Blas | undefined = found.blas;
const withBlas = describe.skipIf(!blas);
if (!blas) console.warn(`test/blas.test.ts: BLAS tests skipped: ${found.missing}`);

let W1: WasmKernels;
let all: BlasKernels; // every product on the BLAS (minMacs 0), one thread
let all2: BlasKernels; // the same at two threads
beforeAll(async () => {
  if (!blas) return;
  W1 = await createWasmKernels();
  all = blasKernels(await createWasmKernels(), blas, { threads: 1, minMacs: 0 });
  all2 = blasKernels(await createWasmKernels(), blas, { threads: 2, minMacs: 0 });
});
afterAll(async () => {
  for (const k of [W1, all, all2]) if (k) await disposeKernels(k);
});

const fill = (x: Arr, rng: Rng): void => {
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
};

/** One product on `K` against the reference gemm, every element within the bound; nothing around C written. */
function checkProduct(K: Kernels, tA: boolean, tB: boolean, m: number, n: number, k: number, beta: 0 | 1, pad: number, offset: number, rng: Rng): void {
  const u = K.dtype === 'float32' ? 2 ** -24 : 2 ** -53;
  const lda = (tA ? m : k) + pad;
  const ldb = (tB ? k : n) + pad;
  const ldc = n + pad;
  const bufA = K.alloc(offset + (tA ? k : m) * lda);
  const bufB = K.alloc(offset + (tB ? n : k) * ldb);
  const bufC = K.alloc(offset + m * ldc + 3);
  for (const b of [bufA, bufB, bufC]) fill(b, rng);
  const [A, B, C] = [bufA, bufB, bufC].map((b) => b.subarray(offset));
  const C0 = C.slice();
  const ref = C.slice();
  const before = bufC.slice();
  K.gemm(tA, tB, m, n, k, A, lda, B, ldb, beta, C, ldc);
  refGemm(tA, tB, m, n, k, A, lda, B, ldb, beta, ref, ldc);
  const what = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${m}x${n}x${k} beta ${beta} pad ${pad} offset ${offset}`;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = beta ? Math.abs(C0[i * ldc + j]) : 0;
      for (let p = 0; p < k; p++) s += Math.abs((tA ? A[p * lda + i] : A[i * lda + p]) * (tB ? B[j * ldb + p] : B[p * ldb + j]));
      const err = Math.abs(C[i * ldc + j] - ref[i * ldc + j]);
      if (!(err <= 2 * (k + 2) * u * s)) expect.fail(`${what}: C[${i}, ${j}] = ${C[i * ldc + j]}, reference ${ref[i * ldc + j]}`);
    }
  }
  for (let i = 0; i < bufC.length; i++) {
    const inside = i >= offset && (i - offset) % ldc < n && i - offset < m * ldc;
    if (!inside && !Object.is(bufC[i], before[i])) expect.fail(`${what}: element ${i} of C's buffer, outside C, was written`);
  }
}

const SIZES = [1, 2, 3, 5, 8, 17, 33, 64];

withBlas('products on the BLAS equal the reference within rounding', () => {
  test.each([
    { tA: false, tB: false },
    { tA: true, tB: false },
    { tA: false, tB: true },
  ])('float32, transA=$tA transB=$tB: m, n, k in {1 .. 64}, beta 0 and 1, padded, offset, in WebAssembly memory', ({ tA, tB }) => {
    const rng = new Rng(tA ? 11 : tB ? 12 : 13);
    const calls = all.stats.blasCalls;
    let i = 0;
    for (const m of SIZES) for (const n of SIZES) for (const k of SIZES) {
      checkProduct(all, tA, tB, m, n, k, (i & 1) as 0 | 1, [0, 3, 1][i % 3], [0, 1, 5][i % 3], rng);
      i++;
    }
    expect(all.stats.blasCalls - calls, 'every product went to the BLAS').toBe(SIZES.length ** 3);
  });

  test('the shapes of a training step (long k, B^T rows 4 KiB apart), at two threads; plain arrays too', () => {
    const rng = new Rng(14);
    for (const [tA, tB, m, n, k] of [[true, false, 64, 1024, 400], [false, true, 32, 256, 1024], [false, false, 400, 1024, 65], [false, true, 400, 65, 1024]] as const) {
      checkProduct(all2, tA, tB, m, n, k, 1, 0, 3, rng);
    }
    const plain: Kernels = { ...all, alloc: (n) => new Float32Array(n) };
    checkProduct(plain, false, false, 20, 30, 40, 0, 2, 1, rng);
  });

  test('float64 (dgemm), as the float64 engines use it', () => {
    const K = blasKernels(jsKernels('float64'), blas!, { threads: 1, minMacs: 0 });
    const rng = new Rng(15);
    for (const [tA, tB] of [[false, false], [true, false], [false, true]] as const) {
      for (const [m, n, k] of [[1, 7, 9], [13, 5, 33], [40, 64, 100]]) checkProduct(K, tA, tB, m, n, k, 1, 2, 1, rng);
    }
    expect(K.stats.blasCalls).toBe(9);
  });

  test('k = 0 and empty products leave C as beta C; a short operand throws instead of being read past', () => {
    const A = all.alloc(32);
    const B = all.alloc(64);
    const C = all.alloc(32).fill(2);
    all.gemm(false, false, 4, 8, 0, A, 1, B, 8, 1, C, 8);
    expect([...C]).toEqual(new Array(32).fill(2));
    all.gemm(false, false, 4, 8, 0, A, 1, B, 8, 0, C, 8);
    expect([...C]).toEqual(new Array(32).fill(0));
    expect(() => all.gemm(false, false, 4, 8, 8, A, 8, B, 8, 0, C, 8)).not.toThrow();
    expect(() => all.gemm(false, false, 4, 8, 8, A.subarray(1), 8, B, 8, 0, C, 8)).toThrow(RangeError);
    expect(() => all.gemm(false, true, 4, 8, 8, A, 8, B, 9, 0, C, 8)).toThrow(RangeError);
    expect(() => all.gemm(false, false, 4, 8, 8, A, 8, B, 8, 0, C.subarray(0, 31), 8)).toThrow(RangeError);
  });

  test('the rule: products under MIN_BLAS_MACS multiply-adds stay on WebAssembly, the rest go to the BLAS', async () => {
    const K = blasKernels(await createWasmKernels(), blas!, { threads: 1 });
    const [small, large] = [[1, 64, 64], [32, 128, 128]];
    expect(small[0] * small[1] * small[2]).toBeLessThan(MIN_BLAS_MACS);
    expect(K.routeOf(small[0], small[1], small[2])).toBe('wasm-simd');
    expect(K.routeOf(large[0], large[1], large[2])).toBe('blas');
    const rng = new Rng(16);
    checkProduct(K, false, false, small[0], small[1], small[2], 1, 0, 0, rng);
    expect(K.stats).toEqual({ blasCalls: 0, otherCalls: 1 });
    checkProduct(K, false, false, large[0], large[1], large[2], 1, 0, 0, rng);
    expect(K.stats).toEqual({ blasCalls: 1, otherCalls: 1 });
    await K.dispose();
  });
});

withBlas('threads', () => {
  test('each kernel set gives the BLAS its own thread count before its products', () => {
    if (!blas!.threadControl) return; // a library without a thread call (Accelerate) keeps its own
    const x = all.alloc(64 * 64);
    all2.gemm(false, false, 64, 64, 64, x, 64, x, 64, 0, all2.alloc(64 * 64), 64);
    expect(blas!.currentThreads()).toBe(2);
    all.gemm(false, false, 64, 64, 64, x, 64, x, 64, 0, all.alloc(64 * 64), 64);
    expect(blas!.currentThreads()).toBe(1);
  });

  test('one library reached by two names (--blas naming the file found by default) is one object, so no kernel set believes in a thread count the library no longer has', async () => {
    if (!blas!.threadControl || !blas!.path.startsWith('/')) return;
    const named = findBlas(blas!.path);
    expect(named.blas).toBe(blas);
    const other = await makeKernels('blas', 2, { blas: blas!.path });
    const x = all.alloc(64 * 64);
    other.kernels.gemm(false, false, 64, 64, 64, x, 64, x, 64, 0, other.kernels.alloc(64 * 64), 64);
    expect(blas!.currentThreads()).toBe(2);
    all.gemm(false, false, 64, 64, 64, x, 64, x, 64, 0, all.alloc(64 * 64), 64);
    expect(blas!.currentThreads()).toBe(1); // the default-found object had set 1 before: it must set it again
    await disposeKernels(other.kernels);
  });

  test('loading the library leaves no OPENBLAS_THREAD_TIMEOUT behind for child processes', () => {
    expect(process.env.OPENBLAS_THREAD_TIMEOUT).toBeUndefined();
  });
});

/** Loss and gradients of one engine per kernel set, from the same weights and batch. */
const CASES = [
  { cell: 'lstm', B: 4, H: 23 },
  { cell: 'gru', B: 5, H: 23 },
  { cell: 'gru', B: 3, H: 23, gruResetAfter: true },
  { cell: 'rnn', B: 4, H: 23 },
  // G*H = 1024: U^T made for the forward, and handed to the backward on the BLAS set
  { cell: 'lstm', B: 3, H: 256 },
] as const;

withBlas('end to end: the engine on the BLAS against the engine on WebAssembly', () => {
  test.each(CASES)('$cell H=$H B=$B: loss, every gradient and dx within the float32 limits', ({ cell, B, H, ...variant }: { cell: 'lstm' | 'gru' | 'rnn'; B: number; H: number; gruResetAfter?: boolean }) => {
    const spec = parseSpec({ cell, inputSize: 9, hiddenSize: H, outputSize: 7, layers: H > 100 ? 1 : 2, ...variant });
    const batch = randomBatch(spec, B, 9, 31, { mask: true, initialState: true });
    const want = { inputGrad: true, stateGrads: true };
    const ref = new ScratchEngine(spec, { seed: 5, kernels: W1 }).lossAndGrads(batch, want);
    const calls = all.stats.blasCalls;
    // count the backward's dP U^T read from U^T in place (an NN product of inner size G*H into [B, H])
    let throughUT = 0;
    const counted = Object.create(all) as BlasKernels;
    counted.gemm = (tA, tB, m, n, k, ...rest) => {
      if (!tA && !tB && m === B && n === H && k === 4 * H) throughUT++;
      all.gemm(tA, tB, m, n, k, ...rest);
    };
    const got = new ScratchEngine(spec, { seed: 5, kernels: counted }).lossAndGrads(batch, want);
    expect(all.stats.blasCalls - calls, 'products on the BLAS').toBeGreaterThan(0);
    expect(throughUT, 'backward steps through U^T').toBe(H === 256 ? batch.seqLen : 0);
    expectNear('loss', got.loss, ref.loss, 'loss');
    for (const name of Object.keys(ref.grads)) expectClose(name, got.grads[name].data, ref.grads[name].data, 'grad');
    expectClose('dx', got.dx!, ref.dx!, 'grad');
  });

  test('a training trajectory: 15 Adam steps of an lstm stay within the float32 trajectory limit', async () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 9, hiddenSize: 256, outputSize: 7 });
    const batch = randomBatch(spec, 8, 10, 32);
    const opt = optimizerSpec('adam', { lr: 0.01 });
    const auto = await makeKernels('auto', 1);
    expect(auto.kernels.name).toBe('blas');
    const a = new ScratchEngine(spec, { seed: 6, kernels: W1, optimizer: opt });
    const b = new ScratchEngine(spec, { seed: 6, kernels: auto.kernels, optimizer: opt });
    for (let i = 0; i < 15; i++) expectNear(`loss at step ${i}`, b.step(batch).loss, a.step(batch).loss, 'loss');
    const pa = a.getParams();
    const pb = b.getParams();
    for (const name of Object.keys(pa)) expectClose(`${name} after 15 steps`, pb[name].data, pa[name].data, limitFor('trajectory'));
    await disposeKernels(auto.kernels);
  });

  test('the same seed gives the same bits run after run, at one thread and at two', async () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 9, hiddenSize: 48, outputSize: 7 });
    const batch = randomBatch(spec, 16, 12, 33);
    const run = async (threads: number): Promise<Record<string, Float32Array>> => {
      const { kernels } = await makeKernels('blas', threads);
      const e = new ScratchEngine(spec, { seed: 7, kernels, optimizer: optimizerSpec('adam', { lr: 0.01 }) });
      for (let i = 0; i < 3; i++) e.step(batch);
      const p = Object.fromEntries(Object.entries(e.getParams()).map(([k, v]) => [k, Float32Array.from(v.data)]));
      await disposeKernels(kernels);
      return p;
    };
    for (const threads of [1, 2]) {
      const [x, y] = [await run(threads), await run(threads)];
      for (const name of Object.keys(x)) expect(y[name], `${name} at ${threads} thread(s)`).toEqual(x[name]);
    }
  });

  test('float64: the engine with its products on dgemm against the TypeScript float64 engine', () => {
    const spec = parseSpec({ cell: 'gru', inputSize: 9, hiddenSize: 40, outputSize: 7 });
    const batch = randomBatch(spec, 8, 9, 34, { dtype: 'F64' });
    const k = float64Kernels('blas') as BlasKernels;
    const ref = new ScratchEngine(spec, { dtype: 'float64', seed: 8 }).lossAndGrads(batch, { inputGrad: true });
    const got = new ScratchEngine(spec, { dtype: 'float64', seed: 8, kernels: k }).lossAndGrads(batch, { inputGrad: true });
    expect(k.stats.blasCalls).toBeGreaterThan(0);
    expectNear('loss', got.loss, ref.loss, limitFor('loss', 'float64'));
    for (const name of Object.keys(ref.grads)) expectClose(name, got.grads[name].data, ref.grads[name].data, limitFor('grad', 'float64'));
  });
});

withBlas('what the commands say', () => {
  test('bench --profile: the kernel set and the library in the headline, each product\'s kernel, the BLAS\'s ceiling beside the microkernel\'s', () => {
    const r = rnnlab(['bench', '--profile', '--cell', 'lstm', '--hidden', '64', '--batch', '4', '--seq', '4', '--input', '5', '--threads', '1', '--warmup', '0', '--repeats', '2', '--kernels', 'blas']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`scratch on blas kernels (${blas!.library} from ${blas!.path}; products under 2^14 multiply-adds and the rest on wasm-simd): `);
    // the head's dH = dlogits W^T (16 x 64 x 5: 5K multiply-adds) stays in WebAssembly; h U at B=4 (64K) goes to the BLAS
    expect(r.stdout).toMatch(/^\s+NT\s+16\s+64\s+5\s+1\s.*\swasm-simd$/m);
    expect(r.stdout).toMatch(/^\s+NN\s+4\s+256\s+64\s+4\s.*\sblas$/m);
    const lib = blas!.library.replace(/[()]/g, '\\$&');
    expect(r.stdout).toMatch(new RegExp(`^  ceiling: ${lib} reaches [\\d.]+ GFLOP/s on a 512x512x512 product at 1 thread here; the step's [\\d.]+ GFLOP of products on it ran at [\\d.]+ GFLOP/s \\([\\d.]+% of that\\), and would take [\\d.]+ ms at that rate; the WebAssembly gemm's 4x8 microkernel reaches [\\d.]+ GFLOP/s a thread$`, 'm'));
  });

  test('bench and check name the kernel set and the library in their headers', () => {
    const r = rnnlab(['bench', '--cell', 'rnn', '--hidden', '8', '--batch', '2', '--seq', '4', '--engine', 'scratch', '--threads', '1', '--warmup', '0', '--repeats', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`scratch        float32, blas kernels (${blas!.library} from ${blas!.path};`);
  });
});

describe('without a BLAS', () => {
  const bogus = '/nonexistent/libopenblas-bogus.so';
  // a bogus path is found out by trying to load it, which takes koffi
  const withKoffi = test.skipIf(koffiMissing() !== null);

  withKoffi('auto with a bogus --blas runs WebAssembly and says why; blas fails in one line naming the fix', async () => {
    const { kernels } = await makeKernels('auto', 1, { blas: bogus });
    expect(kernels.name).toBe('wasm-simd');
    expect(describeKernels(kernels)).toMatch(new RegExp(`^wasm-simd kernels \\(no BLAS: --blas ${bogus} cannot be loaded`));
    await disposeKernels(kernels);
    await expect(makeKernels('blas', 1, { blas: bogus })).rejects.toThrow(InputError);
    await expect(makeKernels('blas', 1, { blas: bogus })).rejects.toThrow(/apt-get install libopenblas0-pthread/);
    expect(float64Kernels('auto', { blas: bogus }).name).toBe('js');
  });

  test('without koffi: auto says koffi is missing, blas says how to install it', async () => {
    pretendKoffiMissing(true);
    try {
      const { kernels } = await makeKernels('auto', 1);
      expect(describeKernels(kernels)).toBe('wasm-simd kernels (no BLAS: the optional package koffi is not installed)');
      await disposeKernels(kernels);
      await expect(makeKernels('blas', 1)).rejects.toThrow(/koffi is not installed; install it with npm install koffi/);
    } finally {
      pretendKoffiMissing(false);
    }
  });

  withKoffi('the CLI: the header says so under auto; --kernels blas exits 2 with one line', () => {
    const auto = rnnlab(['check', '--cell', 'rnn', '--hidden', '8', '--seq', '4', '--batch', '2', '--steps', '1', '--no-tfjs', '--blas', bogus]);
    expect(auto.code).toBe(0);
    expect(auto.stdout).toMatch(/scratch +under test: float32, wasm-simd x\d kernels \(no BLAS: --blas \/nonexistent/);
    expect(auto.stdout).toMatch(/scratch-f64 +reference: float64, js kernels \(no BLAS: --blas \/nonexistent/);
    const strict = rnnlab(['check', '--cell', 'rnn', '--hidden', '8', '--steps', '1', '--no-tfjs', '--kernels', 'blas', '--blas', bogus]);
    expectOneLineError(strict, /^rnnlab: --kernels blas: --blas \/nonexistent\S+ cannot be loaded .*apt-get install libopenblas0-pthread/, expect);
  });
});
