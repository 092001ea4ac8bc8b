/**
 * The scratch engine (scratch/): `scratch` (float32, on the kernel set of --kernels at --threads)
 * and `scratch-f64` (float64: the reference every engine is compared with), and what is built on
 * it: the engine with a catalogued mistake planted (./mistakes/: check's diagnosis and --fault),
 * the float64 engine of an engine without biases, the engine that `gradcheck` perturbs, the
 * engine on timed kernels of `bench --profile`, and the scratch encoder-decoder.
 */
import { ScratchEngine } from '../../scratch/engine.js';
import { defaultThreads, describeKernels, disposeKernels, float64Kernels, makeKernels } from '../../scratch/kernel-choice.js';
import type { Kernels } from '../../scratch/kernels.js';
import { type StepProfile, profileSteps, timedKernels } from '../../scratch/profile.js';
import { ScratchSeq2Seq } from '../../scratch/seq2seq.js';
import type { BlasKernels } from '../../scratch/blas-kernels.js';
import type { WasmKernels } from '../../scratch/wasm/index.js';
import type { Cell } from '../../scratch/cells/cell.js';
import type { Batch, Engine, FiniteDifferenceEngine } from '../engine.js';
import { InputError } from '../errors.js';
import { type OptimizerSpec, optimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { KernelChoice } from '../run-options.js';
import type { Seq2SeqSpec } from '../seq2seq/spec.js';
import type { ModelSpec } from '../spec.js';
import { type EngineDType, FULL_SUPPORT } from '../supports.js';
import { biasNames } from './claims.js';
import { PlantedEngine } from './mistakes/engine.js';
import { type Mistake, mistakeString, withDefaults } from './mistakes/mistake.js';
import { planFor } from './mistakes/plans.js';
import type { EngineKind, EngineProvider, OpenModel } from './provider.js';

export type { Kernels } from '../../scratch/kernels.js';
export type { Cell } from '../../scratch/cells/cell.js';
export type { StepProfile, GemmShapeTime, KernelTime } from '../../scratch/profile.js';
export { defaultThreads, describeKernels } from '../../scratch/kernel-choice.js';

export interface ScratchRef {
  kind: 'scratch';
  dtype: EngineDType;
  /** The kernel set, when the name fixes it (scratch-js: the TypeScript kernels); else --kernels. */
  kernels?: KernelChoice;
  /** A catalogued mistake planted in it (check --fault). */
  fault?: Mistake;
}

export const scratchKind: EngineKind<ScratchRef> = {
  kind: 'scratch',
  names: ['scratch', 'scratch-f64'],
  parse: (name) => {
    switch (name) {
      case 'scratch':
      case 'scratch-f32':
        return { kind: 'scratch', dtype: 'float32' };
      case 'scratch-f64':
        return { kind: 'scratch', dtype: 'float64' };
      case 'scratch-js':
        // bench's float32 engine on the TypeScript kernels (the reference of the fast ones)
        return { kind: 'scratch', dtype: 'float32', kernels: 'js' };
    }
    return null;
  },
  homes: ['scratch/'],
  open: async (ref, o) => scratchProvider(ref, o.threads, o.kernels ?? 'auto', o.blas),
  openSeq2Seq: async (ref, spec, o) => {
    if (ref.dtype === 'float64') {
      const kernels = float64Kernels(o.kernels ?? 'auto', { blas: o.blas });
      const engine = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels, params: o.params, seed: o.seed, optimizer: o.optimizer });
      return { engine, detail: float64Detail(kernels), close: async () => {} };
    }
    const { kernels, note } = await makeKernels(o.kernels ?? 'auto', o.threads ?? defaultThreads(), { blas: o.blas });
    const engine = new ScratchSeq2Seq(spec, { dtype: 'float32', kernels, params: o.params, seed: o.seed, optimizer: o.optimizer });
    return { engine, detail: `float32, ${describeKernels(kernels)}${kernels.threads > 1 ? `, ${kernels.threads} threads` : ''}${note ? ` (${note})` : ''}`, close: () => disposeKernels(kernels) };
  },
};

