/**
 * Seq2seq parameters: initialisation (each side as a ModelSpec stack is initialised, Keras style;
 * the attention matrices Glorot-uniform, attention.v as a [A, 1] matrix), seeded test values, and the check of a parameter set.
 */
import { InputError } from '../errors.js';
import { type NamedParams, initParams, randomTestParams } from '../params.js';
import { Rng, deriveSeed } from '../rng.js';
import { numel, shapeStr } from '../tensor.js';
import { BOS, EOS, type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, embeddingName, seq2seqLayout, sideSpec } from './spec.js';

type Maker = (spec: ReturnType<typeof sideSpec>, seed: number, dtype: 'F32' | 'F64') => NamedParams;

function build(s: Seq2SeqSpec, seed: number, dtype: 'F32' | 'F64', make: Maker, attentionScale: (fanIn: number, fanOut: number) => number): NamedParams {
  const out: NamedParams = {};
  for (const side of ['encoder', 'decoder'] as const) {
    const p = make(sideSpec(s, side), deriveSeed(seed, side), dtype);
    for (const [k, t] of Object.entries(p)) {
      if (k === 'embedding') {
        const name = embeddingName(s, side);
        if (!(name in out)) out[name] = t;
      } else if (k.startsWith('layers.')) out[`${side}.${k}`] = t;
      else if (side === 'decoder') out[k] = t; // head.kernel [H, V_tgt], head.bias
    }
  }
  const rng = new Rng(deriveSeed(seed, 'attention'));
  const D = decoderSize(s);
  // a vector is drawn as the [rows, 1] matrix it multiplies as (v_a: Dense(1)'s kernel in Bahdanau's form)
  const matrix = (rows: number, cols: number, shape = [rows, cols]): NamedParams[string] => {
    const limit = attentionScale(rows, cols);
    const data = dtype === 'F32' ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-limit, limit);
    return { dtype, shape, data };
  };
  if (s.attention === 'general') out['attention.kernel'] = matrix(D, D);
  if (s.attention === 'concat') {
    const A = s.attentionUnits!;
    out['attention.kernel'] = matrix(2 * D, A);
    out['attention.v'] = matrix(A, 1, [A]);
  }
  if (s.attention !== 'none') out['attention.combine.kernel'] = matrix(2 * D, D);
  // canonical order
  return Object.fromEntries(seq2seqLayout(s).map((p) => [p.name, out[p.name]]));
}

/** Training initialisation: Keras's defaults per side, Glorot-uniform attention matrices. */
export function initSeq2SeqParams(s: Seq2SeqSpec, seed: number, dtype: 'F32' | 'F64' = 'F32'): NamedParams {
  return build(s, seed, dtype, initParams, (a, b) => Math.sqrt(6 / (a + b)));
}

/** Seeded, asymmetric values for checks (non-zero biases, large enough to exercise every gate). */
export function randomSeq2SeqParams(s: Seq2SeqSpec, seed: number, dtype: 'F32' | 'F64' = 'F32'): NamedParams {
  return build(s, seed, dtype, (spec, sd, dt) => randomTestParams(spec, sd, dt), () => 0.5);
}

/** Exactly the parameters of the spec, each with its shape, float and finite; one line naming what is wrong. */
export function validateSeq2SeqParams(s: Seq2SeqSpec, p: NamedParams, source = 'weights'): void {
  const layout = seq2seqLayout(s);
  const names = new Set(layout.map((x) => x.name));
  const problems: string[] = [];
  const missing = layout.filter((x) => !(x.name in p)).map((x) => x.name);
  const extra = Object.keys(p).filter((k) => !names.has(k));
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
  for (const x of layout) {
    const t = p[x.name];
    if (!t) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F64') problems.push(`${x.name} is ${t.dtype}, expected F32 or F64`);
    else if (t.shape.length !== x.shape.length || t.shape.some((d, i) => d !== x.shape[i]) || t.data.length !== numel(x.shape)) {
      problems.push(`${x.name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(x.shape)}`);
    }
  }
  if (problems.length) throw new InputError(`${source} do not match the seq2seq spec: ${problems.join('; ')}`);
  for (const x of layout) {
    const d = p[x.name].data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) throw new InputError(`${source}: ${x.name} holds a non-finite value (${d[i]}) at index ${i}`);
  }
}

/**
 * A seeded batch for checks: random symbol ids (>= 3) on both sides; with `mask`, rows of
 * different lengths (right-padded with PAD; every row keeps at least one token), the target rows
 * ending in EOS.
 */
export function randomSeq2SeqBatch(s: Seq2SeqSpec, B: number, S: number, T: number, seed: number, o: { mask?: boolean } = {}): Seq2SeqBatch {
  const rng = new Rng(seed);
  const b: Seq2SeqBatch = {
    batchSize: B,
    srcLen: S,
    tgtLen: T,
    src: new Int32Array(B * S),
    srcMask: new Uint8Array(B * S),
    tgtIn: new Int32Array(B * T),
    tgtOut: new Int32Array(B * T),
    tgtMask: new Uint8Array(B * T),
  };
  for (let r = 0; r < B; r++) {
    // row 0 is full length, so the batch needs every step; the others vary
    const sl = o.mask && r > 0 ? 1 + rng.int(S) : S;
    const tl = o.mask && r > 0 ? 1 + rng.int(T) : T;
    for (let j = 0; j < sl; j++) {
      b.src[r * S + j] = 3 + rng.int(s.srcVocab - 3);
      b.srcMask[r * S + j] = 1;
    }
    const target = Array.from({ length: tl - 1 }, () => 3 + rng.int(s.tgtVocab - 3));
    target.push(EOS);
    for (let t = 0; t < tl; t++) {
      b.tgtIn[r * T + t] = t === 0 ? BOS : target[t - 1];
      b.tgtOut[r * T + t] = target[t];
      b.tgtMask[r * T + t] = 1;
    }
  }
  return b;
}
