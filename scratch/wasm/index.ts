/**
 * The fast float32 kernel set: the WebAssembly SIMD kernels of kernels.as (the gemm of gemm.as,
 * the cells' steps of cells.as, ...) behind the `Kernels` interface of ../kernels.ts, the products
 * optionally spread over worker threads.
 *
 * Memory: one shared WebAssembly.Memory per kernel set. `alloc` hands out zeroed, 64-byte aligned
 * Float32Array views of it from a bump pointer (engines allocate once per shape; nothing is freed).
 * The memory is shared, so growing it never detaches a view handed out before (only
 * `memory.buffer` becomes a new, longer SharedArrayBuffer object; every one of them is remembered
 * to recognise our views), and worker threads instantiate the same module on the same memory.
 *
 * gemm: operands that are views of this memory go to WebAssembly with their byteOffset as pointer;
 * anything else (a plain Float32Array, float64) is computed by the reference TypeScript gemm, so a
 * stray array is slow but never wrong. Which WebAssembly routine runs depends on the shape only
 * (see `plan`): the direct kernels (gemm_ab for NN/TN, gemm_nt's dot products for NT), or, where
 * strided operands hurt, gemm_packed, which first copies panels of both operands into scratch.
 *
 * Threads: with threads = T > 1, a gemm of at least `minParallelMacs` multiply-adds is cut into T
 * slices of C, across its longer side; the calling thread computes slice 0 and T - 1 workers the
 * others. Each worker has a control block (32 int32, own cache lines) at the start of the shared
 * memory: the caller writes the job and bumps SEQ (Atomics.notify), the worker runs it and bumps
 * DONE. Both sides spin briefly before sleeping in Atomics.wait, so back-to-back gemms (the time
 * loop) cost microseconds to hand over. Every element of C goes through the same operations
 * whatever the slice (see gemm.as), so results are bit-identical for any thread count.
 * Workers are unref'd (they never keep the process alive); `dispose()` ends them.
 *
 * The .wasm is built by `npm run build` (scratch/wasm/build.mjs) into dist/scratch/wasm/kernels.wasm
 * and read from there both by the compiled JS in dist/ and by the TypeScript sources under vitest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../../src/version.js';
import { type Arr, type FastKernels, type Kernels, gemm as jsGemm } from '../kernels.js';

export interface WasmKernelOptions {
  /** Threads a large gemm may use, the calling one included (default 1). */
  threads?: number;
  /** Largest the memory may grow, in MiB (default 2048). Past it, `alloc` returns plain arrays. */
  maxMemoryMiB?: number;
  /** Smallest m*n*k spread over threads (default DEFAULT_MIN_PARALLEL_MACS). */
  minParallelMacs?: number;
  /**
   * How long an idle worker spins before sleeping, in microseconds (default 1000: longer than the
   * element-wise work between two gemms of a time step at batch 32, ~250 us, so the worker is
   * awake when the next one comes; waking a sleeping worker costs tens of microseconds).
   */
  spinMicros?: number;
  /**
   * When the workers keep arriving late (another process holds the other core: waiting for them
   * costs more than their share saves), run the next products on the calling thread alone for a
   * while, then try the threads again (default true). Results do not change: every element is
   * computed the same way whatever the split.
   */
  adaptive?: boolean;
}

export interface WasmKernels extends Kernels {
  readonly dtype: 'float32';
  alloc(n: number): Float32Array;
  /** tanh, sigmoid or exp of n elements in place: the element-wise functions alone, for tests. */
  map(fn: 'tanh' | 'sigmoid' | 'exp', x: Float32Array): void;
  /** Ends the worker threads (gemm then runs on the calling thread only). */
  dispose(): Promise<void>;
  readonly stats: {
    /** gemm calls computed by the TypeScript fallback (an operand outside our memory). */
    jsFallbacks: number;
    /** gemm calls large enough to spread over threads. */
    parallelCalls: number;
    /** ... of which the calling thread computed alone, the workers having been late (`adaptive`). */
    soloCalls: number;
    /** allocations served as plain arrays because the memory could not grow. */
    plainAllocs: number;
  };
  /** Bytes of the memory in use (allocations, scratch and control blocks). */
  readonly usedBytes: number;
  /**
   * What the gemm's 4 x 8 microkernel reaches on one thread of this machine on operands that stay
   * in L1 (median of five runs of about 20 ms), in GFLOP/s: its ceiling, which no product of the
   * engine's can pass. NaN when the memory has no room left for its operands.
   */
  peakGflops(): number;
}

