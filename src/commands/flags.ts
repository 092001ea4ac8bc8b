/**
 * The flags the commands share, declared once: the model and its variant (check, gradcheck,
 * bench), the kernels and threads of the scratch engines, an engine's deadline, and what a --spec
 * or --model replaces. The values' parsers are in src/io/args.ts.
 */
import { type Command, Option } from 'commander';
import { CELLS, cellChoices } from '../cells.js';
import { InputError } from '../errors.js';
import { choice, flagName, intArg, numArg } from '../io/args.js';
import { readJsonInput } from '../io/files.js';
import { MAX_TIMEOUT_S } from '../engines/registry.js';
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


/**
 * The model's variant: the flags every command that builds a model from flags shares (check,
 * gradcheck, bench), declared once: the stack, the head's loss, the cell's options, bidirectional
 * layers and the embedding. Sizes and the cell are declared by each command (bench takes lists).
 */
export function addVariantOptions(cmd: Command): Command {
  return cmd
    .option('--layers <n>', 'stacked recurrent layers', intArg(1), 1)
    .option('--many-to-one', 'predict from the last step only (default: a prediction per step)')
    .addOption(choice('--loss <loss>', 'ce (softmax cross-entropy on logits) or mse', ['ce', 'mse'], 'ce'))
    .addOption(choice('--loss-reduction <r>', 'mean over batch and time, or summed over time', ['mean', 'sumOverTime'], 'mean'))
    .addOption(choice('--activation <a>', 'rnn activation', ['tanh', 'relu']))
    .addOption(choice('--recurrent-activation <a>', 'lstm/gru gate activation', ['sigmoid', 'hardSigmoid']))
    .option('--gru-reset-after', 'gru with the reset gate after the recurrent product (PyTorch\'s nn.GRU, Keras 2 and 3)')
    .option('--unit-forget-bias', 'lstm forget-gate bias initialised to 1')
    .option('--bidirectional', 'every layer reads the sequence both ways')
    .addOption(choice('--merge <m>', 'how a bidirectional layer combines its directions', ['concat', 'sum', 'mul', 'ave']))
    .option('--embedding <e>', 'token input through a learned embedding of width e', intArg(1));
}

/** --cell, --hidden, --input, --output, --tokens, the variant flags and --spec. */
export function addModelOptions(cmd: Command, defaults: { hidden: number; input: number; output: number }): Command {
  cmd
    .addOption(choice('--cell <cell>', cellChoices(), CELLS, 'lstm'))
    .option('--hidden <n>', 'hidden units per layer', intArg(1), defaults.hidden)
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
export const NOT_SEQ2SEQ_FLAGS = ['tokens', 'manyToOne', 'loss', 'lossReduction', 'unitForgetBias', 'bidirectional', 'merge', 'spec'];

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
