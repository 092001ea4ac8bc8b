/**
 * A checkpoint is a directory:
 *   spec.json             the ModelSpec
 *   params.safetensors    canonical parameters
 *   optimizer.safetensors optimizer state ("<slot>.<param>", "iterations")      (training)
 *   state.safetensors     carried hidden state "h.{l}" / "c.{l}"                 (training)
 *   vocab.json            the tokenizer                                          (text tasks)
 *   data.json             preprocessing: scalers, columns, classes, tokenizer   (series, classify)
 *   meta.json             step, RNG state, data cursor, engine, optimizer spec   (training)
 * It is written to a temporary directory and renamed, so a crash never leaves half of one.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { readJsonInput } from './io/files.js';
import { join } from 'node:path';
import { InputError } from './errors.js';
import { writeDirAtomic } from './io/atomic.js';
import { encodeSafetensors, readSafetensors } from './io/safetensors.js';
import { type NamedParams, validateParams } from './params.js';
import { type ModelSpec, parseSpec, specToJSON } from './spec.js';
import type { NamedTensors } from './tensor.js';

export interface Checkpoint {
  spec: ModelSpec;
  params: NamedParams;
  optimizer?: NamedParams;
  state?: NamedTensors;
  vocab?: unknown;
  data?: unknown;
  meta?: Record<string, unknown>;
  /** More tensor files in the same directory, "<name>.safetensors" (a second engine's parameters, optimizer, state). */
  extra?: Record<string, NamedTensors>;
}

export function readCheckpoint(dir: string): Checkpoint & { dir: string } {
  if (!existsSync(dir)) throw new InputError(`${dir}: no such checkpoint directory`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: a checkpoint is a directory (with spec.json and params.safetensors)`);
  const specPath = join(dir, 'spec.json');
  const paramsPath = join(dir, 'params.safetensors');
  if (!existsSync(specPath)) throw new InputError(`${dir}: not a checkpoint (no spec.json)`);
  if (!existsSync(paramsPath)) throw new InputError(`${dir}: not a checkpoint (no params.safetensors)`);
  const spec = parseSpec(readJson(specPath), specPath);
  const params = readSafetensors(paramsPath).tensors;
  validateParams(spec, params, paramsPath);
  const ck: Checkpoint & { dir: string } = { dir, spec, params };
  const opt = join(dir, 'optimizer.safetensors');
  if (existsSync(opt)) ck.optimizer = readSafetensors(opt).tensors;
  const st = join(dir, 'state.safetensors');
  if (existsSync(st)) ck.state = readSafetensors(st).tensors;
  const vocab = join(dir, 'vocab.json');
  if (existsSync(vocab)) ck.vocab = readJson(vocab);
  const data = join(dir, 'data.json');
  if (existsSync(data)) ck.data = readJson(data);
  const meta = join(dir, 'meta.json');
  if (existsSync(meta)) ck.meta = readJson(meta) as Record<string, unknown>;
  return ck;
}

export function writeCheckpoint(dir: string, ck: Checkpoint): void {
  writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, 'spec.json'), JSON.stringify(specToJSON(ck.spec), null, 2) + '\n');
    writeFileSync(join(tmp, 'params.safetensors'), encodeSafetensors(ck.params, { format: 'rnnlab-canonical' }));
    if (ck.optimizer) writeFileSync(join(tmp, 'optimizer.safetensors'), encodeSafetensors(ck.optimizer));
    if (ck.state) writeFileSync(join(tmp, 'state.safetensors'), encodeSafetensors(ck.state));
    if (ck.vocab !== undefined) writeFileSync(join(tmp, 'vocab.json'), JSON.stringify(ck.vocab) + '\n');
    if (ck.data !== undefined) writeFileSync(join(tmp, 'data.json'), JSON.stringify(ck.data, null, 1) + '\n');
    for (const [name, t] of Object.entries(ck.extra ?? {})) writeFileSync(join(tmp, `${name}.safetensors`), encodeSafetensors(t));
    if (ck.meta) writeFileSync(join(tmp, 'meta.json'), JSON.stringify(ck.meta, null, 2) + '\n');
  });
}

function readJson(path: string): unknown {
  return readJsonInput(path);
}