/**
 * Below this many multiply-adds a gemm stays on the calling thread. Measured on 2 cores (lstm,
 * H = 128): the per-step products of batch 32 (2.1M MACs, ~110 us) run 1.3-1.8x faster on two
 * threads, while those of batch 1 (65K MACs, ~6 us) lose more to the hand-over than they gain.
 */
export const DEFAULT_MIN_PARALLEL_MACS = 1 << 18;

/** Products run on the calling thread alone (then the threads are tried again) after LATE_CALLS split ones in a row lost to computing alone. */
const SOLO_CALLS = 200;
const LATE_CALLS = 8;

/** Below this many parameters Adam stays on the calling thread. */
const MIN_PARALLEL_ADAM = 1 << 16;

const PAGE = 65536;
const ALIGN = 64;

/** Where the built module is (the same place for dist/ and for the .ts sources). */
export function wasmPath(): string {
  return join(projectRoot(), 'dist', 'scratch', 'wasm', 'kernels.wasm');
}

// The project's lib (ES2022, no DOM) has no WebAssembly types: the little used here, typed locally.
/** A compiled module (opaque; workers receive it by structured clone). */
type WasmModule = object;
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (m: WasmModule, imports: object) => { exports: object };
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The exports of kernels.as (pointers are byte offsets, strides in elements, beta 0 or 1). */
interface Exports {
  /** C = beta C + op(A) B, op(A)[i, p] at a + 4 (i ars + p aps) */
  gemm_ab(m: number, n: number, k: number, a: number, ars: number, aps: number, b: number, ldb: number, beta: number, c: number, ldc: number): void;
  /** C = beta C + A B^T */
  gemm_nt(m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void;
  /** C = beta C + op(A) op(B), op(B)[p, j] at b + 4 (p bps + j bjs), through packed panels in scratch */
  gemm_packed(m: number, n: number, k: number, a: number, ars: number, aps: number, b: number, bps: number, bjs: number, beta: number, c: number, ldc: number, scratch: number): void;
  /** x = f(x): 0 tanh, 1 sigmoid, 2 exp */
  map_f32(n: number, x: number, fn: number): void;
  lstm_forward(B: number, H: number, z: number, cp: number, cn: number, h: number, tc: number): void;
  gru_forward_zr(B: number, H: number, a: number, hp: number, rh: number): void;
  gru_forward_h(B: number, H: number, a: number, hp: number, h: number): void;
  gru_ra_forward(B: number, H: number, a: number, M: number, hp: number, Mh: number, h: number): void;
  /** out = w softmax(x); returns sum exp(x - max), the max in softmax_max() */
  softmax_row(O: number, x: number, out: number, w: number): number;
  softmax_max(): number;
  adam(n: number, p: number, g: number, m: number, v: number, b1: number, omb1: number, b2: number, omb2: number, lr: number, c1: number, c2: number, eps: number): void;
  lstm_backward(B: number, H: number, z: number, tc: number, cp: number, dh: number, dc: number, dP: number, dcp: number): void;
  gru_backward_zh(B: number, H: number, a: number, hp: number, dh: number, dP: number, dhp: number): void;
  gru_backward_r(B: number, H: number, a: number, hp: number, dRh: number, dP: number, dhp: number): void;
  gru_ra_backward(B: number, H: number, a: number, Mh: number, hp: number, dh: number, dP: number, dM: number, dhp: number): void;
  tanh_backward(n: number, h: number, dh: number, d: number): void;
  add_into(n: number, y: number, x: number): void;
  gather_rows(rows: number, n: number, ids: number, w: number, bias: number, c: number): void;
  scatter_add_rows(rows: number, n: number, ids: number, d: number, dw: number): void;
  add_column_sums(rows: number, n: number, a: number, lda: number, out: number): void;
  peak_microkernel(n: number, pa: number, pb: number, c: number): void;
  transpose(rows: number, cols: number, a: number, lda: number, out: number, ldo: number): void;
}

let modulePromise: Promise<WasmModule> | null = null;

function loadModule(): Promise<WasmModule> {
  modulePromise ??= (async () => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(wasmPath());
    } catch {
      throw new Error(`${wasmPath()} is missing: run \`npm run build\` (it compiles scratch/wasm/kernels.as)`);
    }
    return wasmApi().compile(bytes);
  })();
  modulePromise.catch(() => (modulePromise = null)); // let a later call retry after a build
  return modulePromise;
}

// ---- jobs: an op and up to 13 int32 arguments (pointers as uint32 bit patterns) ----
const OP_AB = 0;
const OP_NT = 1;
const OP_PACKED = 2;
const OP_STOP = 3;
/** Adam over a slice of the elements: n and four pointers, then eight float32 arguments as their bits. */
const OP_ADAM = 4;
type Job = [op: number, args: number[]];

