/**
 * The engine registry: every engine by name, and the one place that builds engines (docs/engines.md):
 *   scratch, scratch-f64          the from-scratch engine, float32 / float64 (./scratch.ts)
 *   tfjs, tfjs-wasm|cpu|node      TensorFlow.js (tfjs: the --backend choice) (./tfjs.ts)
 *   tfjs-webgl|webgpu|webgl-f16   TensorFlow.js in a headless Chromium page (./browser.ts)
 *   pytorch, pytorch-f64          PyTorch through python/rnnlab_torch.py (./pytorch.ts)
 *   ./my-engine.js                a JavaScript module, in process (./module.ts)
 *   cmd:python3 my_lstm.py        any command speaking the engine protocol, out of process (./process.ts)
 *   both                          scratch and tfjs (train's shorthand)
 * Each kind is one file of this folder exporting an EngineKind (./provider.ts), listed below: adding
 * an engine is adding its file and its name in KINDS (EngineRef, the union of the kinds' refs, follows). A provider opens one model after another
 * on the same engine (one process, one loaded tfjs) and says what it runs on and what it supports.
 * tfjs, Chromium and Python are started only when asked for. Every command, the harness, the
 * benchmarks, the profile and the gradient check get their engines here, and only the files of this
 * folder import an engine's home (scratch/, tfjs/, python/): test/architecture.test.ts reads the
 * kinds' `homes` and keeps it so.
 */
import { InputError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { Seq2SeqSpec } from '../seq2seq/spec.js';
import type { ModelSpec } from '../spec.js';
import { type Supports, modelUnsupported, trainingUnsupported } from '../supports.js';
import { browserKind } from './browser.js';
import { biasNames } from './claims.js';
import { moduleKind } from './module.js';
import { processKind } from './process.js';
import type { BackendRequest, EngineKind, EngineProvider, OpenSeq2Seq, ProviderOptions, Seq2SeqOpen } from './provider.js';
import { pytorchKind } from './pytorch.js';
import { defaultThreads, scratchKind } from './scratch.js';
import { kerasKind, tfjsKind } from './tfjs.js';

export type { BackendRequest, EngineKind, EngineProvider, OpenModel, ProviderOptions } from './provider.js';
export type { BrowserBackend } from './browser.js';
export { BROWSER_BACKENDS, closeAllBrowsers, findBrowser } from './browser.js';
export { type DiagnosisEngines, biasFreeReference, checkReference, defaultThreads, diagnosisEngines, describeKernels, finiteDifferenceEngine, float64Detail, gradcheckKernels, mistakeEngine, mistakePlan, profileScratch, referenceEngine, seq2seqFiniteDifferenceEngine } from './scratch.js';
export type { Cell, GemmShapeTime, Kernels, KernelTime, StepProfile } from './scratch.js';
export { exportTfjsModel } from './tfjs.js';
export { findPython, resetPythonCache, torchThreadEnv } from './pytorch.js';
export { EngineProcess, MAX_TIMEOUT_S, PROTOCOL_VERSION, ProcessEngine, closeAllEngineProcesses, splitCommand } from './process.js';
export { ModuleEngine, type UserEngine, type UserSeq2SeqEngine, loadEngineModule } from './module.js';
export { ATTENTION_TOLERANCE } from './seq2seq-edge.js';
export { MISTAKE_IDS, type Mistake, type MistakeId, mistakeString, parseMistake, withDefaults, gateNames } from './mistakes/mistake.js';
export { type RightResult, deriveResult } from './mistakes/engine.js';
export { derivable } from './mistakes/plans.js';
export { engineFileKey } from '../io/checkpoint.js';
export { biasNames } from './claims.js';

/** Every kind of engine, one file each. A name is parsed by the first kind that takes it ("cmd:" and module paths first). */
const KINDS = [processKind, moduleKind, scratchKind, tfjsKind, browserKind, pytorchKind, kerasKind] as const;

type RefOf<K> = K extends EngineKind<infer R> ? R : never;
/** An engine as its name (or check --model) says it: the ref of one of the kinds above. */
export type EngineRef = RefOf<(typeof KINDS)[number]>;

export const ENGINE_KINDS: readonly EngineKind<EngineRef>[] = KINDS as unknown as EngineKind<EngineRef>[];

export const ENGINE_NAMES: readonly string[] = ENGINE_KINDS.flatMap((k) => k.names);
/** The --browser flag's help (check, bench, train). */
export const BROWSER_HELP = 'the Chromium or Chrome of the browser engines tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16 (default: RNNLAB_BROWSER, then chromium, chromium-browser, google-chrome on PATH)';
const NAMES_HELP = `${ENGINE_NAMES.join(', ')}, a module path (./my-engine.js) or "cmd:COMMAND"`;

/** One engine name (see the top of this file). */
export function parseEngineRef(name: string, backend: BackendRequest = 'auto'): EngineRef {
  const n = name.trim();
  for (const k of ENGINE_KINDS) {
    const ref = k.parse(n, backend);
    if (ref) return ref;
  }
  throw new InputError(`unknown engine "${n}" (choose ${NAMES_HELP})`);
}

/**
 * Engine lists from repeated flags: each value is split on commas, except a "cmd:" value, which
 * is one engine whole (a command may hold commas). "both" is scratch and tfjs.
 */
export function parseEngineList(values: string[], backend: BackendRequest = 'auto'): EngineRef[] {
  const out: EngineRef[] = [];
  for (const v of values) {
    const parts = v.trim().startsWith('cmd:') ? [v] : v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const p of parts) {
      if (p === 'both') out.push(parseEngineRef('scratch', backend), parseEngineRef('tfjs', backend));
      else out.push(parseEngineRef(p, backend));
    }
  }
  if (out.length === 0) throw new InputError(`no engine given (choose ${NAMES_HELP})`);
  return out;
}

