/**
 * `check` on a half-float engine (tfjs-webgl-f16): besides its own policy (TOLERANCES_F16), by how
 * much each output, loss and gradient misses the float32 policy, so a reader sees what a phone's
 * half-float textures cost against the float32 that a desktop's webgl computes.
 */
import { type Precision, limitFor } from '../tolerance.js';
import type { CheckReport } from '../../compare/comparisons.js';
import { formatTable, sci } from '../io/table.js';

export interface HalfFloatMiss {
  what: string;
  engine: string;
  maxRelError: number;
  /** The float32 policy's limit for this comparison, and the error over it (below 1: within it). */
  float32Limit: number;
  timesFloat32: number;
  /** The half-precision policy's limit (the one the verdict uses). */
  limit: number;
}

/** Every output, loss and gradient comparison of the float16 engines, measured against the float32 policy too. */
export function halfFloatMisses(report: Pick<CheckReport, 'forward' | 'loss' | 'gradients' | 'dtypes'>): HalfFloatMiss[] {
  const half = (engine: string): boolean => (report.dtypes?.[engine] as Precision | undefined) === 'float16';
  return [...report.forward, ...report.loss.comparisons, ...report.gradients]
    .filter((c) => half(c.engine))
    .map((c) => {
      const float32Limit = limitFor(c.kind, 'float32');
      return { what: c.what, engine: c.engine, maxRelError: c.maxRelError, float32Limit, timesFloat32: c.maxRelError / float32Limit, limit: c.limit };
    });
}

/** The printed block (empty without a float16 engine). */
export function halfFloatLines(misses: HalfFloatMiss[]): string[] {
  if (misses.length === 0) return [];
  return [
    'half floats against the float32 policy (what a phone whose webgl has no float32 render targets computes, by how much it misses what a desktop\'s float32 webgl meets)',
    formatTable(
      ['', 'engine', 'max rel err', 'float32 limit', 'x float32 limit', 'half limit', 'verdict'],
      misses.map((m) => [m.what, m.engine, sci(m.maxRelError), sci(m.float32Limit, 0), m.timesFloat32 < 1 ? 'within' : `${m.timesFloat32.toFixed(m.timesFloat32 < 10 ? 1 : 0)}x`, sci(m.limit, 0), m.maxRelError <= m.limit ? 'ok' : 'FAIL']),
      ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    ),
    'half floats hold the parameters and the optimizer\'s slots too: an update under half a parameter\'s ulp is lost, and Adam\'s second moment (squared gradients, ~1e-8) underflows, so its steps blow up: with Adam the parameters after training fail, as a phone\'s would',
    '',
  ];
}
