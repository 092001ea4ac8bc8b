/**
 * What an engine supports (docs/engines.md, "The handshake's supports"): the model variants, batch
 * features, dtypes, optimizers and extra gradients it can do. An absent field means only the
 * plainest choice, so an engine that claims nothing is asked for nothing it cannot do. rnnlab
 * checks a model against this before it creates the engine, and never sends what the engine did
 * not claim (src/engines/claims.ts guards the edge). The interface itself is in engine.ts.
 */
import type { Batch, Engine, Supports } from './engine.js';
import { InputError, quote } from './errors.js';
import { OPTIMIZERS, type OptimizerSpec } from './optimizer.js';
import { ACTIVATIONS, CELLS, RECURRENT_ACTIVATIONS, type VariantField, cellOf } from './cells.js';
import type { ModelSpec } from './spec.js';
import { ATTENTIONS, type Seq2SeqSpec } from './seq2seq/spec.js';

export type { EngineDType, Supports } from './engine.js';

/** Everything: the built-in engines. */
export const FULL_SUPPORT: Required<Supports> = {
  cells: [...CELLS],
  activations: [...ACTIVATIONS],
  recurrentActivations: [...RECURRENT_ACTIVATIONS],
  gruResetAfter: [false, true],
  input: ['dense', 'tokens'],
  returnSequences: [true, false],
  losses: ['softmaxCrossEntropy', 'mse'],
  lossReductions: ['mean', 'sumOverTime'],
  maxLayers: Infinity,
  bidirectional: true,
  embedding: true,
  mask: true,
  carriedState: true,
  dtypes: ['float32', 'float64'],
  optimizers: [...OPTIMIZERS],
  clipping: true,
  inputGrad: true,
  stateGrads: true,
  optimizerState: true,
  biases: true,
  models: ['sequence', 'seq2seq'],
  attentions: [...ATTENTIONS],
  stepDecoding: true,
};

/** What an absent field means. */
const ABSENT: Required<Supports> = {
  cells: [...CELLS],
  activations: ['tanh'],
  recurrentActivations: ['sigmoid'],
  gruResetAfter: [false],
  input: ['dense'],
  returnSequences: [true, false],
  losses: ['softmaxCrossEntropy', 'mse'],
  lossReductions: ['mean'],
  maxLayers: Infinity,
  bidirectional: false,
  embedding: false,
  mask: false,
  carriedState: false,
  dtypes: ['float64'],
  optimizers: [],
  clipping: false,
  inputGrad: false,
  stateGrads: false,
  optimizerState: false,
  biases: true,
  models: ['sequence'],
  attentions: ['none', 'dot', 'general'],
  stepDecoding: false,
};

/** The list fields and every value each may hold, and the yes/no fields: read off FULL_SUPPORT. */
const LISTS: Record<string, readonly unknown[]> = Object.fromEntries(
  (Object.entries(FULL_SUPPORT) as [string, unknown][]).filter((e): e is [string, unknown[]] => Array.isArray(e[1])),
);
const FLAGS = Object.keys(FULL_SUPPORT).filter((k) => typeof FULL_SUPPORT[k as keyof Supports] === 'boolean');