/** The int32 bit pattern of a float32 (float arguments travel in the int32 job slots). */
const bitsF = new Float32Array(1);
const bitsI = new Int32Array(bitsF.buffer);
function f32bits(x: number): number {
  bitsF[0] = x;
  return bitsI[0];
}

function runJob(ex: Exports, op: number, g: ArrayLike<number>): void {
  if (op === OP_AB) ex.gemm_ab(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10]);
  else if (op === OP_NT) ex.gemm_nt(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]);
  else ex.gemm_packed(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]);
}

// ---- the control block of one worker: CTL_INTS int32 in the shared memory ----
const SEQ = 0; // bumped by the caller for each job
const DONE = 1; // set to SEQ by the worker when the job is done
const FAILED = 2; // 1 if the job threw
const OP = 3;
const ARGS = 4; // ARGS .. ARGS+12: the arguments
const CTL_INTS = 32; // 128 bytes: nothing else shares its cache lines

/**
 * The body of a worker thread. It is serialised with toString and run with `eval: true`, so it
 * refers to nothing outside itself (types aside): the layout constants come in through workerData.
 */
function workerMain(): void {
  const { workerData, parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const d = workerData as {
    module: WasmModule;
    memory: WasmMemory;
    ctlOffset: number;
    spinMicros: number;
    L: { SEQ: number; DONE: number; FAILED: number; OP: number; ARGS: number; CTL_INTS: number; OP_AB: number; OP_NT: number; OP_PACKED: number; OP_ADAM: number };
  };
  const { SEQ, DONE, FAILED, OP, ARGS, CTL_INTS, OP_AB, OP_NT, OP_PACKED, OP_ADAM } = d.L;
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const ex = new wasm.Instance(d.module, { env: { memory: d.memory } }).exports as unknown as Exports;
  const ctl = new Int32Array(d.memory.buffer, d.ctlOffset, CTL_INTS);
  const args = new Int32Array(d.memory.buffer, d.ctlOffset + 4 * ARGS, 13);
  const fargs = new Float32Array(d.memory.buffer, d.ctlOffset + 4 * ARGS, 13); // the same slots as float32
  let seen = Atomics.load(ctl, SEQ); // before 'ready': the first job may follow it at once
  parentPort!.postMessage('ready');
  for (;;) {
    // Spin a little (the next gemm of a time loop comes soon), then sleep until woken.
    const t0 = performance.now();
    for (let spins = 1; Atomics.load(ctl, SEQ) === seen; spins++) {
      if ((spins & 1023) === 0 && performance.now() - t0 > d.spinMicros / 1000) Atomics.wait(ctl, SEQ, seen);
    }
    seen = Atomics.load(ctl, SEQ);
    const op = ctl[OP];
    const g = args;
    try {
      // the same dispatch as runJob
      if (op === OP_AB) ex.gemm_ab(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10]);
      else if (op === OP_NT) ex.gemm_nt(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]);
      else if (op === OP_PACKED) ex.gemm_packed(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]);
      else if (op === OP_ADAM) {
        const f = fargs;
        ex.adam(g[0], g[1], g[2], g[3], g[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12]);
      } else return; // OP_STOP
      ctl[FAILED] = 0;
    } catch {
      ctl[FAILED] = 1;
    }
    Atomics.store(ctl, DONE, seen);
    Atomics.notify(ctl, DONE);
  }
}

interface WorkerSlot {
  worker: Worker;
  ctl: Int32Array;
  seq: number;
}

async function startWorker(module: WasmModule, memory: WasmMemory, ctlOffset: number, spinMicros: number): Promise<WorkerSlot> {
  const worker = new Worker(`(${workerMain.toString()})()`, {
    eval: true,
    workerData: {
      module,
      memory,
      ctlOffset,
      spinMicros,
      L: { SEQ, DONE, FAILED, OP, ARGS, CTL_INTS, OP_AB, OP_NT, OP_PACKED, OP_ADAM },
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`gemm worker exited with code ${code}`)));
    });
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  worker.removeAllListeners();
  worker.unref();
  return { worker, ctl: new Int32Array(memory.buffer, ctlOffset, CTL_INTS), seq: 0 };
}

