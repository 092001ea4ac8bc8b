#!/usr/bin/env node
/**
 * The rnnlab command line: parse, call the library, print. No math here.
 * Exit codes: 0 success, 1 a check failed or a run stopped, 2 bad input.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isUserError } from './errors.js';
import { registerBench } from './commands/bench.js';
import { registerCheck } from './commands/check.js';
import { registerConvert } from './commands/convert.js';
import { registerGenerate } from './commands/generate.js';
import { registerGradcheck } from './commands/gradcheck.js';
import { registerPlot } from './commands/plot.js';
import { registerPredict } from './commands/predict.js';
import { registerTrain } from './commands/train.js';
import { type IO, processIO } from './commands/io.js';
import { VERSION } from './version.js';
import { closeAllEngineProcesses } from './engines/process.js';

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
  registerTrain(program, io);
  registerGenerate(program, io);
  registerPredict(program, io);
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
    if (isUserError(e)) {
      io.err(`rnnlab: ${e.message}`);
      return e.exitCode;
    }
    const err = e as Error;
    io.err(`rnnlab: internal error: ${err?.message ?? String(e)}`);
    if (process.env.RNNLAB_DEBUG) io.err(String(err?.stack));
    else io.err('rnnlab: this is a bug in rnnlab; set RNNLAB_DEBUG=1 to see where it happened');
    return 1;
  } finally {
    // however the command ended, no engine process outlives it
    await closeAllEngineProcesses();
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
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
