/**
 * Checks of a data cursor read back from a checkpoint's meta.json: an edited or damaged cursor is
 * refused with one line instead of training on garbage batches or failing deep inside a step.
 */
import { InputError } from '../errors.js';
import { isRngState } from '../rng.js';

export const badCursor = (what: string): InputError => new InputError(`meta.json: the data cursor is damaged (${what}); resume from another checkpoint`);

export function cursorObject(c: unknown): Record<string, unknown> {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw badCursor('not an object');
  return c as Record<string, unknown>;
}

export function cursorInt(c: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = c[key];
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw badCursor(`"${key}" is ${JSON.stringify(v)}, expected an integer in [${min}, ${max}]`);
  return v as number;
}

export function cursorRng(c: Record<string, unknown>): number[] {
  const v = c.rng;
  if (!isRngState(v)) throw badCursor('"rng" is not 4 unsigned 32-bit integers');
  return v;
}

/** An array of integers, each accepted by `ok`. */
export function cursorInts(v: unknown, key: string, ok: (x: number) => boolean): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && ok(x))) throw badCursor(`"${key}" holds values that are not items of this data`);
  return v as number[];
}
