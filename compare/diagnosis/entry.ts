/**
 * One entry of the catalogue of mistakes (catalogue.ts lists them; one module per family says how
 * each is found and told): which models it can happen in, the parameter instances worth trying
 * (found from the evidence where a closed form exists, the likeliest first), and what a match
 * means in plain words with where to look.
 */
import type { Batch } from '../../src/engine.js';
import type { Mistake, MistakeId } from '../../src/engines/registry.js';
import type { ModelSpec } from '../../src/spec.js';
import type { Computed } from './match.js';

export interface SearchContext {
  spec: ModelSpec;
  batch: Batch;
  /** The engine under test's results and the reference's, at the initial weights. */
  engine: Computed;
  reference: Computed;
  /** The gradients compared (all, or all but the biases of an engine without them). */
  grads: readonly string[];
  /**
   * Where in time it goes wrong, when known: the shortest failing sequence length (from reruns on
   * cut batches), or the latest step whose dLoss/dh_t differs (from per-step gradients).
   */
  shortestFailingLength?: number;
  dhStep?: number;
}

export interface Words {
  /** The mistake in plain words: "the cell-state gradient passed back without the forget gate (dc_prev = dc, not dc * f)". */
  detail: string;
  /** Where to look in one's own code. */
  where: string;
}

export interface Entry {
  id: MistakeId;
  /** One line for the README's and docs' list. */
  title: string;
  applies(spec: ModelSpec, batch: Batch): boolean;
  candidates(x: SearchContext): Mistake[];
  words(m: Mistake, x: SearchContext): Words;
}

/** The many-to-many, one-directional models in which a per-output truncation window means something. */
export const perOutput = (spec: ModelSpec): boolean => spec.returnSequences && !spec.bidirectional;
