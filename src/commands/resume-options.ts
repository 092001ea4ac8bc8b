/**
 * `train --resume`: the options a checkpoint's meta.json stores are read like user input (each
 * value is one its flag would produce; the task is known and complete), and nothing in a run
 * folder is executed: a run on an engine that is code (a "cmd:" command, a module path) continues
 * only when the command line names that engine again, and exactly that one; the Python of the
 * pytorch engine is never taken from the folder.
 */
import { resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { type EngineRef, parseEngineList } from '../engines/registry.js';
import { InputError, quote } from '../errors.js';
import { PRESETS } from '../tasks/presets.js';
import { RESUME_OVERRIDABLE, type TrainOptions } from '../run-options.js';
import { flagName } from '../io/args.js';
import { taskModule } from '../tasks/registry.js';

/** Keys a run stores that are no flag of train (a preset's settings, the recorded data files). */
const STORED_ONLY: Record<string, (v: unknown) => boolean> = {
  valAtBreakpoints: (v) => typeof v === 'boolean',
  corpusFile: (v) => typeof v === 'string' && v.length > 0,
  keepLicense: (v) => typeof v === 'boolean',
  dataFiles: (v) =>
    Array.isArray(v) &&
    v.every((f) => {
      const d = f as Record<string, unknown>;
      return d && typeof d === 'object' && ['text', 'corpus', 'csv'].includes(d.flag as string) && typeof d.given === 'string' && typeof d.path === 'string' && typeof d.sha256 === 'string' && /^[0-9a-f]{64}$/.test(d.sha256) && Number.isSafeInteger(d.bytes);
    }),
};
/** Keys a resume sets itself, whatever was stored. */
const IGNORED = new Set(['resume', 'out', 'json', 'overwrite', 'init', 'python', 'blas', 'browser']);
/** Lengths a run may leave unset (its default length is of the other kind). */
const LENGTHS = new Set(['steps', 'epochs', 'minutes']);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Whether `v` is a value the option's parser gives for some argument (its own text, for a scalar or each element). */
function parserGives(opt: Option, v: unknown): boolean {
  const parse = (opt as unknown as { parseArg?: (value: string, previous: unknown) => unknown }).parseArg;
  const one = (x: unknown): boolean => {
    if (typeof x !== 'string' && !(typeof x === 'number' && Number.isFinite(x))) return false;
    if (opt.argChoices && !opt.argChoices.includes(String(x))) return false;
    if (!parse) return typeof x === 'string';
    let p: unknown;
    try {
      p = parse(String(x), undefined);
    } catch {
      return false;
    }
    return same(p, x) || (Array.isArray(p) && p.length === 1 && same(p[0], x));
  };
  if (!Array.isArray(v)) return one(v);
  if (v.length === 0) return false;
  // a list flag (--sample-at 10,20) gives the whole list from its text; a repeated one (--engines), one element per use
  if (parse && v.every((x) => typeof x === 'number')) {
    try {
      if (same(parse(v.join(','), undefined), v)) return true;
    } catch {
      /* judged element by element */
    }
  }
  return v.every(one);
}

/** The stored options of a checkpoint, each checked against its flag; one line naming the first that is wrong. */
export function validateStoredOptions(raw: unknown, command: Command, source: string): TrainOptions {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${source}: "options" is not an object of training options; this checkpoint cannot be resumed`);
  const saved = raw as Record<string, unknown>;
  const bad = (k: string, why: string): never => {
    throw new InputError(`${source}: the stored option ${quote(k, 40)} ${why}; this checkpoint cannot be resumed (was meta.json edited?)`);
  };
  if (typeof saved.task !== 'string') bad('task', 'is missing');
  const task = taskModule(saved.task as string);
  const options = new Map(command.options.map((o) => [o.attributeName(), o]));
  for (const [k, v] of Object.entries(saved)) {
    if (IGNORED.has(k) || v === undefined || v === null) continue;
    const check = STORED_ONLY[k];
    if (check) {
      if (!check(v)) bad(k, `is ${quote(JSON.stringify(v), 60)}`);
      continue;
    }
    const opt = options.get(k);
    if (!opt) bad(k, 'is no option of rnnlab train');
    const flag = flagName(k);
    if (!opt!.required && !opt!.optional) {
      if (typeof v !== 'boolean') bad(k, `(${flag}) is ${quote(JSON.stringify(v), 60)}, expected true or false`);
    } else if (!parserGives(opt!, v)) {
      bad(k, `(${flag}) is ${quote(JSON.stringify(v), 60)}, which ${flag} would refuse`);
    }
  }
  if (typeof saved.preset === 'string' && !PRESETS[saved.preset]) bad('preset', `names no preset (${saved.preset})`);
  // a run stores every option its task has a default for (but the length of the kind it did not use)
  for (const k of Object.keys(task.defaults)) {
    if (!LENGTHS.has(k) && saved[k] === undefined) bad(k, `is missing (a ${task.name} run always records it)`);
  }
  return saved as unknown as TrainOptions;
}

/** Whether an engine is code rnnlab would run: a command, or a module it would import. */
const isCode = (r: EngineRef): boolean => r.kind === 'cmd' || r.kind === 'module';

function sameEngine(a: EngineRef, b: EngineRef): boolean {
  if (a.kind === 'cmd' && b.kind === 'cmd') return a.command.trim() === b.command.trim();
  if (a.kind === 'module' && b.kind === 'module') return a.path === b.path || resolve(a.path) === resolve(b.path);
  return same(a, b);
}

/**
 * The engines of a resumed run: the stored ones, which must be named again on the command line
 * when any is code (a command or module is never run because a run folder names it), and which
 * the command line may restate but not change.
 */
export function resumeEngines(saved: TrainOptions, given: { engine?: string; engines?: string[] }, source: string): Pick<TrainOptions, 'engine' | 'engines'> {
  const stored = saved.engines ?? [saved.engine];
  const storedRefs = parseEngineList(stored, saved.backend as 'auto');
  const asked = given.engines ?? (given.engine !== undefined ? [given.engine] : undefined);
  const spelled = stored.map((e) => (e.trim().startsWith('cmd:') ? `"${e}"` : e)).join(',');
  if (!asked) {
    if (storedRefs.some(isCode)) {
      throw new InputError(
        `${source}: this run trains on ${spelled}, code that rnnlab never runs because a run folder names it (a folder from someone else could name any command); ` +
          `to continue, give the engines again: --engines ${stored.length === 1 ? JSON.stringify(stored[0]) : JSON.stringify(stored.join(','))}`,
      );
    }
    return { engine: saved.engine, engines: saved.engines };
  }
  const askedRefs = parseEngineList(asked, saved.backend as 'auto');
  if (askedRefs.length !== storedRefs.length || askedRefs.some((r, i) => !sameEngine(r, storedRefs[i]))) {
    throw new InputError(`--engine${given.engines ? 's' : ''} ${asked.join(' ')} is not the run's engines (${spelled}); a run continues on the engines it started with`);
  }
  return given.engines ? { engine: saved.engine, engines: asked } : { engine: given.engine!, engines: saved.engines };
}

/** The flags a resume may change, and the engine flags (checked by resumeEngines). */
export function resumeMayGive(k: string): boolean {
  return RESUME_OVERRIDABLE.has(k) || k === 'engine' || k === 'engines';
}
