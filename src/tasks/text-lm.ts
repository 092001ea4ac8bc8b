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
import { cursorInt, cursorObject, cursorRng } from './cursor.js';
import type { Batch, Engine, State } from '../engine.js';
import { InputError } from '../errors.js';
import { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import type { Tokenizer } from '../data/tokenizers.js';
import { generateIds } from './sampling.js';
import type { Metrics, SampleRecord, TrainTask } from './task.js';

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
      `windows: ${this.o.windows === 'consecutive' ? `consecutive, state carried (${this.o.batch} streams of ${this.streamLen.toLocaleString('en-US')})` : 'random offsets, zero state'}; ` +
        `batch ${this.o.batch} x seq ${this.o.seq}; ${this.stepsPerEpoch.toLocaleString('en-US')} steps per epoch`,
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

  /** Mean cross-entropy per validation token, in nats, with the state carried across windows. */
  async evaluate(engine: Engine): Promise<Metrics> {
    const T = this.o.seq;
    const V = this.spec.outputSize;
    const n = Math.min(this.val.length, this.o.valTokens + 1);
    if (n < 2) return {};
    const streams = Math.max(1, Math.min(this.o.batch, Math.floor((n - 1) / T)));
    const len = Math.floor(n / streams);
    let state: State | undefined;
    let sum = 0;
    let count = 0;
    for (let start = 0; start < len - 1; start += T) {
      const steps = Math.min(T, len - 1 - start);
      const x = new Int32Array(streams * steps);
      const y = new Int32Array(streams * steps);
      for (let b = 0; b < streams; b++) {
        for (let t = 0; t < steps; t++) {
          x[b * steps + t] = this.val[b * len + start + t];
          y[b * steps + t] = this.val[b * len + start + t + 1];
        }
      }
      const { output, finalState } = await engine.forward({ batchSize: streams, seqLen: steps, x, initialState: state });
      state = finalState;
      for (let r = 0; r < streams * steps; r++) {
        const off = r * V;
        let max = -Infinity;
        for (let j = 0; j < V; j++) if (output[off + j] > max) max = output[off + j];
        let s = 0;
        for (let j = 0; j < V; j++) s += Math.exp(output[off + j] - max);
        sum += max + Math.log(s) - output[off + y[r]];
        count++;
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
