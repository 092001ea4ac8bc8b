/**
 * The Task interface: all the training loop (src/train.ts) knows of a task. A task module in this
 * folder implements it; the loop never imports a task, and a task never imports the loop.
 */
import type { Batch, Engine } from '../engine.js';
import type { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';

export type Metrics = Record<string, number>;

export interface SampleRecord {
  prime: string;
  text: string;
  temperature: number;
  length: number;
}

/** A task as the training loop sees it; R is what `finish` adds to the final summary (test metrics). */
export interface TrainTask<R extends object = object> {
  readonly name: string;
  readonly spec: ModelSpec;
  /** Carry the final state of a batch into the next one (unless the batch says resetState). */
  readonly stateful: boolean;
  readonly stepsPerEpoch: number;
  /** Throughput unit: tokens or sequences per step. */
  readonly itemsPerStep: number;
  readonly itemName: string;
  describe(): string[];
  nextBatch(): { batch: Batch; resetState: boolean };
  epochProgress(): number;
  getCursor(): unknown;
  setCursor(c: unknown): void;
  /** Validation metrics (valLoss first). */
  evaluate(engine: Engine): Promise<Metrics>;
  sample?(engine: Engine, rng: Rng): Promise<SampleRecord>;
  /** Extra metrics for the final summary (test-set metrics, baselines). */
  finish?(engine: Engine): Promise<R>;
  /** Data for plots, written to the run directory as plot-data.json (e.g. forecasts against the truth). */
  plotData?(engines: Engine[]): Promise<unknown>;
}
