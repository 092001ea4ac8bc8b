/**
 * Engines by name, for every command (docs/engines.md):
 *   scratch, scratch-f64          the from-scratch engine, float32 / float64
 *   tfjs, tfjs-wasm|cpu|node      TensorFlow.js (tfjs: the --backend choice)
 *   tfjs-webgl|webgpu|webgl-f16   TensorFlow.js in a headless Chromium page (./browser.ts)
 *   pytorch, pytorch-f64          PyTorch through python/rnnlab_torch.py (float32 / float64)
 *   ./my-engine.js                a JavaScript module, in process
 *   cmd:python3 my_lstm.py        any command speaking the engine protocol, out of process
 *   both                          scratch and tfjs (train's shorthand)
 * A provider opens one model after another on the same engine (one process, one loaded tfjs) and
 * says what it runs on and what it supports. tfjs and Python are started only when asked for.
 *
 * This is the one factory of engines: every command, the harness and the benchmarks build their
 * engines here (the float64 reference, a scratch engine with a planted bug, the kernels and their
 * threads, the tfjs backend), and this is the only module that imports tfjs (lazily; the rule is
 * tested in test/architecture.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ScratchEngine } from '../../scratch/engine.js';
import { defaultThreads, describeKernels, disposeKernels, float64Kernels, makeKernels } from '../../scratch/kernel-sets.js';
import { type KernelChoice } from '../run-options.js';
import type { Kernels } from '../../scratch/kernels.js';
import type { BackendRequest } from '../../tfjs/backend.js';
import type { NamedTensors } from '../tensor.js';
import type { ExportResult } from '../../tfjs/export.js';
import type { ImportedModel } from '../import/keras.js';
import { ScratchSeq2Seq } from '../../scratch/seq2seq.js';
import type { Seq2SeqEngine } from '../seq2seq/engine.js';
import type { Seq2SeqSpec } from '../seq2seq/spec.js';
import { type Mistake, withDefaults } from './mistakes/mistake.js';
import { planFor } from './mistakes/plans.js';
import { PlantedEngine } from './mistakes/engine.js';
import type { Engine } from '../engine.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { ModelSpec } from '../spec.js';
import { type EngineDType, FULL_SUPPORT, type Supports, modelUnsupported, trainingUnsupported } from '../supports.js';
import { projectRoot } from '../version.js';
import { biasNames } from './claims.js';
import { ModuleEngine, loadEngineModule } from './module.js';
import type { BrowserBackend } from './browser.js';
import { EngineProcess, ProcessEngine } from './process.js';

export type { BackendRequest } from '../../tfjs/backend.js';
export { float64Kernels } from '../../scratch/kernel-sets.js';
import { mistakeString } from './mistakes/mistake.js';
export { MISTAKE_IDS, type Mistake, type MistakeId, mistakeString, parseMistake, withDefaults, gateNames } from './mistakes/mistake.js';
export { type RightResult, deriveResult } from './mistakes/engine.js';
export { derivable } from './mistakes/plans.js';

export type EngineRef =
  | { kind: 'scratch'; dtype: EngineDType; kernels?: KernelChoice; fault?: Mistake }
  | { kind: 'tfjs'; backend: BackendRequest }
  /** The tfjs twin in a headless Chromium page (tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16). */
  | { kind: 'browser'; backend: BrowserBackend }
  | { kind: 'pytorch'; dtype: EngineDType }
  | { kind: 'module'; path: string }
  | { kind: 'cmd'; command: string }
  /** A Keras / tfjs model.json loaded through tf.loadLayersModel (`check --model`); not an engine name. */
  | { kind: 'keras'; model: ImportedModel; backend: BackendRequest; browser?: BrowserBackend };

