/**
 * Every task, by name. Adding a task is adding its module (src/tasks/<task>.ts, a TaskModule) and
 * one line here; `rnnlab train --task`, its flags and help, and the task's use-command follow.
 */
import { Option } from 'commander';
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

/** Commander's attribute name of a flag spelling: '--no-bucketing' -> bucketing, '--max-len <n>' -> maxLen. */
export function flagKey(flags: string): string {
  return new Option(flags).attributeName();
}

/**
 * The tasks' own flags as commander options: a spelling several tasks use (--csv, --dataset,
 * --level) is one option whose help says what it does for each ("series: ...; classify: ...").
 */
export function taskOptions(): Option[] {
  const bySpelling = new Map<string, { tasks: string[]; helps: string[]; flag: AnyTaskModule['flags'][number] }>();
  for (const t of TASKS) {
    for (const f of t.flags) {
      const seen = bySpelling.get(f.flags);
      if (!seen) bySpelling.set(f.flags, { tasks: [t.name], helps: [`${t.name}: ${f.help}`], flag: f });
      else {
        if (JSON.stringify(seen.flag.choices) !== JSON.stringify(f.choices) || !seen.flag.parse !== !f.parse) {
          throw new Error(`task flag ${f.flags} is declared differently by ${seen.tasks.join(', ')} and ${t.name}`);
        }
        seen.tasks.push(t.name);
        seen.helps.push(`${t.name}: ${f.help}`);
      }
    }
  }
  return [...bySpelling.values()].map(({ helps, flag }) => {
    const o = new Option(flag.flags, helps.join('; '));
    if (flag.choices) o.choices(flag.choices);
    if (flag.parse) o.argParser(flag.parse);
    return o;
  });
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
