/** Small helpers for tests of runs and processes. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Running (a zombie that nobody reaped, as in a container without an init, counts as ended). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !(existsSync(stat) && /^\d+ \(.*\) Z/.test(readFileSync(stat, 'utf8')));
}

/** The steps of a run's checkpoints, in order. */
export const stepsIn = (run: string): number[] =>
  readdirSync(join(run, 'checkpoints'))
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]))
    .sort((a, b) => a - b);
