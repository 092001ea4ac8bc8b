/**
 * The options of a training run: every `train` flag resolved (the flags every task shares, typed
 * here; a task's own ones by its module, src/tasks/<task>.ts), as each checkpoint stores them
 * (meta.json) for --resume; and the model and optimizer they give.
 */
import { type CellType, appliesToCell } from './cells.js';
import { type OptimizerSpec, optimizerSpec } from './optimizer.js';
import { type ModelSpec, parseSpec, variantFields } from './spec.js';

/** The kernel sets of the scratch engine a run may ask for (--kernels; scratch/kernel-choice.ts makes them). */
export type KernelChoice = 'auto' | 'blas' | 'js' | 'wasm';
export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'blas', 'wasm', 'js'];

/** A data file a run read, recorded so that --resume reads the same one (src/train/resume.ts checks it). */
export interface DataFile {
  /** Which flag named it: text (--text), corpus (--corpus-file of a preset), csv (--csv). */
  flag: 'text' | 'corpus' | 'csv';
  /** As given on the command line, for messages. */
  given: string;
  path: string;
  sha256: string;
  bytes: number;
}

/** Every train flag, resolved: the shared ones typed here, a task's own ones by its module. Stored in checkpoints for --resume. */
export interface TrainOptions {
  task: string;
  preset?: string;
  // model
  cell: CellType;
  hidden: number;
  layers: number;
  activation?: string;
  recurrentActivation?: string;
  gruResetAfter?: boolean;
  unitForgetBias?: boolean;
  bidirectional?: boolean;
  merge?: 'concat' | 'sum' | 'mul' | 'ave';
  embedding?: number;
  lossReduction?: 'mean' | 'sumOverTime';
  batch: number;
  // optimizer
  optimizer: string;
  lr?: number;
  momentum?: number;
  epsilon?: number;
  initialAccumulator?: number;
  clipValue?: number;
  clipNorm?: number;
  seed: number;
  // run
  /** scratch, tfjs or both (the shorthand of --engines). */
  engine: string;
  /** Engines side by side, from identical weights and batches (docs/engines.md). */
  engines?: string[];
  python?: string;
  /** The browser of the browser engines (tfjs-webgl, ...). */
  browser?: string;
  engineTimeout?: number;
  backend: string;
  kernels: KernelChoice;
  /** The CBLAS library of the blas kernels (--blas PATH). */
  blas?: string;
  threads?: number;
  steps?: number;
  epochs?: number;
  minutes?: number;
  sampleAt?: number[];
  sampleEvery?: number;
  valEvery?: number;
  /** Validate at every breakpoint (default) or only at the end (presets). */
  valAtBreakpoints?: boolean;
  checkpointEvery?: number;
  checkpointMinutes?: number;
  keepCheckpoints?: number;
  logEvery?: number;
  out?: string;
  overwrite?: boolean;
  resume?: string;
  /** Start from this checkpoint's weights (fine-tuning; an imported model too): a new run, a fresh optimizer. */
  init?: string;
  /** The data files by absolute path and SHA-256 (recorded by the run, checked on --resume). */
  dataFiles?: DataFile[];
  json?: boolean;
}

/** The shared flags' defaults; a task's module adds its own and may override these (hidden, batch, length). */
export const SHARED_DEFAULTS: Partial<TrainOptions> = {
  cell: 'lstm',
  layers: 1,
  optimizer: 'adam',
  seed: 1,
  engine: 'scratch',
  backend: 'auto',
  kernels: 'auto',
};

/** Flags that may change on --resume: the length, where and how the run reports, and what it runs on (results do not depend on it). */
export const RESUME_OVERRIDABLE = new Set(['steps', 'epochs', 'minutes', 'json', 'out', 'logEvery', 'backend', 'threads', 'blas', 'python', 'browser', 'engineTimeout', 'checkpointMinutes', 'keepCheckpoints']);

/** The optimizer of the optimizer flags (adam's lr defaults to 0.002; gradients clipped to norm 5 unless --clip-value; --clip-norm 0: none). */
export function buildOptimizer(o: TrainOptions): OptimizerSpec {
  return optimizerSpec(o.optimizer, {
    lr: o.lr ?? (o.optimizer === 'adam' ? 0.002 : undefined),
    momentum: o.momentum,
    epsilon: o.epsilon,
    initialAccumulatorValue: o.initialAccumulator,
    clipValue: o.clipValue,
    clipNorm: o.clipNorm === 0 ? undefined : (o.clipNorm ?? (o.clipValue === undefined ? 5 : undefined)),
  });
}

/** The ModelSpec of the model flags, for a task's input and output sizes and its kind of model. */
export function modelSpec(o: TrainOptions, inputSize: number, outputSize: number, extra: Partial<ModelSpec>): ModelSpec {
  return parseSpec(
    {
      cell: o.cell,
      inputSize,
      hiddenSize: o.hidden,
      layers: o.layers,
      outputSize,
      ...variantFields(o),
      lossReduction: o.lossReduction,
      ...extra,
    },
    'model flags',
  );
}

/** The train flags that shape a model, as a checkpoint's spec has them (--init: the model flags default to the checkpoint's). */
export function modelFlagsOf(spec: ModelSpec): Record<string, unknown> {
  return {
    cell: spec.cell,
    hidden: spec.hiddenSize,
    layers: spec.layers,
    ...(appliesToCell('activation', spec.cell) ? { activation: spec.activation } : {}),
    ...(appliesToCell('recurrentActivation', spec.cell) ? { recurrentActivation: spec.recurrentActivation } : {}),
    ...(spec.gruResetAfter ? { gruResetAfter: true } : {}),
    ...(spec.bidirectional ? { bidirectional: true, merge: spec.merge } : {}),
    ...(spec.embedding > 0 ? { embedding: spec.embedding } : {}),
    ...(spec.lossReduction !== 'mean' ? { lossReduction: spec.lossReduction } : {}),
  };
}
