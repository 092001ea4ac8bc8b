/**
 * What a task is, in two parts:
 * - TrainTask: all the training loop (src/train/loop.ts) knows of a task (batches, cursor, validation,
 *   samples, test metrics). The loop never imports a task, and a task never imports the loop.
 * - TaskModule: all `rnnlab train` and the CLI know of a task: its flags and defaults, how it
 *   loads its data and builds its TrainTask and model, its checkpoint payload, how it prints its
 *   results, and its use-command (generate, forecast, predict). One file in this folder per task,
 *   listed in src/tasks/registry.ts.
 */
import type { Checkpoint, SavedEngine } from '../io/checkpoint.js';
import type { Schema } from '../io/schemas.js';
import type { Chart } from '../io/svg.js';
import type { IO } from '../io/output.js';
import type { Awaitable, Batch, Engine, State } from '../engine.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import type { Supports } from '../supports.js';
import type { TrainOptions } from '../run-options.js';

export type Metrics = Record<string, number>;

export interface SampleRecord {
  prime: string;
  text: string;
  temperature: number;
  length: number;
}

/** An engine as the training loop drives it, of any model kind (Engine; the encoder-decoder's Seq2SeqEngine). */
export interface TrainEngine<B = Batch> extends SavedEngine {
  readonly dtype?: 'float32' | 'float64' | 'float16';
  step(b: B): Awaitable<{ loss: number; finalState?: State }>;
}

/**
 * A task as the training loop sees it; R is what `finish` adds to the final summary (test metrics);
 * E, B and S the engines, batches and spec of its model kind (the single-stack models by default).
 */
export interface TrainTask<R extends object = object, E = Engine, B = Batch, S = ModelSpec> {
  readonly name: string;
  readonly spec: S;
  /** Carry the final state of a batch into the next one (unless the batch says resetState). */
  readonly stateful: boolean;
  readonly stepsPerEpoch: number;
  /** Throughput unit: tokens or sequences per step. */
  readonly itemsPerStep: number;
  readonly itemName: string;
  describe(): string[];
  nextBatch(): { batch: B; resetState: boolean };
  epochProgress(): number;
  getCursor(): unknown;
  setCursor(c: unknown): void;
  /** Validation metrics (valLoss first). */
  evaluate(engine: E): Promise<Metrics>;
  /** The unit of each metric, where it has one ("nats/token"), for the lines people read. */
  readonly units?: Record<string, string>;
  /** Metrics that are fractions, printed as percentages on the validation line (the records keep the fraction). */
  readonly percent?: readonly string[];
  sample?(engine: E, rng: Rng): Promise<SampleRecord>;
  /**
   * What the loop keeps as the best checkpoint (lower is better; absent: the validation loss), from
   * the first engine's validation metrics (seq2seq: its exact match, negated).
   */
  score?(m: Metrics): number;
  /**
   * Extra metrics for the final summary (test-set metrics, baselines); `engines` are all of the
   * run's, `i` this one's index; `best` the checkpoint kept as best (by `score`), if any.
   */
  finish?(engine: E, i: number, engines: readonly E[], best: { step: number; dir: string } | null): Promise<R>;
  /** Data for plots, written to the run directory as plot-data.json (e.g. forecasts against the truth). */
  plotData?(engines: E[]): Promise<unknown>;
  /**
   * What this task's batches and readings need of an engine (its handshake's claims): `refuse`,
   * what it lacks for training here and the flag that avoids it; `notes`, how the task works
   * around what it lacks (said in the run's header).
   */
  fit?(s: Required<Supports>): { refuse?: string; notes?: string[] };
}

/** The final record; with a task's results R (test metrics) merged in, those of the first engine. */
export type TrainSummary<R extends object = object> = TrainSummaryBase & R;

export interface TrainSummaryBase {
  type: 'final';
  task: string;
  steps: number;
  epochs: number;
  stoppedBy: 'steps' | 'minutes';
  elapsedSeconds: number;
  loss: Record<string, number>;
  msPerStep: Record<string, number>;
  validation: Record<string, Metrics>;
  /** Engines side by side: the largest parameter difference of the run (max rel err), and its details. */
  maxParamDiff?: number;
  paramDiff?: ParamDiff;
  checkpoint: string;
  runDir: string;
  /** Each engine's test metrics, when several engines trained side by side. */
  testByEngine?: Record<string, unknown>;
}

