/**
 * Errors the user can act on. The CLI prints their message as one line, with no stack trace,
 * and exits with `exitCode`.
 */

/** Bad input: flags, specs, files or data that cannot be used as given. Exit code 2. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A run that started but had to stop (for example a loss that turned NaN). Exit code 1. */
export class RunError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}

/** A run stopped by Ctrl-C (exit 130) or SIGTERM (143) after saving what it could. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: NodeJS.Signals,
    message: string,
  ) {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

export function isUserError(e: unknown): e is InputError | RunError | InterruptedError {
  return e instanceof InputError || e instanceof RunError || e instanceof InterruptedError;
}

/** An engine that failed, answered nonsense or timed out (exit code 2, the engine named first). */
export class EngineError extends InputError {
  constructor(
    readonly engine: string,
    message: string,
  ) {
    super(`engine ${engine}: ${message}`);
    this.name = 'EngineError';
  }
}

/** Something an engine says it cannot do: the harness skips it with a note. */
export class UnsupportedError extends InputError {
  constructor(
    readonly engine: string,
    readonly what: string,
  ) {
    super(`engine ${engine} does not support ${what}`);
    this.name = 'UnsupportedError';
  }
}

/** An error message may quote input; this keeps the quote to one readable piece (control characters escaped, as JSON does, and the C1 ones too). */
export function quote(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, hex) + (s.length > max ? ` (${s.length} characters)` : '');
}

const hex = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A message as one line a terminal shows as it is: line breaks as "\\n", other control characters
 * (an ANSI escape, a NUL) as "\\uXXXX". Every error rnnlab prints goes through it.
 */
export function oneLine(s: string): string {
  return s.replace(/\r?\n|\r/g, '\\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, hex);
}

/** Names for a message: each quoted and cut, at most `max` of them. */
export function listNames(names: string[], max = 12): string {
  const shown = names.slice(0, max).map((n) => quote(n, 40));
  return shown.join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');
}
