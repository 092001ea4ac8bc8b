/**
 * The cell table: what rnnlab knows of each recurrent cell, in one place. For every cell: its gates
 * (names, in the order of the fused matrices), the state it carries from step to step, the ModelSpec
 * fields it reads (its variants, with their defaults), and how it maps to Keras and tfjs layers and
 * to PyTorch modules. The CLI's choices, the option types, zero states, the state of checkpoints
 * and of the engine protocol, the supports checks, conversions, the per-gate report and the
 * catalogue of mistakes all read it; no other module branches on a cell's name (the cells' own
 * implementations aside: scratch/cells/, and the tfjs layer classes). test/architecture.test.ts
 * keeps it so.
 *
 * Adding a cell: its row here, its forward and backward in scratch/cells/ (and its line in
 * scratch/cells/index.ts), its tfjs layer (tfjs/model.ts reads `tfjs` below) and its PyTorch
 * module in python/rnnlab_torch.py (docs/architecture.md, "Adding a cell").
 */

export const CELLS = ['rnn', 'lstm', 'gru'] as const;
export type CellType = (typeof CELLS)[number];

export const ACTIVATIONS = ['tanh', 'relu'] as const;
export const RECURRENT_ACTIVATIONS = ['sigmoid', 'hardSigmoid'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export type RecurrentActivation = (typeof RECURRENT_ACTIVATIONS)[number];

/** A state a cell carries from step to step, [B, H] per layer: h, and an lstm's cell state c. */
export type StateName = 'h' | 'c';
/** Every state any cell carries, in the order of State's fields (checkpoints name them h.{l}, c.{l}). */
export const STATE_NAMES: readonly StateName[] = ['h', 'c'];

/** The fields of a model that say which cell it runs and how (ModelSpec and Seq2SeqSpec both have them). */
export interface CellSpec {
  cell: CellType;
  activation: Activation;
  recurrentActivation: RecurrentActivation;
  gruResetAfter: boolean;
  /** Absent in an encoder-decoder's spec (its lstm has no such option). */
  unitForgetBias?: boolean;
}

/** The ModelSpec fields that make a cell's variants. */
export type VariantField = 'activation' | 'recurrentActivation' | 'gruResetAfter' | 'unitForgetBias';

/** One variant field: its default (the value every cell that does not read it keeps) and what it means elsewhere. */
export interface VariantInfo {
  default: string | boolean;
  /** The values of an enum field; absent for a switch. */
  choices?: readonly string[];
  /** The key of the Keras layer config that holds it, and its values there. */
  keras: { key: string; values?: Record<string, string> };
  /** Values at which the activation has a kink (a difference quotient across it means nothing). */
  kinks?: readonly string[];
}

export const VARIANTS: Record<VariantField, VariantInfo> = {
  activation: { default: 'tanh', choices: ACTIVATIONS, keras: { key: 'activation' }, kinks: ['relu'] },
  recurrentActivation: { default: 'sigmoid', choices: RECURRENT_ACTIVATIONS, keras: { key: 'recurrent_activation', values: { sigmoid: 'sigmoid', hardSigmoid: 'hard_sigmoid' } }, kinks: ['hardSigmoid'] },
  gruResetAfter: { default: false, keras: { key: 'reset_after' } },
  unitForgetBias: { default: false, keras: { key: 'unit_forget_bias' } },
};

export interface CellInfo {
  readonly name: CellType;
  /** Gate order inside the fused matrices (Keras/tfjs layout): kernel [in, G*H], G = gates.length. */
  readonly gates: readonly string[];
  /** What it carries from step to step: ['h'] or ['h', 'c']. */
  readonly carries: readonly StateName[];
  /** The variant fields it reads; the others keep their defaults. */
  readonly variants: readonly VariantField[];
  /** Rows of its bias [G*H] or [rows, G*H]: 2 when the recurrent product has a bias of its own (reset-after GRU). */
  biasRows(s: CellSpec): 1 | 2;
  /** Bias blocks set to a constant at initialisation (an lstm's unit forget bias): [gate, value]. */
  initialBias(s: CellSpec): [string, number][];
  /** Its variant in a few words: "tanh", "sigmoid, reset-after". */
  describe(s: CellSpec): string;
  /** The Keras layer class (model.json, .h5, .keras). */
  readonly keras: string;
  /** The tf.layers factory, and the options it is given; `rnnlabLayer`: rnnlab's own layer class instead (tfjs/gru-reset-after.ts). */
  readonly tfjs: { layer: 'simpleRNN' | 'lstm' | 'gru'; options(s: CellSpec): Record<string, unknown>; rnnlabLayer?(s: CellSpec): boolean };
  /**
   * The PyTorch module (nn.RNN, nn.LSTM, nn.GRU): its gate blocks by canonical gate name, and
   * why a variant has no PyTorch layout (null when it has one).
   */
  readonly pytorch: { module: string; gates: readonly string[]; unsupported(s: CellSpec): string | null };
}

const sigmoidGates = (s: CellSpec, module: string): string | null =>
  s.recurrentActivation !== 'sigmoid' ? `PyTorch's nn.${module} has sigmoid gates; this spec uses ${s.recurrentActivation}` : null;

export const CELL_TABLE: Record<CellType, CellInfo> = {
  rnn: {
    name: 'rnn',
    gates: ['h'],
    carries: ['h'],
    variants: ['activation'],
    biasRows: () => 1,
    initialBias: () => [],
    describe: (s) => s.activation,
    keras: 'SimpleRNN',
    tfjs: { layer: 'simpleRNN', options: (s) => ({ activation: s.activation }) },
    pytorch: { module: 'RNN', gates: ['h'], unsupported: () => null },
  },
  lstm: {
    name: 'lstm',
    gates: ['i', 'f', 'c', 'o'],
    carries: ['h', 'c'],
    variants: ['recurrentActivation', 'unitForgetBias'],
    biasRows: () => 1,
    initialBias: (s) => (s.unitForgetBias ? [['f', 1]] : []),
    describe: (s) => `${s.recurrentActivation}${s.unitForgetBias ? ', unit forget bias' : ''}`,
    keras: 'LSTM',
    tfjs: { layer: 'lstm', options: (s) => ({ activation: 'tanh', recurrentActivation: s.recurrentActivation, unitForgetBias: false }) },
    pytorch: { module: 'LSTM', gates: ['i', 'f', 'c', 'o'], unsupported: (s) => sigmoidGates(s, 'LSTM') },
  },
  gru: {
    name: 'gru',
    gates: ['z', 'r', 'h'],
    carries: ['h'],
    variants: ['recurrentActivation', 'gruResetAfter'],
    biasRows: (s) => (s.gruResetAfter ? 2 : 1),
    initialBias: () => [],
    describe: (s) => `${s.recurrentActivation}, reset-${s.gruResetAfter ? 'after' : 'before'}`,
    keras: 'GRU',
    tfjs: { layer: 'gru', options: (s) => ({ activation: 'tanh', recurrentActivation: s.recurrentActivation }), rnnlabLayer: (s) => s.gruResetAfter },
    pytorch: {
      module: 'GRU',
      // PyTorch's r, z, n blocks hold the canonical r, z, h
      gates: ['r', 'z', 'h'],
      unsupported: (s) => (!s.gruResetAfter ? "PyTorch's nn.GRU is a reset-after GRU; this spec is reset-before (tfjs's GRU). Use gruResetAfter: true" : sigmoidGates(s, 'GRU')),
    },
  },
};

/** The table's row of a cell (or of a spec's cell). */
export function cellOf(c: CellType | Pick<CellSpec, 'cell'>): CellInfo {
  return CELL_TABLE[typeof c === 'string' ? c : c.cell];
}

/** Gate order inside the fused matrices, per cell. */
export const GATE_NAMES: Record<CellType, readonly string[]> = Object.fromEntries(CELLS.map((c) => [c, CELL_TABLE[c].gates])) as Record<CellType, readonly string[]>;

/** Gates per cell: G in the fused [in, G*H] matrices. */
export function gateCount(cell: CellType): number {
  return CELL_TABLE[cell].gates.length;
}

/** What a cell carries from step to step: ['h'] or ['h', 'c']. */
export function carries(c: CellType | Pick<CellSpec, 'cell'>): readonly StateName[] {
  return cellOf(c).carries;
}

/** Whether a variant field means something for this cell (activation: rnn; recurrentActivation: lstm, gru; ...). */
export function appliesToCell(field: string, cell: CellType): boolean {
  return !(field in VARIANTS) || CELL_TABLE[cell].variants.includes(field as VariantField);
}

/** The cells that read a variant field. */
export function cellsWith(field: VariantField): CellType[] {
  return CELLS.filter((c) => CELL_TABLE[c].variants.includes(field));
}

/** A variant field's value where the spec's cell reads it, else undefined (an rnn has no gate activation). */
export function variantOf<F extends VariantField>(s: CellSpec, field: F): CellSpec[F] | undefined {
  return CELL_TABLE[s.cell].variants.includes(field) ? s[field] : undefined;
}

/** The variant fields this cell reads, with their values (a spec as written: fields at their defaults elsewhere left out). */
export function variantFieldsOf(s: CellSpec): Partial<Record<VariantField, unknown>> {
  return Object.fromEntries(CELL_TABLE[s.cell].variants.filter((f) => s[f] !== undefined).map((f) => [f, s[f]]));
}

/** Rows of a layer's bias: [G*H] is one row, [2, G*H] two. */
export function biasRows(s: CellSpec): 1 | 2 {
  return CELL_TABLE[s.cell].biasRows(s);
}

/** Whether some activation of this cell has a kink (relu at 0, hardSigmoid at +-2.5). */
export function hasKinks(s: CellSpec): boolean {
  return CELL_TABLE[s.cell].variants.some((f) => VARIANTS[f].kinks?.includes(String(s[f])) ?? false);
}

/** "lstm (sigmoid)", "gru (sigmoid, reset-after)": a cell and its variant, for headers. */
export function describeCell(s: CellSpec): string {
  return `${s.cell} (${CELL_TABLE[s.cell].describe(s)})`;
}

/** The cell of a Keras layer class (SimpleRNN, LSTM, GRU), or undefined. */
export function cellOfKerasClass(className: string): CellType | undefined {
  return CELLS.find((c) => CELL_TABLE[c].keras === className);
}

/** "rnn, lstm or gru". */
export function cellChoices(): string {
  return `${CELLS.slice(0, -1).join(', ')} or ${CELLS[CELLS.length - 1]}`;
}