/** Elements a [rows, cols] operand with leading dimension ld spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/**
 * Which routine computes a product, from its shape and B's row stride alone (so that every slice of a threaded call,
 * and every thread count, computes each element the same way). Measured on the RNN shapes:
 * - TN with a long k (weight gradients, k = T*B): B's rows are far apart and a 4x8 block walks k
 *   of them per pass; packing makes both operands sequential (10 -> 17 GMAC/s).
 * - NT with a short k and many rows (the head's dH = dlogits W^T, k = outputs): the dot kernel's
 *   per-element horizontal sums dominate; the packed kernel has none (14 -> 18 GMAC/s).
 * - NN whose B rows are a multiple of 4 KiB apart (an lstm's recurrent kernel at H = 256: [256, 1024]):
 *   the 4x8 block's walk down k rows of B maps every row to the same L1 cache set; packed panels
 *   are contiguous (lstm H=256 B=32, h U: 22 -> 37 GFLOP/s).
 * Everything else runs on the operands in place.
 */
function usePacked(transA: boolean, transB: boolean, m: number, k: number, ldb: number): boolean {
  if (transB) return k < 128 && m >= 64;
  if (!transA) return m >= 16 && k >= 32 && ldb % 1024 === 0;
  return transA && k >= 256 && m >= 8;
}

/** Scratch bytes gemm_packed needs for `rows` rows of C (see gemm.as). */
function packedScratch(rows: number, k: number): number {
  return 128 + 32 * k + 16 * Math.ceil(rows / 4) * k;
}

type Stats = WasmKernels['stats'];

/**
 * The kernel set's memory: [64 unused][control blocks][allocations and scratch ...], handed out by
 * a bump pointer; growing it keeps every view handed out before (the memory is shared), and every
 * buffer object it had is remembered, to tell our views from other arrays.
 */
function wasmArena(memory: WasmMemory, maxPages: number, threads: number, stats: Stats) {
  let buffer = memory.buffer; // the newest buffer object
  const ours = new Set<ArrayBufferLike>([buffer]);
  let top = ALIGN; // bump pointer (bytes)

  /** Reserves `bytes` (64-aligned) and returns the offset, or -1 when the memory cannot grow. */
  function reserve(bytes: number): number {
    const end = top + Math.ceil(bytes / ALIGN) * ALIGN;
    if (end > buffer.byteLength) {
      const have = buffer.byteLength / PAGE;
      const need = Math.ceil(end / PAGE) - have;
      const grow = Math.min(Math.max(need, have >> 1), maxPages - have); // by at least half
      if (grow < need) return -1;
      memory.grow(grow);
      buffer = memory.buffer;
      ours.add(buffer);
    }
    const at = top;
    top = end;
    return at;
  }

  function alloc(n: number): Float32Array {
    const at = reserve(n * 4);
    if (at < 0) {
      stats.plainAllocs++;
      return new Float32Array(n); // the memory is full: correct but slow (gemm falls back)
    }
    return new Float32Array(buffer, at, n); // zero: this memory was never handed out before
  }

  const mine = (x: Arr): boolean => x instanceof Float32Array && (x.buffer === buffer || ours.has(x.buffer));

  /**
   * Scratch of each thread for gemm_packed, grown (the old one abandoned) when too small. False if
   * the memory cannot hold it (gemm then falls back to the reference).
   */
  const scratch = Array.from({ length: threads }, () => ({ at: 0, bytes: 0 }));
  function ensureScratch(parts: number, bytes: number): boolean {
    for (let t = 0; t < parts; t++) {
      const s = scratch[t];
      if (s.bytes >= bytes) continue;
      const size = Math.max(bytes, 2 * s.bytes);
      const at = reserve(size);
      if (at < 0) return false;
      s.at = at;
      s.bytes = size;
    }
    return true;
  }

  /** Token ids copied into our memory (grown, the old area abandoned, when too small). */
  let idsArea: Int32Array | null = null;
  /** The pointer to a copy of ids[0, rows) in our memory, or -1 if an id is not a row of a [rowsOfW, ...] table. */
  const idsIn = (rows: number, ids: Int32Array, rowsOfW: number): number => {
    if (ids.length < rows) return -1;
    if (!idsArea || idsArea.length < rows) {
      const f = alloc(Math.max(rows, 2 * (idsArea?.length ?? 0))); // doubling: a slowly growing batch abandons few areas
      if (!mine(f)) return -1;
      idsArea = new Int32Array(f.buffer, f.byteOffset, rows);
    }
    for (let r = 0; r < rows; r++) {
      const id = ids[r];
      if (!(id >= 0 && id < rowsOfW)) return -1; // the TypeScript loop then gives what it gives (NaN)
      idsArea[r] = id;
    }
    return idsArea.byteOffset;
  };

  return { reserve, alloc, mine, ensureScratch, scratchAt: (t: number): number => scratch[t].at, idsIn, usedBytes: (): number => top };
}
type Arena = ReturnType<typeof wasmArena>;

/**
 * The threads: a job posted to each worker's control block, and a product cut into one slice of C
 * per thread; when the workers keep arriving late (`adaptive`), the calling thread goes alone a while.
 */
