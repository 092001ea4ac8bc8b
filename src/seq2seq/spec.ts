/**
 * Seq2SeqSpec: an encoder-decoder model with optional Luong attention, the one description every
 * engine builds (scratch/seq2seq.ts by hand, tfjs/seq2seq.ts as a functional tf.model).
 *
 * Token ids, on both sides: 0 = PAD (padding, masked), 1 = BOS (the decoder's first input),
 * 2 = EOS (the end of every target), 3.. the symbols (src/seq2seq/data.ts).
 *
 * The model, for a batch of source ids x [B, S] (mask m [B, S]) and decoder inputs y_in [B, T]
 * (BOS, then the target shifted right: teacher forcing):
 *   encoder   e_s = Emb_enc[x_s]; a stack of `layers` recurrent layers (the same cell as every
 *             rnnlab layer, Keras layout), masked steps keep the state; outputs of the top layer
 *             o_1..o_S [B, S, H]; final states (h, and c for lstm) of every layer.
 *   decoder   d_t = Emb_dec[y_in_t]; a stack of the same shape whose initial states are the
 *             encoder's final states, layer by layer; outputs of the top layer h_1..h_T.
 *   attention (attention != "none"), Luong style, per target step t:
 *               keys k_s = o_s                      ("dot")
 *                    k_s = o_s K_a                  ("general"; K_a = attention.kernel [H, H])
 *               score_ts = h_t . k_s, set to -inf where m_s = 0
 *               a_t = softmax_s(score_t)            (the attention weights, [B, T, S])
 *               c_t = sum_s a_ts o_s                (the context)
 *               z_t = tanh([c_t ; h_t] W_c)         (W_c = attention.combine.kernel [2H, H], no bias)
 *             without attention z_t = h_t.
 *   head      logits_t = z_t W_o + b_o             (head.kernel [H, V_tgt], head.bias [V_tgt])
 *   loss      cross-entropy of logits_t against y_out_t (the target, ending with EOS), mean over the
 *             real target steps (target mask 1).
 *
 * Canonical parameters (row-major, Keras layout; G gates as in ModelSpec):
 *   encoder.embedding [V_src, E]   decoder.embedding [V_tgt, E]  (or one "embedding" when shared)
 *   encoder.layers.{l}.kernel [in, G*H], .recurrentKernel [H, G*H], .bias [G*H] (reset-after gru [2, G*H])
 *   decoder.layers.{l}.* the same (in = E for l = 0, else H)
 *   attention.kernel [H, H] ("general" only), attention.combine.kernel [2H, H] (with attention)
 *   head.kernel [H, V_tgt], head.bias [V_tgt]
 */
import { InputError } from '../errors.js';
import { biasRows, variantFieldsOf } from '../cells.js';
import { CELLS, type CellType, type ModelSpec, gateCount, parseSpec } from '../spec.js';

export const ATTENTIONS = ['none', 'dot', 'general'] as const;
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
  activation: ModelSpec['activation'];
  recurrentActivation: ModelSpec['recurrentActivation'];
  gruResetAfter: boolean;
}

export interface Seq2SeqParamInfo {
  name: string;
  shape: number[];
}

const FIELDS = ['kind', 'cell', 'hiddenSize', 'layers', 'srcVocab', 'tgtVocab', 'embedding', 'sharedEmbedding', 'attention', 'activation', 'recurrentActivation', 'gruResetAfter'];

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
  const spec: Seq2SeqSpec = {
    kind: 'seq2seq',
    cell: cellSpec.cell,
    hiddenSize: int('hiddenSize'),
    layers: o.layers === undefined ? 1 : int('layers'),
    srcVocab: int('srcVocab', 4),
    tgtVocab: int('tgtVocab', 4),
    embedding: int('embedding'),
    sharedEmbedding: o.sharedEmbedding === true,
    attention: attention as Attention,
    activation: cellSpec.activation,
    recurrentActivation: cellSpec.recurrentActivation,
    gruResetAfter: cellSpec.gruResetAfter,
  };
  if (spec.sharedEmbedding && spec.srcVocab !== spec.tgtVocab) throw new InputError(`${where}: a shared embedding needs one vocabulary (srcVocab ${spec.srcVocab} != tgtVocab ${spec.tgtVocab})`);
  return spec;
}

export function seq2seqToJSON(s: Seq2SeqSpec): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map((k) => [k, (s as unknown as Record<string, unknown>)[k]]));
}

/** The ModelSpec of one side's recurrent stack (what scratch's and tfjs's layer code build). */
export function sideSpec(s: Seq2SeqSpec, side: 'encoder' | 'decoder'): ModelSpec {
  return parseSpec({
    cell: s.cell,
    inputSize: side === 'encoder' ? s.srcVocab : s.tgtVocab,
    hiddenSize: s.hiddenSize,
    layers: s.layers,
    outputSize: s.tgtVocab,
    input: 'tokens',
    embedding: s.embedding,
    ...variantFieldsOf(s),
  });
}

/** Every parameter, in canonical order. */
export function seq2seqLayout(s: Seq2SeqSpec): Seq2SeqParamInfo[] {
  const G = gateCount(s.cell);
  const H = s.hiddenSize;
  const out: Seq2SeqParamInfo[] = [];
  if (s.sharedEmbedding) out.push({ name: 'embedding', shape: [s.srcVocab, s.embedding] });
  for (const side of ['encoder', 'decoder'] as const) {
    if (!s.sharedEmbedding) out.push({ name: `${side}.embedding`, shape: [side === 'encoder' ? s.srcVocab : s.tgtVocab, s.embedding] });
    for (let l = 0; l < s.layers; l++) {
      const inSize = l === 0 ? s.embedding : H;
      out.push({ name: `${side}.layers.${l}.kernel`, shape: [inSize, G * H] });
      out.push({ name: `${side}.layers.${l}.recurrentKernel`, shape: [H, G * H] });
      out.push({ name: `${side}.layers.${l}.bias`, shape: biasRows(s) === 2 ? [2, G * H] : [G * H] });
    }
  }
  if (s.attention === 'general') out.push({ name: 'attention.kernel', shape: [H, H] });
  if (s.attention !== 'none') out.push({ name: 'attention.combine.kernel', shape: [2 * H, H] });
  out.push({ name: 'head.kernel', shape: [H, s.tgtVocab] });
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