function scratchProvider(ref: ScratchRef, threads: number, kernels: KernelChoice, blas: string | undefined): EngineProvider {
  const made: Kernels[] = [];
  const notes: string[] = [];
  const f64 = ref.dtype === 'float64';
  const choice = ref.kernels ?? kernels;
  const jsOnly = !f64 && ref.kernels === 'js';
  const provider: EngineProvider = {
    ref,
    name: f64 ? 'scratch-f64' : jsOnly ? 'scratch-js' : 'scratch',
    dtype: ref.dtype,
    threads: f64 || jsOnly ? 1 : threads,
    detail: f64 ? 'float64' : 'float32',
    supports: FULL_SUPPORT,
    notes,
    open: async (spec, m) => {
      if (f64) {
        if (ref.fault) throw new InputError('--fault plants a bug in the float32 scratch engine');
        const k = float64Kernels(choice, { blas });
        (provider as { detail: string }).detail = float64Detail(k);
        return referenceEngine(spec, m, k);
      }
      const { kernels: k, note } = await makeKernels(choice, provider.threads, { blas });
      if (note && !notes.includes(note)) notes.push(note);
      made.push(k);
      (provider as { threads: number }).threads = k.threads;
      (provider as { detail: string }).detail =
        `float32, ${describeKernels(k)}, ${provider.threads} thread${provider.threads > 1 ? 's' : ''}${ref.fault ? `, planted bug: ${mistakeString(withDefaults(ref.fault, spec))}` : ''}`;
      if (ref.fault) return mistakeEngine(spec, m, ref.fault, { dtype: 'float32', kernels: k });
      return new ScratchEngine(spec, { params: m.params, optimizer: m.optimizer, kernels: k });
    },
    close: async () => {
      for (const k of made.splice(0)) await disposeKernels(k);
    },
  };
  return provider;
}

/**
 * The reference every engine is compared with: the scratch engine in float64, on the TypeScript
 * loops with its products on the BLAS where `kernels` (default float64Kernels('auto')) has one.
 */
export function referenceEngine(spec: ModelSpec, m: OpenModel, kernels: Kernels = float64Kernels('auto')): ScratchEngine {
  return new ScratchEngine(spec, { dtype: 'float64', params: m.params, optimizer: m.optimizer, kernels });
}

/** What a float64 scratch engine on `k` runs on, for headers. */
export function float64Detail(k: Kernels): string {
  return `float64, ${describeKernels(k)}`;
}

/**
 * How check's diagnosis builds its float64 engines: the reference and each catalogued mistake, on
 * the kernels of the check's own reference (--kernels, --blas), so the diagnosis compares like
 * with like and loads no other library.
 */
export interface DiagnosisEngines {
  reference(spec: ModelSpec, params: NamedParams): ScratchEngine;
  mistake(spec: ModelSpec, params: NamedParams, m: Mistake): PlantedEngine;
}

export function diagnosisEngines(kernels: Kernels = float64Kernels('auto')): DiagnosisEngines {
  const optimizer = optimizerSpec('sgd');
  return {
    reference: (spec, params) => referenceEngine(spec, { params, optimizer }, kernels),
    mistake: (spec, params, m) => mistakeEngine(spec, { params, optimizer }, m, { kernels }),
  };
}

/**
 * The float64 reference of a check on the kernels of --kernels (and --blas): the reference itself,
 * the reference of an engine without biases, and the diagnosis's engines, on one kernel set.
 */
export function checkReference(o: { kernels?: KernelChoice; blas?: string }): {
  detail: string;
  engine(spec: ModelSpec, m: OpenModel): Engine;
  biasFree(spec: ModelSpec, m: OpenModel): Engine;
  diagnosis: DiagnosisEngines;
} {
  const kernels = float64Kernels(o.kernels ?? 'auto', { blas: o.blas });
  return {
    detail: float64Detail(kernels),
    engine: (spec, m) => referenceEngine(spec, m, kernels),
    biasFree: (spec, m) => biasFreeReference(spec, m, kernels),
    diagnosis: diagnosisEngines(kernels),
  };
}

/**
 * The scratch engine with one mistake planted (src/engines/mistakes/): float64 on the JS kernels
 * (the variants of check's diagnosis), or on the given kernels (check --fault). `derivable`: the
 * mistake only rewrites gradients, so its result follows from the reference's (deriveResult).
 */
export function mistakeEngine(spec: ModelSpec, m: OpenModel, mistake: Mistake, o: { dtype?: EngineDType; kernels?: Kernels } = {}): PlantedEngine {
  const filled = withDefaults(mistake, spec);
  return new PlantedEngine(spec, { dtype: o.dtype ?? 'float64', kernels: o.kernels, params: m.params, optimizer: m.optimizer }, planFor(spec, filled));
}

