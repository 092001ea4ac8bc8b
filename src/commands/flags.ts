/**
 * The flags the commands share, declared once: the model and its variant (check, gradcheck,
 * bench), the kernels and threads of the scratch engines, an engine's deadline, and what a --spec
 * or --model replaces. The values' parsers are in src/io/args.ts.
 */
import { type Command, Option } from 'commander';
import { ACTIVATIONS, CELLS, RECURRENT_ACTIVATIONS, cellChoices } from '../cells.js';
import { InputError } from '../errors.js';
import { choice, flagName, intArg, intListArg, listArg, numArg } from '../io/args.js';
import { readJsonInput } from '../io/files.js';
import { MAX_TIMEOUT_S } from '../engines/registry.js';
import { OPTIMIZERS } from '../optimizer.js';
import { KERNEL_CHOICES, type KernelChoice } from '../run-options.js';
import { type ModelSpec, type VariantFlags, parseSpec, variantFields } from '../spec.js';

/** --kernels of the commands that run the scratch engine (`what`: which of its engines they choose for). */
export function kernelsOption(what: string, def?: KernelChoice): Option {
  return choice(
    '--kernels <k>',
    `${what}: auto (the matrix products on the machine's BLAS when koffi and one are found, the rest WebAssembly SIMD; else WebAssembly SIMD when built), blas (fails without one), wasm, js (the TypeScript reference)`,
    KERNEL_CHOICES,
    def,
  );
}

/** --blas PATH: the CBLAS library of the blas kernels. */
export const BLAS_FLAG: [string, string] = ['--blas <path>', 'the CBLAS library of the blas kernels (default: RNNLAB_BLAS, else OpenBLAS, libblas.so.3, MKL, BLIS or Accelerate where found)'];

/** --engine-timeout: seconds, at most what a timer can hold (2^31 - 1 ms; Node fires a longer one at once). */
export const engineTimeoutArg = numArg({ positive: true, max: MAX_TIMEOUT_S });
export const ENGINE_TIMEOUT_HELP = `seconds an engine (another process, a module's promise, or a browser page) may take to answer (default 120; at most ${MAX_TIMEOUT_S})`;

/** One flag as the commands share it: its spelling, what it does, its parser or its choices. */
interface FlagDecl {
  flags: string;
  help: string;
  parse?: (v: string) => unknown;
  choices?: readonly string[];
}

/**
 * The model and optimizer flags, declared once: check, gradcheck and bench add them with their
 * defaults (commander's), train without (its defaults come in layers: shared < the task's < a
 * preset < the command line), each with a note on what its default is where the note says more.
 */
export const SHARED_FLAGS = {
  // the model
  cell: { flags: '--cell <cell>', help: cellChoices(), choices: CELLS },
  hidden: { flags: '--hidden <n>', help: 'hidden units per layer', parse: intArg(1) },
  // the same two as lists, for a matrix of models (bench)
  cells: { flags: '--cell <list>', help: `cells, comma-separated: ${cellChoices()}`, parse: listArg },
  hiddens: { flags: '--hidden <list>', help: 'hidden sizes, comma-separated', parse: intListArg(1) },
  layers: { flags: '--layers <n>', help: 'stacked recurrent layers', parse: intArg(1) },
  activation: { flags: '--activation <a>', help: 'rnn activation', choices: ACTIVATIONS },
  recurrentActivation: { flags: '--recurrent-activation <a>', help: 'lstm/gru gate activation', choices: RECURRENT_ACTIVATIONS },
  gruResetAfter: { flags: '--gru-reset-after', help: "gru with the reset gate after the recurrent product (PyTorch's nn.GRU, Keras 2 and 3)" },
  unitForgetBias: { flags: '--unit-forget-bias', help: 'lstm forget-gate bias initialised to 1' },
  bidirectional: { flags: '--bidirectional', help: 'every layer reads the sequence both ways' },
  merge: { flags: '--merge <m>', help: 'how a bidirectional layer combines its directions', choices: ['concat', 'sum', 'mul', 'ave'] },
  embedding: { flags: '--embedding <e>', help: 'token input through a learned embedding of width e', parse: intArg(1) },
  lossReduction: { flags: '--loss-reduction <r>', help: 'mean over batch and time, or summed over time', choices: ['mean', 'sumOverTime'] },
  // the optimizer
  optimizer: { flags: '--optimizer <name>', help: 'optimizer', choices: OPTIMIZERS },
  lr: { flags: '--lr <x>', help: 'learning rate', parse: numArg({ positive: true }) },
  momentum: { flags: '--momentum <x>', help: 'momentum', parse: numArg({ min: 0 }) },
  epsilon: { flags: '--epsilon <x>', help: 'optimizer epsilon (default 1e-7, as tfjs)', parse: numArg({ positive: true }) },
  initialAccumulator: { flags: '--initial-accumulator <x>', help: 'adagrad accumulator start (default 0.1; 0 = classic)', parse: numArg({ min: 0 }) },
  clipValue: { flags: '--clip-value <x>', help: 'clip each gradient element to [-x, x] before the update', parse: numArg({ positive: true }) },
  clipNorm: { flags: '--clip-norm <x>', help: 'then scale all gradients to global norm <= x', parse: numArg({ min: 0 }) },
} satisfies Record<string, FlagDecl>;

export type SharedFlag = keyof typeof SHARED_FLAGS;