/** Reads a `supports` object (from a handshake or a module) strictly, filling the absent fields. */
export function parseSupports(raw: unknown, where: string): Required<Supports> {
  if (raw === undefined || raw === null) return { ...ABSENT };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${where}: "supports" must be an object`);
  const out = { ...ABSENT } as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (Object.hasOwn(LISTS, k)) {
      if (!Array.isArray(v) || v.some((x) => !LISTS[k].includes(x))) {
        throw new InputError(`${where}: supports.${k} must be a list of ${LISTS[k].map((x) => JSON.stringify(x)).join(', ')} (got ${JSON.stringify(v)})`);
      }
      // an engine with no optimizer runs forward passes and gradients only; one with no cell (no input, no loss, ...) runs nothing
      if (v.length === 0 && k !== 'optimizers') throw new InputError(`${where}: supports.${k} is empty (an engine that supports none of them can run nothing; leave the field out for the default)`);
      out[k] = v;
    } else if (FLAGS.includes(k)) {
      if (typeof v !== 'boolean') throw new InputError(`${where}: supports.${k} must be true or false (got ${JSON.stringify(v)})`);
      out[k] = v;
    } else if (k === 'maxLayers') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InputError(`${where}: supports.maxLayers must be an integer >= 1 (got ${JSON.stringify(v)})`);
      out[k] = v;
    } else {
      throw new InputError(`${where}: unknown field supports.${quote(k, 40)} (known: ${[...Object.keys(LISTS), ...FLAGS, 'maxLayers'].join(', ')})`);
    }
  }
  return out as unknown as Required<Supports>;
}

const list = (v: readonly unknown[]): string => v.map(String).join(', ');

/** The supports list of each variant field of the cell table (unitForgetBias is an initialiser: every engine has it), and how a refusal reads. */
const VARIANT_SUPPORTS: Partial<Record<VariantField, (spec: ModelSpec, s: Required<Supports>) => string | null>> = {
  activation: (spec, s) => (s.activations.includes(spec.activation) ? null : `rnn activation ${spec.activation} (it supports ${list(s.activations)})`),
  recurrentActivation: (spec, s) => (s.recurrentActivations.includes(spec.recurrentActivation) ? null : `${spec.recurrentActivation} gates (it supports ${list(s.recurrentActivations)})`),
  gruResetAfter: (spec, s) => (s.gruResetAfter.includes(spec.gruResetAfter) ? null : `reset-${spec.gruResetAfter ? 'after' : 'before'} GRUs`),
};

/** Why this engine cannot run this cell with its variants (null when it can): both kinds of model ask. */
function cellUnsupported(spec: Pick<ModelSpec, 'cell' | 'activation' | 'recurrentActivation' | 'gruResetAfter'>, s: Required<Supports>): string | null {
  if (!s.cells.includes(spec.cell)) return `${spec.cell} cells (it supports ${list(s.cells)})`;
  for (const field of cellOf(spec).variants) {
    const why = VARIANT_SUPPORTS[field]?.(spec as ModelSpec, s);
    if (why) return why;
  }
  return null;
}

/** Why this engine cannot run this model (null when it can). */
export function modelUnsupported(spec: ModelSpec, s: Required<Supports>): string | null {
  if (!s.models.includes('sequence')) return `sequence models (it runs ${list(s.models)} models)`;
  const cell = cellUnsupported(spec, s);
  if (cell) return cell;
  if (!s.input.includes(spec.input)) return `${spec.input} input`;
  if (!s.returnSequences.includes(spec.returnSequences)) return spec.returnSequences ? 'many-to-many models' : 'many-to-one models';
  if (!s.losses.includes(spec.loss)) return `the ${spec.loss} loss`;
  if (!s.lossReductions.includes(spec.lossReduction)) return `loss reduction ${spec.lossReduction}`;
  if (spec.layers > s.maxLayers) return `${spec.layers} layers (at most ${s.maxLayers})`;
  if (spec.bidirectional && !s.bidirectional) return 'bidirectional layers';
  if (spec.embedding > 0 && !s.embedding) return 'a token embedding';
  return null;
}

/**
 * Why this engine cannot run this encoder-decoder (null when it can): the model kind, the cell and
 * its variants, the attention, a bidirectional encoder, the layers (docs/engines.md, "Encoder-decoder
 * models"). Masks and embeddings are part of every encoder-decoder: claiming "seq2seq" claims them.
 */
export function seq2seqUnsupported(spec: Seq2SeqSpec, s: Required<Supports>): string | null {
  if (!s.models.includes('seq2seq')) return `encoder-decoder models (supports.models: ${list(s.models)})`;
  const cell = cellUnsupported(spec, s);
  if (cell) return cell;
  if (!s.attentions.includes(spec.attention)) return `attention ${spec.attention} (supports.attentions: ${list(s.attentions)})`;
  if (spec.bidirectional && !s.bidirectional) return 'a bidirectional encoder (supports.bidirectional)';
  if (spec.layers > s.maxLayers) return `${spec.layers} layers (at most ${s.maxLayers})`;
  if (!s.biases) return 'biases, which every encoder-decoder has (it claims biases: false)';
  return null;
}

/** Why this engine cannot take this batch (masks, carried state), or null. */
export function batchUnsupported(b: Batch, s: Required<Supports>): string | null {
  if (b.mask && !s.mask) return 'masks';
  if (b.initialState && !s.carriedState) return 'a carried initial state';
  return null;
}

/** Why this engine cannot train with this optimizer (null when it can). */
export function trainingUnsupported(o: OptimizerSpec, s: Required<Supports>): string | null {
  if (!s.optimizers.includes(o.name)) return s.optimizers.length ? `the ${o.name} optimizer (it supports ${list(s.optimizers)})` : 'training (no optimizer)';
  if ((o.clipValue !== undefined || o.clipNorm !== undefined) && !s.clipping) return 'gradient clipping';
  return null;
}

/** What an engine claims: its handshake's `supports`, or everything for the built-in engines (which have none). */
export function claims(e: Engine): Required<Supports> {
  return e.supports ?? FULL_SUPPORT;
}

/** The handshake's claims in a few words, for a line that says what an engine refused: "claims rnn, lstm; float64; sgd, adam; no masks". */
export function describeClaims(s: Required<Supports>): string {
  const parts = [`cells ${list(s.cells)}`, `dtypes ${list(s.dtypes)}`, s.optimizers.length ? `optimizers ${list(s.optimizers)}` : 'no optimizer'];
  const yes = (['mask', 'carriedState', 'stateGrads', 'inputGrad', 'clipping', 'optimizerState'] as const).filter((k) => s[k]);
  if (yes.length) parts.push(yes.join(', '));
  if (!s.biases) parts.push('no biases');
  if (s.models.includes('seq2seq')) parts.push(`models ${list(s.models)}; attentions ${list(s.attentions)}${s.stepDecoding ? '; stepDecoding' : ''}`);
  if (Number.isFinite(s.maxLayers)) parts.push(`at most ${s.maxLayers} layer${s.maxLayers > 1 ? 's' : ''}`);
  return parts.join('; ');
}