function workerPool(ex: Exports, workers: WorkerSlot[], adaptive: boolean, stats: Stats) {
  let late = 0; // consecutive parallel calls whose workers finished well after the calling thread
  let solo = 0; // parallel-sized calls still to run on the calling thread alone

  function post(w: WorkerSlot, [op, args]: Job): void {
    w.ctl[OP] = op;
    for (let i = 0; i < args.length; i++) w.ctl[ARGS + i] = args[i];
    w.seq = (w.seq + 1) | 0;
    Atomics.store(w.ctl, SEQ, w.seq);
    Atomics.notify(w.ctl, SEQ);
  }

  function join(w: WorkerSlot): void {
    // The worker got as much work as we did: spin, then sleep in short waits.
    for (let spins = 0; Atomics.load(w.ctl, DONE) !== w.seq; spins++) {
      if (spins > 1 << 16) Atomics.wait(w.ctl, DONE, Atomics.load(w.ctl, DONE), 1);
    }
    if (w.ctl[FAILED]) throw new Error('gemm worker failed');
  }

  /**
   * Cuts C [m, n] into one slice per thread across its longer side (rows in multiples of 4,
   * columns in multiples of 8: whole register blocks) and runs the job slice(t, lo, hi, byRows)
   * of each: the workers', then the calling thread's, then waits for the workers.
   */
  function parallel(m: number, n: number, slice: (t: number, lo: number, hi: number, byRows: boolean) => Job): void {
    const parts = workers.length + 1;
    const byRows = m >= n;
    const len = byRows ? m : n;
    const unit = byRows ? 4 : 8;
    const units = Math.ceil(len / unit);
    const cut = (t: number): number => Math.min(len, Math.round((units * t) / parts) * unit);
    stats.parallelCalls++;
    if (solo > 0) {
      solo--;
      stats.soloCalls++;
      const [op, args] = slice(0, 0, len, byRows);
      runJob(ex, op, args);
      return;
    }
    for (let t = 1; t < parts; t++) post(workers[t - 1], slice(t, cut(t), cut(t + 1), byRows));
    const [op, args] = slice(0, 0, cut(1), byRows);
    const t0 = performance.now();
    runJob(ex, op, args);
    const t1 = performance.now();
    for (const w of workers) join(w);
    if (!adaptive) return;
    // Waiting longer than our own share took means the split lost to computing alone (the worker
    // was not running: the core is taken); several such calls in a row, and we go alone a while.
    const waited = performance.now() - t1;
    late = waited > 0.1 + (t1 - t0) ? late + 1 : 0;
    if (late >= LATE_CALLS) {
      late = 0;
      solo = SOLO_CALLS;
    }
  }

  return { post, join, parallel, workers };
}
type Pool = ReturnType<typeof workerPool>;

/** The gemm of the kernel set: operands in our memory to WebAssembly (on the threads when large), anything else to the TypeScript gemm. */
function wasmGemm(ex: Exports, arena: Arena, pool: Pool, minParallel: number, stats: Stats): Kernels['gemm'] {
  const { mine } = arena;
  return (transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc) => {
    if (m === 0 || n === 0) return;
    if (transA && transB) throw new Error('gemm: transA with transB is not used');
    const packed = usePacked(transA, transB, m, k, ldb);
    const parts = m * n * k >= minParallel ? pool.workers.length + 1 : 1;
    // (a slice of C has at most m rows: enough scratch for every slice)
    if (!mine(A) || !mine(B) || !mine(C) || (packed && !arena.ensureScratch(parts, packedScratch(m, k)))) {
      stats.jsFallbacks++;
      jsGemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc);
      return;
    }
    // WebAssembly would read (and write) past a view without complaint: check the extents.
    const needA = transA ? span(k, m, lda) : span(m, k, lda);
    const needB = transB ? span(n, k, ldb) : span(k, n, ldb);
    if (A.length < needA || B.length < needB || C.length < span(m, n, ldc)) {
      throw new RangeError(`gemm: operand too short for m=${m} n=${n} k=${k} lda=${lda} ldb=${ldb} ldc=${ldc}`);
    }
    const a = A.byteOffset;
    const b = B.byteOffset;
    const c = C.byteOffset;
    const ars = transA ? 1 : lda; // op(A)[i, p] = A[i*ars + p*aps]
    const aps = transA ? lda : 1;
    const bps = transB ? 1 : ldb; // op(B)[p, j] = B[p*bps + j*bjs]
    const bjs = transB ? ldb : 1;
    if (parts === 1) {
      if (packed) ex.gemm_packed(m, n, k, a, ars, aps, b, bps, bjs, beta, c, ldc, arena.scratchAt(0));
      else if (transB) ex.gemm_nt(m, n, k, a, lda, b, ldb, beta, c, ldc);
      else ex.gemm_ab(m, n, k, a, ars, aps, b, ldb, beta, c, ldc);
      return;
    }
    // One slice of C for thread t: rows (byRows) or columns [lo, hi).
    if (packed) {
      pool.parallel(m, n, (t, lo, hi, byRows) => {
        const s = arena.scratchAt(t);
        return byRows
          ? [OP_PACKED, [hi - lo, n, k, a + 4 * lo * ars, ars, aps, b, bps, bjs, beta, c + 4 * lo * ldc, ldc, s]]
          : [OP_PACKED, [m, hi - lo, k, a, ars, aps, b + 4 * lo * bjs, bps, bjs, beta, c + 4 * lo, ldc, s]];
      });
    } else if (transB) {
      pool.parallel(m, n, (_t, lo, hi, byRows) =>
        byRows
          ? [OP_NT, [hi - lo, n, k, a + 4 * lo * lda, lda, b, ldb, beta, c + 4 * lo * ldc, ldc]]
          : [OP_NT, [m, hi - lo, k, a, lda, b + 4 * lo * ldb, ldb, beta, c + 4 * lo, ldc]],
      );
    } else {
      pool.parallel(m, n, (_t, lo, hi, byRows) =>
        byRows
          ? [OP_AB, [hi - lo, n, k, a + 4 * lo * ars, ars, aps, b, ldb, beta, c + 4 * lo * ldc, ldc]]
          : [OP_AB, [m, hi - lo, k, a, ars, aps, b + 4 * lo, ldb, beta, c + 4 * lo, ldc]],
      );
    }
  };
}

