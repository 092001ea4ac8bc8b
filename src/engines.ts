/**
 * Engines by name for commands: "scratch" (float32), "tfjs" (the chosen backend), or "both".
 * tfjs is imported only when asked for.
 */
import { ScratchEngine } from '../scratch/engine.js';
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
}

export async function createEngines(
  choice: EngineChoice,
  spec: ModelSpec,
  o: { params: NamedParams; optimizer: OptimizerSpec; backend?: BackendRequest },
): Promise<EngineSet> {
  if (!ENGINE_CHOICES.includes(choice)) throw new InputError(`unknown engine "${choice}" (choose ${ENGINE_CHOICES.join(', ')})`);
  const set: EngineSet = { engines: [], descriptions: [], backend: null, tfjsVersion: null, notes: [] };
  if (choice === 'scratch' || choice === 'both') {
    const e = new ScratchEngine(spec, { params: o.params, optimizer: o.optimizer });
    set.engines.push(e);
    set.descriptions.push(`scratch (float32, ${e.kernels.name} kernels)`);
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