/** One of a task's own `train` flags. Tasks that share a spelling (--csv) share one option; each adds its help. */
export interface TaskFlag {
  /** Commander's spelling: '--csv <file>', '--recursive', '--no-bucketing'. */
  flags: string;
  /** What it does for this task (the help line gets "<task>: " in front). */
  help: string;
  parse?: (value: string, previous: unknown) => unknown;
  choices?: readonly string[];
}

/** A flag of a use-command: a TaskFlag with its default, or required. */
export interface UseFlag extends TaskFlag {
  default?: unknown;
  required?: boolean;
}

/**
 * The command that uses a task's trained model, as data: src/commands/use.ts declares it to the CLI
 * with the engine flags every use-command shares (--engine of any kind, --backend, --python,
 * --browser, --engine-timeout, --json; ./use-engine.ts) and calls `run` with the parsed values.
 */
export interface UseCommand<F extends object = object> {
  /** The command's name: generate, forecast, predict, translate. */
  name: string;
  description: string;
  /** Its positional argument in commander's spelling ('<texts...>', '[texts...]'), and what it is. */
  argument?: { spec: string; help: string };
  flags: readonly UseFlag[];
  /** Example command lines for its help. */
  examples: readonly string[];
  /** Runs it: the positional values (none without an argument) and the flags by attribute name (--max-len: maxLen). */
  run(args: string[], flags: F, io: IO): Promise<void>;
}

/** What a task builds for one run: the loop's task, the model, and what its checkpoints carry. */
export interface BuiltTask<R extends object = object, S = ModelSpec> {
  task: TrainTask<R, TrainEngine<unknown>, unknown, S>;
  spec: S;
  /** The task's own schedule where the flags say nothing (seq2seq: validate and checkpoint every epoch). */
  schedule?: { valEvery?: number; checkpointEvery?: number };
  /** Lines about the data for run.json ("data"). */
  runInfo?: Record<string, unknown>;
  /** vocab.json of every checkpoint (text models: the tokenizer). */
  vocab?: unknown;
  /** data.json of every checkpoint: the preprocessing that using the model needs (scalers, classes, tokenizer). */
  data?: unknown;
}

/** Several runs from one command (a window sweep), each in a folder of its own inside one directory. */
export interface Sweep<O> {
  /** The default name of the directory that holds the runs (runs/<name>-<timestamp>). */
  name: string;
  runs: { folder: string; options: O }[];
  print(io: IO, o: O, summaries: TrainSummary[], base: string): void;
}

/** A task as `rnnlab train` and the CLI see it. O is the task's options: the shared ones and its own. */
export interface TaskModule<O extends TrainOptions = TrainOptions, R extends object = object> {
  /** The value of --task. */
  readonly name: string;
  /** One line for --task's help. */
  readonly summary: string;
  /** The task's own flags; other tasks refuse them. */
  readonly flags: readonly TaskFlag[];
  /** Defaults of its own flags and of shared ones it sets differently (hidden, batch, the length). */
  readonly defaults: Partial<O>;
  /** Time steps per sequence of its batches (for the memory estimate). */
  seqLength(o: O): number;
  /** Loads the data, preprocesses it and builds the model; `ck` is the checkpoint of a --resume. */
  build(o: O, ck: Checkpoint<unknown> | null): BuiltTask<R, unknown>;
  /** The kind of model it trains (absent: the single-stack models of src/spec.ts). */
  readonly kind?: ModelKind;
  /** Several runs from one command, or null for one. */
  sweep?(o: O): Sweep<O> | null;
  /** Prints the task's final results (R) after the shared summary lines. */
  printResult?(out: (line: string) => void, s: TrainSummary<R>, engine: string): void;
  /** The command that uses a trained model (generate, forecast, predict, translate), declared as data; src/commands/use.ts makes it a command. */
  readonly use?: UseCommand;
  /** What `plot` and `report` show of its runs and models (src/report/ asks; it knows no task by name). */
  readonly report?: TaskReport;
}

/** A block of a task's results in the report: a heading, a table, or a line (ok / warn: whether it is good news). */
export type View = { heading: string } | { table: { headers: string[]; rows: (string | number)[][] } } | { text: string; tone?: 'ok' | 'warn' };

/** The model input of the hidden-state views (report/states.ts): ids or values, a label per step, what was read. */
export interface StateInput {
  x: Float32Array | Int32Array;
  labels: string[];
  source: string;
}

