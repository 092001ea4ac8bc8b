/**
 * The tasks' flags as commander options: their own `train` flags (one option per spelling, with
 * each task's help) and the flags of their use-commands. The tasks declare them as data
 * (src/tasks/task.ts: TaskFlag, UseFlag); only the CLI knows commander.
 */
import { Option } from 'commander';
import { TASKS } from '../tasks/registry.js';
import type { AnyTaskModule, UseFlag } from '../tasks/task.js';

/** One declared flag as a commander option (its choices, parser and default; required is the command's business). */
export function flagOption(flag: UseFlag, help = flag.help): Option {
  const o = new Option(flag.flags, help);
  if (flag.choices) o.choices(flag.choices);
  if (flag.parse) o.argParser(flag.parse);
  if (flag.default !== undefined) o.default(flag.default);
  if (flag.required) o.makeOptionMandatory();
  return o;
}

/**
 * The tasks' own train flags as commander options: a spelling several tasks use (--csv, --dataset,
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
  return [...bySpelling.values()].map(({ helps, flag }) => flagOption(flag, helps.join('; ')));
}
