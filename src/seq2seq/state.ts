/**
 * Step-wise decoding: what an encoder-decoder engine may offer beside `forward` so that greedy and
 * beam search run the decoder one token at a time with its state (src/seq2seq/decode.ts), instead
 * of rerunning it over the whole prefix at every output step.
 *
 *   encode(source)            -> the decoder's state before its first step
 *   decodeStep(state, tokens) -> logits [B, V_tgt], attention [B, S] (null without), the next state
 *
 * The state is plain data, batch-major, one row per hypothesis, in the spec's own terms (so an
 * engine outside this process can implement the two calls without keeping anything between them):
 *   srcMask  [B, S]     the source mask (1 = real token)
 *   memory   [B, S, D]  the encoder's top outputs o_s (what the context reads); null without attention
 *   keys     [B, S, K]  what the scores read of each o_s: o_s K_a (general, K = D), o_s times the last
 *                       D rows of W_a (concat, K = A); null for dot and none, and an engine given null
 *                       where its attention reads keys computes them from `memory`
 *   h, c     per decoder layer [B, D]: the carry after the tokens fed so far (c: lstm only, else null)
 * The caller never looks inside: it selects rows (selectStateRows: beam search keeps one state per
 * hypothesis, greedy drops the rows that ended) and hands a state back to the engine that made it.
 * A state is never changed after it was made; decodeStep returns a new one.
 *
 * memory, keys and srcMask never change between steps (only their rows are selected), so an engine
 * behind the protocol (docs/engines.md, "Step-wise decoding", claimed by `supports.stepDecoding`)
 * keeps them on its side: `encode` {batch: {src, src_mask}} -> {state: {h.{l}, c.{l}}}, the engine
 * keeping the encoder's outputs of that batch until the next encode, and `decode_step` {rows I32
 * [B], state: {h.{l}, c.{l}}, tokens I32 [B]} -> {logits [B, V], attention [B, S], state: {h.{l},
 * c.{l}}}, where `rows` says which row of the encoded batch each row continues. Such a state has
 * memory and keys null and `kept` set (the encode it came from, and each row's row of its batch),
 * which selectStateRows carries along; only that engine's decodeStep takes it, and only while its
 * encode is the engine's last (src/engines/process.ts). A module's encode/decodeStep take and give
 * the whole state. src/engines/seq2seq-edge.ts checks every answer before decoding reads it.
 *
 * decodeStep feeds one token per row (BOS first) and returns what `forward` returns at that position
 * for the prefix fed so far: the decoder is causal, so stepping and rerunning the prefix compute the
 * same function. On scratch's TypeScript and WebAssembly kernels they give the same bits
 * (test/seq2seq-step.test.ts), since each row's sums do not depend on the rows around it; two cases
 * round differently in the last bits (the same outputs in practice; log-probabilities measured to
 * differ by ~1e-9): the BLAS kernels, which take a product or leave it to WebAssembly by its size
 * (a step's products are smaller than a whole prefix's), and a whole-prefix pass of 8 steps or more
 * whose G*D is a multiple of 1024 (lstm D = 256), where the WebAssembly kernels multiply by U
 * transposed (sequence.ts transposedRecurrent).
 */
import { carries } from '../cells.js';
import { EngineError, InputError } from '../errors.js';
import type { Awaitable } from '../engine.js';
import type { FloatArray } from '../tensor.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, keySize } from './spec.js';

/** A batch of sources: ids [B, S] (right-padded with PAD) and their mask. */
export type Seq2SeqSources = Pick<Seq2SeqBatch, 'batchSize' | 'srcLen' | 'src' | 'srcMask'>;

export interface DecoderState {
  batchSize: number;
  srcLen: number;
  srcMask: Uint8Array;
  memory: FloatArray | null;
  keys: FloatArray | null;
  h: FloatArray[];
  c: FloatArray[] | null;
  /** Set when the engine keeps memory and keys itself (a process): which of its encodes made this state (a serial number), and the row of that encode's batch each row continues. Absent otherwise. */
  kept?: { encoding: number; rows: Int32Array };
}

export interface DecoderStepOut {
  /** [B, V_tgt] the logits of the next token. */
  logits: FloatArray;
  /** [B, S] this step's attention weights (0 on padding), or null without attention. */
  attention: FloatArray | null;
  state: DecoderState;
}

/** The two calls of step-wise decoding (optional on a Seq2SeqEngine: without them decoding reruns `forward` over the prefix). */
export interface Seq2SeqStepper {
  encode(sources: Seq2SeqSources): Awaitable<DecoderState>;
  decodeStep(state: DecoderState, tokens: Int32Array): Awaitable<DecoderStepOut>;
}

