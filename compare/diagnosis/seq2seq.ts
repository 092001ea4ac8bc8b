/**
 * Where an encoder-decoder engine that failed `check --seq2seq` first goes wrong, in the terms of
 * its parts: the embeddings, encoder layer l (its forward or backward direction), the attention,
 * decoder layer l, the output head (the combine layer and the softmax head), the loss, or only the
 * optimizer; and the first step where it does. As stage.ts does for the single-stack models, read
 * off the check's own comparisons, plus, for a forward that differs, a walk through the model with
 * the step-wise decoding calls (src/seq2seq/state.ts) beside the reference: the encoder's outputs and
 * final states layer by layer, then the decoder one target token at a time (teacher forcing), its
 * state layer by layer, the attention weights, the logits.
 */
import type { Diagnosis } from '../check-report.js';
import type { Seq2SeqEngine } from '../../src/seq2seq/engine.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize } from '../../src/seq2seq/spec.js';
import type { DecoderState } from '../../src/seq2seq/state.js';
import type { FloatArray } from '../../src/tensor.js';
import { type Precision, compareArrays, limitFor, within } from '../../src/tolerance.js';
import { sci, stepSlice } from './stage.js';

/** The part of the model a canonical parameter name belongs to. */
export function seq2seqPart(name: string): string {
  let m = /^(encoder|decoder)\.embedding$/.exec(name);
  if (m) return m[1] === 'encoder' ? 'the source embedding' : 'the target embedding';
  if (name === 'embedding') return 'the shared embedding';
  m = /^(encoder|decoder)\.layers\.(\d+)\.(backward\.)?/.exec(name);
  if (m) return m[1] === 'encoder' ? `encoder layer ${m[2]} (${m[3] ? 'backward' : 'forward'} direction)` : `decoder layer ${m[2]}`;
  if (name === 'attention.combine.kernel' || name.startsWith('head.')) return 'the output head (the combine layer and the softmax head)';
  if (name.startsWith('attention.')) return 'the attention';
  return name;
}

/** The parts in the order the backward pass reaches them: the first one whose gradient differs is where the error enters. */
function backwardOrder(s: Seq2SeqSpec): string[] {
  const out = ['the output head (the combine layer and the softmax head)', 'the attention'];
  for (let l = s.layers - 1; l >= 0; l--) out.push(`decoder layer ${l}`);
  for (let l = s.layers - 1; l >= 0; l--) out.push(...(s.bidirectional ? [`encoder layer ${l} (backward direction)`] : []), `encoder layer ${l} (forward direction)`);
  out.push('the target embedding', 'the source embedding', 'the shared embedding');
  return out;
}

export interface Seq2SeqEvidence {
  spec: Seq2SeqSpec;
  batch: Seq2SeqBatch;
  engine: Seq2SeqEngine;
  reference: Seq2SeqEngine;
  dtype: Precision;
  /** This engine's failing comparisons, by kind ("logits", "attention weights", "loss", a parameter, "final <param>"). */
  forward: string[];
  loss: boolean;
  gradients: string[];
  final: string[];
  /** dLoss/dh_t errors (max rel err) per side, layer and step, when --per-step gave them. */
  dhRows?: { side: 'encoder' | 'decoder'; layer: number; t: number; error: number }[];
  /** The first lockstep step after which the parameters differ beyond the trajectory limit, and where. */
  drift: { step: number; param: string } | null;
}

const bad = (a: ArrayLike<number>, b: ArrayLike<number>, limit: number): boolean => !within(compareArrays(a, b).maxRelError, limit);

/** Columns [from, from + w) of rows of width W. */
function columns(a: FloatArray, W: number, from: number, w: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / W; r++) for (let j = 0; j < w; j++) out.push(a[r * W + from + j]);
  return out;
}

/** The encoder's final states (the decoder's initial state) and outputs against the reference's: the first part that differs, or null. */
function encoderPart(s: Seq2SeqSpec, e: DecoderState, r: DecoderState, limit: number): string | null {
  const H = s.hiddenSize;
  const D = decoderSize(s);
  const dirs = s.bidirectional ? (['forward', 'backward'] as const) : (['forward'] as const);
  for (let l = 0; l < s.layers; l++) {
    for (const [k, dir] of dirs.entries()) {
      const off = (x: FloatArray | undefined, y: FloatArray | undefined): boolean => !!x && !!y && bad(columns(x, D, k * H, H), columns(y, D, k * H, H), limit);
      if (off(e.h[l], r.h[l]) || off(e.c?.[l], r.c?.[l])) return `encoder layer ${l} (${dir} direction)${l === 0 ? ', or the source embedding it reads' : ''}: its final state differs`;
    }
  }
  if (e.memory && r.memory) {
    const { batchSize: B, srcLen: S } = e;
    for (const [k, dir] of dirs.entries()) {
      const order = dir === 'forward' ? [...Array(S).keys()] : [...Array(S).keys()].reverse();
      for (const t of order) {
        if (bad(columns(Float64Array.from(stepSlice(e.memory, B, S, D, t)), D, k * H, H), columns(Float64Array.from(stepSlice(r.memory, B, S, D, t)), D, k * H, H), limit)) {
          return `encoder layer ${s.layers - 1} (${dir} direction): its output differs first at source step ${t} (its final state agrees)`;
        }
      }
    }
  }
  return null;
}