type StepKernels = Required<Omit<FastKernels, 'transposedBackward'>>;

/** The cells' time steps (cells.as), forward and backward: on the calling thread, when every operand is ours and long enough. */
function cellStepKernels(ex: Exports, arena: Arena): Pick<StepKernels, 'lstmForward' | 'gruForwardZR' | 'gruForwardH' | 'gruResetAfterForward' | 'lstmBackward' | 'gruBackwardZH' | 'gruBackwardR' | 'gruResetAfterBackward'> {
  const { mine } = arena;
  /** A time step's operands: all ours, the gate-wide ones ([B, G*H]) at least `wide` long, the others ([B, H]) `narrow`. */
  const stepOperands = (wide: number, gates: Arr[], narrow: number, units: Arr[]): boolean =>
    gates.every((x) => mine(x) && x.length >= wide) && units.every((x) => mine(x) && x.length >= narrow);
  return {
    lstmForward(B, H, z, cPrev, c, h, tanhC) {
      if (!stepOperands(4 * B * H, [z], B * H, [cPrev, c, h, tanhC])) return false;
      ex.lstm_forward(B, H, z.byteOffset, cPrev.byteOffset, c.byteOffset, h.byteOffset, tanhC.byteOffset);
      return true;
    },
    gruForwardZR(B, H, a, hPrev, rh) {
      if (!stepOperands(3 * B * H, [a], B * H, [hPrev, rh])) return false;
      ex.gru_forward_zr(B, H, a.byteOffset, hPrev.byteOffset, rh.byteOffset);
      return true;
    },
    gruForwardH(B, H, a, hPrev, h) {
      if (!stepOperands(3 * B * H, [a], B * H, [hPrev, h])) return false;
      ex.gru_forward_h(B, H, a.byteOffset, hPrev.byteOffset, h.byteOffset);
      return true;
    },
    gruResetAfterForward(B, H, a, M, hPrev, Mh, h) {
      if (!stepOperands(3 * B * H, [a, M], B * H, [hPrev, Mh, h])) return false;
      ex.gru_ra_forward(B, H, a.byteOffset, M.byteOffset, hPrev.byteOffset, Mh.byteOffset, h.byteOffset);
      return true;
    },
    lstmBackward(B, H, z, tanhC, cPrev, dh, dc, dP, dcPrev) {
      if (!stepOperands(4 * B * H, [z, dP], B * H, [tanhC, cPrev, dh, dc, dcPrev])) return false;
      ex.lstm_backward(B, H, z.byteOffset, tanhC.byteOffset, cPrev.byteOffset, dh.byteOffset, dc.byteOffset, dP.byteOffset, dcPrev.byteOffset);
      return true;
    },
    gruBackwardZH(B, H, a, hPrev, dh, dP, dhPrev) {
      if (!stepOperands(3 * B * H, [a, dP], B * H, [hPrev, dh, dhPrev])) return false;
      ex.gru_backward_zh(B, H, a.byteOffset, hPrev.byteOffset, dh.byteOffset, dP.byteOffset, dhPrev.byteOffset);
      return true;
    },
    gruBackwardR(B, H, a, hPrev, dRh, dP, dhPrev) {
      if (!stepOperands(3 * B * H, [a, dP], B * H, [hPrev, dRh, dhPrev])) return false;
      ex.gru_backward_r(B, H, a.byteOffset, hPrev.byteOffset, dRh.byteOffset, dP.byteOffset, dhPrev.byteOffset);
      return true;
    },
    gruResetAfterBackward(B, H, a, Mh, hPrev, dh, dP, dM, dhPrev) {
      if (!stepOperands(3 * B * H, [a, dP, dM], B * H, [Mh, hPrev, dh, dhPrev])) return false;
      ex.gru_ra_backward(B, H, a.byteOffset, Mh.byteOffset, hPrev.byteOffset, dh.byteOffset, dP.byteOffset, dM.byteOffset, dhPrev.byteOffset);
      return true;
    },
  };
}