/** What a task hands the report: its cards and views, the schemas of what it writes into a run, its charts. */
export interface TaskReport {
  /** The results it adds to the final record, checked like user input before a chart reads them: where they are ('' the record itself) and their schema. */
  readonly finalSchema?: { at: string; what: string; schema: Schema };
  /** The plot-data.json it writes (its `kind` there), that file's schema, and its charts. */
  readonly plotData?: { kind: string; schema: Schema; charts(run: string, d: Record<string, unknown>): Chart[] };
  /** Charts of its final record (a classifier's confusion matrix). */
  finalCharts?(run: string, final: Record<string, unknown>): Chart[];
  /** The summary card's line on the result against the task's baseline, and whether the model beat it (null: nothing to say). */
  card?(final: Record<string, unknown>, info: Record<string, unknown>): { line?: string; ok: boolean } | null;
  /** Its results under the shared table (test errors, per-class metrics). */
  results?(final: Record<string, unknown>): View[];
  /** The hidden-state views of its models. */
  readonly states?: TaskStates;
}

/** How the hidden-state views read a model of this task. */
export interface TaskStates {
  /** Whether a checkpoint is a model of this task (its data.json, its vocab.json). */
  owns(ck: Checkpoint): boolean;
  /** Its input reads as text: the views colour it by units (--units applies, --csv does not). */
  readonly text: boolean;
  /** The input the views read: --text, or --csv, or the task's own (the series a forecaster was trained on). */
  input(ck: Checkpoint & { dir: string }, o: { text?: string; csv?: string; note?: (line: string) => void }): StateInput;
  /** The report's view of a run of this task: the text it reads (a text model: the start of its last sample), {} for the task's own input, null for none. */
  runInput?(samples: Record<string, unknown>[], ck: Checkpoint & { dir: string }): { text?: string } | null;
}

/** A task module as a list holds it (its options type erased). */
export type AnyTaskModule = TaskModule<TrainOptions, object>;

/** Types a task module and erases its types for the registry. */
export function defineTask<O extends TrainOptions, R extends object>(m: TaskModule<O, R>): AnyTaskModule {
  return m as unknown as AnyTaskModule;
}

/** How far engines trained side by side moved apart (parameters, max rel err against the first engine). */
export interface ParamDiff {
  /** After the last step. */
  last: number;
  /** The largest after any step of this process, and that step. */
  max: number;
  maxStep: number;
  /** The first step whose difference exceeded `limit` (the trajectory tolerance of check), or null. */
  driftStep: number | null;
  limit: number;
  /** Measured after every step (small models), or only at the logged steps (large ones: a comparison copies every parameter of every engine). */
  everyStep: boolean;
}

/** The engines of a run, opened: one line each, notes, and `close` (ends their threads and processes). */
export interface OpenEngines<E> {
  engines: E[];
  descriptions: string[];
  notes: string[];
  backend: string | null;
  tfjsVersion: string | null;
  close(): Promise<void>;
}

/**
 * A kind of model as the training loop and `rnnlab train` see it: the single-stack models
 * (ModelSpec, Engine) and the encoder-decoder (Seq2SeqSpec, Seq2SeqEngine). Its spec, parameters,
 * checkpoint files and engines; everything else (the loop, the run folder, resume) is shared.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ModelKind<S = any, E extends TrainEngine<any> = any> {
  readonly name: string;
  /** Whether a checkpoint directory holds a model of this kind (by its spec file). */
  owns(dir: string): boolean;
  readCheckpoint(dir: string): Checkpoint<S> & { dir: string };
  writeCheckpoint(dir: string, ck: Checkpoint<S>): void;
  specJSON(s: S): Record<string, unknown>;
  describe(s: S): string;
  paramCount(s: S): number;
  /** Each parameter's shape, by canonical name (the optimizer state of a checkpoint is checked against it). */
  paramShapes(s: S): Map<string, readonly number[]>;
  validateParams(s: S, p: NamedParams, file: string): void;
  /** A line over the progress table (how the training loss is reduced), or null. */
  tableNote?(s: S, itemName: string): string | null;
  /** Refuses (one line with numbers) a model the machine cannot hold for these options, before its weights are made (`seq`: time steps per sequence). */
  assertFits?(o: TrainOptions, s: S, seq: number): void;
  /** The run's engines, from its options, with these weights and this optimizer. */
  openEngines(o: TrainOptions, s: S, params: NamedParams, optimizer: OptimizerSpec, io: IO): Promise<OpenEngines<E>>;
  /** Fresh weights for the spec from a seed. */
  initParams(s: S, seed: number): NamedParams;
}
