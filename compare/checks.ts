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
import { type NamedParams, gateOf, paramLayout } from '../src/params.js';
import { GATE_NAMES, type ModelSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { UnsupportedError } from '../src/errors.js';
import { type Agreement, type Precision, TOLERANCES, type ToleranceKind, compareArrays, limitFor, within } from './tolerance.js';

export interface CheckSetup {
  spec: ModelSpec;
  batch: Batch;
  steps: number;
  /** The float64 reference. */
  reference: Engine;
  /** Engines under test (e.g. scratch float32 and a tfjs backend), all on the same weights. */
  engines: Engine[];
  /**
   * What an engine under test cannot do (from its `supports`): `train` is why it cannot take the
   * lockstep steps, `stateGrads` false when it has no per-step gradients. Absent: everything.
   */
  limits?: Record<string, { train?: string | null; stateGrads?: boolean }>;
  perStep?: boolean;
  onProgress?: (what: string) => void;
}

/** Where an engine that failed first goes wrong, in words a person acts on. */
export interface Diagnosis {
  engine: string;
  /** forward | loss | gradients | training */
  stage: string;
  /** Parameters whose gradients fail, with the gates over the limit. */
  params?: { name: string; gates: string[]; worst?: Comparison['worst']; maxRelError: number }[];
  /** Many-to-many forward: the first time step whose output differs. */
  outputStep?: number;
  /** BPTT: the latest time step whose dLoss/dh_t differs (every later one agrees), per layer. */
  dhStep?: { layer: number; t: number; error: number };
  lines: string[];
}

export interface Comparison {
  /** "output", "loss", a parameter name, "final <param>", "dh layer l step t" */
  what: string;
  engine: string;
  against: string;
  kind: ToleranceKind;
  maxAbsError: number;
  maxRelError: number;
  cosine: number;
  limit: number;
  pass: boolean;
  /** Where the largest difference is: flat index, row/column, gate (lstm/gru parameters). */
  worst?: { index: number; position: number[]; gate?: string };
  /** maxRelError of each gate's block of columns (lstm/gru layer parameters). */
  perGate?: Record<string, number>;
}

export interface StepRecord {
  step: number;
  /** Loss before this step's update, per engine (reference included). */
  loss: Record<string, number>;
  /** After this step's update: largest maxRelError over parameters, engines under test pairwise (first two). */
  maxParamDiff: number;
  /** The parameter holding it. */
  worstParam: string;
  /** After this step's update: per engine under test, the largest maxRelError of its parameters against the reference. */
  refDiff: Record<string, number>;
}

export interface PerStepRow {
  layer: number;
  t: number;
  /** max |dLoss/dh_t| of the reference */
  scale: number;
  /** maxRelError per engine against the reference */
  errors: Record<string, number>;
}

export interface CheckReport {
  engines: string[];
  reference: string;
  forward: Comparison[];
  loss: { values: Record<string, number>; comparisons: Comparison[] };
  gradients: Comparison[];
  perStep?: PerStepRow[];
  trajectory: {
    steps: StepRecord[];
    /** First step where the pair's parameters left the limit. */
    driftStep: number | null;
    limit: number;
    pair: [string, string] | null;
    /** Per engine under test: the first step where its parameters left its limit against the reference. */
    drift: Record<string, number | null>;
    /** The engines that took the lockstep steps. */
    trained: string[];
  };
  final: Comparison[];
  pass: boolean;
  failures: string[];
  /** Engines, or parts of a check, left out, each with the reason. */
  skipped: { engine: string; what: string; reason: string }[];
  /** float32 or float64 per engine (the limits follow it). */
  dtypes: Record<string, Precision>;
  diagnosis: Diagnosis[];
}

/** What the dump files hold, per engine: output, loss per step, gradients, final parameters. */
export interface CheckRaw {
  output: Record<string, FloatArray>;
  losses: Record<string, number[]>;
  grads: Record<string, NamedParams>;
  final: Record<string, NamedParams>;
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

function compareParams(spec: ModelSpec, a: NamedParams, ref: NamedParams, engine: string, against: string, kind: ToleranceKind, prefix = '', dtype?: Precision): Comparison[] {
  const gates = GATE_NAMES[spec.cell];
  return paramLayout(spec).map((info) => {
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
        ? { index: agr.worstIndex, position: shapeIndex(info.shape, agr.worstIndex), ...(spec.cell !== 'rnn' && info.layer >= 0 ? { gate: gateOf(spec, info, agr.worstIndex) } : {}) }
        : undefined;
    const c = comparison(`${prefix}${info.name}`, engine, against, kind, agr, worst, dtype);
    if (perGate) c.perGate = perGate;
    return c;
  });
}


const dtypeOf = (e: Engine): Precision => e.dtype ?? 'float32';

/** dLoss/dh_t at step t of layer l, every batch row: [B, H] out of [B, T, H]. */
function stepSlice(d: FloatArray, B: number, T: number, W: number, t: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let j = 0; j < W; j++) out.push(d[(b * T + t) * W + j]);
  return out;
}

export async function runCheck(setup: CheckSetup): Promise<{ report: CheckReport; raw: CheckRaw }> {
  const { spec, batch, reference: ref } = setup;
  const progress = setup.onProgress ?? (() => {});
  const raw: CheckRaw = { output: {}, losses: {}, grads: {}, final: {} };
  const skipped: CheckReport['skipped'] = [];
  let engines = [...setup.engines];
  /** An engine that answers "unsupported" at run time leaves the rest of the check, with a note. */
  const attempt = async <T>(e: Engine, what: string, f: () => Promise<T>): Promise<T | null> => {
    try {
      return await f();
    } catch (err) {
      if (!(err instanceof UnsupportedError)) throw err;
      skipped.push({ engine: e.name, what, reason: `it does not support ${err.what}` });
      engines = engines.filter((x) => x !== e);
      return null;
    }
  };

  progress('forward');
  raw.output[ref.name] = (await ref.forward(batch)).output;
  for (const e of [...engines]) {
    const r = await attempt(e, 'the whole check', async () => (await e.forward(batch)).output);
    if (r) raw.output[e.name] = r;
  }
  const forward = engines.map((e) => comparison('output', e.name, ref.name, 'forward', compareArrays(raw.output[e.name], raw.output[ref.name]), undefined, dtypeOf(e)));

  progress('gradients');
  const want = { stateGrads: !!setup.perStep };
  const canDh = (e: Engine): boolean => setup.limits?.[e.name]?.stateGrads !== false;
  const refG = await ref.lossAndGrads(batch, want);
  const grads = new Map<string, LossAndGrads>([[ref.name, refG]]);
  for (const e of [...engines]) {
    const r = await attempt(e, 'gradients and training', async () => e.lossAndGrads(batch, { stateGrads: want.stateGrads && canDh(e) }));
    if (r) grads.set(e.name, r);
  }
  for (const [name, g] of grads) raw.grads[name] = g.grads;
  const lossValues = Object.fromEntries([...grads].map(([n, g]) => [n, g.loss]));
  const lossComparisons = engines.map((e) => comparison('loss', e.name, ref.name, 'loss', compareArrays([lossValues[e.name]], [lossValues[ref.name]]), undefined, dtypeOf(e)));
  const gradients = engines.flatMap((e) => compareParams(spec, grads.get(e.name)!.grads, refG.grads, e.name, ref.name, 'grad', '', dtypeOf(e)));

  const { batchSize: B, seqLen: T } = batch;
  const H = spec.hiddenSize;
  const dhRows = (refDh: FloatArray[], per: Map<string, FloatArray[]>): PerStepRow[] => {
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
  };
  let perStep: PerStepRow[] | undefined;
  if (setup.perStep) {
    const per = new Map<string, FloatArray[]>();
    for (const e of engines) {
      const dh = grads.get(e.name)!.dh;
      if (dh) per.set(e.name, dh);
      else skipped.push({ engine: e.name, what: 'per-step gradients', reason: 'it does not support per-step gradients (stateGrads)' });
    }
    perStep = dhRows(refG.dh!, per);
  }

  // an engine whose gradients fail gets its per-step gradients now, at the initial weights, to say
  // at which time step backpropagation first goes wrong (the diagnosis below)
  const dhLate = new Map<string, FloatArray[]>();
  let refDhLate: FloatArray[] | undefined;
  for (const e of engines) {
    if (grads.get(e.name)!.dh || !canDh(e) || gradients.every((c) => c.engine !== e.name || c.pass)) continue;
    try {
      const dh = (await e.lossAndGrads(batch, { stateGrads: true })).dh;
      if (dh) dhLate.set(e.name, dh);
      refDhLate ??= (await ref.lossAndGrads(batch, { stateGrads: true })).dh;
    } catch (err) {
      if (!(err instanceof UnsupportedError)) throw err;
    }
  }

  progress('training');
  const trainers = engines.filter((e) => {
    const why = setup.limits?.[e.name]?.train;
    if (why) skipped.push({ engine: e.name, what: 'lockstep training', reason: `it does not support ${why}` });
    return !why;
  });
  const all = [ref, ...trainers];
  for (const e of all) raw.losses[e.name] = [];
  const steps: StepRecord[] = [];
  const drift: Record<string, number | null> = Object.fromEntries(trainers.map((e) => [e.name, null]));
  let driftStep: number | null = null;
  let trained = [...trainers];
  const largestDiff = (a: NamedParams, b: NamedParams): { err: number; name: string } => {
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
  };
  for (let s = 1; s <= setup.steps && setup.steps > 0; s++) {
    const loss: Record<string, number> = {};
    for (const e of all) {
      if (e !== ref && !trained.includes(e)) continue;
      const r = e === ref ? await ref.step(batch) : await attempt(e, 'lockstep training', async () => e.step(batch));
      if (!r) {
        trained = trained.filter((x) => x !== e);
        continue;
      }
      loss[e.name] = r.loss;
      raw.losses[e.name].push(r.loss);
    }
    const params = new Map<string, NamedParams>();
    for (const e of [ref, ...trained]) params.set(e.name, await e.getParams());
    const refDiff: Record<string, number> = {};
    for (const e of trained) {
      refDiff[e.name] = largestDiff(params.get(ref.name)!, params.get(e.name)!).err;
      if (drift[e.name] === null && !within(refDiff[e.name], limitFor('trajectory', dtypeOf(e)))) drift[e.name] = s;
    }
    let maxParamDiff = 0;
    let worstParam = '';
    if (trained.length >= 2) {
      ({ err: maxParamDiff, name: worstParam } = largestDiff(params.get(trained[0].name)!, params.get(trained[1].name)!));
      if (driftStep === null && !(maxParamDiff <= TOLERANCES.trajectory.limit)) driftStep = s;
    }
    steps.push({ step: s, loss, maxParamDiff, worstParam, refDiff });
    progress(`training step ${s}/${setup.steps}`);
  }
  for (const e of [ref, ...trained]) raw.final[e.name] = await e.getParams();
  for (const e of trainers.filter((x) => !trained.includes(x))) delete raw.losses[e.name];
  const pair: [Engine, Engine] | null = trained.length >= 2 ? [trained[0], trained[1]] : null;
  const final = setup.steps > 0 ? trained.flatMap((e) => compareParams(spec, raw.final[e.name], raw.final[ref.name], e.name, ref.name, 'trajectory', 'final ', dtypeOf(e))) : [];
  if (pair && setup.steps > 0) final.push(...compareParams(spec, raw.final[pair[1].name], raw.final[pair[0].name], pair[1].name, pair[0].name, 'trajectory', 'final '));

  const rows = [...forward, ...lossComparisons, ...gradients, ...final];
  const failures = rows.filter((r) => !r.pass).map((r) => `${r.what} (${r.engine} vs ${r.against}: ${r.maxRelError.toExponential(2)} > ${r.limit.toExponential(0)})`);
  // per-step dLoss/dh_t (--per-step) fail like any gradient: one line per engine and layer, at its first failing step
  for (const e of engines) {
    const limit = limitFor('grad', dtypeOf(e));
    for (let l = 0; l < spec.layers; l++) {
      const bad = (perStep ?? []).filter((r) => r.layer === l && e.name in r.errors && !within(r.errors[e.name], limit));
      if (bad.length) {
        failures.push(`dLoss/dh layer ${l} at step ${bad[0].t}${bad.length > 1 ? ` and ${bad.length - 1} more steps` : ''} (${e.name} vs ${ref.name}: ${bad[0].errors[e.name].toExponential(2)} > ${limit.toExponential(0)})`);
      }
    }
  }

  // where each failing engine first goes wrong
  const diagnosis: Diagnosis[] = [];
  for (const e of engines) {
    const mine = (xs: Comparison[]): Comparison[] => xs.filter((c) => c.engine === e.name && !c.pass);
    const fw = mine(forward);
    const ls = mine(lossComparisons);
    const gr = mine(gradients);
    const fi = mine(final).filter((c) => c.against === ref.name);
    if (!fw.length && !ls.length && !gr.length && !fi.length) continue;
    const d: Diagnosis = { engine: e.name, stage: '', lines: [] };
    const limitF = limitFor('forward', dtypeOf(e));
    if (fw.length) {
      d.stage = 'forward';
      if (spec.returnSequences) {
        const O = spec.outputSize;
        for (let t = 0; t < T && d.outputStep === undefined; t++) {
          if (!within(compareArrays(stepSlice(raw.output[e.name], B, T, O, t), stepSlice(raw.output[ref.name], B, T, O, t)).maxRelError, limitF)) d.outputStep = t;
        }
      }
      d.lines.push(
        `the forward pass already differs (max rel err ${sci(fw[0].maxRelError)})` +
          (d.outputStep !== undefined ? `, first at time step ${d.outputStep} of 0..${T - 1}` : '') +
          '; fix the forward before reading gradients',
      );
    } else if (ls.length) {
      d.stage = 'loss';
      d.lines.push(`the outputs agree but the loss differs (${sci(lossValues[e.name])} vs ${sci(lossValues[ref.name])}): look at the loss, its reduction and the masked positions`);
    } else if (gr.length) {
      d.stage = 'gradients';
      const limitG = limitFor('grad', dtypeOf(e));
      d.params = gr.map((c) => ({
        name: c.what,
        gates: c.perGate
          ? Object.entries(c.perGate)
              .filter(([, v]) => !within(v, limitG))
              .sort((a, b) => b[1] - a[1])
              .map(([g]) => g)
          : [],
        worst: c.worst,
        maxRelError: c.maxRelError,
      }));
      d.lines.push(
        `forward and loss agree; the gradients of ${d.params.map((p) => `${p.name}${p.gates.length ? ` (${p.gates.length > 1 ? `gate ${p.gates[0]} worst, then ${p.gates.slice(1).join(', ')}` : `gate ${p.gates[0]}`})` : ''}`).join(', ')} differ`,
      );
      // the time step: dLoss/dh_t at the initial weights, read from the last step backwards
      const dh = grads.get(e.name)!.dh ?? dhLate.get(e.name);
      const refDh = refG.dh ?? refDhLate;
      if (dh && refDh) {
        const rowsDh = dhRows(refDh, new Map([[e.name, dh]]));
        for (let l = spec.layers - 1; l >= 0 && !d.dhStep; l--) {
          for (let t = T - 1; t >= 0; t--) {
            const err = rowsDh.find((r) => r.layer === l && r.t === t)!.errors[e.name];
            if (!within(err, limitG)) {
              d.dhStep = { layer: l, t, error: err };
              break;
            }
          }
        }
        if (d.dhStep) {
          const { layer, t, error } = d.dhStep;
          d.lines.push(
            `backpropagation through time first goes wrong at time step ${t} of 0..${T - 1} (layer ${layer}): dLoss/dh_${t} is off by ${sci(error)} while every later step agrees` +
              (t < T - 1 ? `, so the backward pass through step ${t + 1} sends it back wrong` : ', where the gradient enters from the head'),
          );
        } else d.lines.push('dLoss/dh_t agrees at every time step: the error is in how the parameter gradients are summed from it');
      }
    } else {
      d.stage = 'training';
      const at = drift[e.name];
      d.lines.push(
        `outputs, loss and gradients agree, but the parameters after training differ${at !== null ? ` (from step ${at}, in ${steps[at - 1]?.worstParam || fi[0].what.replace(/^final /, '')})` : ''}: look at the optimizer's update and clipping`,
      );
    }
    diagnosis.push(d);
  }

  const dtypes = Object.fromEntries([ref, ...setup.engines].map((e) => [e.name, dtypeOf(e)]));
  const report: CheckReport = {
    engines: engines.map((e) => e.name),
    reference: ref.name,
    forward,
    loss: { values: lossValues, comparisons: lossComparisons },
    gradients,
    ...(perStep ? { perStep } : {}),
    trajectory: { steps, driftStep, limit: TOLERANCES.trajectory.limit, pair: pair ? [pair[0].name, pair[1].name] : null, drift, trained: trained.map((e) => e.name) },
    final,
    pass: failures.length === 0 && engines.length > 0,
    failures,
    skipped,
    dtypes,
    diagnosis,
  };
  return { report, raw };
}

function sci(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}
