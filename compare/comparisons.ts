/**
 * The comparison harness. It talks only to Engine: every engine under test is compared with a
 * reference engine (the float64 scratch engine) on identical weights and data:
 *   forward outputs and the loss at the initial weights, every parameter's gradient (max abs
 *   error, max relative error, cosine similarity, the gate holding the worst element), optionally
 *   the gradient of every hidden state h_t (per time step), and a lockstep training run: all
 *   engines take the same optimizer steps on the same batch; per step the losses and the largest
 *   parameter difference between the engines under test; the step where that difference first
 *   left the tolerance; and the parameters after the last step.
 * Verdicts follow the tolerance policy of tolerance.ts.
 */
import type { Batch, Engine, LossAndGrads } from '../src/engine.js';
import type { DiagnosisEngines } from '../src/engines/registry.js';
import { type NamedParams, gateOf, paramLayout } from '../src/params.js';
import { GATE_NAMES, type ModelSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { InputError, UnsupportedError } from '../src/errors.js';
import { claims, describeClaims } from '../src/supports.js';
import { diagnose, stepSlice, whereItGoesWrong } from './diagnosis/index.js';
import type { CheckRaw, CheckReport, Comparison, Coverage, Diagnosis, PerStepRow, StepRecord } from './check-report.js';

export type { CheckRaw, CheckReport, Comparison, Coverage, Diagnosis, PerStepRow, StepRecord } from './check-report.js';
import { type Agreement, type Precision, type ToleranceKind, compareArrays, limitFor, within } from '../src/tolerance.js';

export interface CheckSetup {
  spec: ModelSpec;
  batch: Batch;
  steps: number;
  /** The float64 reference. */
  reference: Engine;
  /** Engines under test (e.g. scratch float32 and a tfjs backend), all on the same weights. */
  engines: Engine[];
  /** What an engine under test cannot do (from its `supports`). Absent: everything. */
  limits?: Record<string, EngineLimits>;
  /** How the diagnosis builds its float64 reference and mistakes (the check's reference kernels). */
  diagnosisEngines?: DiagnosisEngines;
  /** The reference in the lockstep run of the engines without biases: scratch-f64 whose bias gradients are zero. */
  biasFreeReference?: Engine;
  perStep?: boolean;
  /** Seconds the diagnosis's catalogue of mistakes may take (default: 3 times the check's own time, at least 2 s). */
  diagnoseSeconds?: number;
  onProgress?: (what: string) => void;
}

export interface EngineLimits {
  /** Why it cannot take the lockstep steps (null: it can). */
  train?: string | null;
  /** false: no per-step gradients. */
  stateGrads?: boolean;
  /** false: no biases (supports.biases): its bias gradients are not compared. */
  biases?: boolean;
}








function shapeIndex(shape: number[], index: number): number[] {
  const pos: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    pos.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return pos;
}

function comparison(what: string, engine: string, against: string, kind: ToleranceKind, a: Agreement, worst?: Comparison['worst'], dtype?: Precision): Comparison {
  const limit = limitFor(kind, dtype);
  return {
    what,
    engine,
    against,
    kind,
    maxAbsError: a.maxAbsError,
    maxRelError: a.maxRelError,
    cosine: a.cosine,
    limit,
    pass: within(a.maxRelError, limit),
    ...(worst ? { worst } : {}),
  };
}

/** The elements of gate block g (columns g*H .. g*H+H-1 of every row). */
function gateBlock(data: ArrayLike<number>, G: number, H: number, g: number): number[] {
  const out: number[] = [];
  const cols = G * H;
  for (let r = 0; r < data.length / cols; r++) for (let j = 0; j < H; j++) out.push(data[r * cols + g * H + j]);
  return out;
}

function compareParams(spec: ModelSpec, a: NamedParams, ref: NamedParams, engine: string, against: string, kind: ToleranceKind, prefix = '', dtype?: Precision, biases = true): Comparison[] {
  const gates = GATE_NAMES[spec.cell];
  return paramLayout(spec).filter((info) => biases || (info.kind !== 'bias' && info.kind !== 'headBias')).map((info) => {
    const agr = compareArrays(a[info.name].data, ref[info.name].data);
    const perGate =
      gates.length > 1 && info.layer >= 0
        ? Object.fromEntries(
            gates.map((g, k) => [
              g,
              compareArrays(gateBlock(a[info.name].data, gates.length, spec.hiddenSize, k), gateBlock(ref[info.name].data, gates.length, spec.hiddenSize, k)).maxRelError,
            ]),
          )
        : undefined;
    const worst =
      agr.worstIndex >= 0
        ? { index: agr.worstIndex, position: shapeIndex(info.shape, agr.worstIndex), ...(gates.length > 1 && info.layer >= 0 ? { gate: gateOf(spec, info, agr.worstIndex) } : {}) }
        : undefined;
    const c = comparison(`${prefix}${info.name}`, engine, against, kind, agr, worst, dtype);
    if (perGate) c.perGate = perGate;
    return c;
  });
}

const dtypeOf = (e: Engine): Precision => e.dtype ?? 'float32';

/** The looser of two engines' precisions: two engines compared with each other are held to what the coarser one can give. */
const LOOSENESS: Record<Precision, number> = { float64: 0, float32: 1, float16: 2 };
const looser = (a: Engine, b: Engine): Precision => (LOOSENESS[dtypeOf(a)] >= LOOSENESS[dtypeOf(b)] ? dtypeOf(a) : dtypeOf(b));
const pairPrecision = (pair: [Engine, Engine] | null): Precision => (pair ? looser(pair[0], pair[1]) : 'float32');

/**
 * An engine that refuses at run time what its handshake claimed is bad input: one line naming
 * the claim and the refusal (rnnlab never asks an engine for what it did not claim).
 */
async function claimed<T>(e: Engine, op: string, claim: string, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    throw new InputError(`engine ${e.name} answered "${op}" with unsupported: ${JSON.stringify(err.what)}, though its handshake claims ${claim} (it claims: ${describeClaims(claims(e))}); a handshake claims only what the engine does`);
  }
}