/** The decoder one target token at a time beside the reference: the first step and part that differ, or null. */
async function decoderPart(s: Seq2SeqSpec, b: Seq2SeqBatch, engine: Seq2SeqEngine, ref: Seq2SeqEngine, e0: DecoderState, r0: DecoderState, limit: number): Promise<string | null> {
  const { batchSize: B, tgtLen: T } = b;
  let [se, sr] = [e0, r0];
  for (let t = 0; t < T; t++) {
    const tokens = Int32Array.from({ length: B }, (_, i) => b.tgtIn[i * T + t]);
    const oe = await engine.decodeStep!(se, tokens);
    const or = await ref.decodeStep!(sr, tokens);
    for (let l = 0; l < s.layers; l++) {
      if (bad(oe.state.h[l], or.state.h[l], limit) || (oe.state.c && or.state.c && bad(oe.state.c[l], or.state.c[l], limit))) {
        return `decoder layer ${l}${l === 0 ? ' (or the target embedding it reads)' : ''}, first at target step ${t} of 0..${T - 1}`;
      }
    }
    if (oe.attention && or.attention && bad(oe.attention, or.attention, limit)) return `the attention (its scores or softmax over the source), first at target step ${t} of 0..${T - 1}; the decoder's state agrees there`;
    if (bad(oe.logits, or.logits, limit)) return `the output head (the combine layer or the softmax head), first at target step ${t} of 0..${T - 1}; the decoder's state and the attention agree there`;
    [se, sr] = [oe.state, or.state];
  }
  return null;
}

/** A forward that differs: where, by walking the model step by step (engines with encode / decodeStep), else from the logits and attention alone. */
async function forwardWhere(ev: Seq2SeqEvidence): Promise<string> {
  const { spec, batch, engine, reference } = ev;
  const limit = limitFor('forward', ev.dtype);
  if (engine.encode && engine.decodeStep && reference.encode && reference.decodeStep) {
    const sources = { batchSize: batch.batchSize, srcLen: batch.srcLen, src: batch.src, srcMask: batch.srcMask };
    const e0 = await engine.encode(sources);
    const r0 = await reference.encode(sources);
    const enc = encoderPart(spec, e0, r0, limit);
    if (enc) return `it goes wrong in ${enc}`;
    const dec = await decoderPart(spec, batch, engine, reference, e0, r0, limit);
    if (dec) return `the encoder agrees; it goes wrong in ${dec}`;
    return 'stepped one token at a time it agrees everywhere: the difference is in its whole-sequence forward (the target mask, or how it batches the steps)';
  }
  const { batchSize: B, tgtLen: T } = batch;
  const f = await engine.forward(batch);
  const r = await reference.forward(batch);
  for (let t = 0; t < T; t++) {
    if (f.attention && r.attention && bad(stepSlice(f.attention, B, T, batch.srcLen, t), stepSlice(r.attention, B, T, batch.srcLen, t), limit)) return `its attention weights differ first at target step ${t} of 0..${T - 1} (the attention, or the encoder or decoder it reads; the engine has no step-wise calls to tell them apart)`;
    if (bad(stepSlice(f.logits, B, T, spec.tgtVocab, t), stepSlice(r.logits, B, T, spec.tgtVocab, t), limit)) return `its logits differ first at target step ${t} of 0..${T - 1}, the attention agreeing (the decoder or the output head; the engine has no step-wise calls to tell them apart)`;
  }
  return 'its outputs differ, at no single first step';
}

/** The latest step (from the end) and highest layer whose dLoss/dh_t differs, per side: where backpropagation first goes wrong. */
function dhWhere(ev: Seq2SeqEvidence): string | null {
  const limit = limitFor('grad', ev.dtype);
  const rows = ev.dhRows ?? [];
  for (const side of ['decoder', 'encoder'] as const) {
    for (let l = ev.spec.layers - 1; l >= 0; l--) {
      const steps = rows.filter((r) => r.side === side && r.layer === l).sort((a, b) => b.t - a.t);
      const first = steps.find((r) => !within(r.error, limit));
      if (first) return `backpropagation first goes wrong in the ${side} at step ${first.t} (layer ${l}): dLoss/dh_${first.t} is off by ${sci(first.error)} while every later step agrees`;
    }
  }
  return null;
}

/** The diagnosis of one failing engine (the engine and the reference hold the initial weights). */
export async function whereSeq2SeqGoesWrong(ev: Seq2SeqEvidence): Promise<Diagnosis> {
  const d: Diagnosis = { engine: ev.engine.name, stage: '', lines: [] };
  if (ev.forward.length) {
    d.stage = 'forward';
    d.lines.push(`the forward pass already differs (${ev.forward.join(', ')}): ${await forwardWhere(ev)}; fix the forward before reading gradients`);
  } else if (ev.loss) {
    d.stage = 'loss';
    d.lines.push('the logits and attention agree but the loss differs: look at the cross-entropy and its mean over the real target tokens (tgtMask)');
  } else if (ev.gradients.length) {
    d.stage = 'gradients';
    const parts = [...new Set(ev.gradients.map(seq2seqPart))];
    const first = backwardOrder(ev.spec).find((p) => parts.includes(p)) ?? parts[0];
    d.lines.push(`forward and loss agree; the gradients of ${ev.gradients.join(', ')} differ: the first part the backward pass reaches among them is ${first}, where the error enters (the parts it feeds back into follow it)`);
    const dh = dhWhere(ev);
    if (dh) d.lines.push(dh);
  } else {
    d.stage = 'training';
    d.lines.push(`outputs, loss and gradients agree, but the parameters after training differ${ev.drift ? ` (from lockstep step ${ev.drift.step}, in ${ev.drift.param}, ${seq2seqPart(ev.drift.param)})` : ''}: look at the optimizer's update and clipping`);
  }
  return d;
}
