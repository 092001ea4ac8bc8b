/**
 * Seq2SeqSpec: an encoder-decoder model with optional Luong attention, the one description every
 * engine builds (scratch/seq2seq.ts by hand, tfjs/seq2seq.ts as a functional tf.model).
 *
 * Token ids, on both sides: 0 = PAD (padding, masked), 1 = BOS (the decoder's first input),
 * 2 = EOS (the end of every target), 3.. the symbols (src/seq2seq/data.ts).
 *
 * Widths: H = hiddenSize, the units of one encoder direction; D = the width of the encoder's
 * outputs and of the decoder: H, or 2H with a bidirectional encoder; A = attentionUnits (concat
 * only; default H).
 *
 * The model, for a batch of source ids x [B, S] (mask m [B, S]) and decoder inputs y_in [B, T]
 * (BOS, then the target shifted right: teacher forcing):
 *   encoder   e_s = Emb_enc[x_s]; a stack of `layers` recurrent layers of H units (the same cell as
 *             every rnnlab layer, Keras layout), masked steps keep the state; outputs of the top
 *             layer o_1..o_S [B, S, D]; final states (h, and c for lstm) of every layer.
 *             bidirectional (as Keras's seq2seq examples build it: Bidirectional(..., merge_mode
 *             "concat") with return_state): every layer l has a forward direction (encoder.layers.{l}.*)
 *             and a backward one (encoder.layers.{l}.backward.*), which reads the time-reversed
 *             sequence and mask (its right padding comes first and keeps the zero state, so it
 *             starts at the row's last real token). Layer l's output at step s is
 *             [fwd_s ; bwd_s] (2H, forward first, the backward output at the same source position);
 *             layer l+1 reads that concatenated 2H sequence (both its directions do); o_s is the
 *             top layer's. Layer l's final state is [fwd final ; bwd final] per carry (h, and c):
 *             the forward one at the row's last real token, the backward one after source step 0.
 *   decoder   d_t = Emb_dec[y_in_t]; a stack of `layers` layers of D units whose initial states are
 *             the encoder's final states, layer by layer; outputs of the top layer h_1..h_T [B, T, D].
 *   attention (attention != "none"), Luong style, per target step t:
 *               score_ts = h_t . o_s                       ("dot")
 *               score_ts = h_t . (o_s K_a)                 ("general"; K_a = attention.kernel [D, D])
 *               score_ts = v_a . tanh([h_t ; o_s] W_a)     ("concat", Luong's third score, the
 *                          additive form of Bahdanau; W_a = attention.kernel [2D, A], its first D
 *                          rows multiply h_t and the last D rows o_s; v_a = attention.v [A]; no bias)
 *               score_ts set to -inf where m_s = 0
 *               a_t = softmax_s(score_t)            (the attention weights, [B, T, S])
 *               c_t = sum_s a_ts o_s                (the context, [D])
 *               z_t = tanh([c_t ; h_t] W_c)         (W_c = attention.combine.kernel [2D, D], no bias)
 *             without attention z_t = h_t.
 *   head      logits_t = z_t W_o + b_o             (head.kernel [D, V_tgt], head.bias [V_tgt])
 *   loss      cross-entropy of logits_t against y_out_t (the target, ending with EOS), mean over the
 *             real target steps (target mask 1).
 *
 * Canonical parameters (row-major, Keras layout; G gates as in ModelSpec):
 *   encoder.embedding [V_src, E]   decoder.embedding [V_tgt, E]  (or one "embedding" when shared)
 *   encoder.layers.{l}.kernel [in, G*H], .recurrentKernel [H, G*H], .bias [G*H] (reset-after gru [2, G*H])
 *     (in = E for l = 0, else D); bidirectional: encoder.layers.{l}.backward.* the same shapes,
 *     listed after the forward direction's
 *   decoder.layers.{l}.kernel [in, G*D], .recurrentKernel [D, G*D], .bias (in = E for l = 0, else D)
 *   attention.kernel [D, D] ("general") or [2D, A] ("concat"), attention.v [A] ("concat"),
 *   attention.combine.kernel [2D, D] (with attention)
 *   head.kernel [D, V_tgt], head.bias [V_tgt]
 * The spec's JSON leaves out `bidirectional` when false and has `attentionUnits` only with concat,
 * so the files of one-direction dot/general models are what they were.
 */
import { InputError } from '../errors.js';
import { biasRows, variantFieldsOf } from '../cells.js';
import { CELLS, type CellType, type ModelSpec, gateCount, parseSpec } from '../spec.js';

