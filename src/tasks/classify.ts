/**
 * Sequence classification: a many-to-one model reads a whole (tokenized) text and its softmax head
 * predicts the class. Sequences have different lengths: a batch is right-padded to its longest
 * member and masked (a masked step keeps the state, in both engines alike); with bucketing, texts of
 * similar length are batched together so little padding is read. Texts longer than maxLen tokens
 * are cut. Split 80 / 10 / 10 at random (seeded).
 * Metrics: accuracy, per-class precision / recall / F1, the confusion matrix, and the
 * majority-class baseline.
 */
import { readCheckpoint } from '../io/checkpoint.js';
import { type CheckpointEngineFlags, checkpointEngineOptions } from './use-engine.js';
import { intArg } from '../io/args.js';
import type { IO } from '../io/output.js';
import { type Example, loadLabelled, loadLabelledDir } from '../data/labelled.js';
import { writeFileAtomic } from '../io/atomic.js';
import { columnIndex, csvLine, readCsv } from '../io/csv.js';
import { checkOutputFile } from '../io/files.js';
import { checkReplaceable } from '../io/run-folder.js';
import { CharTokenizer, type Tokenizer, type TokenizerJSON, WordTokenizer, tokenizerFromJSON, wordCount } from '../data/tokenizers.js';
import { createEngines } from '../engines/registry.js';
import { badCursor, cursorInt, cursorInts, cursorObject, cursorRng } from './cursor.js';
import type { Batch, Engine } from '../engine.js';
import { InputError } from '../errors.js';
import { optimizerSpec } from '../optimizer.js';
import { resolveCheckpoint } from '../io/run-dir.js';
import { formatTable, pct, readable } from '../io/table.js';
import { heatmap } from '../io/svg.js';
import { requireText, textStateInput } from './views.js';
import { Rng, deriveSeed } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import type { Supports } from '../supports.js';
import { type TrainOptions, modelSpec } from '../run-options.js';
import { type BuiltTask, type Metrics, type TaskReport, type TrainTask, type UseCommand, defineTask } from './task.js';

export interface ClassifyOptions {
  batch: number;
  maxLen: number;
  bucketing: boolean;
  seed: number;
}

export interface ClassifyData {
  task: 'classify';
  classes: string[];
  maxLen: number;
  tokenizer: TokenizerJSON;
  source: string;
  /** Texts are lowercased before tokenizing (character level); absent in older checkpoints: char level implies it. */
  lowercase?: boolean;
  /** The text column of the training CSV, the default of `predict --csv`. */
  textColumn?: string;
}

/** What training and prediction both do to a text before tokenizing: character-level models read lowercase. */
export function prepareText(text: string, o: { lowercase: boolean }): string {
  return o.lowercase ? text.toLowerCase() : text;
}

/** Whether a checkpoint's classifier lowercases its input (recorded, or implied by char level in older checkpoints). */
export function lowercases(d: ClassifyData, tokenizer: { level: 'char' | 'word' }): boolean {
  return d.lowercase ?? tokenizer.level === 'char';
}

/** What a classification run adds to the final summary. */
export interface ClassifyResult {
  test: ClassMetrics & { loss: number };
  beatsBaseline: boolean;
}

export interface ClassMetrics {
  accuracy: number;
  baselineAccuracy: number;
  majorityClass: string;
  perClass: { label: string; precision: number; recall: number; f1: number; support: number }[];
  /** rows: true class, columns: predicted class */
  confusion: number[][];
  classes: string[];
  n: number;
}

interface Encoded {
  ids: Int32Array;
  label: number;
}

/** Rounds a batch length up to a multiple of 4, so few distinct shapes reach the engines. */
function paddedLength(n: number, maxLen: number): number {
  return Math.min(maxLen, Math.ceil(n / 4) * 4);
}

