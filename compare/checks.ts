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
import type { Batch, Engine } from '../src/engine.js';
import { type NamedParams, gateOf, paramLayout } from '../src/params.js';
import { GATE_NAMES, type ModelSpec } from '../src/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { type Agreement, TOLERANCES, type ToleranceKind, compareArrays } from './tolerance.js';

export interface CheckSetup {
  spec: ModelSpec;
  batch: Batch;
  steps: number;
  /** The float64 reference. */
  reference: Engine;
  /** Engines under test (e.g. scratch float32 and a tfjs backend), all on the same weights. */
  engines: Engine[];
  perStep?: boolean;
  onProgress?: (what: string) => void;
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
  trajectory: { steps: StepRecord[]; driftStep: number | null; limit: number; pair: [string, string] | null };
  final: Comparison[];
  pass: boolean;
  failures: string[];
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

function comparison(what: string, engine: string, against: string, kind: ToleranceKind, a: Agreement, worst?: Comparison['worst']): Comparison {
  const limit = TOLERANCES[kind].limit;
  return {
    what,
    engine,
    against,
    kind,
    maxAbsError: a.maxAbsError,
    maxRelError: a.maxRelError,
    cosine: a.cosine,
    limit,
    pass: a.maxRelError <= limit,
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

function compareParams(spec: ModelSpec, a: NamedParams, ref: NamedParams, engine: string, against: string, kind: ToleranceKind, prefix = ''): Comparison[] {
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
    const c = comparison(`${prefix}${info.name}`, engine, against, kind, agr, worst);
    if (perGate) c.perGate = perGate;
    return c;
  });
}

export async function runCheck(setup: CheckSetup): Promise<{ report: CheckReport; raw: CheckRaw }> {
  const { spec, batch, reference: ref, engines } = setup;
  const progress = setup.onProgress ?? (() => {});
  const all = [ref, ...engines];
  const raw: CheckRaw = { output: {}, losses: {}, grads: {}, final: {} };

  progress('forward');
  for (const e of all) raw.output[e.name] = e.forward(batch).output;
  const forward = engines.map((e) => comparison('output', e.name, ref.name, 'forward', compareArrays(raw.output[e.name], raw.output[ref.name])));

  progress('gradients');
  const want = { stateGrads: !!setup.perStep };
  const grads = new Map(all.map((e) => [e.name, e.lossAndGrads(batch, want)]));
  for (const e of all) raw.grads[e.name] = grads.get(e.name)!.grads;
  const refG = grads.get(ref.name)!;
  const lossValues = Object.fromEntries(all.map((e) => [e.name, grads.get(e.name)!.loss]));
  const lossComparisons = engines.map((e) => comparison('loss', e.name, ref.name, 'loss', compareArrays([lossValues[e.name]], [lossValues[ref.name]])));
  const gradients = engines.flatMap((e) => compareParams(spec, grads.get(e.name)!.grads, refG.grads, e.name, ref.name, 'grad'));

  let perStep: PerStepRow[] | undefined;
  if (setup.perStep) {
    perStep = [];
    const { batchSize: B, seqLen: T } = batch;
    const H = spec.hiddenSize;
    for (let l = 0; l < spec.layers; l++) {
      for (let t = 0; t < T; t++) {
        const slice = (d: FloatArray): number[] => {
          const out: number[] = [];
          for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out.push(d[(b * T + t) * H + j]);
          return out;
        };
        const r = slice(refG.dh![l]);
        const errors: Record<string, number> = {};
        for (const e of engines) {
          const dh = grads.get(e.name)!.dh;
          if (dh) errors[e.name] = compareArrays(slice(dh[l]), r).maxRelError;
        }
        perStep.push({ layer: l, t, scale: Math.max(...r.map(Math.abs)), errors });
      }
    }
  }

  progress('training');
  for (const e of all) raw.losses[e.name] = [];
  const pair: [Engine, Engine] | null = engines.length >= 2 ? [engines[0], engines[1]] : null;
  const steps: StepRecord[] = [];
  let driftStep: number | null = null;
  for (let s = 1; s <= setup.steps; s++) {
    const loss: Record<string, number> = {};
    for (const e of all) {
      loss[e.name] = e.step(batch).loss;
      raw.losses[e.name].push(loss[e.name]);
    }
    let maxParamDiff = 0;
    let worstParam = '';
    if (pair) {
      const a = pair[0].getParams();
      const b = pair[1].getParams();
      for (const name of Object.keys(a)) {
        const err = compareArrays(b[name].data, a[name].data).maxRelError;
        if (err > maxParamDiff || Number.isNaN(err)) {
          maxParamDiff = Number.isNaN(err) ? Infinity : err;
          worstParam = name;
        }
      }
      if (driftStep === null && !(maxParamDiff <= TOLERANCES.trajectory.limit)) driftStep = s;
    }
    steps.push({ step: s, loss, maxParamDiff, worstParam });
    progress(`training step ${s}/${setup.steps}`);
  }
  for (const e of all) raw.final[e.name] = e.getParams();
  const final = engines.flatMap((e) => compareParams(spec, raw.final[e.name], raw.final[ref.name], e.name, ref.name, 'trajectory', 'final '));
  if (pair) final.push(...compareParams(spec, raw.final[pair[1].name], raw.final[pair[0].name], pair[1].name, pair[0].name, 'trajectory', 'final '));

  const rows = [...forward, ...lossComparisons, ...gradients, ...final];
  const failures = rows.filter((r) => !r.pass).map((r) => `${r.what} (${r.engine} vs ${r.against}: ${r.maxRelError.toExponential(2)} > ${r.limit.toExponential(0)})`);
  const report: CheckReport = {
    engines: engines.map((e) => e.name),
    reference: ref.name,
    forward,
    loss: { values: lossValues, comparisons: lossComparisons },
    gradients,
    ...(perStep ? { perStep } : {}),
    trajectory: { steps, driftStep, limit: TOLERANCES.trajectory.limit, pair: pair ? [pair[0].name, pair[1].name] : null },
    final,
    pass: failures.length === 0,
    failures,
  };
  return { report, raw };
}
