/**
 * `check` for encoder-decoder models: every engine under test against the float64 scratch
 * reference on identical weights and one batch. The same tolerance policy as compare/checks.ts:
 * logits and attention weights (forward), the loss, every parameter's gradient by name (the
 * attention matrices among them), optionally dLoss/dh_t at every step of the encoder and the
 * decoder, and the parameters after N optimizer steps in lockstep.
 */
import { EOS, type Seq2SeqBatch, type Seq2SeqSpec } from '../src/seq2seq/spec.js';
import { type Seq2SeqEngine, type Seq2SeqGrads, validateSeq2SeqBatch } from '../src/seq2seq/engine.js';
import { decoderSize, seq2seqLayout } from '../src/seq2seq/spec.js';
import { InputError } from '../src/errors.js';
import type { NamedParams } from '../src/params.js';
import { type FloatArray, type NamedTensors, shapeStr } from '../src/tensor.js';
import { type OptimizerSpec, describeOptimizer } from '../src/optimizer.js';
import { seq2seqToJSON } from '../src/seq2seq/spec.js';
import { writeEngineDumps } from './check.js';
import type { Diagnosis } from './check-report.js';
import { whereSeq2SeqGoesWrong } from './diagnosis/seq2seq.js';
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
  /** Where each failing engine first goes wrong (compare/diagnosis/seq2seq.ts). */
  diagnosis: Diagnosis[];
}

/** What each engine answered, the reference's included (the dump): logits, attention, the losses before each lockstep update, the gradients, the parameters after. */
export interface Seq2SeqRaw {
  logits: Record<string, FloatArray>;
  attention: Record<string, FloatArray>;
  losses: Record<string, number[]>;
  grads: Record<string, NamedParams>;
  final: Record<string, NamedParams>;
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
}): Promise<Seq2SeqCheckReport & { raw: Seq2SeqRaw }> {
  const { spec, batch, reference: ref, engines } = o;
  const raw: Seq2SeqRaw = { logits: {}, attention: {}, losses: {}, grads: {}, final: {} };
  const initial = await ref.getParams();
  const progress = o.onProgress ?? (() => {});
  progress('forward');
  const refF = await ref.forward(batch);
  const keep = (name: string, f: { logits: FloatArray; attention: FloatArray | null }): void => {
    raw.logits[name] = f.logits;
    if (f.attention) raw.attention[name] = f.attention;
  };
  keep(ref.name, refF);
  const forward: Seq2SeqComparison[] = [];
  for (const e of engines) {
    const f = await e.forward(batch);
    keep(e.name, f);
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
  raw.grads[ref.name] = refG.grads;
  for (const [n, g] of grads) raw.grads[n] = g.grads;
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
  // the first lockstep step after which an engine's parameters are beyond the trajectory limit, and where (the diagnosis)
  const drift = new Map<string, { step: number; param: string }>();
  for (let s = 1; s <= o.steps; s++) {
    const loss: Record<string, number> = { [ref.name]: (await ref.step(batch)).loss };
    for (const e of engines) loss[e.name] = (await e.step(batch)).loss;
    steps.push({ step: s, loss });
    for (const [n, l] of Object.entries(loss)) (raw.losses[n] ??= []).push(l);
    const refP = await ref.getParams();
    for (const e of engines) {
      if (drift.has(e.name)) continue;
      const p = await e.getParams();
      const off = seq2seqLayout(spec).find((x) => !comparison(x.name, e, 'trajectory', p[x.name].data, refP[x.name].data).pass);
      if (off) drift.set(e.name, { step: s, param: off.name });
    }
  }
  const final: Seq2SeqComparison[] = [];
  if (o.steps > 0) {
    const refP = await ref.getParams();
    raw.final[ref.name] = refP;
    for (const e of engines) {
      const p = await e.getParams();
      raw.final[e.name] = p;
      for (const x of seq2seqLayout(spec)) final.push(comparison(`final ${x.name}`, e, 'trajectory', p[x.name].data, refP[x.name].data));
    }
  }
  const all = [...forward, ...lossComparisons, ...gradients, ...final];
  const failures = all.filter((c) => !c.pass).map((c) => `${c.engine}: ${c.what} max rel err ${c.maxRelError.toExponential(2)} > ${c.limit.toExponential(0)}`);
  const diagnosis: Diagnosis[] = [];
  const failing = engines.filter((e) => all.some((c) => c.engine === e.name && !c.pass));
  if (failing.length) {
    progress('diagnosis');
    await ref.setParams(initial);
    for (const e of failing) {
      await e.setParams(initial);
      const off = (cs: Seq2SeqComparison[]): string[] => cs.filter((c) => c.engine === e.name && !c.pass).map((c) => c.what);
      const dhRows = perStep?.filter((r) => r.errors[e.name] !== undefined).map((r) => ({ side: r.side, layer: r.layer, t: r.t, error: r.errors[e.name] }));
      diagnosis.push(
        await whereSeq2SeqGoesWrong({ spec, batch, engine: e, reference: ref, dtype: dtypeOf(e), forward: off(forward), loss: off(lossComparisons).length > 0, gradients: off(gradients), final: off(final), ...(dhRows?.length ? { dhRows } : {}), drift: drift.get(e.name) ?? null }),
      );
    }
  }
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
    diagnosis,
    raw,
  };
}

const SEQ2SEQ_DATA = ['src', 'srcMask', 'tgtIn', 'tgtOut', 'tgtMask'] as const;

/**
 * A batch from a data file: src (I32 [B, S]), srcMask (U8 [B, S]), tgtIn and tgtOut (I32 [B, T]),
 * tgtMask (U8 [B, T]), checked against the spec before any engine sees it: names, dtypes and
 * shapes, masks of 0 and 1 that hide no whole row, token ids inside the vocabularies, and every
 * target ending with EOS. Bad input is one line naming the file and the tensor.
 */
