/**
 * Ctrl-C and SIGTERM, in one place. By default a signal ends rnnlab at once with 130 (SIGINT) or
 * 143 (SIGTERM); the 'exit' handlers still run, so engine processes are killed with it. A command
 * that can stop cleanly (training: finish the step, write a checkpoint) sets a graceful handler:
 * the first signal calls it, a second one ends rnnlab at once (every file is written atomically,
 * so that cannot corrupt anything).
 */
type Graceful = (signal: NodeJS.Signals) => void;

let graceful: Graceful | null = null;
let signalled = false;
let installed = false;

export const signalExitCode = (s: NodeJS.Signals): number => (s === 'SIGINT' ? 130 : 143);

function onSignal(signal: NodeJS.Signals): void {
  if (graceful && !signalled) {
    signalled = true;
    graceful(signal);
    return;
  }
  process.exit(signalExitCode(signal));
}

/** Installs the handlers (idempotent). Without them Node would die on a signal without its 'exit' handlers. */
export function handleSignals(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** While `f` is set, the first signal calls it instead of exiting. */
export function setGraceful(f: Graceful | null): void {
  graceful = f;
  signalled = false;
  if (f) handleSignals();
}
