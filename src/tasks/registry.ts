/**
 * Every task, by name. Adding a task is adding its module (src/tasks/<task>.ts, a TaskModule) and
 * one line here; `rnnlab train --task`, its flags and help, and the task's use-command follow
 * (src/commands/train.ts and src/commands/use.ts make them commands).
 */
import { InputError } from '../errors.js';
import { classifyTask } from './classify.js';
import { seq2seqTask } from './seq2seq.js';
import { seriesTask } from './series.js';
import type { AnyTaskModule } from './task.js';
import { textTask } from './text.js';

const tasks: AnyTaskModule[] = [textTask, seriesTask, classifyTask, seq2seqTask];

/** The tasks `rnnlab train --task` knows, in the order of its help. */
export const TASKS: readonly AnyTaskModule[] = tasks;

/** Adds a task from outside the project (a library user's own task, a test's); before the CLI program is built. */
export function registerTask(m: AnyTaskModule): void {
  if (tasks.some((t) => t.name === m.name)) throw new Error(`a task named "${m.name}" is already registered`);
  tasks.push(m);
}

export function taskModule(name: string): AnyTaskModule {
  const t = TASKS.find((x) => x.name === name);
  if (!t) throw new InputError(`unknown task "${name}" (tasks: ${TASKS.map((x) => x.name).join(', ')})`);
  return t;
}

/** The attribute name of a flag spelling, as commander names it: '--no-bucketing' -> bucketing, '--max-len <n>' -> maxLen, '-o, --out <file>' -> out. */
export function flagKey(flags: string): string {
  const long = flags.split(/[ ,|]+/).find((x) => x.startsWith('--'));
  if (!long) throw new Error(`flag "${flags}" has no long name`);
  return long.slice(2).replace(/^no-/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** For each task-owned option key, the tasks that use it (a flag of one task is refused by the others). */
export function taskOnlyKeys(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of TASKS) {
    for (const f of t.flags) {
      const k = flagKey(f.flags);
      m.set(k, [...(m.get(k) ?? []), t.name]);
    }
  }
  return m;
}
