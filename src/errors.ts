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
