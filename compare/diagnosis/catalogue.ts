/**
 * The catalogue of mistakes `check` tries when an engine disagrees: the classic mistakes of
 * hand-written RNNs, LSTMs and GRUs, each a variant of the float64 scratch reference with that
 * mistake planted (src/engines/mistakes/), one module per family.
 */
import { DATA } from './data.js';
import { DERIVATIVES } from './derivatives.js';
import type { Entry } from './entry.js';
import { FLOW } from './flow.js';
import { GATES } from './gates.js';
import { LOSS } from './loss.js';

export const CATALOGUE: readonly Entry[] = [...FLOW, ...GATES, ...DERIVATIVES, ...LOSS, ...DATA];