/** Why an engine takes no lockstep steps, from trainingUnsupported's answer. */
const noTraining = (why: string): string => (why === 'training (no optimizer)' ? 'it has no optimizer' : `it does not support ${why}`);

/** What the engines computed at the initial weights, compared with the reference. */
interface AtInitial {
  forward: Comparison[];
  lossValues: Record<string, number>;
  lossComparisons: Comparison[];
  gradients: Comparison[];
  perStep?: PerStepRow[];
  grads: Map<string, LossAndGrads>;
  /** Per-step gradients fetched for the diagnosis of engines whose gradients fail (without --per-step). */
  dhLate: Map<string, FloatArray[]>;
  refDh?: FloatArray[];
}

const MODEL = 'this model (the forward pass and the gradients of its spec)';

async function atInitialWeights(setup: CheckSetup, raw: CheckRaw, skipped: CheckReport['skipped']): Promise<AtInitial> {
  const { spec, batch, reference: ref, engines } = setup;
  const progress = setup.onProgress ?? (() => {});
  const lim = (e: Engine): EngineLimits => setup.limits?.[e.name] ?? {};
  progress('forward');
  raw.output[ref.name] = (await ref.forward(batch)).output;
  for (const e of engines) raw.output[e.name] = (await claimed(e, 'forward', MODEL, () => e.forward(batch))).output;
  const forward = engines.map((e) => comparison('output', e.name, ref.name, 'forward', compareArrays(raw.output[e.name], raw.output[ref.name]), undefined, dtypeOf(e)));

  progress('gradients');
  const want = { stateGrads: !!setup.perStep };
  const canDh = (e: Engine): boolean => lim(e).stateGrads !== false;
  const refG = await ref.lossAndGrads(batch, want);
  const grads = new Map<string, LossAndGrads>([[ref.name, refG]]);
  for (const e of engines) {
    const dh = want.stateGrads && canDh(e);
    grads.set(e.name, await claimed(e, 'loss_and_grads', dh ? `${MODEL} and per-step gradients (stateGrads)` : MODEL, () => e.lossAndGrads(batch, { stateGrads: dh })));
  }
  for (const [name, g] of grads) raw.grads[name] = g.grads;
  const lossValues = Object.fromEntries([...grads].map(([n, g]) => [n, g.loss]));
  const lossComparisons = engines.map((e) => comparison('loss', e.name, ref.name, 'loss', compareArrays([lossValues[e.name]], [lossValues[ref.name]]), undefined, dtypeOf(e)));
  const gradients = engines.flatMap((e) => compareParams(spec, grads.get(e.name)!.grads, refG.grads, e.name, ref.name, 'grad', '', dtypeOf(e), lim(e).biases !== false));

  let perStep: PerStepRow[] | undefined;
  if (setup.perStep) {
    const per = new Map<string, FloatArray[]>();
    for (const e of engines) {
      const dh = grads.get(e.name)!.dh;
      if (dh) per.set(e.name, dh);
      else skipped.push({ engine: e.name, what: 'per-step gradients', reason: 'it does not support per-step gradients (stateGrads)' });
    }
    perStep = dhRows(spec, batch, refG.dh!, per);
  }

  // an engine whose gradients fail gets its per-step gradients now, at the initial weights, to say
  // at which time step backpropagation first goes wrong (the diagnosis)
  const dhLate = new Map<string, FloatArray[]>();
  let refDh = refG.dh;
  for (const e of engines) {
    if (grads.get(e.name)!.dh || !canDh(e) || gradients.every((c) => c.engine !== e.name || c.pass)) continue;
    const dh = (await claimed(e, 'loss_and_grads', 'per-step gradients (stateGrads)', () => e.lossAndGrads(batch, { stateGrads: true }))).dh;
    if (dh) dhLate.set(e.name, dh);
    refDh ??= (await ref.lossAndGrads(batch, { stateGrads: true })).dh;
  }
  return { forward, lossValues, lossComparisons, gradients, perStep, grads, dhLate, refDh };
}

