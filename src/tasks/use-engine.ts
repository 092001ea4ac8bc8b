/**
 * The engine flags of the commands that use a trained model (generate, forecast, predict,
 * translate): one engine of any kind, by name, for a checkpoint's model. Declared as data here;
 * src/commands/use.ts adds them to every use-command.
 */
import { numArg } from '../io/args.js';
import { type BackendRequest, type EngineRef, MAX_TIMEOUT_S, parseEngineList } from '../engines/registry.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { ModelSpec } from '../spec.js';
import type { UseFlag } from './task.js';

/** --engine (any engine name), --backend, --python, --browser, --engine-timeout and --json, for every use-command. */
export const USE_ENGINE_FLAGS: readonly UseFlag[] = [
  {
    flags: '--engine <e>',
    help: 'engine that runs the model: scratch, scratch-f64, tfjs, pytorch, pytorch-f64, tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16 (headless Chromium), a module path or "cmd:COMMAND" (docs/engines.md)',
    default: 'scratch',
  },
  { flags: '--backend <b>', help: 'tfjs backend', choices: ['auto', 'node', 'wasm', 'cpu'], default: 'auto' },
  { flags: '--python <path>', help: 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)' },
  { flags: '--browser <path>', help: 'the Chromium or Chrome of the browser engines (default RNNLAB_BROWSER, then chromium on PATH)' },
  { flags: '--engine-timeout <s>', help: `seconds an engine (another process, a module's promise, or a browser page) may take to answer (default 120; at most ${MAX_TIMEOUT_S})`, parse: numArg({ positive: true, max: MAX_TIMEOUT_S }) },
  { flags: '--json', help: 'print one JSON object' },
];

export interface CheckpointEngineFlags {
  engine: string;
  backend: string;
  python?: string;
  browser?: string;
  engineTimeout?: number;
  json?: boolean;
}

/** The outside-engine flags as the registry's options (--python, --browser, --engine-timeout in ms); train's flags of the same names too. */
export function useEngineOptions(f: Pick<CheckpointEngineFlags, 'python' | 'browser' | 'engineTimeout'>): { python?: string; browser?: string; timeoutMs?: number } {
  return { python: f.python, browser: f.browser, timeoutMs: f.engineTimeout !== undefined ? f.engineTimeout * 1000 : undefined };
}

/** createEngines' arguments for a checkpoint's model on the one engine of --engine. */
export function checkpointEngineOptions(
  f: CheckpointEngineFlags,
  spec: ModelSpec,
  params: NamedParams,
  optimizer: OptimizerSpec,
): [EngineRef[], ModelSpec, { params: NamedParams; optimizer: OptimizerSpec; python?: string; browser?: string; timeoutMs?: number; purpose: 'use' }] {
  const refs = parseEngineList([f.engine], f.backend as BackendRequest);
  if (refs.length !== 1) throw new InputError(`--engine runs the model on one engine (got ${refs.length}: ${f.engine})`);
  return [refs, spec, { params, optimizer, ...useEngineOptions(f), purpose: 'use' }];
}