/** A new state holding rows `rows` of `s` (in that order; a row may repeat). */
export function selectStateRows(s: DecoderState, rows: readonly number[]): DecoderState {
  const B = s.batchSize;
  const n = rows.length;
  const pick = <A extends FloatArray | Uint8Array>(a: A): A => {
    const w = a.length / B;
    const out = new (a.constructor as new (n: number) => A)(n * w);
    rows.forEach((r, k) => out.set(a.subarray(r * w, (r + 1) * w), k * w));
    return out;
  };
  return {
    batchSize: n,
    srcLen: s.srcLen,
    srcMask: pick(s.srcMask),
    memory: s.memory && pick(s.memory),
    keys: s.keys && pick(s.keys),
    h: s.h.map(pick),
    c: s.c && s.c.map(pick),
    ...(s.kept ? { kept: { encoding: s.kept.encoding, rows: Int32Array.from(rows, (r) => s.kept!.rows[r]) } } : {}),
  };
}

/** Whether `rows` is 0, 1, .. B-1 (no selection needed). */
export function isIdentity(rows: readonly number[], B: number): boolean {
  return rows.length === B && rows.every((r, i) => r === i);
}

/**
 * The sizes of a state against the spec, and the tokens' range, at an engine's edge (InputError: a
 * caller's mistake). `keeps`: the engine keeps memory and keys itself, so the state must say which
 * rows of which encode it continues (`kept`) and hold no memory or keys; otherwise it must hold them.
 */
export function validateDecoderState(spec: Seq2SeqSpec, s: DecoderState, tokens: Int32Array, keeps = false): void {
  const { batchSize: B, srcLen: S } = s;
  const D = decoderSize(spec);
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(S) || S < 1) throw new InputError(`decoder state: batchSize and srcLen must be integers >= 1 (got ${B}, ${S})`);
  const size = (what: string, a: ArrayLike<number> | null, n: number | null): void => {
    if (n === null ? a !== null : a === null || a.length !== n) throw new InputError(`decoder state: ${what} ${n === null ? 'must be null' : `must hold ${n} values`} (got ${a === null ? 'null' : a.length})`);
  };
  size('srcMask', s.srcMask, B * S);
  if (keeps !== !!s.kept) throw new InputError(`decoder state: ${keeps ? 'not made by this engine (it keeps the encoder outputs itself; the state says which of its rows it continues)' : 'its encoder outputs are kept by another engine'}`);
  if (s.kept) {
    size('memory', s.memory, null);
    size('keys', s.keys, null);
    size('kept.rows', s.kept.rows, B);
  } else {
    size('memory', s.memory, spec.attention === 'none' ? null : B * S * D);
    if (s.keys !== null) size('keys', s.keys, spec.attention === 'general' || spec.attention === 'concat' ? B * S * keySize(spec) : null);
  }
  if (!Array.isArray(s.h) || s.h.length !== spec.layers) throw new InputError(`decoder state: h must hold ${spec.layers} layers`);
  s.h.forEach((h, l) => size(`h.${l}`, h, B * D));
  if (carries(spec).includes('c')) {
    if (!Array.isArray(s.c) || s.c.length !== spec.layers) throw new InputError(`decoder state: c must hold ${spec.layers} layers (lstm)`);
    s.c.forEach((c, l) => size(`c.${l}`, c, B * D));
  } else if (s.c !== null) throw new InputError('decoder state: c must be null (only an lstm carries c)');
  if (!(tokens instanceof Int32Array) || tokens.length !== B) throw new InputError(`decoder step: expected ${B} token ids (I32), one per row`);
  for (let i = 0; i < B; i++) if (tokens[i] < 0 || tokens[i] >= spec.tgtVocab) throw new InputError(`decoder step: token id ${tokens[i]} at ${i} is outside 0..${spec.tgtVocab - 1}`);
}

/** What an engine answered to decodeStep, checked before decoding reads it (EngineError naming the engine). */
export function checkStepOut(engine: string, spec: Seq2SeqSpec, B: number, S: number, out: DecoderStepOut): void {
  const V = spec.tgtVocab;
  if (!out || out.logits?.length !== B * V) throw new EngineError(engine, `decodeStep returned ${out?.logits?.length} logits for ${B} rows of ${V}`);
  if (spec.attention !== 'none' && out.attention?.length !== B * S) throw new EngineError(engine, `decodeStep returned ${out.attention?.length} attention weights for ${B} rows of ${S}`);
  if (out.state?.batchSize !== B || out.state.srcLen !== S) throw new EngineError(engine, `decodeStep returned a state of ${out.state?.batchSize} rows of ${out.state?.srcLen}, expected ${B} of ${S}`);
}