export function encodeBatch(items: Encoded[], maxLen: number): Batch {
  const B = items.length;
  const T = paddedLength(Math.max(...items.map((e) => e.ids.length)), maxLen);
  const x = new Int32Array(B * T);
  const mask = new Uint8Array(B * T);
  const y = new Int32Array(B);
  items.forEach((e, b) => {
    x.set(e.ids, b * T);
    mask.fill(1, b * T, b * T + e.ids.length);
    y[b] = e.label;
  });
  return { batchSize: B, seqLen: T, x, y, mask };
}

export class ClassifyTask implements TrainTask {
  readonly name = 'classify';
  readonly stateful = false;
  readonly itemName = 'seq';
  readonly stepsPerEpoch: number;
  readonly itemsPerStep: number;
  readonly parts: { train: Encoded[]; val: Encoded[]; test: Encoded[] };
  private readonly rng: Rng;
  private batches: number[][] = [];
  private pos = 0;
  private epoch = 0;
  readonly majority: number;

  fit(s: Required<Supports>): { refuse?: string } {
    return s.mask ? {} : { refuse: 'masks (mask): texts of different lengths are padded to one length and the padding masked' };
  }

  constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: Tokenizer,
    readonly classes: string[],
    split: { train: Example[]; val: Example[]; test: Example[] },
    readonly o: ClassifyOptions,
    readonly source: string,
  ) {
    const index = new Map(classes.map((c, i) => [c, i]));
    const enc = (e: Example): Encoded => {
      const ids = tokenizer.encode(e.text).subarray(0, o.maxLen);
      return { ids: ids.length ? ids : Int32Array.of(0), label: index.get(e.label)! };
    };
    this.parts = { train: split.train.map(enc), val: split.val.map(enc), test: split.test.map(enc) };
    const counts = classes.map(() => 0);
    for (const e of this.parts.train) counts[e.label]++;
    this.majority = counts.indexOf(Math.max(...counts));
    this.rng = new Rng(o.seed);
    this.stepsPerEpoch = Math.ceil(this.parts.train.length / o.batch);
    this.itemsPerStep = o.batch;
    this.plan();
  }

  /** An epoch's batches: shuffled; with bucketing, sorted by length within chunks of 16 batches. */
  private plan(): void {
    const n = this.parts.train.length;
    const idx = this.rng.shuffle(Array.from({ length: n }, (_, i) => i));
    const B = this.o.batch;
    if (this.o.bucketing) {
      const chunk = 16 * B;
      for (let s = 0; s < n; s += chunk) {
        const part = idx.slice(s, s + chunk).sort((a, b) => this.parts.train[a].ids.length - this.parts.train[b].ids.length);
        idx.splice(s, part.length, ...part);
      }
    }
    this.batches = [];
    for (let s = 0; s < n; s += B) this.batches.push(idx.slice(s, s + B));
    if (this.o.bucketing) this.rng.shuffle(this.batches); // bucketed batches, in random order
    this.pos = 0;
  }

  describe(): string[] {
    const p = this.parts;
    const lens = p.train.map((e) => e.ids.length).sort((a, b) => a - b);
    return [
      `classify: ${this.source}; classes ${this.classes.join(', ')}; ${this.tokenizer.level}-level, ${this.tokenizer.size} symbols`,
      `${p.train.length} training, ${p.val.length} validation, ${p.test.length} test sequences; length median ${lens[lens.length >> 1]}, max ${lens[lens.length - 1]} ` +
        `(cut at ${this.o.maxLen}); padded and masked${this.o.bucketing ? ', bucketed by length' : ''}; batch ${this.o.batch}`,
    ];
  }

  epochProgress(): number {
    return this.epoch + this.pos / this.batches.length;
  }

  nextBatch(): { batch: Batch; resetState: boolean } {
    if (this.pos >= this.batches.length) {
      this.epoch++;
      this.plan();
    }
    const items = this.batches[this.pos++].map((i) => this.parts.train[i]);
    return { batch: encodeBatch(items, this.o.maxLen), resetState: true };
  }

  getCursor(): unknown {
    return { batches: this.batches, pos: this.pos, epoch: this.epoch, rng: this.rng.getState() };
  }

  setCursor(c: unknown): void {
    const cur = cursorObject(c);
    const n = this.parts.train.length;
    if (!Array.isArray(cur.batches) || cur.batches.length === 0) throw badCursor('"batches" is not a list of batches');
    this.batches = (cur.batches as unknown[]).map((b) => {
      const items = cursorInts(b, 'batches', (x) => x >= 0 && x < n);
      if (items.length === 0) throw badCursor('"batches" holds an empty batch');
      return items;
    });
    this.pos = cursorInt(cur, 'pos', 0, this.batches.length);
    this.epoch = cursorInt(cur, 'epoch', 0, Number.MAX_SAFE_INTEGER);
    this.rng.setState(cursorRng(cur));
  }

  /** Class probabilities for every item: [n, C]. Batches sorted by length, results in item order. */
  async probabilities(engine: Engine, items: Encoded[]): Promise<Float64Array> {
    const C = this.classes.length;
    const out = new Float64Array(items.length * C);
    const idx = items.map((_, i) => i).sort((a, b) => items[a].ids.length - items[b].ids.length);
    const B = Math.max(this.o.batch, 64);
    for (let s = 0; s < idx.length; s += B) {
      const chunk = idx.slice(s, s + B);
      const { output } = await engine.forward(encodeBatch(chunk.map((i) => items[i]), this.o.maxLen));
      chunk.forEach((i, b) => softmaxInto(output, b * C, C, out, i * C));
    }
    return out;
  }

  async metrics(engine: Engine, items: Encoded[]): Promise<ClassMetrics & { loss: number }> {
    const C = this.classes.length;
    const p = await this.probabilities(engine, items);
    const confusion = this.classes.map(() => new Array<number>(C).fill(0));
    let loss = 0;
    let correct = 0;
    let majority = 0;
    items.forEach((e, i) => {
      let best = 0;
      for (let c = 1; c < C; c++) if (p[i * C + c] > p[i * C + best]) best = c;
      confusion[e.label][best]++;
      if (best === e.label) correct++;
      if (e.label === this.majority) majority++;
      loss -= Math.log(Math.max(p[i * C + e.label], 1e-300));
    });
    const perClass = this.classes.map((label, c) => {
      const tp = confusion[c][c];
      const predicted = confusion.reduce((s, row) => s + row[c], 0);
      const support = confusion[c].reduce((s, v) => s + v, 0);
      const precision = predicted ? tp / predicted : 0;
      const recall = support ? tp / support : 0;
      return { label, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
    });
    return {
      accuracy: correct / items.length,
      baselineAccuracy: majority / items.length,
      majorityClass: this.classes[this.majority],
      perClass,
      confusion,
      classes: this.classes,
      n: items.length,
      loss: loss / items.length,
    };
  }

  async evaluate(engine: Engine): Promise<Metrics> {
    const m = await this.metrics(engine, this.parts.val);
    return { valLoss: m.loss, valAccuracy: m.accuracy };
  }

  async finish(engine: Engine): Promise<ClassifyResult> {
    const { loss, ...test } = await this.metrics(engine, this.parts.test);
    return { test: { ...test, loss }, beatsBaseline: test.accuracy > test.baselineAccuracy };
  }

  dataJSON(): ClassifyData {
    return { task: 'classify', classes: this.classes, maxLen: this.o.maxLen, tokenizer: this.tokenizer.toJSON(), source: this.source, lowercase: this.tokenizer.level === 'char' };
  }
}