/** The plan of a mistake: whether its result can be derived from the reference's without running it, and how. */
export function mistakePlan(spec: ModelSpec, mistake: Mistake): ReturnType<typeof planFor> {
  return planFor(spec, withDefaults(mistake, spec));
}

/**
 * The float64 reference of an engine without biases (supports.biases false): its bias gradients
 * are zero, so training never moves the biases from zero.
 */
export function biasFreeReference(spec: ModelSpec, m: OpenModel, kernels: Kernels = float64Kernels('auto')): Engine {
  const drop = new Set(biasNames(spec));
  const gradsOut = (g: NamedParams): NamedParams => Object.fromEntries(Object.entries(g).map(([k, t]) => [k, drop.has(k) ? { ...t, data: t.data.map(() => 0) } : t]));
  return new PlantedEngine(spec, { dtype: 'float64', params: m.params, optimizer: m.optimizer, kernels }, { gradsOut });
}

/** The float64 kernels of `gradcheck --kernels` (the TypeScript loops, their products on the BLAS or not). */
export function gradcheckKernels(choice: KernelChoice, blas?: string): Kernels {
  return float64Kernels(choice, { blas });
}

/**
 * The float64 scratch engine a gradient check perturbs: its own parameter buffers, written in
 * place (`cell`: a cell of your own instead of the spec's; `kernels`: default the TypeScript ones).
 */
export function finiteDifferenceEngine(spec: ModelSpec, o: { params: NamedParams; cell?: Cell<unknown>; kernels?: Kernels }): FiniteDifferenceEngine {
  const e = new ScratchEngine(spec, { dtype: 'float64', params: o.params, cell: o.cell, kernels: o.kernels });
  return Object.assign(e, { kernelsAbout: describeKernels(e.kernels) });
}

/** The float64 scratch encoder-decoder a gradient check perturbs. */
export function seq2seqFiniteDifferenceEngine(spec: Seq2SeqSpec, o: { params: NamedParams; kernels?: Kernels }): ScratchSeq2Seq & { kernelsAbout: string } {
  const e = new ScratchSeq2Seq(spec, { dtype: 'float64', params: o.params, kernels: o.kernels });
  return Object.assign(e, { kernelsAbout: describeKernels(e.kernels) });
}

/**
 * `bench --profile`: a float32 scratch engine on timed kernels (`choice` at `threads`), profiled
 * over `steps` training steps after `warmup`; its kernels are ended before returning.
 */
export async function profileScratch(
  spec: ModelSpec,
  batch: Batch,
  o: { kernels: KernelChoice; blas?: string; threads: number; params: NamedParams; optimizer: OptimizerSpec; warmup: number; steps: number },
): Promise<{ profile: StepProfile; kernelSet: string; kernelsAbout: string; threads: number; note: string | null }> {
  const { kernels, note } = await makeKernels(o.kernels, o.threads, { blas: o.blas });
  try {
    const timed = timedKernels(kernels);
    const engine = new ScratchEngine(spec, { kernels: timed.kernels, params: o.params, optimizer: o.optimizer });
    // the ceiling before and after the steps, the higher kept: a machine whose speed drifts (a
    // shared host) is then less likely to show products faster than their ceiling
    const blas = 'peakBlasGflops' in kernels ? (kernels as BlasKernels) : null;
    const peak = (): [number, number] => [
      'peakGflops' in kernels ? (kernels as WasmKernels).peakGflops() : NaN,
      blas ? blas.peakBlasGflops() : NaN,
    ];
    const before = peak();
    const profile = profileSteps(engine, timed, batch, o.warmup, o.steps);
    engine.dispose();
    const after = peak();
    const best = (i: number): number | null => {
      const x = Math.max(before[i], after[i]);
      return Number.isFinite(x) && x > 0 ? x : null;
    };
    profile.peakGflops = best(0);
    profile.blasGflops = best(1);
    profile.blasLibrary = blas ? blas.blas.library : null;
    return { profile, kernelSet: kernels.name, kernelsAbout: describeKernels(kernels), threads: kernels.threads, note };
  } finally {
    await disposeKernels(kernels);
  }
}
