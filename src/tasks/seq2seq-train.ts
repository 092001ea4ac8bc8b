/**
 * Training an encoder-decoder model (`rnnlab train --task seq2seq`) on the one training loop
 * (src/train/loop.ts), like every other task: this file is what the loop and `rnnlab train` need
 * of it. Its model kind (SEQ2SEQ_KIND: the Seq2SeqSpec, its parameters, its checkpoint files,
 * its engines through the registry) and its task (batches of pairs in a seeded order that a
 * resume continues, validation loss and exact match after every epoch, the test on the held-out
 * pairs with the weights of the best validation exact match, attention heatmaps for plot).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Seq2SeqEngineName, createSeq2SeqEngine } from '../engines/registry.js';
import { InputError } from '../errors.js';
import { type Checkpoint, engineTensors, readCheckpointFiles, writeCheckpoint } from '../io/checkpoint.js';
import { fixed, formatTable, pct } from '../io/table.js';
import { deriveSeed } from '../rng.js';
import type { TrainOptions } from '../run-options.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import { biasRows } from '../cells.js';
import { badCursor, cursorInt, cursorObject } from './cursor.js';
import type { BuiltTask, ModelKind, OpenEngines, TrainSummary, TrainTask } from './task.js';
import { SEQ2SEQ_SPEC_FILE, readSeq2SeqCheckpoint } from '../seq2seq/checkpoint.js';
import { type EncodedPair, type Pair, type Seq2SeqVocabs, buildVocabs, copyBaseline, encodePairs, epochOrder, loadSeq2SeqData, makeBatchFromIds, splitPairs, vocabsToJSON } from '../seq2seq/data.js';
import { evaluatePairs, translateTexts } from '../seq2seq/decode.js';
import type { Seq2SeqEngine } from '../seq2seq/engine.js';
import { initSeq2SeqParams, validateSeq2SeqParams } from '../seq2seq/params.js';
import { type Attention, type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, parseSeq2SeqSpec, seq2seqLayout, seq2seqParamCount, seq2seqToJSON } from '../seq2seq/spec.js';
import { useEngineOptions } from './use-engine.js';

export interface Seq2SeqOptions extends TrainOptions {
  dataset?: string;
  csv?: string;
  sourceColumn?: string;
  targetColumn?: string;
  digits?: number;
  maxLen?: number;
  pairs?: number;
  attention?: Attention;
  /** A, the width of the concat score (default --hidden). */
  attentionUnits?: number;
  beam?: number;
  sharedVocab?: boolean;
}

export interface Seq2SeqTestResult {
  exact: number;
  token: number;
  n: number;
  baseline: { name: string; exact: number; token: number } | null;
  beam: number;
}

/** What the test adds to the final record (the first engine's; testByEngine has each one's). */
export interface Seq2SeqResult {
  test: Seq2SeqTestResult;
  /** The step whose weights the test used (the best validation exact match), and its checkpoint. */
  bestStep: number;
  bestCheckpoint: string | null;
}

const describe = (s: Seq2SeqSpec): string =>
  `${s.cell}${biasRows(s) === 2 ? ' (reset-after)' : ''} ${s.layers}x${s.hiddenSize}${s.bidirectional ? ` (bidirectional encoder, decoder ${decoderSize(s)})` : ''}, embedding ${s.embedding}, attention ${s.attention}${s.attention === 'concat' ? ` (${s.attentionUnits} units)` : ''}, vocabularies ${s.srcVocab} -> ${s.tgtVocab}`;

/** A seq2seq checkpoint with everything a resume reads (the optimizer state, the other engines' files, the vocabularies as stored). */
function readTrainingCheckpoint(dir: string): Checkpoint<Seq2SeqSpec> & { dir: string } {
  const ck = readSeq2SeqCheckpoint(dir);
  return { ...readCheckpointFiles(dir), dir, spec: ck.spec, params: ck.params, vocab: vocabsToJSON(ck.vocabs), meta: ck.meta };
}

