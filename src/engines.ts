/**
 * Engines by name for commands: "scratch" (float32), "tfjs" (the chosen backend), or "both".
 * tfjs is imported only when asked for.
 */
import { ScratchEngine } from '../scratch/engine.js';
import { type KernelChoice, defaultThreads, disposeKernels, makeKernels } from '../scratch/kernel-sets.js';
import type { BackendRequest } from '../tfjs/backend.js';
import type { Engine } from './engine.js';
import { InputError } from './errors.js';
import type { OptimizerSpec } from './optimizer.js';
import type { NamedParams } from './params.js';
import type { ModelSpec } from './spec.js';

export type EngineChoice = 'scratch' | 'tfjs' | 'both';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['scratch', 'tfjs', 'both'];

export interface EngineSet {
  engines: Engine[];
  /** One line per engine: name and what it runs on. */
  descriptions: string[];
  backend: string | null;
  tfjsVersion: string | null;
  notes: string[];
  /** Disposes the engines and ends kernel worker threads. */
  close(): Promise<void>;
}

export async function createEngines(
  choice: EngineChoice,
  spec: ModelSpec,
  o: { params: NamedParams; optimizer: OptimizerSpec; backend?: BackendRequest; kernels?: KernelChoice; threads?: number },
): Promise<EngineSet> {
  if (!ENGINE_CHOICES.includes(choice)) throw new InputError(`unknown engine "${choice}" (choose ${ENGINE_CHOICES.join(', ')})`);
  const set: EngineSet = {
    engines: [],
    descriptions: [],
    backend: null,
    tfjsVersion: null,
    notes: [],
    close: async () => {
      for (const e of set.engines) {
        e.dispose();
        if (e instanceof ScratchEngine) await disposeKernels(e.kernels);
      }
    },
  };
  if (choice === 'scratch' || choice === 'both') {
    const threads = o.threads ?? defaultThreads();
    const { kernels, note } = await makeKernels(o.kernels ?? 'auto', threads);
    if (note) set.notes.push(note);
    const e = new ScratchEngine(spec, { params: o.params, optimizer: o.optimizer, kernels });
    set.engines.push(e);
    set.descriptions.push(`scratch (float32, ${kernels.name} kernels)`);
  }
  if (choice === 'tfjs' || choice === 'both') {
    const { createTfjsEngine } = await import('../tfjs/engine.js');
    const { describeBackend } = await import('../tfjs/backend.js');
    const e = await createTfjsEngine(spec, { backend: o.backend ?? 'auto', params: o.params, optimizer: o.optimizer });
    set.engines.push(e);
    set.descriptions.push(`${e.name} (${describeBackend(e.loaded)})`);
    set.backend = e.backend;
    set.tfjsVersion = e.loaded.version;
    set.notes.push(...e.notes);
  }
  return set;
}