/** Per layer and step: max |dLoss/dh_t| of the reference and each engine's max rel err. */
function dhRows(spec: ModelSpec, batch: Batch, refDh: FloatArray[], per: Map<string, FloatArray[]>): PerStepRow[] {
  const { batchSize: B, seqLen: T } = batch;
  const H = spec.hiddenSize;
  const rows: PerStepRow[] = [];
  for (let l = 0; l < spec.layers; l++) {
    for (let t = 0; t < T; t++) {
      const r = stepSlice(refDh[l], B, T, H, t);
      const errors: Record<string, number> = {};
      for (const [name, dh] of per) errors[name] = compareArrays(stepSlice(dh[l], B, T, H, t), r).maxRelError;
      rows.push({ layer: l, t, scale: Math.max(...r.map(Math.abs)), errors });
    }
  }
  return rows;
}

interface Lockstep {
  steps: StepRecord[];
  drift: Record<string, number | null>;
  driftStep: number | null;
  trained: Engine[];
  pair: [Engine, Engine] | null;
  final: Comparison[];
}

/** The largest maxRelError over the parameters of a against b, and where. */
function largestDiff(a: NamedParams, b: NamedParams): { err: number; name: string } {
  let err = 0;
  let name = '';
  for (const k of Object.keys(a)) {
    const x = compareArrays(b[k].data, a[k].data).maxRelError;
    if (x > err || Number.isNaN(x)) {
      err = Number.isNaN(x) ? Infinity : x;
      name = k;
    }
  }
  return { err, name };
}