export const ATTENTIONS = ['none', 'dot', 'general', 'concat'] as const;
export type Attention = (typeof ATTENTIONS)[number];

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;

export interface Seq2SeqSpec {
  kind: 'seq2seq';
  cell: CellType;
  hiddenSize: number;
  layers: number;
  /** Source and target vocabulary sizes (PAD, BOS, EOS included). */
  srcVocab: number;
  tgtVocab: number;
  /** Embedding width E (both sides). */
  embedding: number;
  /** One embedding table for both sides (needs srcVocab === tgtVocab). */
  sharedEmbedding: boolean;
  attention: Attention;
  /** The encoder reads the source both ways; the decoder is then 2H wide (see the top). */
  bidirectional: boolean;
  /** A, the width of the concat score's hidden layer: present with attention "concat" only (default hiddenSize). */
  attentionUnits?: number;
  activation: ModelSpec['activation'];
  recurrentActivation: ModelSpec['recurrentActivation'];
  gruResetAfter: boolean;
}

export interface Seq2SeqParamInfo {
  name: string;
  shape: number[];
}

const FIELDS = ['kind', 'cell', 'hiddenSize', 'layers', 'srcVocab', 'tgtVocab', 'embedding', 'sharedEmbedding', 'attention', 'attentionUnits', 'bidirectional', 'activation', 'recurrentActivation', 'gruResetAfter'];

