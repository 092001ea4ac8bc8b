/**
 * `check` as a library call: builds the inputs (generated, or brought as spec/weights/data
 * files), the engines (scratch float32, a tfjs backend, and the float64 scratch reference), runs
 * compare/comparisons.ts, and writes the dump files.
 */
import { join } from 'node:path';
import { type CheckRaw, type CheckReport, type CheckSetup, runCheck } from './comparisons.js';
import { type BackendRequest, type EngineProvider, type EngineRef, type Mistake, checkReference, openProvider, parseEngineRef, parseMistake, uniqueNames } from '../src/engines/registry.js';
import { biasNames } from '../src/engines/registry.js';
import { batchUnsupported, describeClaims, modelUnsupported, trainingUnsupported } from '../src/supports.js';
import type { KernelChoice } from '../src/run-options.js';
import { randomBatch } from '../src/data/synthetic.js';
import { type Batch, type Engine, type State, outputShape, validateBatch } from '../src/engine.js';
import { carries } from '../src/cells.js';
import { InputError, UnsupportedError } from '../src/errors.js';
import { checkReplaceable } from '../src/io/run-folder.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { type OptimizerSpec, describeOptimizer } from '../src/optimizer.js';
import { type NamedParams, paramLayout, randomTestParams, validateParams } from '../src/params.js';
import { type ModelSpec, specToJSON } from '../src/spec.js';
import { type NamedTensors, type Tensor, shapeStr } from '../src/tensor.js';
import { VERSION } from '../src/version.js';

export interface CheckInputs {
  spec: ModelSpec;
  params: NamedParams;
  batch: Batch;
  /** "generated (seed 1)" or the data file */
  source: string;
}

/** Seeded weights (asymmetric, non-zero biases) and one seeded batch. */
export function generatedInputs(spec: ModelSpec, o: { batch: number; seq: number; seed: number; mask?: boolean; carriedState?: boolean }): CheckInputs {
  return {
    spec,
    params: randomTestParams(spec, o.seed),
    batch: randomBatch(spec, o.batch, o.seq, o.seed + 1, { mask: o.mask, initialState: o.carriedState }),
    source: `generated (seed ${o.seed})`,
  };
}

const f32 = (t: Tensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>));

/**
 * A batch from a data file: x (F32 [B, T, inputSize], or I32 [B, T] token ids), y (I32 class ids
 * [B, T] / [B], or F32 values [B, T, O] / [B, O]), optional mask (U8 [B, T]) and initial state
 * (h.{l}, c.{l} [B, H]).
 */
