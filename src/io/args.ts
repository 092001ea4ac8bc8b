/**
 * Command-line values: strict parsers (a typo is an error, not NaN), commander's choice options,
 * and the spelling of an option key. Commands and tasks (their own flags) build on these.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option } from 'commander';

export function intArg(min = 1, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    if (!/^[+]?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${v}"`);
    const n = Number(v);
    if (n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got ${n}`);
    // beyond 2^53 a number is no longer exact (99999999999999999999 would silently become 100000000000000000000)
    if (n > max) throw new InvalidArgumentError(`expected an integer <= ${max}, got ${v.trim()}`);
    return n;
  };
}

/** More threads than cores only slows the kernels down (and 10^8 of them would exhaust the memory). */
export function threadsArg(v: string): number {
  const n = intArg(1)(v);
  const cores = availableParallelism();
  if (n > cores) throw new InvalidArgumentError(`expected at most ${cores} (the cores of this machine), got ${n}`);
  return n;
}

export const threadsListArg = (v: string): number[] => v.split(',').map((s) => threadsArg(s));

/** Seeds are 32-bit: a larger one would silently alias a smaller seed. */
export const seedArg = intArg(0, 2 ** 32 - 1);

export function numArg(opts: { min?: number; positive?: boolean; max?: number } = {}): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${v}"`);
    if (opts.positive && !(n > 0)) throw new InvalidArgumentError(`expected a number > 0, got ${n}`);
    if (opts.min !== undefined && n < opts.min) throw new InvalidArgumentError(`expected a number >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new InvalidArgumentError(`expected a number <= ${opts.max}, got ${n}`);
    return n;
  };
}

/** A comma-separated list of names, each trimmed, empty ones dropped. */
export const listArg = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

export function intListArg(min = 1): (v: string) => number[] {
  const one = intArg(min);
  return (v: string) => v.split(',').map((s) => one(s));
}

export function choice<T extends string>(flags: string, description: string, choices: readonly T[], def?: T): Option {
  const o = new Option(flags, description).choices(choices as unknown as string[]);
  return def === undefined ? o : o.default(def);
}

/** The command-line spelling of an option key: clipNorm -> --clip-norm. */
export const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
