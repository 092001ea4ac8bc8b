/**
 * The one array comparison of the tests, the harness's own measure (src/tolerance.ts):
 * max |actual - expected| / max(max |expected|, 1e-3), or with `absolute` the largest absolute
 * difference. A failure names the tensor, the error, the limit and the worst element, as `check`
 * does. `limit` is a number or a TOLERANCES entry (whose reason is in src/tolerance.ts).
 */
import { expect } from 'vitest';
import { TOLERANCES, type ToleranceKind, compareArrays, within } from '../../src/tolerance.js';

export function expectClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, limit: number | ToleranceKind, o: { absolute?: boolean } = {}): void {
  expect(actual.length, `${name}: length`).toBe(expected.length);
  const lim = typeof limit === 'number' ? limit : TOLERANCES[limit].limit;
  const a = compareArrays(actual, expected);
  const err = o.absolute ? a.maxAbsError : a.maxRelError;
  if (!within(err, lim)) {
    const i = a.worstIndex;
    expect.fail(`${name}: ${o.absolute ? 'max abs' : 'max rel'} error ${err.toExponential(2)} > ${lim.toExponential(1)} (worst at [${i}]: ${actual[i]} vs ${expected[i]})`);
  }
}

/** expectClose for a single number (a loss). */
export function expectNear(name: string, actual: number, expected: number, limit: number | ToleranceKind, o: { absolute?: boolean } = {}): void {
  expectClose(name, [actual], [expected], limit, o);
}