/** The engines of a seq2seq run, by name (scratch, scratch-f64, tfjs). */
function engineNames(o: TrainOptions): Seq2SeqEngineName[] {
  // any engine of the registry that opens an encoder-decoder (scratch, tfjs, the browser engines, pytorch, a module or "cmd:" that claims seq2seq); a "cmd:" value is one engine whole
  const values = o.engines?.length ? o.engines : [o.engine];
  const names = values.flatMap((v) => (v.trim().startsWith('cmd:') ? [v.trim()] : v.split(',').map((x) => x.trim()).filter(Boolean)));
  return names.flatMap((n) => (n === 'both' ? ['scratch', 'tfjs'] : [n]));
}

async function openSeq2SeqEngines(o: TrainOptions, spec: Seq2SeqSpec, params: NamedParams, optimizer: OptimizerSpec): Promise<OpenEngines<Seq2SeqEngine>> {
  const opened: Awaited<ReturnType<typeof createSeq2SeqEngine>>[] = [];
  const close = async (): Promise<void> => {
    for (const x of opened) {
      await x.engine.dispose();
      await x.close();
    }
  };
  try {
    for (const n of engineNames(o)) opened.push(await createSeq2SeqEngine(n, spec, { params, optimizer, kernels: o.kernels, blas: o.blas, threads: o.threads, backend: o.backend as 'auto', ...useEngineOptions(o) }));
  } catch (e) {
    await close();
    throw e;
  }
  const notes = opened.flatMap((x) => ((x.engine as { notes?: string[] }).notes ?? []).map((n) => `${x.engine.name}: ${n}`));
  return { engines: opened.map((x) => x.engine), descriptions: opened.map((x) => `${x.engine.name} (${x.detail})`), notes, backend: null, tfjsVersion: null, close };
}

/** The encoder-decoder as a model kind: Seq2SeqSpec, its canonical parameters, seq2seq.json checkpoints, Seq2SeqEngine. */
export const SEQ2SEQ_KIND: ModelKind<Seq2SeqSpec, Seq2SeqEngine> = {
  name: 'seq2seq',
  owns: (dir) => existsSync(join(dir, SEQ2SEQ_SPEC_FILE)),
  readCheckpoint: readTrainingCheckpoint,
  writeCheckpoint: (dir, ck) => writeCheckpoint(dir, ck, { file: SEQ2SEQ_SPEC_FILE, json: seq2seqToJSON(ck.spec), format: 'rnnlab-seq2seq' }),
  specJSON: seq2seqToJSON,
  describe,
  paramCount: seq2seqParamCount,
  paramShapes: (s) => new Map(seq2seqLayout(s).map((p) => [p.name, p.shape])),
  validateParams: validateSeq2SeqParams,
  initParams: (s, seed) => initSeq2SeqParams(s, seed),
  openEngines: (o, s, params, optimizer) => openSeq2SeqEngines(o, s, params, optimizer),
};

/** Cross-entropy of logits [B, T, V] against the targets, summed over the real target tokens; and the token count. */
function forwardLoss(logits: ArrayLike<number>, b: Seq2SeqBatch, V: number): { sum: number; n: number } {
  let sum = 0;
  let n = 0;
  for (let r = 0; r < b.batchSize * b.tgtLen; r++) {
    if (!b.tgtMask[r]) continue;
    const o = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[o + j] - max);
    sum += max + Math.log(s) - logits[o + b.tgtOut[r]];
    n++;
  }
  return { sum, n };
}

async function validationLoss(e: Seq2SeqEngine, items: EncodedPair[], V: number, batch: number): Promise<number> {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < items.length; i += batch) {
    const b = makeBatchFromIds(items.slice(i, i + batch));
    const f = forwardLoss((await e.forward(b)).logits, b, V);
    sum += f.sum;
    n += f.n;
  }
  return sum / Math.max(1, n);
}

/** [rows * cols] -> rows of cols. */
function rows(a: ArrayLike<number>, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => +Number(a[i * c + j]).toFixed(4)));
}

/** The flags a seq2seq run refuses, each with why. */
function refuseFlags(o: Seq2SeqOptions): void {
  if (o.init) throw new InputError('--init is for the single-stack tasks; a seq2seq run starts from its own initialisation (continue one with --resume)');
  if (o.merge && o.merge !== 'concat') throw new InputError(`--merge ${o.merge}: a bidirectional seq2seq encoder concatenates its two directions (the decoder is 2H wide), as Keras's seq2seq examples do`);
  if (o.attentionUnits !== undefined && o.attention !== 'concat') throw new InputError('--attention-units is the width of the concat score: it goes with --attention concat');
  if (o.lossReduction && o.lossReduction !== 'mean') throw new InputError('--loss-reduction: a seq2seq loss is the mean over target tokens');
  engineNames(o);
}

