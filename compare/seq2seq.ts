/**
 * `check` for encoder-decoder models: every engine under test against the float64 scratch
 * reference on identical weights and one batch. The same tolerance policy as compare/checks.ts:
 * logits and attention weights (forward), the loss, every parameter's gradient by name (the
 * attention matrices among them), optionally dLoss/dh_t at every step of the encoder and the
 * decoder, and the parameters after N optimizer steps in lockstep.
 */
import type { Seq2SeqBatch, Seq2SeqSpec } from '../src/seq2seq/spec.js';
import type { Seq2SeqEngine, Seq2SeqGrads } from '../src/seq2seq/engine.js';
import { decoderSize, seq2seqLayout } from '../src/seq2seq/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { type Precision, compareArrays, limitFor, within } from '../src/tolerance.js';

export interface Seq2SeqComparison {
  what: string;
  engine: string;
  maxAbsError: number;
  maxRelError: number;
  limit: number;
  pass: boolean;
}

export interface Seq2SeqStepRow {
  side: 'encoder' | 'decoder';
  layer: number;
  t: number;
  scale: number;
  errors: Record<string, number>;
}

export interface Seq2SeqCheckReport {
  reference: string;
  engines: string[];
  forward: Seq2SeqComparison[];
  loss: { values: Record<string, number>; comparisons: Seq2SeqComparison[] };
  gradients: Seq2SeqComparison[];
  perStep?: Seq2SeqStepRow[];
  trajectory: { steps: { step: number; loss: Record<string, number> }[] };
  final: Seq2SeqComparison[];
  pass: boolean;
  failures: string[];
}

const dtypeOf = (e: Seq2SeqEngine): Precision => e.dtype ?? 'float32';

function comparison(what: string, e: Seq2SeqEngine, kind: 'forward' | 'loss' | 'grad' | 'trajectory', a: ArrayLike<number>, ref: ArrayLike<number>): Seq2SeqComparison {
  const c = compareArrays(a, ref);
  const limit = limitFor(kind, dtypeOf(e));
  return { what, engine: e.name, maxAbsError: c.maxAbsError, maxRelError: c.maxRelError, limit, pass: within(c.maxRelError, limit) };
}

/** [B, T, H] rows of step t: [B, H]. */
function stepRows(d: FloatArray, B: number, T: number, H: number, t: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out.push(d[(b * T + t) * H + j]);
  return out;
}

export async function runSeq2SeqCheck(o: {
  spec: Seq2SeqSpec;
  batch: Seq2SeqBatch;
  reference: Seq2SeqEngine;
  engines: Seq2SeqEngine[];
  steps: number;
  perStep?: boolean;
  onProgress?: (what: string) => void;
}): Promise<Seq2SeqCheckReport> {
  const { spec, batch, reference: ref, engines } = o;
  const progress = o.onProgress ?? (() => {});
  progress('forward');
  const refF = await ref.forward(batch);
  const forward: Seq2SeqComparison[] = [];
  for (const e of engines) {
    const f = await e.forward(batch);
    forward.push(comparison('logits', e, 'forward', f.logits, refF.logits));
    if (refF.attention && f.attention) forward.push(comparison('attention weights', e, 'forward', f.attention, refF.attention));
  }
  progress('gradients');
  const want = { stepGrads: !!o.perStep };
  const refG = await ref.lossAndGrads(batch, want);
  const grads = new Map<string, Seq2SeqGrads>();
  for (const e of engines) grads.set(e.name, await e.lossAndGrads(batch, want));
  const values: Record<string, number> = { [ref.name]: refG.loss };
  for (const [n, g] of grads) values[n] = g.loss;
  const lossComparisons = engines.map((e) => comparison('loss', e, 'loss', [grads.get(e.name)!.loss], [refG.loss]));
  const gradients = seq2seqLayout(spec).flatMap((p) => engines.map((e) => comparison(p.name, e, 'grad', grads.get(e.name)!.grads[p.name].data, refG.grads[p.name].data)));

  let perStep: Seq2SeqStepRow[] | undefined;
  if (o.perStep) {
    perStep = [];
    for (const side of ['encoder', 'decoder'] as const) {
      const T = side === 'encoder' ? batch.srcLen : batch.tgtLen;
      // the widths of Seq2SeqGrads' dh: a bidirectional encoder's step holds both directions' h
      const H = side === 'encoder' ? (spec.bidirectional ? 2 : 1) * spec.hiddenSize : decoderSize(spec);
      const refDh = side === 'encoder' ? refG.dhEncoder! : refG.dhDecoder!;
      for (let l = 0; l < spec.layers; l++) {
        for (let t = 0; t < T; t++) {
          const r = stepRows(refDh[l], batch.batchSize, T, H, t);
          const errors: Record<string, number> = {};
          for (const e of engines) {
            const g = grads.get(e.name)!;
            const dh = side === 'encoder' ? g.dhEncoder : g.dhDecoder;
            if (dh) errors[e.name] = compareArrays(stepRows(dh[l], batch.batchSize, T, H, t), r).maxRelError;
          }
          perStep.push({ side, layer: l, t, scale: Math.max(...r.map(Math.abs)), errors });
        }
      }
    }
  }

  progress('training');
  const steps: { step: number; loss: Record<string, number> }[] = [];
  for (let s = 1; s <= o.steps; s++) {
    const loss: Record<string, number> = { [ref.name]: (await ref.step(batch)).loss };
    for (const e of engines) loss[e.name] = (await e.step(batch)).loss;
    steps.push({ step: s, loss });
  }
  const final: Seq2SeqComparison[] = [];
  if (o.steps > 0) {
    const refP = await ref.getParams();
    for (const e of engines) {
      const p = await e.getParams();
      for (const x of seq2seqLayout(spec)) final.push(comparison(`final ${x.name}`, e, 'trajectory', p[x.name].data, refP[x.name].data));
    }
  }
  const all = [...forward, ...lossComparisons, ...gradients, ...final];
  const failures = all.filter((c) => !c.pass).map((c) => `${c.engine}: ${c.what} max rel err ${c.maxRelError.toExponential(2)} > ${c.limit.toExponential(0)}`);
  return {
    reference: ref.name,
    engines: engines.map((e) => e.name),
    forward,
    loss: { values, comparisons: lossComparisons },
    gradients,
    ...(perStep ? { perStep } : {}),
    trajectory: { steps },
    final,
    pass: failures.length === 0,
    failures,
  };
}
