/**
 * What `check` reports (compare/comparisons.ts fills it, compare/diagnosis/ adds the diagnosis, the
 * command prints it and --json writes it): comparisons, steps, coverage and diagnoses.
 */
import type { Precision } from '../src/tolerance.js';
import type { Mistake } from '../src/engines/registry.js';
import type { NamedParams } from '../src/params.js';
import type { FloatArray } from '../src/tensor.js';
import type { ToleranceKind } from '../src/tolerance.js';

/** A mistake that reproduces the engine, as the report gives it. */
export interface MistakeMatch {
  id: string;
  /** The mistake's parameters (which gate, which pair, k, c, ...). */
  parameters: Omit<Mistake, 'id'>;
  /** In plain words. */
  detail: string;
  where: string;
  /** The largest max rel err between the engine and the variant over every tensor compared. */
  matchedWithin: number;
  /** That error against its limit, the largest over the tensors (<= 1): the ranking. */
  score: number;
}

/** Where an engine that failed first goes wrong, in words a person acts on. */
export interface Diagnosis {
  engine: string;
  /** forward | loss | gradients | training */
  stage: string;
  /** Parameters whose gradients fail, with the gates over the limit. */
  params?: { name: string; gates: string[]; worst?: Comparison['worst']; maxRelError: number }[];
  /** Many-to-many forward: the first time step whose output differs. */
  outputStep?: number;
  /** BPTT: the latest time step whose dLoss/dh_t differs (every later one agrees), per layer. */
  dhStep?: { layer: number; t: number; error: number };
  /** The catalogued mistakes that reproduce the engine, best fit first (empty: none does). */
  mistakes?: MistakeMatch[];
  /** Without per-step gradients: the shortest length of the batch, cut to its first steps, at which the engine disagrees. */
  shortestFailingLength?: number;
  /** How much of the catalogue was tried. */
  catalogue?: { tried: number; of: number; seconds: number; cutShort: boolean };
  lines: string[];
}

export interface Comparison {
  /** "output", "loss", a parameter name, "final <param>", "dh layer l step t" */
  what: string;
  engine: string;
  against: string;
  kind: ToleranceKind;
  maxAbsError: number;
  maxRelError: number;
  cosine: number;
  limit: number;
  pass: boolean;
  /** Where the largest difference is: flat index, row/column, gate (lstm/gru parameters). */
  worst?: { index: number; position: number[]; gate?: string };
  /** maxRelError of each gate's block of columns (lstm/gru layer parameters). */
  perGate?: Record<string, number>;
}

export interface StepRecord {
  step: number;
  /** Loss before this step's update, per engine (reference included). */
  loss: Record<string, number>;
  /** After this step's update: largest maxRelError over parameters, engines under test pairwise (first two). */
  maxParamDiff: number;
  /** The parameter holding it. */
  worstParam: string;
  /** After this step's update: per engine under test, the largest maxRelError of its parameters against the reference. */
  refDiff: Record<string, number>;
}

export interface PerStepRow {
  layer: number;
  t: number;
  /** max |dLoss/dh_t| of the reference */
  scale: number;
  /** maxRelError per engine against the reference */
  errors: Record<string, number>;
}

export interface CheckReport {
  engines: string[];
  reference: string;
  forward: Comparison[];
  loss: { values: Record<string, number>; comparisons: Comparison[] };
  gradients: Comparison[];
  perStep?: PerStepRow[];
  trajectory: {
    steps: StepRecord[];
    /** First step where the pair's parameters left the limit. */
    driftStep: number | null;
    limit: number;
    pair: [string, string] | null;
    /** Per engine under test: the first step where its parameters left its limit against the reference. */
    drift: Record<string, number | null>;
    /** The engines that took the lockstep steps. */
    trained: string[];
  };
  final: Comparison[];
  pass: boolean;
  failures: string[];
  /** Engines, or parts of a check, left out, each with the reason. */
  skipped: { engine: string; what: string; reason: string }[];
  /** float32 or float64 per engine (the limits follow it). */
  dtypes: Record<string, Precision>;
  /** Per engine under test: what was compared, and what was not and why. */
  coverage: Record<string, Coverage>;
  diagnosis: Diagnosis[];
}

export interface Coverage {
  /** forward, loss, gradients, per-step gradients, lockstep training */
  compared: string[];
  notCompared: { what: string; why: string }[];
}

/** What the dump files hold, per engine: output, loss per step, gradients, final parameters. */
export interface CheckRaw {
  output: Record<string, FloatArray>;
  losses: Record<string, number[]>;
  grads: Record<string, NamedParams>;
  final: Record<string, NamedParams>;
}