function softmaxInto(z: ArrayLike<number>, off: number, C: number, out: Float64Array, o: number): void {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, z[off + c]);
  let s = 0;
  for (let c = 0; c < C; c++) s += out[o + c] = Math.exp(z[off + c] - max);
  for (let c = 0; c < C; c++) out[o + c] /= s;
}

/** Seeded 80/10/10 split; every class must appear at least twice. */
export function splitExamples(examples: Example[], seed: number): { train: Example[]; val: Example[]; test: Example[]; classes: string[] } {
  const classes = [...new Set(examples.map((e) => e.label))].sort();
  if (classes.length < 2) throw new InputError(`the labels have a single class (${JSON.stringify(classes[0] ?? '')}); classification needs at least 2`);
  if (examples.length < 10) throw new InputError(`only ${examples.length} examples; classification needs at least 10 (80/10/10 split)`);
  const idx = new Rng(seed).shuffle(examples.map((_, i) => i));
  const nVal = Math.max(1, Math.floor(examples.length * 0.1));
  const nTest = Math.max(1, Math.floor(examples.length * 0.1));
  const pick = (a: number, b: number): Example[] => idx.slice(a, b).map((i) => examples[i]);
  return { test: pick(0, nTest), val: pick(nTest, nTest + nVal), train: pick(nTest + nVal, idx.length), classes };
}

