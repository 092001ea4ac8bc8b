/**
 * The kernel sets a scratch engine can run on, by name:
 *   "js"    the TypeScript reference kernels of kernels.ts
 *   "wasm"  WebAssembly SIMD (wasm/), on `threads` threads (worker threads over shared memory)
 *   "blas"  the matrix products on the machine's BLAS through koffi (blas.ts, blas-kernels.ts) at
 *           `threads` threads, the rest WebAssembly SIMD on the calling thread (float64: the
 *           TypeScript loops); fails in one line when koffi or a BLAS is missing
 *   "auto"  blas when koffi and a BLAS are found, else wasm when its module is built and loads,
 *           else js; a set chosen in place of the BLAS says why in its `about`
 * Every engine gets its own kernel set (its buffers live in that set's memory). The BLAS library is
 * `blas` (--blas PATH), else RNNLAB_BLAS, else the first found in the usual places.
 */
import { availableParallelism } from 'node:os';
import { InputError } from '../src/errors.js';
import { findBlas } from './blas.js';
import { blasKernels } from './blas-kernels.js';
import { type Kernels, jsKernels } from './kernels.js';
import { KERNEL_CHOICES, type KernelChoice } from '../src/run-options.js';

export { type KernelChoice, KERNEL_CHOICES } from '../src/run-options.js';

/** Where the BLAS is: --blas PATH (else RNNLAB_BLAS, else the usual places). */
export interface KernelPlace {
  blas?: string;
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

function checkChoice(choice: KernelChoice, threads: number): void {
  if (!KERNEL_CHOICES.includes(choice)) throw new InputError(`unknown kernels "${choice}" (choose ${KERNEL_CHOICES.join(', ')})`);
  if (!Number.isInteger(threads) || threads < 1) throw new InputError(`threads must be an integer >= 1 (got ${threads})`);
}

/** The BLAS for `choice` ("auto" or "blas"), or why there is none; "blas" without one is an InputError. */
function blasFor(choice: KernelChoice, place: KernelPlace): ReturnType<typeof findBlas> {
  const r = findBlas(place.blas);
  if (r.missing && choice === 'blas') throw new InputError(`--kernels blas: ${r.missing}; ${r.how}`);
  return r;
}

/** A kernel set's `about`, set after it was made (a set chosen in place of another says why). */
function withAbout<K extends Kernels>(k: K, about: string): K {
  Object.defineProperty(k, 'about', { value: about, configurable: true });
  return k;
}

export async function makeKernels(choice: KernelChoice, threads = 1, place: KernelPlace = {}): Promise<{ kernels: Kernels; note: string | null }> {
  checkChoice(choice, threads);
  if (choice === 'js') return { kernels: jsKernels('float32'), note: null };
  const lookup = choice === 'wasm' ? null : blasFor(choice, place);
  // with the BLAS computing the products, the WebAssembly set underneath runs on the calling
  // thread alone: its worker threads would only spin beside the BLAS's own
  const wasmThreads = lookup?.blas ? 1 : threads;
  let base: Kernels;
  let note: string | null = null;
  try {
    const { createWasmKernels } = await import('./wasm/index.js');
    base = await createWasmKernels({ threads: wasmThreads });
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    if (choice === 'wasm') throw new InputError(`the WebAssembly kernels are not available (${why}); run npm run build, or use --kernels js`);
    base = jsKernels('float32');
    note = `WebAssembly kernels unavailable (${why}); using the TypeScript kernels`;
  }
  if (lookup?.blas) return { kernels: blasKernels(base, lookup.blas, { threads }), note };
  if (lookup?.missing) withAbout(base, `no BLAS: ${lookup.missing}`);
  return { kernels: base, note };
}

/**
 * The kernels of a float64 engine (scratch-f64, the reference of every check, gradcheck): the
 * TypeScript loops, with the products on the BLAS (dgemm, one thread) for "auto" when one is found
 * and for "blas"; "wasm" and "js" keep the TypeScript products. Synchronous: the float64 engines
 * are made in synchronous code.
 */
export function float64Kernels(choice: KernelChoice = 'auto', place: KernelPlace = {}): Kernels {
  checkChoice(choice, 1);
  const base = jsKernels('float64');
  if (choice === 'js' || choice === 'wasm') return base;
  const lookup = blasFor(choice, place);
  if (lookup.blas) return blasKernels(base, lookup.blas, { threads: 1 });
  return withAbout(base, `no BLAS: ${lookup.missing}`);
}

/** "blas kernels (OpenBLAS 0.3.21 ...)", "wasm-simd x2 kernels (no BLAS: ...)": what headers print. */
export function describeKernels(k: Kernels): string {
  return `${k.name} kernels${k.about ? ` (${k.about})` : ''}`;
}

/** Ends a kernel set's worker threads, if it has any. */
export async function disposeKernels(k: Kernels): Promise<void> {
  const d = (k as { dispose?: () => Promise<void> }).dispose;
  if (d) await d.call(k);
}
