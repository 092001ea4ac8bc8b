/**
 * ModelSpec: the one description of a model. Its JSON field names are a contract (spec.json files
 * written by users, checkpoints, tests). `parseSpec` fills defaults and rejects anything unknown,
 * mistyped or not applicable to the cell, with a one-line message.
 */
import { ACTIVATIONS, type Activation, CELLS, CELL_TABLE, type CellType, RECURRENT_ACTIVATIONS, type RecurrentActivation, VARIANTS, type VariantField, cellsWith } from './cells.js';
import { InputError, quote } from './errors.js';

export { CELLS, type CellType, GATE_NAMES, appliesToCell, gateCount } from './cells.js';

export interface ModelSpec {
  cell: CellType;
  /** Features per step (dense) or vocabulary size (tokens). */
  inputSize: number;
  hiddenSize: number;
  layers: number;
  outputSize: number;
  input: 'dense' | 'tokens';
  returnSequences: boolean;
  loss: 'softmaxCrossEntropy' | 'mse';
  lossReduction: 'mean' | 'sumOverTime';
  /** rnn only (the cell table, src/cells.ts, says which cell reads which field). */
  activation: Activation;
  /** lstm and gru gates. */
  recurrentActivation: RecurrentActivation;
  /** gru only: false = reset before the recurrent product (tfjs), true = after (PyTorch, Keras 2). */
  gruResetAfter: boolean;
  /** lstm only: forget-gate bias initialised to 1. */
  unitForgetBias: boolean;
  /** Every layer reads the sequence both ways (Keras Bidirectional, PyTorch bidirectional=True). */
  bidirectional: boolean;
  /** How a bidirectional layer combines its two directions at every step (forward first). */
  merge: 'concat' | 'sum' | 'mul' | 'ave';
  /** Token input through a learned embedding of this width (the parameter "embedding" [V, E]); 0 = none. */
  embedding: number;
}

/** Features each layer hands on (to the next layer and the head): 2H for a concatenating bidirectional layer, else H. */
export function layerOutSize(spec: ModelSpec): number {
  return spec.bidirectional && spec.merge === 'concat' ? 2 * spec.hiddenSize : spec.hiddenSize;
}

/** Features layer l reads: the embedding width or inputSize for layer 0, the previous layer's output after it. */
export function layerInSize(spec: ModelSpec, l: number): number {
  return l > 0 ? layerOutSize(spec) : spec.embedding > 0 ? spec.embedding : spec.inputSize;
}

export const SPEC_DEFAULTS = {
  layers: 1,
  input: 'dense',
  returnSequences: true,
  loss: 'softmaxCrossEntropy',
  lossReduction: 'mean',
  activation: 'tanh',
  recurrentActivation: 'sigmoid',
  gruResetAfter: false,
  unitForgetBias: false,
  bidirectional: false,
  merge: 'concat',
  embedding: 0,
} as const satisfies Partial<ModelSpec>;

/** Fields left out of spec.json while at their default, so the files of models without them stay as they were. */
const OMITTED_AT_DEFAULT: readonly (keyof ModelSpec)[] = ['bidirectional', 'merge', 'embedding'];

const ENUMS: Partial<Record<keyof ModelSpec, readonly string[]>> = {
  cell: CELLS,
  input: ['dense', 'tokens'],
  loss: ['softmaxCrossEntropy', 'mse'],
  lossReduction: ['mean', 'sumOverTime'],
  activation: ACTIVATIONS,
  recurrentActivation: RECURRENT_ACTIVATIONS,
  merge: ['concat', 'sum', 'mul', 'ave'],
};
const INTS: (keyof ModelSpec)[] = ['inputSize', 'hiddenSize', 'layers', 'outputSize'];
const BOOLS: (keyof ModelSpec)[] = ['returnSequences', 'gruResetAfter', 'unitForgetBias', 'bidirectional'];
const REQUIRED: (keyof ModelSpec)[] = ['cell', 'inputSize', 'hiddenSize', 'outputSize'];
/** Fields that mean something only for some cells (the cell table's variants); elsewhere only the default is accepted. */
const CELL_ONLY = (Object.keys(VARIANTS) as VariantField[]).map((field) => [field, cellsWith(field)] as const);

export const SPEC_FIELDS: readonly (keyof ModelSpec)[] = [
  'cell', 'inputSize', 'hiddenSize', 'layers', 'outputSize', 'input', 'returnSequences', 'loss',
  'lossReduction', 'activation', 'recurrentActivation', 'gruResetAfter', 'unitForgetBias',
  'bidirectional', 'merge', 'embedding',
];