/** All engines take the same optimizer steps on the same batch; each is held against its reference. */
async function lockstep(setup: CheckSetup, raw: CheckRaw, skipped: CheckReport['skipped']): Promise<Lockstep> {
  const { spec, batch, reference: ref } = setup;
  const progress = setup.onProgress ?? (() => {});
  progress('training');
  const trained = setup.engines.filter((e) => {
    const why = setup.limits?.[e.name]?.train;
    if (why) skipped.push({ engine: e.name, what: 'lockstep training', reason: noTraining(why) });
    return !why;
  });
  const biasFree = setup.biasFreeReference && trained.some((e) => setup.limits?.[e.name]?.biases === false) ? setup.biasFreeReference : null;
  const refOf = (e: Engine): Engine => (biasFree && setup.limits?.[e.name]?.biases === false ? biasFree : ref);
  const refs = [ref, ...(biasFree ? [biasFree] : [])];
  for (const e of [ref, ...trained]) raw.losses[e.name] = [];
  const steps: StepRecord[] = [];
  const drift: Record<string, number | null> = Object.fromEntries(trained.map((e) => [e.name, null]));
  let driftStep: number | null = null;
  // the first two engines are compared with each other too, unless one has biases and the other none (different models)
  const pair: [Engine, Engine] | null = trained.length >= 2 && refOf(trained[0]) === refOf(trained[1]) ? [trained[0], trained[1]] : null;
  for (let s = 1; s <= setup.steps && setup.steps > 0; s++) {
    const loss: Record<string, number> = {};
    for (const r of refs) {
      const l = (await r.step(batch)).loss;
      if (r === ref) {
        loss[ref.name] = l;
        raw.losses[ref.name].push(l);
      }
    }
    for (const e of trained) {
      const r = await claimed(e, 'step', "this check's optimizer (supports.optimizers)", () => e.step(batch));
      loss[e.name] = r.loss;
      raw.losses[e.name].push(r.loss);
    }
    const params = new Map<Engine, NamedParams>();
    for (const e of [...refs, ...trained]) params.set(e, await e.getParams());
    const refDiff: Record<string, number> = {};
    for (const e of trained) {
      refDiff[e.name] = largestDiff(params.get(refOf(e))!, params.get(e)!).err;
      if (drift[e.name] === null && !within(refDiff[e.name], limitFor('trajectory', dtypeOf(e)))) drift[e.name] = s;
    }
    let maxParamDiff = 0;
    let worstParam = '';
    if (pair) {
      ({ err: maxParamDiff, name: worstParam } = largestDiff(params.get(pair[0])!, params.get(pair[1])!));
      if (driftStep === null && !within(maxParamDiff, limitFor('trajectory', pairPrecision(pair)))) driftStep = s;
    }
    steps.push({ step: s, loss, maxParamDiff, worstParam, refDiff });
    progress(`training step ${s}/${setup.steps}`);
  }
  for (const e of [ref, ...trained]) raw.final[e.name] = await e.getParams();
  const finalOf = async (e: Engine): Promise<NamedParams> => (refOf(e) === ref ? raw.final[ref.name] : await refOf(e).getParams());
  const final: Comparison[] = [];
  if (setup.steps > 0) {
    for (const e of trained) final.push(...compareParams(spec, raw.final[e.name], await finalOf(e), e.name, ref.name, 'trajectory', 'final ', dtypeOf(e), setup.limits?.[e.name]?.biases !== false));
    if (pair) final.push(...compareParams(spec, raw.final[pair[1].name], raw.final[pair[0].name], pair[1].name, pair[0].name, 'trajectory', 'final ', pairPrecision(pair), setup.limits?.[pair[0].name]?.biases !== false));
  }
  return { steps, drift, driftStep, trained, pair, final };
}

/** One line per comparison outside its limit (and per engine and layer, the first failing dLoss/dh_t step). */
function failuresOf(setup: CheckSetup, rows: Comparison[], perStep: PerStepRow[] | undefined): string[] {
  const failures = rows.filter((r) => !r.pass).map((r) => `${r.what} (${r.engine} vs ${r.against}: ${r.maxRelError.toExponential(2)} > ${r.limit.toExponential(0)})`);
  for (const e of setup.engines) {
    const limit = limitFor('grad', dtypeOf(e));
    for (let l = 0; l < setup.spec.layers; l++) {
      const bad = (perStep ?? []).filter((r) => r.layer === l && e.name in r.errors && !within(r.errors[e.name], limit));
      if (bad.length) {
        failures.push(`dLoss/dh layer ${l} at step ${bad[0].t}${bad.length > 1 ? ` and ${bad.length - 1} more steps` : ''} (${e.name} vs ${setup.reference.name}: ${bad[0].errors[e.name].toExponential(2)} > ${limit.toExponential(0)})`);
      }
    }
  }
  return failures;
}

/** What was compared for each engine under test, and what was left out and why. */
function coverageOf(setup: CheckSetup, skipped: CheckReport['skipped'], trained: Engine[]): Record<string, Coverage> {
  const out: Record<string, Coverage> = {};
  for (const e of setup.engines) {
    const lim = setup.limits?.[e.name] ?? {};
    const c: Coverage = { compared: ['forward', 'loss', lim.biases === false ? 'gradients (no biases)' : 'gradients'], notCompared: [] };
    if (lim.biases === false) c.notCompared.push({ what: 'bias gradients', why: 'it has no biases (biases: false)' });
    const noDh = skipped.find((s) => s.engine === e.name && s.what === 'per-step gradients');
    if (setup.perStep) {
      if (noDh) c.notCompared.push({ what: 'per-step gradients', why: noDh.reason });
      else c.compared.push('per-step gradients');
    }
    if (setup.steps > 0) {
      if (trained.includes(e)) c.compared.push('lockstep training');
      else c.notCompared.push({ what: 'lockstep training', why: noTraining(lim.train ?? 'training') });
    }
    out[e.name] = c;
  }
  return out;
}