function buildSpec(o: Seq2SeqOptions, vocabs: Seq2SeqVocabs): Seq2SeqSpec {
  return parseSeq2SeqSpec({
    cell: o.cell,
    hiddenSize: o.hidden,
    layers: o.layers,
    srcVocab: vocabs.src.size,
    tgtVocab: vocabs.tgt.size,
    embedding: o.embedding ?? 32,
    sharedEmbedding: !!o.sharedVocab,
    attention: o.attention ?? 'general',
    ...(o.attentionUnits !== undefined ? { attentionUnits: o.attentionUnits } : {}),
    ...(o.bidirectional ? { bidirectional: true } : {}),
    ...(o.activation ? { activation: o.activation } : {}),
    ...(o.recurrentActivation ? { recurrentActivation: o.recurrentActivation } : {}),
    ...(o.gruResetAfter ? { gruResetAfter: true } : {}),
  });
}

/** The data, the model and the task of a seq2seq run (the same on --resume: the data is generated from the seed, or read from the recorded CSV). */
export function buildSeq2Seq(o: Seq2SeqOptions): BuiltTask<Seq2SeqResult, Seq2SeqSpec> {
  refuseFlags(o);
  const data = loadSeq2SeqData({ dataset: o.dataset, csv: o.csv, sourceColumn: o.sourceColumn, targetColumn: o.targetColumn, seed: deriveSeed(o.seed, 'data'), n: o.pairs, digits: o.digits, maxLen: o.maxLen });
  const split = splitPairs(data.pairs, deriveSeed(o.seed, 'split'));
  const vocabs = buildVocabs(data.pairs, !!o.sharedVocab);
  const spec = buildSpec(o, vocabs);
  const train = encodePairs(split.train, vocabs, 'training pair');
  const val = encodePairs(split.val, vocabs, 'validation pair');
  const maxLen = Math.max(...data.pairs.map((p) => [...p.target].length)) + 2;
  const stepsPerEpoch = Math.ceil(train.length / o.batch);
  const lines = [
    `data: ${data.name} (${data.note})`,
    `pairs: ${split.train.length.toLocaleString('en-US')} train, ${split.val.length.toLocaleString('en-US')} validation, ${split.test.length.toLocaleString('en-US')} test (held out; no test source is in training)`,
    `batch ${o.batch}; ${stepsPerEpoch} steps per epoch; validation and a checkpoint after every epoch`,
  ];
  const task = seq2seqTask(o, { spec, vocabs, train, val, valSample: split.val.slice(0, 500), test: split.test, maxLen, stepsPerEpoch, baseline: data.baseline === 'copy', lines });
  return {
    task,
    spec,
    vocab: vocabsToJSON(vocabs),
    schedule: { valEvery: stepsPerEpoch, checkpointEvery: stepsPerEpoch },
    runInfo: { data: { name: data.name, note: data.note, train: split.train.length, val: split.val.length, test: split.test.length, duplicates: split.duplicates } },
  };
}

interface Seq2SeqData {
  spec: Seq2SeqSpec;
  vocabs: Seq2SeqVocabs;
  train: EncodedPair[];
  val: EncodedPair[];
  valSample: Pair[];
  test: Pair[];
  /** The longest output decoded, in tokens. */
  maxLen: number;
  stepsPerEpoch: number;
  baseline: boolean;
  /** The header's lines about the data. */
  lines: string[];
}

/**
 * The loop's task: batches in the seeded order of each epoch (the cursor is the epoch and the batch
 * in it, so a resume continues the same order), validation, and the test with the weights of the
 * best validation exact match (the checkpoint the loop kept as best: the task's score is the exact match).
 */
