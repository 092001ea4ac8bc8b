/**
 * The commands that use a trained model, one per task that declares one (generate, forecast,
 * predict, translate): each task's UseCommand (src/tasks/task.ts) with the engine flags every
 * use-command shares (src/tasks/use-engine.ts), its examples in the help, and its `run`.
 */
import type { Command } from 'commander';
import type { IO } from '../io/output.js';
import { TASKS } from '../tasks/registry.js';
import type { UseCommand } from '../tasks/task.js';
import { USE_ENGINE_FLAGS } from '../tasks/use-engine.js';
import { flagOption } from './task-flags.js';

/** Declares one use-command on the program. */
export function registerUseCommand(program: Command, use: UseCommand, io: IO): Command {
  const cmd = program.command(use.name).description(use.description);
  if (use.argument) cmd.argument(use.argument.spec, use.argument.help);
  for (const f of [...use.flags, ...USE_ENGINE_FLAGS]) cmd.addOption(flagOption(f));
  if (use.examples.length) cmd.addHelpText('after', `\n${use.examples.length > 1 ? 'Examples' : 'Example'}:\n${use.examples.map((e) => `  ${e}`).join('\n')}`);
  // commander passes the positional values first (when there is an argument), then the options
  cmd.action(async (...a: unknown[]) => {
    const args = use.argument ? (a[0] as string[]) : [];
    await use.run(args, (use.argument ? a[1] : a[0]) as object, io);
  });
  return cmd;
}

/** Every registered task's use-command (a task added with registerTask before the program is built included). */
export function registerUseCommands(program: Command, io: IO): void {
  for (const t of TASKS) if (t.use) registerUseCommand(program, t.use, io);
}