/** commander's collector for a repeatable --engines flag. */
export function collectEngines(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function kindOf(ref: EngineRef): EngineKind<EngineRef> {
  const k = ENGINE_KINDS.find((x) => x.kind === ref.kind);
  if (!k) throw new Error(`no engine kind "${ref.kind}" in the registry`);
  return k;
}

/** A provider of the engine `ref` names: one engine, ready to open models. */
export async function openProvider(ref: EngineRef, o: ProviderOptions = {}): Promise<EngineProvider> {
  return kindOf(ref).open(ref, { ...o, threads: o.threads ?? defaultThreads() });
}

/** Makes every provider's name unique (the same engine twice gets "#2"). */
export function uniqueNames(providers: EngineProvider[]): void {
  const seen = new Map<string, number>();
  for (const p of providers) {
    const n = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, n);
    if (n > 1) p.name = `${p.name}#${n}`;
  }
}


export interface EngineSet {
  engines: Engine[];
  /** One line per engine: name and what it runs on. */
  descriptions: string[];
  backend: string | null;
  tfjsVersion: string | null;
  notes: string[];
  /** Disposes the engines, ends kernel worker threads and engine processes. */
  close(): Promise<void>;
}

/** What a training run's flags can do about an engine that cannot train with this optimizer. */
function trainingHint(why: string, s: Required<Supports>): string {
  if (why === 'gradient clipping') return '; train without clipping with --clip-norm 0';
  if (s.optimizers.length) return `; choose one it has with --optimizer ${s.optimizers[0]}`;
  return '';
}

/**
 * Opens every engine on the same spec, weights and optimizer: to train (every engine must be able
 * to take optimizer steps) or to use a model (generate, forecast, predict: forward passes only).
 * An engine that cannot is an error here, naming what it lacks and the flag that avoids it. An
 * engine without biases (supports.biases false) makes every engine start from zero biases.
 */
export async function createEngines(
  refs: EngineRef[],
  spec: ModelSpec,
  o: { params: NamedParams; optimizer: OptimizerSpec; purpose?: 'train' | 'use' } & ProviderOptions,
): Promise<EngineSet> {
  const providers: EngineProvider[] = [];
  const set: EngineSet = {
    engines: [],
    descriptions: [],
    backend: null,
    tfjsVersion: null,
    notes: [],
    close: async () => {
      for (const e of set.engines) await e.dispose();
      for (const p of providers) await p.close();
    },
  };
  const use = o.purpose === 'use';
  try {
    for (const ref of refs) providers.push(await openProvider(ref, o));
    uniqueNames(providers);
    let params = o.params;
    for (const p of providers) {
      if (p.unavailable) throw new InputError(`engine ${p.name} cannot run here: ${p.unavailable}`);
      const training = use ? null : trainingUnsupported(o.optimizer, p.supports);
      const why = modelUnsupported(spec, p.supports) ?? training;
      if (why) throw new InputError(`engine ${p.name} cannot ${use ? 'run' : 'train'} this model: it does not support ${why}${why === training ? trainingHint(why, p.supports) : ''}`);
      if (!p.supports.biases) {
        const drop = new Set(biasNames(spec));
        params = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, drop.has(k) ? { ...t, data: t.data.map(() => 0) } : t]));
        set.notes.push(`${p.name} has no biases (biases: false): every engine starts from zero biases${providers.length > 1 ? ", and the others' move in training while its stay zero" : ''}`);
      }
    }
    for (const p of providers) {
      const e = await p.open(spec, { params, optimizer: o.optimizer });
      set.engines.push(e);
      set.descriptions.push(`${e.name} (${e.detail ?? p.detail})`);
      set.notes.push(...p.notes);
      if (p.tfjs) {
        set.backend = p.tfjs.backend;
        set.tfjsVersion = p.tfjs.version;
      }
    }
  } catch (e) {
    await set.close();
    throw e;
  }
  return set;
}

/**
 * An engine name an encoder-decoder may run on (src/seq2seq/): scratch, scratch-f64, tfjs (and its
 * backends; tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16 in a browser page), pytorch, pytorch-f64, a module path or "cmd:" (when its `supports.models` claims
 * "seq2seq"; docs/engines.md).
 */
export type Seq2SeqEngineName = string;

/** A seq2seq engine by name, with what it holds released by `close` (scratch's kernel threads, an engine's process). */
export async function createSeq2SeqEngine(name: Seq2SeqEngineName, spec: Seq2SeqSpec, o: Seq2SeqOpen): Promise<OpenSeq2Seq> {
  const ref = parseEngineRef(name, o.backend ?? 'auto');
  const kind = kindOf(ref);
  if (!kind.openSeq2Seq) throw new InputError(`engine ${name} runs no encoder-decoder (the encoder-decoder engines: scratch, scratch-f64, tfjs, pytorch, pytorch-f64, and modules or "cmd:" engines whose supports.models claims "seq2seq")`);
  return kind.openSeq2Seq(ref, spec, { ...o, threads: o.threads ?? defaultThreads() });
}