function seq2seqTask(o: Seq2SeqOptions, d: Seq2SeqData): TrainTask<Seq2SeqResult, Seq2SeqEngine, Seq2SeqBatch, Seq2SeqSpec> {
  const seed = deriveSeed(o.seed, 'order');
  let epoch = 0;
  let index = 0;
  let order: number[][] = epochOrder(d.train, { batchSize: o.batch, seed, epoch, bucketing: true });
  const setEpoch = (e: number): void => {
    if (e !== epoch) order = epochOrder(d.train, { batchSize: o.batch, seed, epoch: e, bucketing: true });
    epoch = e;
  };
  const beam = o.beam ?? 1;
  return {
    name: 'seq2seq',
    spec: d.spec,
    stateful: false,
    stepsPerEpoch: d.stepsPerEpoch,
    itemsPerStep: o.batch,
    itemName: 'pairs',
    units: { valLoss: 'nats/token' },
    percent: ['exact', 'token'],
    describe: () => d.lines,
    nextBatch: () => {
      if (index >= order.length) {
        setEpoch(epoch + 1);
        index = 0;
      }
      const batch = makeBatchFromIds(order[index++].map((i) => d.train[i]));
      return { batch, resetState: true };
    },
    epochProgress: () => epoch + index / order.length,
    getCursor: () => ({ epoch, index }),
    setCursor: (c) => {
      const x = cursorObject(c);
      setEpoch(cursorInt(x, 'epoch', 0, Number.MAX_SAFE_INTEGER));
      index = cursorInt(x, 'index', 0, order.length);
      if (order.length === 0) throw badCursor('no batches');
    },
    evaluate: async (e) => {
      const valLoss = await validationLoss(e, d.val, d.spec.tgtVocab, 256);
      const m = (await evaluatePairs(e, d.vocabs, d.valSample, { maxLen: d.maxLen })).metrics;
      return { valLoss, exact: m.exact, token: m.token };
    },
    score: (m) => -m.exact,
    finish: async (e, i, engines, best) => {
      if (best) {
        const ck = SEQ2SEQ_KIND.readCheckpoint(best.dir);
        const t = engineTensors(ck, engines, i);
        if (t.params) await e.setParams(t.params);
      }
      const r = await evaluatePairs(e, d.vocabs, d.test, { maxLen: d.maxLen, beam });
      const base = d.baseline ? copyBaseline(d.test) : null;
      return {
        test: { exact: r.metrics.exact, token: r.metrics.token, n: r.metrics.n, beam, baseline: base ? { name: 'copy the input', exact: base.exact, token: base.token } : null },
        bestStep: best?.step ?? 0,
        bestCheckpoint: best?.dir ?? null,
      };
    },
    plotData: async (engines) => {
      // attention heatmaps of a few held-out examples (first engine, with the test's weights)
      const examples = d.test.slice(0, 4);
      const shown = await translateTexts(engines[0], d.vocabs, examples.map((p) => p.source), { maxLen: d.maxLen, beam });
      return {
        kind: 'attention',
        engine: engines[0].name,
        examples: shown.map((t, k) => ({ source: t.source, target: examples[k].target, output: t.output, srcTokens: t.srcTokens, outTokens: t.outTokens, attention: t.decoded.attention ? rows(t.decoded.attention, t.outTokens.length, t.srcTokens.length) : null })),
      };
    },
  };
}

/** The test table after the shared summary lines, and how to use the model. */
export function printSeq2SeqResult(out: (line: string) => void, s: TrainSummary<Seq2SeqResult>): void {
  if (!s.test) return;
  const byEngine = (s.testByEngine ?? { [Object.keys(s.msPerStep)[0]]: s.test }) as Record<string, Seq2SeqTestResult>;
  const t = s.test;
  out(`test (${t.n.toLocaleString('en-US')} held-out pairs, ${t.beam > 1 ? `beam ${t.beam}` : 'greedy'} decoding, the weights of the best validation exact match: step ${s.bestStep}):`);
  out(
    formatTable(
      ['engine', 'exact match', 'token accuracy', 'ms/step'],
      [
        ...Object.entries(byEngine).map(([n, r]) => [n, pct(r.exact), pct(r.token), fixed(s.msPerStep[n] ?? NaN, 1)]),
        ...(t.baseline ? [[`baseline: ${t.baseline.name}`, pct(t.baseline.exact), pct(t.baseline.token), '']] : []),
      ],
      ['l', 'r', 'r', 'r'],
    ),
  );
  if (s.bestCheckpoint) out(`translate: rnnlab translate --checkpoint ${s.runDir} "..."   (the run directory means its best checkpoint, ${s.bestCheckpoint})`);
}
