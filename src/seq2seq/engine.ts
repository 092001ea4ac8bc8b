/**
 * What a seq2seq engine implements (scratch/seq2seq.ts, tfjs/seq2seq.ts), and the checks of a batch
 * at its edge. Layouts are batch-major: logits [B, T, V_tgt], attention [B, T, S].
 */
import { InputError } from '../errors.js';
import type { ModelEngine } from '../engine.js';
import type { NamedParams } from '../params.js';
import type { FloatArray } from '../tensor.js';
import { BOS, type Seq2SeqBatch, type Seq2SeqSpec } from './spec.js';
import type { Seq2SeqSources, Seq2SeqStepper } from './state.js';

export interface Seq2SeqForward {
  /** [B, T, V_tgt] */
  logits: FloatArray;
  /** [B, T, S] the attention weights (null without attention); 0 where the source is padding. */
  attention: FloatArray | null;
}

export interface Seq2SeqGrads {
  loss: number;
  grads: NamedParams;
  /**
   * With stepGrads: dLoss/dh_t of every layer, encoder [B, S, H] and decoder [B, T, D] per layer
   * (the total gradient reaching h_t). A bidirectional encoder's are [B, S, 2H]: at source step s,
   * the forward direction's h then the backward direction's (its output at s).
   */
  dhEncoder?: FloatArray[];
  dhDecoder?: FloatArray[];
}

/** The encoder-decoders' kind: a Seq2SeqSpec, batches with source and target, logits with attention. */
export interface Seq2SeqModels {
  spec: Seq2SeqSpec;
  batch: Seq2SeqBatch;
  forward: Seq2SeqForward;
  want: { stepGrads?: boolean };
  grads: Seq2SeqGrads;
  step: { loss: number };
}

/**
 * An encoder-decoder engine: the one engine interface (ModelEngine, src/engine.ts) for this kind,
 * with a dtype always given; `encode` and `decodeStep` (src/seq2seq/state.ts) are optional: without
 * them decoding reruns forward over the prefix. optimizerState absent: the engine keeps none, and a
 * resumed run restarts its optimizer.
 */
export interface Seq2SeqEngine extends ModelEngine<Seq2SeqModels>, Partial<Seq2SeqStepper> {
  /** float16: float32 arithmetic on half-float storage (tfjs-webgl-f16), compared within the half-float policy. */
  readonly dtype: 'float32' | 'float64' | 'float16';
}

/** Sizes, id ranges, masks (right padding only: a real token never follows a padded one) at the engine's edge. */
export function validateSeq2SeqBatch(s: Seq2SeqSpec, b: Seq2SeqBatch, needTargets: boolean): void {
  const { batchSize: B, srcLen: S, tgtLen: T } = b;
  if (![B, S, T].every((n) => Number.isInteger(n) && n >= 1)) throw new InputError(`seq2seq batch: batchSize, srcLen and tgtLen must be integers >= 1 (got ${B}, ${S}, ${T})`);
  const ids = (a: Int32Array, n: number, V: number, what: string): void => {
    if (!(a instanceof Int32Array) || a.length !== n) throw new InputError(`${what}: expected ${n} token ids (I32)`);
    for (let i = 0; i < n; i++) if (a[i] < 0 || a[i] >= V) throw new InputError(`${what}: token id ${a[i]} at ${i} is outside 0..${V - 1}`);
  };
  const mask = (m: Uint8Array, n: number, len: number, what: string): void => {
    if (!(m instanceof Uint8Array) || m.length !== n) throw new InputError(`${what}: expected ${n} mask values`);
    for (let r = 0; r < n / len; r++) {
      if (m[r * len] !== 1) throw new InputError(`${what}: row ${r} starts with padding (every sequence needs a first token)`);
      for (let t = 1; t < len; t++) if (m[r * len + t] === 1 && m[r * len + t - 1] === 0) throw new InputError(`${what}: row ${r} has a real token after padding (right padding only)`);
    }
  };
  ids(b.src, B * S, s.srcVocab, 'src');
  mask(b.srcMask, B * S, S, 'srcMask');
  ids(b.tgtIn, B * T, s.tgtVocab, 'tgtIn');
  mask(b.tgtMask, B * T, T, 'tgtMask');
  if (needTargets) ids(b.tgtOut, B * T, s.tgtVocab, 'tgtOut');
}

/** The sources of `encode` checked as a batch would be (ids, mask, sizes; InputError). */
export function validateSeq2SeqSources(spec: Seq2SeqSpec, src: Seq2SeqSources): void {
  const B = src.batchSize;
  validateSeq2SeqBatch(spec, { ...src, tgtLen: 1, tgtIn: new Int32Array(B).fill(BOS), tgtOut: new Int32Array(B), tgtMask: new Uint8Array(B).fill(1) }, false);
}
