/**
 * The kernel sets a float32 scratch engine can run on, by name:
 *   "js"    the TypeScript reference kernels of kernels.ts
 *   "wasm"  WebAssembly SIMD (wasm/), on `threads` threads (worker threads over shared memory)
 *   "auto"  wasm when its module is built and loads, else js
 * Every engine gets its own kernel set (its buffers live in that set's memory).
 */
import { availableParallelism } from 'node:os';
import { InputError } from '../src/errors.js';
import { type Kernels, jsKernels } from './kernels.js';

export type KernelChoice = 'auto' | 'js' | 'wasm';
export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'js', 'wasm'];

export function defaultThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

export async function makeKernels(choice: KernelChoice, threads = 1): Promise<{ kernels: Kernels; note: string | null }> {
  if (!KERNEL_CHOICES.includes(choice)) throw new InputError(`unknown kernels "${choice}" (choose ${KERNEL_CHOICES.join(', ')})`);
  if (!Number.isInteger(threads) || threads < 1) throw new InputError(`threads must be an integer >= 1 (got ${threads})`);
  if (choice === 'js') return { kernels: jsKernels('float32'), note: null };
  try {
    const { createWasmKernels } = await import('./wasm/index.js');
    return { kernels: await createWasmKernels({ threads }), note: null };
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    if (choice === 'wasm') throw new InputError(`the WebAssembly kernels are not available (${why}); run npm run build, or use --kernels js`);
    return { kernels: jsKernels('float32'), note: `WebAssembly kernels unavailable (${why}); using the TypeScript kernels` };
  }
}

/** Ends a kernel set's worker threads, if it has any. */
export async function disposeKernels(k: Kernels): Promise<void> {
  const d = (k as { dispose?: () => Promise<void> }).dispose;
  if (d) await d.call(k);
}
