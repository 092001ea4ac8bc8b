/**
 * Where an engine that failed first goes wrong, read off the check's own comparisons: the forward
 * pass (and the first time step whose output differs), the loss, the gradients (which parameters,
 * which gate is worst, the latest time step whose dLoss/dh_t differs), or only the optimizer.
 */
import type { Comparison, Diagnosis, PerStepRow, StepRecord } from '../check-report.js';
import type { ModelSpec } from '../../src/spec.js';
import type { FloatArray } from '../../src/tensor.js';
import { type Precision, compareArrays, limitFor, within } from '../../src/tolerance.js';

export interface StageEvidence {
  spec: ModelSpec;
  B: number;
  T: number;
  engine: string;
  dtype: Precision;
  /** This engine's failing comparisons. */
  forward: Comparison[];
  loss: Comparison[];
  gradients: Comparison[];
  final: Comparison[];
  output: FloatArray;
  refOutput: FloatArray;
  losses: { engine: number; reference: number };
  /** dLoss/dh_t rows against the reference, when both have them. */
  dhRows?: PerStepRow[];
  drift: number | null;
  steps: StepRecord[];
}

/** dLoss/dh_t at step t of layer l, every batch row: [B, W] out of [B, T, W]. */
export function stepSlice(d: FloatArray, B: number, T: number, W: number, t: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let j = 0; j < W; j++) out.push(d[(b * T + t) * W + j]);
  return out;
}

export function sci(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

export function whereItGoesWrong(ev: StageEvidence): Diagnosis {
  const { spec, B, T } = ev;
  const d: Diagnosis = { engine: ev.engine, stage: '', lines: [] };
  if (ev.forward.length) {
    d.stage = 'forward';
    // a bidirectional layer's output at any step reads the whole sequence: no step is "first"
    if (spec.returnSequences && !spec.bidirectional) {
      const O = spec.outputSize;
      const limitF = limitFor('forward', ev.dtype);
      for (let t = 0; t < T && d.outputStep === undefined; t++) {
        if (!within(compareArrays(stepSlice(ev.output, B, T, O, t), stepSlice(ev.refOutput, B, T, O, t)).maxRelError, limitF)) d.outputStep = t;
      }
    }
    d.lines.push(
      `the forward pass already differs (max rel err ${sci(ev.forward[0].maxRelError)})` +
        (d.outputStep !== undefined ? `, first at time step ${d.outputStep} of 0..${T - 1}` : spec.bidirectional ? ' (bidirectional: every step\'s output reads the whole sequence, so no step is the first)' : '') +
        '; fix the forward before reading gradients',
    );
  } else if (ev.loss.length) {
    d.stage = 'loss';
    d.lines.push(`the outputs agree but the loss differs (${sci(ev.losses.engine)} vs ${sci(ev.losses.reference)}): look at the loss, its reduction and the masked positions`);
  } else if (ev.gradients.length) {
    d.stage = 'gradients';
    const limitG = limitFor('grad', ev.dtype);
    d.params = ev.gradients.map((c) => ({
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
    if (ev.dhRows) {
      // the time step: dLoss/dh_t at the initial weights, read from the last step backwards
      for (let l = spec.layers - 1; l >= 0 && !d.dhStep; l--) {
        for (let t = T - 1; t >= 0; t--) {
          const err = ev.dhRows.find((r) => r.layer === l && r.t === t)!.errors[ev.engine];
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
    const at = ev.drift;
    d.lines.push(
      `outputs, loss and gradients agree, but the parameters after training differ${at !== null ? ` (from step ${at}, in ${ev.steps[at - 1]?.worstParam || ev.final[0].what.replace(/^final /, '')})` : ''}: look at the optimizer's update and clipping`,
    );
  }
  return d;
}