/** The other element-wise kernels: rows of a table, tanh and its derivative, the softmax head, Adam (on the threads when large). */
function elementKernels(ex: Exports, arena: Arena, pool: Pool): Omit<StepKernels, keyof ReturnType<typeof cellStepKernels>> {
  const { mine, idsIn } = arena;
  const allMine = (...xs: Arr[]): boolean => xs.every(mine);
  return {
    tanhBackward(n, h, dh, d) {
      if (!allMine(h, dh, d) || Math.min(h.length, dh.length, d.length) < n) return false;
      ex.tanh_backward(n, h.byteOffset, dh.byteOffset, d.byteOffset);
      return true;
    },
    gatherRows(rows, n, ids, W, bias, C) {
      if (n === 0 || !allMine(W, bias, C) || bias.length < n || C.length < rows * n) return false;
      const at = idsIn(rows, ids, Math.floor(W.length / n));
      if (at < 0) return false;
      ex.gather_rows(rows, n, at, W.byteOffset, bias.byteOffset, C.byteOffset);
      return true;
    },
    scatterAddRows(rows, n, ids, D, dW) {
      if (n === 0 || !allMine(D, dW) || D.length < rows * n) return false;
      const at = idsIn(rows, ids, Math.floor(dW.length / n));
      if (at < 0) return false;
      ex.scatter_add_rows(rows, n, at, D.byteOffset, dW.byteOffset);
      return true;
    },
    addColumnSums(rows, n, A, lda, out) {
      if (!allMine(A, out) || out.length < n || (rows > 0 && A.length < (rows - 1) * lda + n)) return false;
      ex.add_column_sums(rows, n, A.byteOffset, lda, out.byteOffset);
      return true;
    },
    transpose(rows, cols, A, lda, out, ldo) {
      if (!allMine(A, out) || (rows > 0 && cols > 0 && (A.length < (rows - 1) * lda + cols || out.length < (cols - 1) * ldo + rows))) return false;
      ex.transpose(rows, cols, A.byteOffset, lda, out.byteOffset, ldo);
      return true;
    },
    addInto(n, y, x) {
      if (!allMine(y, x) || Math.min(y.length, x.length) < n) return false;
      ex.add_into(n, y.byteOffset, x.byteOffset);
      return true;
    },
    tanh(n, x) {
      if (!allMine(x) || x.length < n) return false;
      ex.map_f32(n, x.byteOffset, 0);
      return true;
    },
    softmaxRows(N, O, logits, weight, out, lse) {
      if (!allMine(logits, out) || Math.min(logits.length, out.length) < N * O) return false;
      const x = logits.byteOffset;
      const o = out.byteOffset;
      for (let r = 0; r < N; r++) {
        if (weight[r] === 0) continue;
        const sum = ex.softmax_row(O, x + 4 * r * O, o + 4 * r * O, weight[r]);
        lse[r] = ex.softmax_max() + Math.log(sum);
      }
      return true;
    },
    adam(n, p, g, m, v, b1, omb1, b2, omb2, lr, c1, c2, eps) {
      if (!allMine(p, g, m, v) || Math.min(p.length, g.length, m.length, v.length) < n) return false;
      const parts = n >= MIN_PARALLEL_ADAM ? pool.workers.length + 1 : 1;
      if (parts === 1) {
        ex.adam(n, p.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, b1, omb1, b2, omb2, lr, c1, c2, eps);
        return true;
      }
      // slices of the elements (multiples of 4: whole vectors); every element is computed alike
      const floats = [b1, omb1, b2, omb2, lr, c1, c2, eps];
      const fbits = floats.map(f32bits);
      const cut = (t: number): number => (t >= parts ? n : Math.min(n, Math.round((n / 4) * (t / parts)) * 4));
      const job = (t: number): number[] => {
        const lo = cut(t);
        return [cut(t + 1) - lo, p.byteOffset + 4 * lo, g.byteOffset + 4 * lo, m.byteOffset + 4 * lo, v.byteOffset + 4 * lo, ...fbits];
      };
      for (let t = 1; t < parts; t++) pool.post(pool.workers[t - 1], [OP_ADAM, job(t)]);
      const [cnt, pp, gp, mp, vp] = job(0);
      ex.adam(cnt, pp, gp, mp, vp, b1, omb1, b2, omb2, lr, c1, c2, eps);
      for (const w of pool.workers) pool.join(w);
      return true;
    },
  };
}