/** A dataset with a test set of its own: validation is a seeded tenth of the training part. */
export function splitTrainTest(train: Example[], test: Example[], seed: number): { train: Example[]; val: Example[]; test: Example[]; classes: string[] } {
  const classes = [...new Set(train.map((e) => e.label))].sort();
  if (train.length < 10) throw new InputError(`only ${train.length} training examples; classification needs at least 10`);
  const idx = new Rng(seed).shuffle(train.map((_, i) => i));
  const nVal = Math.max(1, Math.floor(train.length * 0.1));
  return { val: idx.slice(0, nVal).map((i) => train[i]), train: idx.slice(nVal).map((i) => train[i]), test, classes };
}

/** Probabilities for one text, for `rnnlab predict`. */
export async function predictText(engine: Engine, tokenizer: Tokenizer, d: ClassifyData, text: string): Promise<Float64Array> {
  if (!text.trim()) throw new InputError('the text to classify is empty');
  let ids = tokenizer.encode(text).subarray(0, d.maxLen);
  if (ids.length === 0) ids = Int32Array.of(0);
  const { output } = await engine.forward({ batchSize: 1, seqLen: ids.length, x: Int32Array.from(ids) });
  const p = new Float64Array(d.classes.length);
  softmaxInto(output, 0, d.classes.length, p, 0);
  return p;
}

/** The test metrics of a classification run: accuracy against the baseline, per class, confusion. */
export function printClassifyResult(out: (line: string) => void, s: ClassifyResult, engine: string): void {
  const t = s.test;
  out('');
  out(
    `test (${engine}): accuracy ${(100 * t.accuracy).toFixed(1)}% on ${t.n} sequences; majority-class baseline ("${t.majorityClass}") ${(100 * t.baselineAccuracy).toFixed(1)}%` +
      `${s.beatsBaseline ? '' : ' -- the model does NOT beat it'}`,
  );
  out(formatTable(['class', 'precision', 'recall', 'F1', 'support'], t.perClass.map((c) => [c.label, c.precision.toFixed(3), c.recall.toFixed(3), c.f1.toFixed(3), c.support])));
  out('confusion matrix (rows: true class, columns: predicted)');
  out(formatTable(['', ...t.classes], t.classes.map((c, i) => [c, ...t.confusion[i]])));
}

// ---- the task module: flags, data, model, and `rnnlab predict` ----

/** The classify task's own flags. */
export interface ClassifyFlags extends TrainOptions {
  dataset?: string;
  csv?: string;
  datasetDir?: string;
  textColumn?: string;
  labelColumn?: string;
  level?: 'char' | 'word';
  vocab?: string;
  maxLen?: number;
  bucketing: boolean;
}