export function batchFromTensors(spec: ModelSpec, t: NamedTensors, source: string): Batch {
  const known = new Set(['x', 'y', 'mask']);
  for (let l = 0; l < spec.layers; l++) known.add(`h.${l}`).add(`c.${l}`);
  const extra = Object.keys(t).filter((k) => !known.has(k));
  if (extra.length) throw new InputError(`${source}: unexpected tensor(s) ${extra.join(', ')} (expected x, y, optional mask, h.{l}, c.{l})`);
  const x = t.x;
  const y = t.y;
  if (!x) throw new InputError(`${source}: no tensor "x"`);
  if (!y) throw new InputError(`${source}: no tensor "y" (targets)`);
  const tokens = spec.input === 'tokens';
  if (tokens ? x.shape.length !== 2 || x.dtype !== 'I32' : x.shape.length !== 3 || x.shape[2] !== spec.inputSize || (x.dtype !== 'F32' && x.dtype !== 'F64')) {
    throw new InputError(
      `${source}: x is ${x.dtype} ${shapeStr(x.shape)}, but this spec needs ${tokens ? 'I32 token ids [B, T]' : `F32 [B, T, ${spec.inputSize}]`}`,
    );
  }
  const [B, T] = x.shape;
  if (B < 1 || T < 1) throw new InputError(`${source}: x is empty (${shapeStr(x.shape)})`);
  const ce = spec.loss === 'softmaxCrossEntropy';
  const want = spec.returnSequences ? (ce ? [B, T] : [B, T, spec.outputSize]) : ce ? [B] : [B, spec.outputSize];
  const dtypeOk = ce ? y.dtype === 'I32' : y.dtype === 'F32' || y.dtype === 'F64';
  if (!dtypeOk || y.shape.length !== want.length || y.shape.some((d, i) => d !== want[i])) {
    throw new InputError(
      `${source}: y is ${y.dtype} ${shapeStr(y.shape)}, but this spec (${ce ? 'softmaxCrossEntropy' : 'mse'}, ` +
        `${spec.returnSequences ? 'many-to-many' : 'many-to-one'}) needs ${ce ? 'I32 class ids' : 'F32 values'} ${shapeStr(want)}`,
    );
  }
  const batch: Batch = { batchSize: B, seqLen: T, x: tokens ? (x.data as Int32Array) : f32(x), y: ce ? (y.data as Int32Array) : f32(y) };
  if (t.mask) {
    const m = t.mask;
    if (m.shape.length !== 2 || m.shape[0] !== B || m.shape[1] !== T) throw new InputError(`${source}: mask is ${shapeStr(m.shape)}, expected [${B}, ${T}]`);
    const mask = new Uint8Array(B * T);
    for (let i = 0; i < mask.length; i++) {
      const v = Number(m.data[i]);
      if (v !== 0 && v !== 1) throw new InputError(`${source}: mask holds ${v} at index ${i}; only 0 and 1 are allowed`);
      mask[i] = v;
    }
    if (!mask.includes(1)) throw new InputError(`${source}: the mask hides every step (all ${B * T} are 0), so there is nothing to compare`);
    batch.mask = mask;
  }
  if (t['h.0']) {
    for (const [k, v] of Object.entries(t)) {
      if (/^[hc]\.\d+$/.test(k) && v.dtype !== 'F32' && v.dtype !== 'F64') throw new InputError(`${source}: initial state ${k} is ${v.fileDtype ?? v.dtype}; a state is F32 or F64 [B, H]`);
    }
    const state: State = { h: [] };
    for (let l = 0; l < spec.layers; l++) {
      for (const k of carries(spec)) {
        const v = t[`${k}.${l}`];
        if (!v) throw new InputError(`${source}: initial state ${k}.${l} is missing${k === 'c' ? ' (lstm)' : ''}`);
        (state[k] ??= []).push(f32(v));
      }
    }
    batch.initialState = state;
  }
  // every value checked here, against the file, before any engine sees it (a NaN in h.0 is the file's fault, not an engine's)
  try {
    validateBatch(spec, batch, true);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${source}: ${e.message}`);
    throw e;
  }
  return batch;
}

export function fileInputs(spec: ModelSpec, weightsPath: string, dataPath: string): CheckInputs {
  const params = readSafetensors(weightsPath).tensors;
  validateParams(spec, params, weightsPath);
  const data = readSafetensors(dataPath).tensors;
  return { spec, params, batch: batchFromTensors(spec, data, dataPath), source: dataPath };
}

export { MISTAKE_IDS, type Mistake } from '../src/engines/registry.js';

export interface CheckOptions {
  optimizer: OptimizerSpec;
  steps: number;
  /** Engines under test (default: scratch and tfjs on `backend`); scratch-f64 is always the reference. */
  engines?: EngineRef[];
  backend?: BackendRequest;
  /** Leave tfjs out (scratch float32 against float64 only). */
  noTfjs?: boolean;
  perStep?: boolean;
  /** A mistake to plant in the float32 scratch engine (`--fault`): an id, "id:key=value,...", or a Mistake. */
  fault?: Mistake | string;
  /** Seconds the diagnosis's catalogue of mistakes may take (default: 3 times the check's own time, at least 2 s). */
  diagnoseSeconds?: number;
  /** Kernels of the float32 scratch engine (default auto: WebAssembly SIMD when built). */
  kernels?: KernelChoice;
  /** The BLAS library of the blas kernels (--blas PATH). */
  blas?: string;
  threads?: number;
  /** The Python of the PyTorch engine, and how long an out-of-process engine may take to answer. */
  python?: string;
  timeoutMs?: number;
  /** The browser of the browser engines (tfjs-webgl, ...). */
  browser?: string;
  onProgress?: (what: string) => void;
}

export interface CheckResult {
  report: CheckReport;
  raw: CheckRaw;
  /** Engine descriptions: what each ran on, and notes. */
  engines: { name: string; role: string; detail: string; notes: string[] }[];
  /** Notes on the whole check (every engine given zero biases, ...). */
  notes: string[];
  backend: string | null;
  tfjsSkipped: string | null;
}

/** Bad input: an engine under test that cannot run any of the check, named with its refusal and its claims. */
function cannotRun(p: EngineProvider, refusal: string): InputError {
  return new InputError(`engine ${p.name} cannot run any of this check: ${refusal}; its handshake claims: ${describeClaims(p.supports)}`);
}

/** The same parameters with every bias zero (for a check with an engine that has none). */
function zeroBiases(spec: CheckInputs['spec'], params: NamedParams): NamedParams {
  const out = { ...params };
  for (const n of biasNames(spec)) out[n] = { ...params[n], data: params[n].data.map(() => 0) as Tensor['data'] };
  return out;
}

export async function check(inputs: CheckInputs, o: CheckOptions): Promise<CheckResult> {
  const { spec, batch } = inputs;
  let params = inputs.params;
  const ref64 = checkReference({ kernels: o.kernels, blas: o.blas });
  let refs = o.engines ?? [parseEngineRef('scratch'), parseEngineRef('tfjs', o.backend ?? 'auto')];
  let tfjsSkipped: string | null = null;
  if (o.noTfjs) {
    if (refs.some((r) => r.kind === 'tfjs')) tfjsSkipped = 'left out (--no-tfjs)';
    refs = refs.filter((r) => r.kind !== 'tfjs');
  }
  if (o.fault && !refs.some((r) => r.kind === 'scratch' && r.dtype === 'float32')) throw new InputError('--fault plants a bug in the scratch engine; list scratch among the engines');
  const fault = typeof o.fault === 'string' ? parseMistake(o.fault, spec) : o.fault;
  const described: CheckResult['engines'] = [];
  const notes: string[] = [];
  const engines: Engine[] = [];
  const providers: EngineProvider[] = [];
  const limits: NonNullable<CheckSetup['limits']> = {};
  const skippedEarly: CheckReport['skipped'] = [];
  let backend: string | null = null;
  let reference: Engine | null = null;
  let biasFree: Engine | null = null;
  try {
    const asked: EngineProvider[] = [];
    for (const r of refs) {
      if (r.kind === 'scratch' && r.dtype === 'float64') {
        skippedEarly.push({ engine: 'scratch-f64', what: 'under test', reason: 'it is the reference every engine is compared with' });
        continue;
      }
      const ref: EngineRef = r.kind === 'scratch' && fault ? { ...r, fault } : r;
      const p = await openProvider(ref, { kernels: o.kernels, blas: o.blas, threads: o.threads, python: o.python, timeoutMs: o.timeoutMs, browser: o.browser, onProgress: o.onProgress });
      providers.push(p);
      uniqueNames(providers);
      if (p.unavailable) {
        // a backend this browser cannot give (no WebGPU adapter, no WebGL 2): skipped with the browser's reason
        skippedEarly.push({ engine: p.name, what: 'the whole check', reason: `it cannot run here: ${p.unavailable}` });
        described.push({ name: p.name, role: 'skipped', detail: p.detail, notes: [] });
        continue;
      }
      // an engine under test that can run none of the check is bad input, never a PASS without it
      const why = modelUnsupported(spec, p.supports) ?? batchUnsupported(batch, p.supports);
      if (why) throw cannotRun(p, `it does not support ${why}`);
      asked.push(p);
    }
    // an engine without biases: every engine gets zero biases, and its bias gradients are not compared
    const biasless = asked.some((p) => !p.supports.biases);
    if (biasless) params = zeroBiases(spec, params);
    reference = ref64.engine(spec, { params, optimizer: o.optimizer });
    if (biasless) biasFree = ref64.biasFree(spec, { params, optimizer: o.optimizer });
    for (const p of asked) {
      o.onProgress?.(`opening ${p.name}`);
      let e: Engine;
      try {
        e = await p.open(spec, { params, optimizer: o.optimizer });
      } catch (err) {
        // a limit the engine finds only when it sees the model: it can run none of the check
        if (!(err instanceof UnsupportedError)) throw err;
        throw cannotRun(p, `it refused the model at init with ${JSON.stringify(err.what)}`);
      }
      engines.push(e);
      if (p.tfjs) backend = p.tfjs.backend;
      limits[e.name] = { train: trainingUnsupported(o.optimizer, p.supports), stateGrads: p.supports.stateGrads, biases: p.supports.biases };
      described.push({ name: e.name, role: 'under test', detail: e.detail ?? p.detail, notes: p.notes });
    }
    described.push({ name: reference.name, role: 'reference', detail: ref64.detail, notes: [] });
    const none = engines.filter((e) => limits[e.name].biases === false).map((e) => e.name);
    if (none.length) notes.push(`every engine starts from zero biases: ${none.join(', ')} ha${none.length > 1 ? 've' : 's'} none (biases: false); ${none.length > 1 ? 'their' : 'its'} bias gradients are not compared, and ${none.length > 1 ? 'they are' : 'it is'} trained beside a reference whose biases stay zero`);
    if (engines.length === 0) throw new InputError(`no engine under test (${skippedEarly.map((s) => `${s.engine}: ${s.reason}`).join('; ') || 'none given'})`);
    const { report, raw } = await runCheck({
      spec,
      batch,
      steps: o.steps,
      reference,
      engines,
      limits,
      biasFreeReference: biasFree ?? undefined,
      diagnosisEngines: ref64.diagnosis,
      perStep: o.perStep,
      diagnoseSeconds: o.diagnoseSeconds,
      onProgress: o.onProgress,
    });
    report.skipped.unshift(...skippedEarly);
    return { report, raw, engines: described.map((d) => ({ ...d, notes: [...new Set(d.notes)] })), notes, backend, tfjsSkipped };
  } finally {
    for (const e of engines) await e.dispose();
    await reference?.dispose();
    await biasFree?.dispose();
    for (const p of providers) await p.close();
  }
}

/** The dump file of an engine: tfjs.safetensors for the tfjs twin in Node, <engine>.safetensors for any other (scratch, scratch-f64, tfjs-webgl, pytorch, ...). */
function dumpFile(engine: string): string {
  return /^tfjs-(wasm|cpu|node)$/.test(engine) ? 'tfjs.safetensors' : `${engine.replace(/[^\w.+-]/g, '_')}.safetensors`;
}

/**
 * Writes one dump file per engine (`tensors` by engine name), each with its metadata `meta(engine)` and its
 * engine's name; a dump replaces only files rnnlab wrote, and all are checked before any is written.
 * Every model kind's check writes its dump through this (the sequence models', the encoder-decoder's).
 */
export function writeEngineDumps(dir: string, byEngine: Record<string, NamedTensors>, meta: (engine: string) => Record<string, string>): string[] {
  const files = Object.keys(byEngine).map((name) => [name, dumpFile(name)] as const);
  for (const [, file] of files) checkReplaceable(join(dir, file), '--dump', 'safetensors');
  const written: string[] = [];
  for (const [engine, file] of files) {
    const path = join(dir, file);
    writeSafetensors(path, byEngine[engine], { engine, ...meta(engine), generator: `rnnlab ${VERSION} check` });
    written.push(path);
  }
  return written;
}

/** One file per engine that ran: DIR/scratch.safetensors, scratch-f64, tfjs (the tfjs twin in Node), tfjs-webgl (in a browser), pytorch, ... */
export function writeDump(dir: string, inputs: CheckInputs, r: CheckResult, optimizer: OptimizerSpec): string[] {
  const { spec, batch } = inputs;
  const oshape = outputShape(spec, batch.batchSize, batch.seqLen);
  const byEngine: Record<string, NamedTensors> = {};
  for (const engine of Object.keys(r.raw.output)) {
    const t: NamedTensors = {};
    const out = r.raw.output[engine];
    const losses = r.raw.losses[engine] ?? [];
    t.output = { dtype: out instanceof Float64Array ? 'F64' : 'F32', shape: oshape, data: out };
    t.loss = { dtype: 'F64', shape: [losses.length], data: Float64Array.from(losses) };
    const grads = r.raw.grads[engine];
    const final = r.raw.final[engine];
    for (const p of paramLayout(spec)) if (grads) t[`grad.${p.name}`] = { ...grads[p.name], shape: p.shape };
    for (const p of paramLayout(spec)) if (final) t[`final.${p.name}`] = { ...final[p.name], shape: p.shape };
    byEngine[engine] = t;
  }
  return writeEngineDumps(dir, byEngine, (engine) => ({ spec: JSON.stringify(specToJSON(spec)), optimizer: describeOptimizer(optimizer), steps: String((r.raw.losses[engine] ?? []).length) }));
}