export async function runCheck(setup: CheckSetup): Promise<{ report: CheckReport; raw: CheckRaw }> {
  const t0 = performance.now();
  const { spec, batch, reference: ref, engines } = setup;
  const initial = await ref.getParams();
  const raw: CheckRaw = { output: {}, losses: {}, grads: {}, final: {} };
  const skipped: CheckReport['skipped'] = [];
  const at = await atInitialWeights(setup, raw, skipped);
  const tr = await lockstep(setup, raw, skipped);
  const rows = [...at.forward, ...at.lossComparisons, ...at.gradients, ...tr.final];
  const failures = failuresOf(setup, rows, at.perStep);

  // where each failing engine first goes wrong, and which known mistake reproduces it
  const budgetMs = setup.diagnoseSeconds !== undefined ? setup.diagnoseSeconds * 1000 : Math.max(2000, 3 * (performance.now() - t0));
  const budget = setup.diagnoseSeconds !== undefined ? `--diagnose-seconds ${setup.diagnoseSeconds}` : `${(budgetMs / 1000).toFixed(1)} s (3 times the check's own time, at least 2 s)`;
  const deadline = performance.now() + budgetMs;
  const diagnosis: Diagnosis[] = [];
  for (const e of engines) {
    const mine = (xs: Comparison[]): Comparison[] => xs.filter((c) => c.engine === e.name && !c.pass);
    const fi = mine(tr.final).filter((c) => c.against === ref.name);
    const ev = { forward: mine(at.forward), loss: mine(at.lossComparisons), gradients: mine(at.gradients), final: fi };
    if (!ev.forward.length && !ev.loss.length && !ev.gradients.length && !fi.length) continue;
    const g = at.grads.get(e.name)!;
    const dh = g.dh ?? at.dhLate.get(e.name);
    const d = whereItGoesWrong({
      spec,
      B: batch.batchSize,
      T: batch.seqLen,
      engine: e.name,
      dtype: dtypeOf(e),
      ...ev,
      output: raw.output[e.name],
      refOutput: raw.output[ref.name],
      losses: { engine: at.lossValues[e.name], reference: at.lossValues[ref.name] },
      dhRows: dh && at.refDh ? dhRows(spec, batch, at.refDh, new Map([[e.name, dh]])) : undefined,
      drift: tr.drift[e.name] ?? null,
      steps: tr.steps,
    });
    const biases = setup.limits?.[e.name]?.biases !== false;
    setup.onProgress?.(`diagnosis of ${e.name}`);
    await diagnose(d, {
      spec,
      batch,
      initial,
      engine: e,
      variants: setup.diagnosisEngines,
      dtype: dtypeOf(e),
      computed: { output: raw.output[e.name], loss: g.loss, grads: g.grads, ...(dh ? { dh } : {}) },
      grads: paramLayout(spec)
        .filter((p) => biases || (p.kind !== 'bias' && p.kind !== 'headBias'))
        .map((p) => p.name),
      localise: !dh,
      referenceName: ref.name,
      deadline,
      budget,
    });
    diagnosis.push(d);
  }

  const dtypes = Object.fromEntries([ref, ...engines].map((e) => [e.name, dtypeOf(e)]));
  const report: CheckReport = {
    engines: engines.map((e) => e.name),
    reference: ref.name,
    forward: at.forward,
    loss: { values: at.lossValues, comparisons: at.lossComparisons },
    gradients: at.gradients,
    ...(at.perStep ? { perStep: at.perStep } : {}),
    trajectory: {
      steps: tr.steps,
      driftStep: tr.driftStep,
      limit: limitFor('trajectory', pairPrecision(tr.pair)),
      pair: tr.pair ? [tr.pair[0].name, tr.pair[1].name] : null,
      drift: tr.drift,
      trained: tr.trained.map((e) => e.name),
    },
    final: tr.final,
    pass: failures.length === 0 && engines.length > 0,
    failures,
    skipped,
    dtypes,
    coverage: coverageOf(setup, skipped, tr.trained),
    diagnosis,
  };
  return { report, raw };
}