function buildClassify(o: ClassifyFlags, ck: { data?: unknown } | null): BuiltTask<ClassifyResult> {
  if (o.datasetDir !== undefined && (o.csv !== undefined || o.dataset !== undefined)) throw new InputError('give one of --dataset, --csv and --dataset-dir');
  const data = o.datasetDir !== undefined ? loadLabelledDir(o.datasetDir) : loadLabelled({ dataset: o.dataset, csv: o.csv, textColumn: o.textColumn, labelColumn: o.labelColumn, level: o.level });
  const level = o.level ?? data.level;
  const split = data.test ? splitTrainTest(data.examples, data.test, deriveSeed(o.seed, 'split')) : splitExamples(data.examples, deriveSeed(o.seed, 'split'));
  let tokenizer: Tokenizer;
  const saved = ck?.data as { tokenizer?: unknown } | undefined;
  const prep = { lowercase: level === 'char' };
  if (saved?.tokenizer) tokenizer = tokenizerFromJSON(saved.tokenizer);
  else if (level === 'char') tokenizer = CharTokenizer.fromText(split.train.map((e) => prepareText(e.text, prep)).join(''), { unk: true });
  else tokenizer = WordTokenizer.fromText(split.train.map((e) => e.text).join('\n\n'), wordCount(o.vocab));
  const prepared = (e: Example): Example => ({ ...e, text: prepareText(e.text, prep) });
  const parts = { train: split.train.map(prepared), val: split.val.map(prepared), test: split.test.map(prepared) };
  const spec = modelSpec(o, tokenizer.size, split.classes.length, { input: 'tokens', returnSequences: false, loss: 'softmaxCrossEntropy' });
  const task = new ClassifyTask(spec, tokenizer, split.classes, parts, { batch: o.batch, maxLen: o.maxLen ?? (level === 'char' ? 20 : 100), bucketing: o.bucketing, seed: deriveSeed(o.seed, 'data') }, data.name);
  return { task, spec, data: { ...task.dataJSON(), ...(o.textColumn ? { textColumn: o.textColumn } : {}) } };
}

type PredictFlags = { checkpoint: string; csv?: string; textColumn?: string; out?: string } & CheckpointEngineFlags;

/** `rnnlab predict`: the label of one text and the class probabilities, or of every row of a CSV. */
const predictUse: UseCommand<PredictFlags> = {
  name: 'predict',
  description: 'classify texts (or every row of --csv) with a classification checkpoint: the label and the class probabilities',
  argument: { spec: '[texts...]', help: 'the texts to classify, each one argument (quote a text with spaces)' },
  flags: [
    { flags: '--checkpoint <dir>', help: 'a classification checkpoint, or a run directory (its newest checkpoint)', required: true },
    { flags: '--csv <file>', help: 'classify every row of this CSV instead: writes it back with a label column ("predicted" if it has one) and a p_<class> column per class' },
    { flags: '--text-column <name>', help: "the CSV's text column (default: the one the model was trained on, or the only column)" },
    { flags: '-o, --out <file>', help: 'the CSV to write (default: standard output)' },
  ],
  examples: ['rnnlab predict --checkpoint runs/names "Maria"', 'rnnlab predict --checkpoint runs/names Maria John Andrea', 'rnnlab predict --checkpoint runs/reviews --csv new-reviews.csv -o labelled.csv'],
  run: (texts, flags, io) => predict(texts, flags, io),
};

