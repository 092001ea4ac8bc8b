/**
 * Child processes that end with rnnlab. Each starts in its own process group (so a terminal's
 * Ctrl-C reaches rnnlab alone, which then stops its children in order: a training run checkpoints
 * first) and is ended as a group: whatever it started in turn (`sh -c "server & exec engine"`)
 * ends with it. When rnnlab exits, however it exits, every group still running is killed.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const groups = new Set<ChildProcess>();
let hooked = false;

/** Sends a signal to the child's whole process group (the child itself when it has none); false when nothing was there. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    try {
      return child.kill(signal);
    } catch {
      return false;
    }
  }
}

function killAllGroups(): void {
  for (const c of groups) signalGroup(c, 'SIGKILL');
  groups.clear();
}

/** Starts a command in a process group of its own, killed (with all it started) when rnnlab exits. */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  groups.add(child);
  if (!hooked) {
    hooked = true;
    process.on('exit', killAllGroups);
  }
  return child;
}

/**
 * The child has exited (or is being abandoned): kill what is left of its group (a grandchild that
 * held on to its pipes), and a moment later (what it wrote last is read first) let go of its
 * pipes, so that nothing keeps rnnlab waiting.
 */
export function endGroup(child: ChildProcess): void {
  signalGroup(child, 'SIGKILL');
  groups.delete(child);
  setTimeout(() => {
    for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
  }, 200).unref();
}