export function parseSeq2SeqSpec(raw: unknown, where = 'seq2seq spec'): Seq2SeqSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${where}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) throw new InputError(`${where}: unknown field "${k}" (known: ${FIELDS.join(', ')})`);
  const int = (k: string, min = 1): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InputError(`${where}: "${k}" must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    return v;
  };
  const cell = o.cell ?? 'lstm';
  if (!CELLS.includes(cell as CellType)) throw new InputError(`${where}: "cell" must be one of ${CELLS.join(', ')}`);
  const attention = o.attention ?? 'general';
  if (!ATTENTIONS.includes(attention as Attention)) throw new InputError(`${where}: "attention" must be one of ${ATTENTIONS.join(', ')} (got ${JSON.stringify(attention)})`);
  // the cell options are checked by ModelSpec's own rules
  const cellSpec = parseSpec(
    {
      cell,
      inputSize: 1,
      hiddenSize: 1,
      outputSize: 2,
      ...(o.activation !== undefined ? { activation: o.activation } : {}),
      ...(o.recurrentActivation !== undefined ? { recurrentActivation: o.recurrentActivation } : {}),
      ...(o.gruResetAfter !== undefined ? { gruResetAfter: o.gruResetAfter } : {}),
    },
    where,
  );
  if (o.bidirectional !== undefined && typeof o.bidirectional !== 'boolean') throw new InputError(`${where}: "bidirectional" must be true or false (got ${JSON.stringify(o.bidirectional)})`);
  if (o.attentionUnits !== undefined && attention !== 'concat') throw new InputError(`${where}: "attentionUnits" is the width of the concat score; it goes with "attention": "concat" only`);
  const hiddenSize = int('hiddenSize');
  const spec: Seq2SeqSpec = {
    kind: 'seq2seq',
    cell: cellSpec.cell,
    hiddenSize,
    layers: o.layers === undefined ? 1 : int('layers'),
    srcVocab: int('srcVocab', 4),
    tgtVocab: int('tgtVocab', 4),
    embedding: int('embedding'),
    sharedEmbedding: o.sharedEmbedding === true,
    attention: attention as Attention,
    bidirectional: o.bidirectional === true,
    ...(attention === 'concat' ? { attentionUnits: o.attentionUnits === undefined ? hiddenSize : int('attentionUnits') } : {}),
    activation: cellSpec.activation,
    recurrentActivation: cellSpec.recurrentActivation,
    gruResetAfter: cellSpec.gruResetAfter,
  };
  if (spec.sharedEmbedding && spec.srcVocab !== spec.tgtVocab) throw new InputError(`${where}: a shared embedding needs one vocabulary (srcVocab ${spec.srcVocab} != tgtVocab ${spec.tgtVocab})`);
  return spec;
}

/** The spec as JSON, in FIELDS order; `bidirectional` only when true, `attentionUnits` only with concat (see the top). */
export function seq2seqToJSON(s: Seq2SeqSpec): Record<string, unknown> {
  const o = s as unknown as Record<string, unknown>;
  return Object.fromEntries(FIELDS.filter((k) => o[k] !== undefined && !(k === 'bidirectional' && o[k] === false)).map((k) => [k, o[k]]));
}

/** D: the width of the encoder's outputs and of the decoder (H, or 2H with a bidirectional encoder). */
export function decoderSize(s: Seq2SeqSpec): number {
  return s.bidirectional ? 2 * s.hiddenSize : s.hiddenSize;
}

/** The width of the attention's keys: D for dot and general (o_s, o_s K_a), A for concat (o_s times W_a's last D rows), 0 without attention. */
export function keySize(s: Seq2SeqSpec): number {
  return s.attention === 'none' ? 0 : s.attention === 'concat' ? s.attentionUnits! : decoderSize(s);
}

/**
 * The ModelSpec of one side's recurrent stack (what scratch's and tfjs's layer code build): the
 * encoder H units per direction (a concatenating bidirectional stack when the spec says so), the
 * decoder D units.
 */
export function sideSpec(s: Seq2SeqSpec, side: 'encoder' | 'decoder'): ModelSpec {
  return parseSpec({
    cell: s.cell,
    inputSize: side === 'encoder' ? s.srcVocab : s.tgtVocab,
    hiddenSize: side === 'encoder' ? s.hiddenSize : decoderSize(s),
    layers: s.layers,
    ...(side === 'encoder' && s.bidirectional ? { bidirectional: true, merge: 'concat' } : {}),
    outputSize: s.tgtVocab,
    input: 'tokens',
    embedding: s.embedding,
    ...variantFieldsOf(s),
  });
}

/** Every parameter, in canonical order. */
export function seq2seqLayout(s: Seq2SeqSpec): Seq2SeqParamInfo[] {
  const G = gateCount(s.cell);
  const D = decoderSize(s);
  const out: Seq2SeqParamInfo[] = [];
  if (s.sharedEmbedding) out.push({ name: 'embedding', shape: [s.srcVocab, s.embedding] });
  for (const side of ['encoder', 'decoder'] as const) {
    if (!s.sharedEmbedding) out.push({ name: `${side}.embedding`, shape: [side === 'encoder' ? s.srcVocab : s.tgtVocab, s.embedding] });
    const H = side === 'encoder' ? s.hiddenSize : D;
    for (let l = 0; l < s.layers; l++) {
      const inSize = l === 0 ? s.embedding : D;
      for (const dir of side === 'encoder' && s.bidirectional ? ['', 'backward.'] : ['']) {
        out.push({ name: `${side}.layers.${l}.${dir}kernel`, shape: [inSize, G * H] });
        out.push({ name: `${side}.layers.${l}.${dir}recurrentKernel`, shape: [H, G * H] });
        out.push({ name: `${side}.layers.${l}.${dir}bias`, shape: biasRows(s) === 2 ? [2, G * H] : [G * H] });
      }
    }
  }
  if (s.attention === 'general') out.push({ name: 'attention.kernel', shape: [D, D] });
  if (s.attention === 'concat') out.push({ name: 'attention.kernel', shape: [2 * D, s.attentionUnits!] }, { name: 'attention.v', shape: [s.attentionUnits!] });
  if (s.attention !== 'none') out.push({ name: 'attention.combine.kernel', shape: [2 * D, D] });
  out.push({ name: 'head.kernel', shape: [D, s.tgtVocab] });
  out.push({ name: 'head.bias', shape: [s.tgtVocab] });
  return out;
}

/** Which embedding table a side reads. */
export function embeddingName(s: Seq2SeqSpec, side: 'encoder' | 'decoder'): string {
  return s.sharedEmbedding ? 'embedding' : `${side}.embedding`;
}

/**
 * A batch: source ids [B, S] with srcMask [B, S] (1 = real token; right padding with PAD), decoder
 * inputs tgtIn [B, T] (BOS + target shifted right), targets tgtOut [B, T] (ending with EOS) and
 * tgtMask [B, T]. Row-major, batch first.
 */
export interface Seq2SeqBatch {
  batchSize: number;
  srcLen: number;
  tgtLen: number;
  src: Int32Array;
  srcMask: Uint8Array;
  tgtIn: Int32Array;
  tgtOut: Int32Array;
  tgtMask: Uint8Array;
}

/** The number of parameters. */
export function seq2seqParamCount(s: Seq2SeqSpec): number {
  return seq2seqLayout(s).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