async function predict(texts: string[], f: PredictFlags, io: IO): Promise<void> {
  if ((texts.length === 0) === (f.csv === undefined)) throw new InputError('give the texts to classify, or --csv FILE (not both)');
  if (f.out !== undefined && f.csv === undefined) throw new InputError('-o writes the CSV of --csv; texts given as arguments are printed');
  const ck = readCheckpoint(resolveCheckpoint(f.checkpoint, (l) => io.err(`rnnlab: ${l}`)));
  const d = ck.data as ClassifyData | undefined;
  if (!d || d.task !== 'classify') throw new InputError(`${ck.dir}: not a classification checkpoint (no classify data.json)`);
  const tokenizer = tokenizerFromJSON(d.tokenizer, `${ck.dir}/data.json`);
  const lowercase = lowercases(d, tokenizer);
  if (f.csv !== undefined) {
    if (f.out !== undefined) {
      checkOutputFile(f.out, '-o', [f.csv], 'labelled.csv');
      checkReplaceable(f.out, '-o', 'labels');
    }
    const csv = readCsv(f.csv);
    if (csv.rows.length === 0) throw new InputError(`${f.csv}: has a header and no rows`);
    const name = f.textColumn ?? (d.textColumn && csv.columns.includes(d.textColumn) ? d.textColumn : csv.columns.length === 1 ? csv.columns[0] : undefined);
    if (name === undefined) throw new InputError(`${f.csv}: which column holds the text? give --text-column (the columns are ${csv.columns.join(', ')})`);
    const j = columnIndex(csv, name, '--text-column');
    const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
    // the predicted label's column: "label", or "predicted" when the file has a label column of its own
    const labelName = csv.columns.includes('label') ? 'predicted' : 'label';
    const lines = [csvLine([...csv.columns, labelName, ...d.classes.map((c) => `p_${c}`)])];
    const counts = new Map<string, number>();
    for (let r = 0; r < csv.rows.length; r++) {
      const row = csv.rows[r];
      if (!row[j].trim()) throw new InputError(`${f.csv} line ${csv.lines[r]}: empty text in column "${name}"`);
      const p = await predictText(set.engines[0], tokenizer, d, prepareText(row[j], { lowercase }));
      const best = argmax(p);
      counts.set(d.classes[best], (counts.get(d.classes[best]) ?? 0) + 1);
      lines.push(csvLine([...row, d.classes[best], ...Array.from(p, (v) => Number(v.toPrecision(6)))]));
      if (r % 100 === 0) io.progress(`predict: ${r + 1}/${csv.rows.length} rows`);
    }
    await set.close();
    const body = lines.join('\n') + '\n';
    if (f.out === undefined) io.out(body.trimEnd());
    else {
      writeFileAtomic(f.out, body);
      const summary = { checkpoint: ck.dir, engine: set.engines[0].name, input: f.csv, output: f.out, rows: csv.rows.length, labels: Object.fromEntries(counts) };
      if (f.json) io.out(JSON.stringify(summary));
      else io.out(`wrote ${f.out}: ${csv.rows.length} rows labelled (${[...counts].map(([c, n]) => `${c} ${n}`).join(', ')}) by ${set.descriptions[0]}`);
    }
    return;
  }
  const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
  const predictions: { text: string; label: string; p: number[] }[] = [];
  for (const text of texts) {
    const p = await predictText(set.engines[0], tokenizer, d, prepareText(text, { lowercase }));
    predictions.push({ text, label: d.classes[argmax(p)], p: Array.from(p) });
  }
  await set.close();
  const probabilities = (p: ArrayLike<number>): Record<string, number> => Object.fromEntries(d.classes.map((c, i) => [c, p[i]]));
  if (f.json) {
    const one = (x: (typeof predictions)[number]): Record<string, unknown> => ({ text: x.text, label: x.label, probabilities: probabilities(x.p) });
    // one text: its fields at the top; several: a list of them
    io.out(JSON.stringify({ checkpoint: ck.dir, engine: set.engines[0].name, ...(predictions.length === 1 ? one(predictions[0]) : { predictions: predictions.map(one) }) }));
    return;
  }
  if (predictions.length === 1) {
    const [{ label, p }] = predictions;
    io.out(`${label}  (${(100 * Math.max(...Array.from(p))).toFixed(1)}%)`);
    io.out(formatTable(['class', 'probability'], d.classes.map((c, i) => [c, p[i].toFixed(4)])));
    return;
  }
  io.out(formatTable(['text', 'label', ...d.classes.map((c) => `p ${c}`)], predictions.map((x) => [x.text, x.label, ...Array.from(x.p, (v) => v.toFixed(4))]), ['l', 'l', ...d.classes.map(() => 'r' as const)]));
}

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/** What the report shows of a classification run: accuracy against the majority class, per-class metrics, the confusion matrix; and the views of a classifier reading a text. */
const classifyReport: TaskReport = {
  finalSchema: {
    at: 'test',
    what: "the final record's test",
    schema: { accuracy: 'num', n: 'num', 'majorityClass?': 'str', baselineAccuracy: 'num', perClass: [{ label: 'str', precision: 'num', recall: 'num', f1: 'num', support: 'num' }], 'confusion?': [['num']], 'classes?': ['str'] },
  },
  finalCharts: (run, f) => {
    const t = f.test as { confusion?: number[][]; classes?: string[] } | undefined;
    if (!t?.confusion || !t.classes) return [];
    const svg = heatmap({ title: `${run}: confusion matrix (rows: true, columns: predicted)`, rows: t.classes, cols: t.classes, values: t.confusion, format: (v) => String(v) });
    return [{ id: `confusion-${run}`, title: 'confusion matrix', svg, series: t.classes.length }];
  },
  card: (f) => {
    if (!f.test) return null;
    const t = f.test as ClassMetrics;
    return { ok: t.accuracy > t.baselineAccuracy, line: `test accuracy ${pct(t.accuracy)} against the majority-class baseline ${pct(t.baselineAccuracy)}` };
  },
  results: (f) => {
    if (!f.test) return [];
    const t = f.test as ClassMetrics;
    return [
      { text: `test accuracy ${pct(t.accuracy)} on ${t.n} sequences; majority-class baseline ("${t.majorityClass}") ${pct(t.baselineAccuracy)}.` },
      { table: { headers: ['class', 'precision', 'recall', 'F1', 'support'], rows: t.perClass.map((c) => [c.label, readable(c.precision), readable(c.recall), readable(c.f1), c.support]) } },
    ];
  },
  states: {
    owns: (ck) => (ck.data as { task?: string } | undefined)?.task === 'classify',
    text: true,
    input: (ck, o) => {
      const text = requireText(ck.dir, o.text);
      const d = ck.data as ClassifyData;
      if (!d.tokenizer) throw new InputError(`${ck.dir}: neither a text nor a classification checkpoint (no vocab.json or classify data.json)`);
      const tokenizer = tokenizerFromJSON(d.tokenizer, ck.dir);
      return textStateInput(tokenizer, prepareText(text, { lowercase: lowercases(d, tokenizer) }), text);
    },
  },
};

