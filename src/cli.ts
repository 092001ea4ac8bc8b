#!/usr/bin/env node
/**
 * The rnnlab command line: parse, call the library, print. No math here.
 * Exit codes: 0 success, 1 a check failed or a run stopped, 2 bad input.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isUserError, oneLine } from './errors.js';
import { registerBench } from './commands/bench.js';
import { registerCheck } from './commands/check.js';
import { registerConvert } from './commands/convert.js';
import { registerImport } from './commands/import.js';
import { registerGradcheck } from './commands/gradcheck.js';
import { registerPlot } from './commands/plot.js';
import { registerTrain } from './commands/train.js';
import { registerUseCommands } from './commands/use.js';
import { type IO, processIO } from './io/output.js';
import { VERSION } from './version.js';
import { closeAllBrowsers, closeAllEngineProcesses } from './engines/registry.js';
import { releaseAllLocks } from './io/run-folder.js';

export function buildProgram(io: IO, setExit: (code: number) => void): Command {
  const program = new Command('rnnlab')
    .description('From-scratch RNN, LSTM and GRU next to their TensorFlow.js twins: gradients, training and timing compared to the last digit.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`rnnlab: ${s.trim().replace(/^error: /, '')} (see --help)`),
    });
  registerCheck(program, io, setExit);
  registerGradcheck(program, io, setExit);
  registerConvert(program, io);
  registerImport(program, io);
  registerTrain(program, io);
  // each task's use-command: generate (text), forecast (series), predict (classify), translate (seq2seq)
  registerUseCommands(program, io);
  registerBench(program, io);
  registerPlot(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs the CLI on argv (without "node" and the script) and returns the exit code. */
export async function main(argv: string[], io: IO = processIO()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit with 0; usage errors (already printed by commander) with 2
      return e.exitCode === 0 ? 0 : 2;
    }
    // one line each, whatever it quotes (a key with a newline, an engine's ANSI colours)
    if (isUserError(e)) {
      io.err(`rnnlab: ${oneLine(e.message)}`);
      return e.exitCode;
    }
    const sys = systemErrorMessage(e);
    if (sys) {
      io.err(`rnnlab: ${oneLine(sys)}`);
      return 2;
    }
    const err = e as Error;
    io.err(`rnnlab: internal error: ${oneLine(err?.message ?? String(e))}`);
    if (process.env.RNNLAB_DEBUG) io.err(String(err?.stack));
    else io.err('rnnlab: this is a bug in rnnlab; set RNNLAB_DEBUG=1 to see where it happened');
    return 1;
  } finally {
    // however the command ended, no engine process (and no browser) outlives it, and no run stays locked
    await closeAllEngineProcesses();
    await closeAllBrowsers();
    releaseAllLocks();
  }
}

/**
 * The user's situation, not a bug: a file system that refuses (missing, read-only, full, not a
 * directory, ...). One line that says what to do; every file rnnlab writes is written atomically,
 * so what was written before stays whole.
 */
export function systemErrorMessage(e: unknown): string | null {
  const x = e as NodeJS.ErrnoException & { dest?: string };
  if (!x || typeof x !== 'object' || typeof x.code !== 'string' || !x.syscall) return null;
  const raw = x.dest && ['rename', 'link', 'copyfile'].includes(x.syscall) ? x.dest : x.path ?? '';
  // a file being written atomically fails at its temporary name (.NAME.PID.RANDOM.tmp): name the file the user asked for
  const path = raw.replace(/(^|\/)\.([^/]+)\.\d+\.[a-z0-9]+\.tmp(\.old)?$/, '$1$2');
  const at = path ? `${path}: ` : '';
  switch (x.code) {
    case 'ENOENT':
      return `${at}no such file or directory`;
    case 'EACCES':
    case 'EPERM':
      return `${at}permission denied (${x.syscall}); choose a file or folder you may use (another --out or -o)`;
    case 'EROFS':
      return `${at}the file system is read-only; choose another place to write (another --out or -o)`;
    case 'ENOSPC':
      return `${at}no space left on the device; free some space or write elsewhere (files already written are whole: each is written to a temporary file and renamed)`;
    case 'EDQUOT':
      return `${at}the disk quota is exhausted; free some space or write elsewhere`;
    case 'EISDIR':
      return `${at}is a directory, expected a file`;
    case 'ENOTDIR':
      return `${at}a part of this path is a file, not a directory`;
    case 'EEXIST':
    case 'ENOTEMPTY':
      return `${at}already exists`;
    case 'ENAMETOOLONG':
      return `a file name is too long (${path.length} characters): ${path.slice(0, 60)}…`;
    case 'EMFILE':
    case 'ENFILE':
      return `too many open files (${x.syscall}${path ? ` ${path}` : ''}); raise the limit (ulimit -n) or close other programs`;
    case 'ELOOP':
      return `${at}too many symbolic links (a loop?)`;
    case 'EIO':
      return `${at}input/output error from the device`;
    default:
      return null;
  }
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  let ended = false;
  main(process.argv.slice(2)).then(
    (code) => {
      ended = true;
      process.exitCode = code;
    },
    () => {
      ended = true;
      process.exitCode = 1;
    },
  );
  // Node ends when nothing is left to wait for, even with the command unfinished (a promise that
  // never settles and no timer): that must not pass for success
  process.on('beforeExit', () => {
    if (ended) return;
    ended = true;
    process.stderr.write('rnnlab: internal error: the command stopped before it finished (it waited on something that can never happen); this is a bug in rnnlab or in an engine it ran\n');
    process.exitCode = 1;
  });
}
