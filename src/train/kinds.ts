/**
 * The model kinds a run trains (src/tasks/task.ts, ModelKind): the single-stack models of
 * src/spec.ts, defined here, and whatever a task module names as its own (the encoder-decoder's,
 * src/tasks/seq2seq-train.ts). The loop, the run folder and resume are the same for every kind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEngines, parseEngineList } from '../engines/registry.js';
import { readCheckpoint, writeCheckpoint } from '../io/checkpoint.js';
import { initParams, paramCount, paramLayout, validateParams } from '../params.js';
import { assertFits } from '../sizes.js';
import { type ModelSpec, describeSpec, specToJSON } from '../spec.js';
import { TASKS } from '../tasks/registry.js';
import type { ModelKind } from '../tasks/task.js';
import type { Engine } from '../engine.js';

/** The single-stack models: ModelSpec and the Engine interface, on every engine of the registry. */
export const SEQUENCE_KIND: ModelKind<ModelSpec, Engine> = {
  name: 'sequence',
  owns: (dir) => existsSync(join(dir, 'spec.json')),
  readCheckpoint,
  writeCheckpoint: (dir, ck) => writeCheckpoint(dir, ck),
  specJSON: specToJSON,
  describe: describeSpec,
  paramCount,
  paramShapes: (s) => new Map(paramLayout(s).map((p) => [p.name, p.shape])),
  validateParams,
  tableNote: (s, itemName) =>
    s.lossReduction === 'sumOverTime' && s.returnSequences ? `the training loss is summed over each window's time steps (sumOverTime); validation losses are per ${itemName === 'tok' ? 'token' : 'step'}` : null,
  initParams: (s, seed) => initParams(s, seed),
  assertFits: (o, spec, seq) => {
    const refs = parseEngineList(o.engines ?? [o.engine], o.backend as 'auto');
    assertFits(spec, { batch: o.batch, seq, engines: refs.length, bytesPerFloat: refs.some((r) => 'dtype' in r && r.dtype === 'float64') ? 8 : 4 });
  },
  openEngines: async (o, spec, params, optimizer, io) => {
    const refs = parseEngineList(o.engines ?? [o.engine], o.backend as 'auto');
    return createEngines(refs, spec, {
      params,
      optimizer,
      kernels: o.kernels,
      blas: o.blas,
      threads: o.threads,
      python: o.python,
      browser: o.browser,
      timeoutMs: o.engineTimeout !== undefined ? o.engineTimeout * 1000 : undefined,
      onProgress: (w) => io.progress(w),
    });
  },
};

/** The kind of a task's model. */
export function kindOf(task: { kind?: ModelKind }): ModelKind {
  return task.kind ?? SEQUENCE_KIND;
}

/** The kind whose checkpoint a directory holds (by its spec file), for --resume. */
export function kindOfCheckpoint(dir: string): ModelKind {
  for (const t of TASKS) if (t.kind?.owns(dir)) return t.kind;
  return SEQUENCE_KIND;
}