export const classifyTask = defineTask<ClassifyFlags, ClassifyResult>({
  name: 'classify',
  summary: 'classify (sequence classification)',
  flags: [
    { flags: '--dataset <name>', help: 'names (default), spam' },
    { flags: '--csv <file>', help: 'a CSV with --text-column and --label-column' },
    { flags: '--dataset-dir <dir>', help: 'a folder per label holding one text file per example, or train/ and test/ each holding them (the IMDB layout: aclImdb/{train,test}/{pos,neg}/*.txt)' },
    { flags: '--text-column <name>', help: 'the text column of --csv' },
    { flags: '--label-column <name>', help: 'the label column of --csv' },
    { flags: '--level <level>', help: "characters or words (default: the dataset's)", choices: ['char', 'word'] },
    { flags: '--vocab <v>', help: 'word: the N most frequent words (default 5000)' },
    { flags: '--max-len <n>', help: 'cut texts at n tokens (default 20 chars / 100 words)', parse: intArg(1) },
    { flags: '--no-bucketing', help: 'batch texts in random order instead of by similar length' },
  ],
  defaults: { hidden: 64, batch: 32, epochs: 4, bucketing: true },
  seqLength: (o) => o.maxLen ?? 100,
  build: buildClassify,
  printResult: printClassifyResult,
  use: predictUse,
  report: classifyReport,
});