/** What the gemm's 4 x 8 microkernel reaches on this thread (WasmKernels.peakGflops); its operands are allocated on the first call. */
function peakGflopsOf(ex: Exports, arena: Arena): () => number {
  let peakArea: Float32Array | null = null;
  return () => {
    if (!peakArea) {
      const a = arena.alloc(128 * 4 + 128 * 8 + 32);
      if (!arena.mine(a)) return NaN; // the memory is full: no room to measure (and a plain array's offset 0 is not ours)
      peakArea = a;
    }
    const area = peakArea;
    for (let i = 0; i < 128 * 12; i++) area[i] = 1 + (i % 7) / 8;
    const [pa, pb, c] = [area.byteOffset, area.byteOffset + 128 * 4 * 4, area.byteOffset + 128 * 12 * 4];
    const run = (n: number): number => {
      const t0 = performance.now();
      ex.peak_microkernel(n, pa, pb, c);
      return performance.now() - t0;
    };
    const flops = 2 * 4 * 8 * 128; // a round
    let n = 256;
    while (run(n) < 5 && n < 1 << 24) n *= 2;
    n = Math.max(n, Math.round((n * 20) / Math.max(run(n), 1e-3)));
    const times = Array.from({ length: 5 }, () => run(n)).sort((a, b) => a - b);
    return (flops * n) / times[2] / 1e6;
  };
}

export async function createWasmKernels(opts: WasmKernelOptions = {}): Promise<WasmKernels> {
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const maxPages = Math.floor(((opts.maxMemoryMiB ?? 2048) * 1024 * 1024) / PAGE);
  const minParallel = opts.minParallelMacs ?? DEFAULT_MIN_PARALLEL_MACS;
  const spinMicros = opts.spinMicros ?? 1000;
  const module = await loadModule();
  if (!(maxPages >= 1)) throw new RangeError(`maxMemoryMiB must be at least 1/16 (got ${opts.maxMemoryMiB})`);
  const memory = new (wasmApi().Memory)({ initial: Math.min(16, maxPages), maximum: maxPages, shared: true });
  const ex = new (wasmApi().Instance)(module, { env: { memory } }).exports as unknown as Exports;
  const stats: Stats = { jsFallbacks: 0, parallelCalls: 0, soloCalls: 0, plainAllocs: 0 };
  const arena = wasmArena(memory, maxPages, threads, stats);

  // the workers' control blocks first, then the workers on them
  const ctlOffsets = Array.from({ length: threads - 1 }, () => arena.reserve(CTL_INTS * 4));
  const workers: WorkerSlot[] = [];
  try {
    for (const off of ctlOffsets) workers.push(await startWorker(module, memory, off, spinMicros));
  } catch (e) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw e;
  }
  const pool = workerPool(ex, workers, opts.adaptive ?? true, stats);

  async function dispose(): Promise<void> {
    const ws = workers.splice(0);
    for (const w of ws) pool.post(w, [OP_STOP, []]);
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }

  return {
    name: threads > 1 ? `wasm-simd x${threads}` : 'wasm-simd',
    get threads() {
      return workers.length + 1;
    },
    dtype: 'float32',
    alloc: arena.alloc,
    gemm: wasmGemm(ex, arena, pool, minParallel, stats),
    ...cellStepKernels(ex, arena),
    ...elementKernels(ex, arena, pool),
    map(fn, x) {
      if (!arena.mine(x)) throw new Error('map: the array is not in this kernel set\'s memory');
      ex.map_f32(x.length, x.byteOffset, fn === 'tanh' ? 0 : fn === 'sigmoid' ? 1 : 2);
    },
    dispose,
    stats,
    peakGflops: peakGflopsOf(ex, arena),
    get usedBytes() {
      return arena.usedBytes();
    },
  };
}