/** Validates a parsed JSON value (or a partial object from flags) and fills the defaults. */
export function parseSpec(raw: unknown, where = 'spec'): ModelSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError(`${where}: expected a JSON object with ModelSpec fields`);
  }
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(key)) {
      throw new InputError(`${where}: unknown field ${quote(key, 40)} (known fields: ${SPEC_FIELDS.join(', ')})`);
    }
  }
  for (const key of REQUIRED) {
    if (obj[key] === undefined) throw new InputError(`${where}: missing required field "${key}"`);
  }
  const spec = { ...SPEC_DEFAULTS } as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    const k = key as keyof ModelSpec;
    const allowed = ENUMS[k];
    if (allowed) {
      if (typeof value !== 'string' || !allowed.includes(value)) {
        throw new InputError(`${where}: "${key}" must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
      }
    } else if (INTS.includes(k)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new InputError(`${where}: "${key}" must be an integer >= 1 (got ${JSON.stringify(value)})`);
      }
    } else if (k === 'embedding') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new InputError(`${where}: "embedding" must be an integer >= 0, the embedding width (0: none; got ${JSON.stringify(value)})`);
      }
    } else if (BOOLS.includes(k)) {
      if (typeof value !== 'boolean') {
        throw new InputError(`${where}: "${key}" must be true or false (got ${JSON.stringify(value)})`);
      }
    }
    spec[key] = value;
  }
  const s = spec as unknown as ModelSpec;
  for (const [key, cells] of CELL_ONLY) {
    const def = (SPEC_DEFAULTS as Record<string, unknown>)[key];
    if (!cells.includes(s.cell) && s[key] !== def) {
      throw new InputError(
        `${where}: "${key}" applies to ${cells.join('/')} only; a ${s.cell} accepts only its default (${JSON.stringify(def)})`,
      );
    }
  }
  if (!s.bidirectional && s.merge !== SPEC_DEFAULTS.merge) throw new InputError(`${where}: "merge" applies to bidirectional models only`);
  if (s.embedding > 0 && s.input !== 'tokens') throw new InputError(`${where}: "embedding" looks up token ids; it needs "input": "tokens"`);
  if (s.loss === 'softmaxCrossEntropy' && s.outputSize < 2) {
    throw new InputError(`${where}: softmaxCrossEntropy needs outputSize >= 2 classes (got ${s.outputSize})`);
  }
  return s;
}

/** The flags every command shares for a model's variant, as spec fields (a switch left off keeps the default). */
export interface VariantFlags {
  activation?: string;
  recurrentActivation?: string;
  gruResetAfter?: boolean;
  unitForgetBias?: boolean;
  bidirectional?: boolean;
  merge?: string;
  embedding?: number;
}

export function variantFields(f: VariantFlags): Record<string, unknown> {
  return {
    activation: f.activation,
    recurrentActivation: f.recurrentActivation,
    gruResetAfter: f.gruResetAfter ? true : undefined,
    unitForgetBias: f.unitForgetBias ? true : undefined,
    bidirectional: f.bidirectional ? true : undefined,
    merge: f.merge,
    embedding: f.embedding,
  };
}

/** The spec as a plain object in contract field order (for spec.json files). */
export function specToJSON(spec: ModelSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of SPEC_FIELDS) {
    if (OMITTED_AT_DEFAULT.includes(k) && spec[k] === (SPEC_DEFAULTS as Record<string, unknown>)[k]) continue;
    out[k] = spec[k];
  }
  return out;
}

export function describeSpec(spec: ModelSpec): string {
  const variant = CELL_TABLE[spec.cell].describe(spec);
  return (
    `${spec.bidirectional ? `bidirectional (${spec.merge}) ` : ''}${spec.cell} (${variant}) ${spec.input === 'tokens' ? `tokens<${spec.inputSize}` : `in ${spec.inputSize}`}` +
    `${spec.embedding ? ` -> embedding ${spec.embedding}` : ''} -> ${spec.layers}x${spec.hiddenSize} -> ${spec.outputSize}, ` +
    `${spec.returnSequences ? 'many-to-many' : 'many-to-one'}, ${spec.loss === 'mse' ? 'mse' : 'cross-entropy'} (${spec.lossReduction})`
  );
}