/** A shared flag as this command has it: its default (commander's), and a note after the help ("default 1", "0: no clipping"). */
export function sharedFlag(key: SharedFlag, o: { default?: string | number | boolean; note?: string } = {}): Option {
  const d: FlagDecl = SHARED_FLAGS[key];
  const opt = new Option(d.flags, o.note ? `${d.help} (${o.note})` : d.help);
  if (d.choices) opt.choices(d.choices as string[]);
  if (d.parse) opt.argParser(d.parse);
  if (o.default !== undefined) opt.default(o.default);
  return opt;
}

/** Adds shared flags to a command, each with this command's default and note. */
export function addSharedFlags(cmd: Command, keys: readonly SharedFlag[], o: { defaults?: Partial<Record<SharedFlag, string | number | boolean>>; notes?: Partial<Record<SharedFlag, string>> } = {}): Command {
  for (const k of keys) cmd.addOption(sharedFlag(k, { default: o.defaults?.[k], note: o.notes?.[k] }));
  return cmd;
}

/**
 * The model's variant: the flags every command that builds a model from flags shares (check,
 * gradcheck, bench): the stack, the head's loss, the cell's options, bidirectional layers and the
 * embedding. Sizes and the cell are added by each command (bench takes lists).
 */
export function addVariantOptions(cmd: Command): Command {
  addSharedFlags(cmd, ['layers'], { defaults: { layers: 1 } })
    .option('--many-to-one', 'predict from the last step only (default: a prediction per step)')
    .addOption(choice('--loss <loss>', 'ce (softmax cross-entropy on logits) or mse', ['ce', 'mse'], 'ce'));
  return addSharedFlags(cmd, ['lossReduction', 'activation', 'recurrentActivation', 'gruResetAfter', 'unitForgetBias', 'bidirectional', 'merge', 'embedding'], { defaults: { lossReduction: 'mean' } });
}

/** The optimizer flags of check (and its --steps): commander's defaults, the optimizers' own learning rates. */
export function addOptimizerOptions(cmd: Command, defaults: { steps?: number } = {}): Command {
  addSharedFlags(cmd, ['optimizer', 'lr', 'momentum', 'clipValue', 'clipNorm'], {
    defaults: { optimizer: 'adam' },
    notes: { lr: 'default: adam/rmsprop 0.001, sgd/momentum/adagrad 0.01', momentum: 'momentum: default 0.9; rmsprop: default 0', clipNorm: '0: no clipping' },
  });
  if (defaults.steps !== undefined) cmd.option('--steps <n>', 'optimizer steps', intArg(1), defaults.steps);
  return cmd;
}

/** --cell, --hidden, --input, --output, --tokens, the variant flags and --spec. */
export function addModelOptions(cmd: Command, defaults: { hidden: number; input: number; output: number }): Command {
  cmd
    .addOption(sharedFlag('cell', { default: 'lstm' }))
    .addOption(sharedFlag('hidden', { default: defaults.hidden }))
    .option('--input <n>', 'input features per step (or vocabulary size with --tokens)', intArg(1), defaults.input)
    .option('--output <n>', 'outputs (classes for cross-entropy)', intArg(1), defaults.output)
    .option('--tokens', 'token-id input (rows of the kernel are gathered; no one-hot)');
  return addVariantOptions(cmd).option('--spec <file>', 'read the ModelSpec from a JSON file instead of the flags above');
}

/** What the variant flags hold. */
export interface VariantOptionFlags extends VariantFlags {
  layers: number;
  manyToOne?: boolean;
  loss: string;
  lossReduction: string;
}

/** The ModelSpec fields of the variant flags for one cell (bench builds one spec per cell of its list). */
export function variantSpecFields(f: VariantOptionFlags): Record<string, unknown> {
  return {
    layers: f.layers,
    returnSequences: !f.manyToOne,
    loss: f.loss === 'mse' ? 'mse' : 'softmaxCrossEntropy',
    lossReduction: f.lossReduction,
    ...variantFields(f),
  };
}

export interface ModelFlags extends VariantOptionFlags {
  cell: string;
  hidden: number;
  input: number;
  output: number;
  tokens?: boolean;
  spec?: string;
}

export function readJsonFile(path: string, what: string): unknown {
  return readJsonInput(path, what);
}

/** The model flags a --spec file (or a --model) replaces. */
export const SPEC_FLAGS = ['cell', 'layers', 'hidden', 'input', 'output', 'tokens', 'manyToOne', 'loss', 'lossReduction', 'activation', 'recurrentActivation', 'gruResetAfter', 'unitForgetBias', 'bidirectional', 'merge', 'embedding'];
/** The model flags an encoder-decoder (--seq2seq) has no use for. */
export const NOT_SEQ2SEQ_FLAGS = ['tokens', 'manyToOne', 'loss', 'lossReduction', 'unitForgetBias', 'merge', 'spec'];

/** Flags given on the command line that `what` would leave unused: refused by name, never ignored. */
export function refuseUnused(cmd: Command, keys: readonly string[], what: string): void {
  const given = keys.filter((k) => cmd.getOptionValueSource(k) === 'cli');
  if (given.length) throw new InputError(`${what}, so ${given.map(flagName).join(', ')} would be ignored; leave ${given.length === 1 ? 'it' : 'them'} out`);
}

export function specFromFlags(f: ModelFlags): ModelSpec {
  if (f.spec) return parseSpec(readJsonFile(f.spec, 'ModelSpec'), f.spec);
  return parseSpec(
    { cell: f.cell, inputSize: f.input, hiddenSize: f.hidden, outputSize: f.output, input: f.tokens ? 'tokens' : 'dense', ...variantSpecFields(f) },
    'model flags',
  );
}