export const ENGINE_NAMES = ['scratch', 'scratch-f64', 'tfjs', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-node', 'tfjs-webgl', 'tfjs-webgpu', 'tfjs-webgl-f16', 'pytorch', 'pytorch-f64'] as const;
/** The --browser flag's help (check, bench, train). */
export const BROWSER_HELP = 'the Chromium or Chrome of the browser engines tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16 (default: RNNLAB_BROWSER, then chromium, chromium-browser, google-chrome on PATH)';
const NAMES_HELP = `${ENGINE_NAMES.join(', ')}, a module path (./my-engine.js) or "cmd:COMMAND"`;

/** One engine name (see the top of this file). */
export function parseEngineRef(name: string, backend: BackendRequest = 'auto'): EngineRef {
  const n = name.trim();
  if (n.startsWith('cmd:')) {
    const command = n.slice(4).trim();
    if (!command) throw new InputError('engine "cmd:" needs a command, e.g. --engines "cmd:python3 my_lstm.py"');
    return { kind: 'cmd', command };
  }
  if (/^(\.{1,2}[/\\]|\/)/.test(n) || /\.(m|c)?js$/.test(n)) return { kind: 'module', path: n };
  switch (n) {
    case 'scratch':
    case 'scratch-f32':
      return { kind: 'scratch', dtype: 'float32' };
    case 'scratch-f64':
      return { kind: 'scratch', dtype: 'float64' };
    case 'tfjs':
      return { kind: 'tfjs', backend };
    case 'tfjs-wasm':
    case 'tfjs-cpu':
    case 'tfjs-node':
      return { kind: 'tfjs', backend: n.slice(5) as BackendRequest };
    case 'tfjs-webgl':
    case 'tfjs-webgpu':
    case 'tfjs-webgl-f16':
      return { kind: 'browser', backend: n.slice(5) as BrowserBackend };
    case 'pytorch':
    case 'pytorch-f32':
    case 'torch':
      return { kind: 'pytorch', dtype: 'float32' };
    case 'pytorch-f64':
      return { kind: 'pytorch', dtype: 'float64' };
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
      if (p === 'both') out.push({ kind: 'scratch', dtype: 'float32' }, { kind: 'tfjs', backend });
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

export interface ProviderOptions {
  kernels?: KernelChoice;
  /** The BLAS library of the blas kernels (--blas PATH; default RNNLAB_BLAS, else the usual places). */
  blas?: string;
  /** Threads of the scratch kernels and of PyTorch (default: the cores, at most 2). */
  threads?: number;
  python?: string;
  timeoutMs?: number;
  onProgress?: (what: string) => void;
  /** The browser of the browser engines (--browser; default RNNLAB_BROWSER, then chromium on PATH). */
  browser?: string;
  /** webgl engines: a smaller texture limit than the GPU's (a phone's is often 4096). */
  webglMaxTextureSize?: number;
}

export interface OpenModel {
  params: NamedParams;
  optimizer: OptimizerSpec;
  seed?: number;
}

/** One engine, ready to open models. */
export interface EngineProvider {
  readonly ref: EngineRef;
  /** The name rows are labelled with: scratch, tfjs-wasm, pytorch-f64, numpy-rnn, ... */
  name: string;
  readonly dtype: EngineDType;
  readonly threads: number;
  /** What it runs on: dtype, kernels, backend, versions, BLAS, threads. */
  readonly detail: string;
  readonly supports: Required<Supports>;
  readonly notes: string[];
  /** tfjs: the backend it runs on, the tfjs version, and its live tensor count (for the memory checks). */
  readonly tfjs?: { backend: string; version: string; numTensors(): number | Promise<number> };
  /** Why this engine cannot run here at all (a browser without WebGPU): commands skip it with this reason. */
  readonly unavailable?: string;
  /** How its step times are to be read (printed under bench's header). */
  readonly timing?: string;
  open(spec: ModelSpec, m: OpenModel): Promise<Engine>;
  close(): Promise<void>;
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

/** `rnnlab export --format tfjs`: model.json and weights.bin that tf.loadLayersModel loads, and the backend that built them. */
export async function exportTfjsModel(spec: ModelSpec, params: NamedTensors, dir: string, backend: BackendRequest): Promise<ExportResult & { backend: string; engineName: string; detail: string }> {
  const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
  const { exportTfjs } = await import('../../tfjs/export.js');
  const loaded = await loadTf(backend);
  const r = await exportTfjs(loaded.tf, spec, params, dir);
  return { ...r, backend: loaded.backend, engineName: loaded.engineName, detail: describeBackend(loaded) };
}

export async function openProvider(ref: EngineRef, o: ProviderOptions = {}): Promise<EngineProvider> {
  const threads = o.threads ?? defaultThreads();
  switch (ref.kind) {
    case 'scratch':
      return scratchProvider(ref, threads, o.kernels ?? 'auto', o.blas);
    case 'tfjs': {
      const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
      const { TfjsEngine } = await import('../../tfjs/engine.js');
      const loaded = await loadTf(ref.backend);
      const notes: string[] = [];
      return {
        ref,
        name: loaded.engineName,
        dtype: 'float32',
        threads: 1,
        detail: describeBackend(loaded),
        supports: { ...FULL_SUPPORT, dtypes: ['float32'] },
        notes,
        tfjs: { backend: loaded.backend, version: loaded.version, numTensors: () => loaded.tf.memory().numTensors },
        open: async (spec, m) => {
          const e = new TfjsEngine(loaded, spec, { params: m.params, optimizer: m.optimizer });
          for (const n of e.notes) if (!notes.includes(n)) notes.push(n);
          return e;
        },
        close: async () => {},
      };
    }
    case 'browser': {
      const { openBrowserProvider } = await import('./browser-provider.js');
      return openBrowserProvider(ref, o, FULL_SUPPORT);
    }
    case 'keras': {
      if (ref.browser) {
        const { openBrowserProvider } = await import('./browser-provider.js');
        return openBrowserProvider({ ...ref, browser: ref.browser }, o, kerasSupports(ref.model));
      }
      const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
      const { KerasModelEngine } = await import('../../tfjs/keras.js');
      const loaded = await loadTf(ref.backend);
      const notes: string[] = [];
      return {
        ref,
        name: 'keras-model',
        dtype: 'float32',
        threads: 1,
        detail: `${ref.model.source.path} through tf.loadLayersModel; ${describeBackend(loaded)}`,
        supports: kerasSupports(ref.model),
        notes,
        tfjs: { backend: loaded.backend, version: loaded.version, numTensors: () => loaded.tf.memory().numTensors },
        open: async (_spec, m) => {
          const e = await KerasModelEngine.load(loaded, ref.model, m.params);
          return e;
        },
        close: async () => {},
      };
    }
    case 'pytorch': {
      const python = findPython(o.python, o.onProgress);
      const adapter = join(projectRoot(), 'python', 'rnnlab_torch.py');
      if (!existsSync(adapter)) throw new InputError(`the PyTorch adapter ${adapter} is missing from this installation of rnnlab`);
      const name = ref.dtype === 'float64' ? 'pytorch-f64' : 'pytorch';
      o.onProgress?.(`starting ${name} (${python})`);
      const blasThreads = torchThreadEnv(threads, process.env);
      const proc = await EngineProcess.start(`${quote(python)} ${quote(adapter)}`, { timeoutMs: o.timeoutMs, name, env: blasThreads });
      return processProvider(ref, proc, name, ref.dtype, threads);
    }
    case 'cmd': {
      o.onProgress?.(`starting ${ref.command}`);
      const proc = await EngineProcess.start(ref.command, { timeoutMs: o.timeoutMs });
      return processProvider(ref, proc, proc.name, proc.hello.supports.dtypes[0], threads);
    }
    case 'module': {
      const mod = await loadEngineModule(ref.path);
      const dtype = mod.supports.dtypes[0];
      const provider: EngineProvider = {
        ref,
        // the file's name until the engine names itself
        name: basename(ref.path).replace(/\.(m|c)?js$/, ''),
        dtype,
        threads,
        detail: `${dtype}, in process (${ref.path})`,
        supports: mod.supports,
        notes: [],
        open: async (spec, m) => {
          const e = await ModuleEngine.open(mod, spec, { ...m, dtype, threads, timeoutMs: o.timeoutMs });
          provider.name = e.name;
          return e;
        },
        close: async () => {},
      };
      return provider;
    }
  }
}

/** What the loaded Keras model of `check --model` can be asked: outputs, loss and gradients; its masks are the ones it derives from its input. */
function kerasSupports(model: ImportedModel): Required<Supports> {
  return {
    ...FULL_SUPPORT,
    dtypes: ['float32'],
    optimizers: [],
    clipping: false,
    inputGrad: false,
    stateGrads: false,
    carriedState: false,
    optimizerState: false,
    mask: model.masking.kind !== 'none',
  };
}

function scratchProvider(ref: Extract<EngineRef, { kind: 'scratch' }>, threads: number, kernels: KernelChoice, blas: string | undefined): EngineProvider {
  const made: Kernels[] = [];
  const notes: string[] = [];
  const f64 = ref.dtype === 'float64';
  const choice = ref.kernels ?? kernels;
  const provider: EngineProvider = {
    ref,
    name: f64 ? 'scratch-f64' : 'scratch',
    dtype: ref.dtype,
    threads: f64 ? 1 : threads,
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
      const { kernels: k, note } = await makeKernels(choice, threads, { blas });
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

function processProvider(ref: EngineRef, proc: EngineProcess, name: string, dtype: EngineDType, threads: number): EngineProvider {
  const h = proc.hello;
  return {
    ref,
    name,
    dtype,
    threads,
    detail: `${dtype}, ${threads} thread${threads > 1 ? 's' : ''}${h.runtime ? `; ${h.runtime}` : ''}`,
    supports: h.supports,
    notes: [],
    open: (spec, m) => ProcessEngine.open(proc, spec, { ...m, dtype, threads, name }),
    close: () => proc.close(),
  };
}

function quote(s: string): string {
  return /[\s"']/.test(s) ? `"${s}"` : s;
}

let pythonFound: Map<string, string> = new Map();

/**
 * The Python that runs the PyTorch adapter: --python, else RNNLAB_PYTHON, else the first of
 * python3 and /usr/bin/python3 that imports torch and numpy.
 */
export function findPython(explicit?: string, onProgress?: (what: string) => void): string {
  const given = explicit ?? (process.env.RNNLAB_PYTHON || undefined);
  const key = given ?? '';
  const cached = pythonFound.get(key);
  if (cached) return cached;
  const candidates = given ? [given] : ['python3', '/usr/bin/python3'];
  const tried: string[] = [];
  for (const py of candidates) {
    onProgress?.(`looking for torch in ${py}`);
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      pythonFound.set(key, py);
      return py;
    }
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message) : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${py}: ${why}`);
  }
  const how = 'install it with apt-get install python3-torch python3-numpy libopenblas0-pthread (Debian), or pip install torch numpy';
  if (given) throw new InputError(`the PyTorch engine needs a Python that imports torch and numpy; ${tried[0]}; ${how}`);
  throw new InputError(`the PyTorch engine needs a Python that imports torch and numpy, and none was found (${tried.join('; ')}); ${how}, or name one with --python PATH or RNNLAB_PYTHON`);
}

/** For tests: forget which Python was found. */
export function resetPythonCache(): void {
  pythonFound = new Map();
}

/**
 * The file prefix of an engine's parameters, optimizer and state in a checkpoint of a run with
 * several engines: "tfjs" for any tfjs backend (so a run resumes on another backend), else the name.
 */
export { engineFileKey } from '../io/checkpoint.js';

/** Makes every provider's name unique (the same engine twice gets "#2"). */
export function uniqueNames(providers: EngineProvider[]): void {
  const seen = new Map<string, number>();
  for (const p of providers) {
    const n = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, n);
    if (n > 1) p.name = `${p.name}#${n}`;
  }
}

// ---- the engine set of a training run ----

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

// ---- encoder-decoder engines (src/seq2seq/engine.ts) ----

export type Seq2SeqEngineName = 'scratch' | 'scratch-f64' | 'tfjs';

/** A seq2seq engine by name, with what it holds released by `close` (scratch's kernel threads). */
export async function createSeq2SeqEngine(
  name: Seq2SeqEngineName,
  spec: Seq2SeqSpec,
  o: { params?: NamedParams; seed?: number; optimizer: OptimizerSpec; kernels?: KernelChoice; blas?: string; threads?: number; backend?: BackendRequest },
): Promise<{ engine: Seq2SeqEngine; detail: string; close(): Promise<void> }> {
  if (name === 'scratch-f64') {
    const kernels = float64Kernels(o.kernels ?? 'auto', { blas: o.blas });
    const engine = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels, params: o.params, seed: o.seed, optimizer: o.optimizer });
    return { engine, detail: float64Detail(kernels), close: async () => {} };
  }
  if (name === 'scratch') {
    const { kernels, note } = await makeKernels(o.kernels ?? 'auto', o.threads ?? defaultThreads(), { blas: o.blas });
    const engine = new ScratchSeq2Seq(spec, { dtype: 'float32', kernels, params: o.params, seed: o.seed, optimizer: o.optimizer });
    return { engine, detail: `float32, ${describeKernels(kernels)}${kernels.threads > 1 ? `, ${kernels.threads} threads` : ''}${note ? ` (${note})` : ''}`, close: () => disposeKernels(kernels) };
  }
  const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
  const { createTfjsSeq2SeqEngine } = await import('../../tfjs/seq2seq.js');
  const loaded = await loadTf(o.backend ?? 'auto');
  const engine = await createTfjsSeq2SeqEngine(loaded, spec, { params: o.params, seed: o.seed, optimizer: o.optimizer });
  return { engine, detail: describeBackend(loaded), close: async () => {} };
}

/**
 * The environment that makes a PyTorch process use `threads` threads, and only while it computes
 * (variables the user set are left alone).
 */
export function torchThreadEnv(threads: number, env: NodeJS.ProcessEnv): Record<string, string> {
  // torch.set_num_threads does not reach OpenBLAS's own thread pool (one thread per core): set
  // the BLAS libraries' thread counts for the process too
  const out: Record<string, string> = Object.fromEntries(['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'].filter((k) => !env[k]).map((k) => [k, String(threads)]));
  // With more than one thread, torch's OpenMP pool and OpenBLAS's pthread pool both spin while
  // idle and take the cores from each other: on 2 cores an lstm H=256 B=32 step took 154 ms at
  // 2 threads against 55 at one. Idle OpenMP threads that sleep give 49 ms (a fair baseline).
  // OpenBLAS's threads spin 2^28 cycles (~80 ms) after each product, long after PyTorch's step
  // ended, slowing whatever runs next (the other engine of a bench, timed in alternation);
  // 2^20 cycles (~0.3 ms) still spans the gaps between the products of one step.
  if (threads > 1 && !env.OMP_WAIT_POLICY) out.OMP_WAIT_POLICY = 'PASSIVE';
  if (threads > 1 && !env.OPENBLAS_THREAD_TIMEOUT) out.OPENBLAS_THREAD_TIMEOUT = '20';
  return out;
}
