/**
 * A seq2seq checkpoint is a directory, as every checkpoint (src/io/checkpoint.ts: written by the
 * training loop through the seq2seq model kind, src/tasks/seq2seq-train.ts), with its spec in seq2seq.json:
 *   seq2seq.json        the Seq2SeqSpec
 *   params.safetensors  canonical parameters (src/seq2seq/spec.ts)
 *   vocab.json          the source and target vocabularies
 *   meta.json           step, epoch, the run's options (and, since the one loop, the data cursor and random state)
 *   optimizer.safetensors, <engine>.params.safetensors, ...: what a resume reads (checkpoints of runs
 *                       from before the one loop have none: translate reads them all the same)
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { readJsonInput } from '../io/files.js';
import { readSafetensors } from '../io/safetensors.js';
import type { NamedParams } from '../params.js';
import { type Seq2SeqVocabs, vocabsFromJSON } from './data.js';
import { validateSeq2SeqParams } from './params.js';
import { type Seq2SeqSpec, parseSeq2SeqSpec } from './spec.js';

export const SEQ2SEQ_SPEC_FILE = 'seq2seq.json';

export interface Seq2SeqCheckpoint {
  spec: Seq2SeqSpec;
  params: NamedParams;
  vocabs: Seq2SeqVocabs;
  meta: Record<string, unknown>;
}

export function isSeq2SeqCheckpoint(dir: string): boolean {
  return existsSync(join(dir, SEQ2SEQ_SPEC_FILE));
}

export function readSeq2SeqCheckpoint(dir: string): Seq2SeqCheckpoint & { dir: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`${dir}: no such checkpoint directory`);
  if (!isSeq2SeqCheckpoint(dir)) throw new InputError(`${dir}: not a seq2seq checkpoint (no ${SEQ2SEQ_SPEC_FILE}; train one with rnnlab train --task seq2seq)`);
  for (const f of ['params.safetensors', 'vocab.json']) if (!existsSync(join(dir, f))) throw new InputError(`${dir}: the checkpoint has no ${f}`);
  const spec = parseSeq2SeqSpec(readJsonInput(join(dir, SEQ2SEQ_SPEC_FILE)), join(dir, SEQ2SEQ_SPEC_FILE));
  const params = readSafetensors(join(dir, 'params.safetensors')).tensors;
  validateSeq2SeqParams(spec, params, join(dir, 'params.safetensors'));
  const vocabs = vocabsFromJSON(readJsonInput(join(dir, 'vocab.json')), join(dir, 'vocab.json'));
  if (vocabs.src.size !== spec.srcVocab || vocabs.tgt.size !== spec.tgtVocab) {
    throw new InputError(`${dir}: vocab.json has ${vocabs.src.size} / ${vocabs.tgt.size} symbols but the model expects ${spec.srcVocab} / ${spec.tgtVocab}`);
  }
  const meta = existsSync(join(dir, 'meta.json')) ? (readJsonInput(join(dir, 'meta.json')) as Record<string, unknown>) : {};
  return { dir, spec, params, vocabs, meta };
}