export function seq2seqBatchFromTensors(spec: Seq2SeqSpec, t: NamedTensors, file: string): Seq2SeqBatch {
  const extra = Object.keys(t).filter((k) => !(SEQ2SEQ_DATA as readonly string[]).includes(k));
  if (extra.length) throw new InputError(`${file}: unexpected tensor(s) ${extra.join(', ')} (a seq2seq batch holds ${SEQ2SEQ_DATA.join(', ')})`);
  for (const k of SEQ2SEQ_DATA) if (!t[k]) throw new InputError(`${file}: no tensor "${k}" (a seq2seq batch holds ${SEQ2SEQ_DATA.join(', ')})`);
  const [B, S] = t.src.shape.length === 2 ? t.src.shape : [0, 0];
  const T = t.tgtOut.shape.length === 2 ? t.tgtOut.shape[1] : 0;
  const want: Record<string, [string, number[]]> = { src: ['I32', [B, S]], srcMask: ['U8', [B, S]], tgtIn: ['I32', [B, T]], tgtOut: ['I32', [B, T]], tgtMask: ['U8', [B, T]] };
  for (const k of SEQ2SEQ_DATA) {
    const x = t[k];
    const [dtype, shape] = want[k];
    const side = k.startsWith('src') ? 'S' : 'T';
    if (x.dtype !== dtype || x.shape.length !== 2 || x.shape.some((d, i) => d !== shape[i]) || shape.some((d) => d < 1)) {
      throw new InputError(`${file}: tensor "${k}" is ${x.fileDtype ?? x.dtype} ${shapeStr(x.shape)}, expected ${dtype} [B, ${side}]${shape.every((d) => d >= 1) ? ` = ${shapeStr(shape)}` : ' (B, S, T >= 1)'}`);
    }
  }
  const batch: Seq2SeqBatch = { batchSize: B, srcLen: S, tgtLen: T, src: t.src.data as Int32Array, srcMask: t.srcMask.data as Uint8Array, tgtIn: t.tgtIn.data as Int32Array, tgtOut: t.tgtOut.data as Int32Array, tgtMask: t.tgtMask.data as Uint8Array };
  for (const [k, len] of [['srcMask', S], ['tgtMask', T]] as const) {
    const m = batch[k];
    for (let i = 0; i < m.length; i++) if (m[i] > 1) throw new InputError(`${file}: tensor "${k}" holds ${m[i]} at [${Math.floor(i / len)}, ${i % len}]; a mask holds 0 and 1`);
    for (let r = 0; r < B; r++) if (!m.subarray(r * len, (r + 1) * len).includes(1)) throw new InputError(`${file}: tensor "${k}" hides the whole of row ${r} (every value 0); each ${k === 'srcMask' ? 'source' : 'target'} needs at least one token`);
  }
  for (const [k, len, V, side] of [['src', S, spec.srcVocab, 'source'], ['tgtIn', T, spec.tgtVocab, 'target'], ['tgtOut', T, spec.tgtVocab, 'target']] as const) {
    const ids = batch[k];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= V) throw new InputError(`${file}: tensor "${k}" holds token id ${ids[i]} at [${Math.floor(i / len)}, ${i % len}], outside the ${side} vocabulary 0..${V - 1} of the spec`);
    }
  }
  for (let r = 0; r < B; r++) {
    let last = -1;
    for (let j = 0; j < T; j++) if (batch.tgtMask[r * T + j]) last = j;
    const id = batch.tgtOut[r * T + last];
    if (id !== EOS) throw new InputError(`${file}: tensor "tgtOut" row ${r} ends with token id ${id} at its last real step ${last}, not EOS (id ${EOS}); every target ends with EOS`);
  }
  try {
    validateSeq2SeqBatch(spec, batch, true);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  return batch;
}

/**
 * `--dump DIR`: one file per engine (the reference's too), as the other models' dumps: output
 * (logits [B, T, V]), attention ([B, T, S], with attention), loss (before each lockstep update),
 * grad.<param> at the initial weights and final.<param> after the updates, canonical names.
 */
export function writeSeq2SeqDump(dir: string, spec: Seq2SeqSpec, batch: Seq2SeqBatch, raw: Seq2SeqRaw, optimizer: OptimizerSpec): string[] {
  const { batchSize: B, srcLen: S, tgtLen: T } = batch;
  const f = (x: FloatArray): 'F32' | 'F64' => (x instanceof Float64Array ? 'F64' : 'F32');
  const byEngine: Record<string, NamedTensors> = {};
  for (const [engine, logits] of Object.entries(raw.logits)) {
    const t: NamedTensors = { output: { dtype: f(logits), shape: [B, T, spec.tgtVocab], data: logits } };
    const a = raw.attention[engine];
    if (a) t.attention = { dtype: f(a), shape: [B, T, S], data: a };
    const losses = raw.losses[engine] ?? [];
    t.loss = { dtype: 'F64', shape: [losses.length], data: Float64Array.from(losses) };
    for (const p of seq2seqLayout(spec)) if (raw.grads[engine]) t[`grad.${p.name}`] = { ...raw.grads[engine][p.name], shape: [...p.shape] };
    for (const p of seq2seqLayout(spec)) if (raw.final[engine]) t[`final.${p.name}`] = { ...raw.final[engine][p.name], shape: [...p.shape] };
    byEngine[engine] = t;
  }
  return writeEngineDumps(dir, byEngine, (engine) => ({ seq2seq: JSON.stringify(seq2seqToJSON(spec)), optimizer: describeOptimizer(optimizer), steps: String((raw.losses[engine] ?? []).length) }));
}
