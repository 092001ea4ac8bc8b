/**
 * What plot and report read from a run's files, checked like user input before a chart is drawn:
 * a file edited by hand, cut short or written by something else is one line naming the file and
 * the field, never a crash inside a chart. Numbers may be null (rnnlab writes NaN as null).
 */
import { InputError } from '../errors.js';

/**
 * 'num': a number or null; 'int': a count; 'str', 'bool'; 'nums': numbers (or null) by name;
 * 'obj': any object; 'null'; [S]: a list of S; { key: S, 'key?': S }: an object with those
 * fields (optional when the key ends in "?"); { oneOf: [S, ...] }; { mapOf: S }: any keys, each S.
 */
export type Schema =
  | 'num'
  | 'int'
  | 'str'
  | 'bool'
  | 'nums'
  | 'obj'
  | 'null'
  | 'any'
  | readonly [Schema]
  | { readonly oneOf: readonly Schema[] }
  | { readonly mapOf: Schema }
  | { readonly [key: string]: Schema };

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The first place where `v` is not `s`, as "path: what it should be", or null. */
export function mismatch(v: unknown, s: Schema, path: string): string | null {
  if (typeof s === 'string') {
    const ok =
      s === 'any' ||
      (s === 'num' && (v === null || typeof v === 'number')) ||
      (s === 'int' && Number.isSafeInteger(v) && (v as number) >= 0) ||
      (s === 'str' && typeof v === 'string') ||
      (s === 'bool' && typeof v === 'boolean') ||
      (s === 'obj' && isObj(v)) ||
      (s === 'null' && v === null) ||
      (s === 'nums' && isObj(v) && Object.values(v).every((x) => x === null || typeof x === 'number'));
    const want = { num: 'a number', int: 'a count', str: 'text', bool: 'true or false', obj: 'an object', nums: 'numbers by name', null: 'null', any: '' }[s];
    return ok ? null : `${path} is ${shown(v)}, expected ${want}`;
  }
  if (Array.isArray(s)) {
    if (!Array.isArray(v)) return `${path} is ${shown(v)}, expected a list`;
    for (let i = 0; i < v.length; i++) {
      const m = mismatch(v[i], s[0], `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if ('oneOf' in s && Array.isArray(s.oneOf) && Object.keys(s).length === 1) {
    const ms = (s.oneOf as Schema[]).map((x) => mismatch(v, x, path));
    return ms.includes(null) ? null : ms[0];
  }
  if (!isObj(v)) return `${path} is ${shown(v)}, expected an object`;
  if ('mapOf' in s && typeof s.mapOf !== 'undefined' && Object.keys(s).length === 1) {
    for (const [k, x] of Object.entries(v)) {
      const m = mismatch(x, s.mapOf as Schema, `${path}.${k}`);
      if (m) return m;
    }
    return null;
  }
  for (const [key, sub] of Object.entries(s as Record<string, Schema>)) {
    const optional = key.endsWith('?');
    const k = optional ? key.slice(0, -1) : key;
    if (v[k] === undefined) {
      if (optional) continue;
      return `${path}.${k} is missing`;
    }
    const m = mismatch(v[k], sub, `${path}.${k}`);
    if (m) return m;
  }
  return null;
}

function shown(v: unknown): string {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 40 ? `${j.slice(0, 40)}…` : j;
}

/** Refuses `v` with one line naming the file, unless it is `s`. */
export function expectShape(v: unknown, s: Schema, file: string, root: string): void {
  const m = mismatch(v, s, root);
  if (m) throw new InputError(`${file}: ${m}; the file was edited or is not rnnlab's`);
}

const COMPARISON: Schema = { what: 'str', engine: 'str', 'against?': 'str', maxAbsError: 'num', maxRelError: 'num', cosine: 'num', limit: 'num', pass: 'bool', 'perGate?': 'nums', 'worst?': { 'gate?': 'str', position: ['num'] } };
const NAMED: Schema = { oneOf: ['str', { name: 'str' }] };

/** check.json: what the check report and charts read. */
export const CHECK_JSON: Schema = {
  engines: [NAMED],
  reference: 'str',
  forward: [COMPARISON],
  loss: { values: 'nums', comparisons: [COMPARISON] },
  gradients: [COMPARISON],
  'perStep?': [{ layer: 'num', t: 'num', errors: 'nums' }],
  trajectory: { steps: [{ step: 'num', loss: 'nums', 'maxParamDiff?': 'num' }] },
  final: [COMPARISON],
  pass: 'bool',
  failures: ['str'],
};

const TIMING: Schema = { median: 'num', p10: 'num', p90: 'num' };
/** bench.json */
export const BENCH_JSON: Schema = {
  baseline: 'str',
  rows: [{ cell: 'str', hidden: 'num', batch: 'num', engine: 'str', threads: 'num', trainStepMs: TIMING, forwardMs: { median: 'num' }, tokensPerSecond: 'num', ratio: 'num' }],
};

/** The final record of a training run (the results its task adds: the task's own schema, src/tasks/<task>.ts `report`). */
export const TRAIN_FINAL: Schema = { loss: 'nums', msPerStep: 'nums', 'steps?': 'int', 'epochs?': 'num', 'elapsedSeconds?': 'num', 'validation?': 'obj' };
