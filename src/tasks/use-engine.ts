/**
 * The engine flags of the commands that use a trained model (generate, forecast, predict): one
 * engine of any kind, by name, for a checkpoint's model.
 */
import type { Command } from 'commander';
import { choice } from '../io/args.js';
import { type BackendRequest, type EngineRef, parseEngineList } from '../engines/registry.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { ModelSpec } from '../spec.js';

/** --engine (any engine name), --backend and --python, for commands that run a checkpoint (generate, forecast, predict). */
export function addCheckpointEngineOptions(cmd: Command): Command {
  return cmd
    .option('--engine <e>', 'engine that runs the model: scratch, tfjs, pytorch, a module path or "cmd:COMMAND" (docs/engines.md)', 'scratch')
    .addOption(choice('--backend <b>', 'tfjs backend', ['auto', 'node', 'wasm', 'cpu'], 'auto'))
    .option('--python <path>', 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)')
    .option('--json', 'print one JSON object');
}

export interface CheckpointEngineFlags {
  engine: string;
  backend: string;
  python?: string;
  json?: boolean;
}

/** createEngines' arguments for a checkpoint's model on the one engine of --engine. */
export function checkpointEngineOptions(
  f: CheckpointEngineFlags,
  spec: ModelSpec,
  params: NamedParams,
  optimizer: OptimizerSpec,
): [EngineRef[], ModelSpec, { params: NamedParams; optimizer: OptimizerSpec; python?: string; purpose: 'use' }] {
  const refs = parseEngineList([f.engine], f.backend as BackendRequest);
  if (refs.length !== 1) throw new InputError(`--engine runs the model on one engine (got ${refs.length}: ${f.engine})`);
  return [refs, spec, { params, optimizer, python: f.python, purpose: 'use' }];
}
