/**
 * Sequence-to-sequence data: character vocabularies, the built-in seeded datasets (addition,
 * reverse, dates), pairs from a user's CSV, a seeded train/val/test split, batching into
 * Seq2SeqBatch, and the metrics (exact match, token accuracy, the copy-the-input baseline).
 *
 * Token ids follow spec.ts: 0 = PAD, 1 = BOS, 2 = EOS, 3.. the characters sorted by code point.
 * Every generator draws from one Rng seeded by the caller, so the same seed gives the same pairs,
 * bit for bit, on every machine.
 */
import { InputError, quote } from '../errors.js';
import { columnIndex, readCsv } from '../io/csv.js';
import { Rng, deriveSeed } from '../rng.js';
import { BOS, EOS, PAD, type Seq2SeqBatch } from './spec.js';

export interface Pair {
  source: string;
  target: string;
}

/**
 * Which baseline a dataset is compared against. "copy": the prediction is the source itself. It is
 * used where source and target share their characters (reverse: same letters, same length, so a
 * model that never learned to reverse scores the palindromes and the middle letters; dates: the day
 * and year digits are in the source; csv: the user's pairs may be near-identities, such as spelling
 * fixes). Addition has none: "535+61" is not an attempt at "596".
 */
export type Baseline = 'copy' | null;

export interface Seq2SeqDataset {
  name: string;
  pairs: Pair[];
  note: string;
  baseline: Baseline;
}

export const SEQ2SEQ_DATASETS = ['addition', 'reverse', 'dates'] as const;
export type Seq2SeqDatasetName = (typeof SEQ2SEQ_DATASETS)[number];

/** The display symbols of the three special ids. */
export const SPECIAL_SYMBOLS = ['<pad>', '<bos>', '<eos>'] as const;
const FIRST_SYMBOL = 3;

// ---------------------------------------------------------------------------------------------
// Vocabulary

export interface Seq2SeqVocabJSON {
  kind: 'seq2seq-chars';
  /** The characters (one code point each), sorted; id = 3 + index. */
  chars: string[];
}

const codeOrder = (a: string, b: string): number => a.codePointAt(0)! - b.codePointAt(0)!;

/** A character vocabulary: PAD, BOS, EOS, then the characters sorted by code point. */
export class Seq2SeqVocab {
  readonly chars: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(chars: Iterable<string>, source = 'vocabulary') {
    const list = [...chars];
    for (const c of list) {
      if (typeof c !== 'string' || [...c].length !== 1) throw new InputError(`${source}: every symbol must be one character (got ${JSON.stringify(c)})`);
      if (this.index.has(c)) throw new InputError(`${source}: the character ${JSON.stringify(c)} is listed twice`);
      this.index.set(c, 0);
    }
    this.chars = list.sort(codeOrder);
    this.chars.forEach((c, i) => this.index.set(c, FIRST_SYMBOL + i));
  }

  /** The vocabulary of every character in `texts`. */
  static fromTexts(texts: Iterable<string>): Seq2SeqVocab {
    const set = new Set<string>();
    for (const t of texts) for (const ch of t) set.add(ch);
    return new Seq2SeqVocab(set);
  }

  static fromJSON(j: unknown, source = 'vocab.json'): Seq2SeqVocab {
    const v = j as Partial<Seq2SeqVocabJSON> | null;
    if (!v || typeof v !== 'object' || v.kind !== 'seq2seq-chars' || !Array.isArray(v.chars)) {
      throw new InputError(`${source}: not a seq2seq vocabulary (expected {"kind": "seq2seq-chars", "chars": [...]})`);
    }
    return new Seq2SeqVocab(v.chars, source);
  }

  /** Ids in use: 3 specials + the characters. */
  get size(): number {
    return FIRST_SYMBOL + this.chars.length;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /** The ids of `text` (no BOS, no EOS); a character outside the vocabulary is one InputError naming it and where it is. */
  encode(text: string, where = 'text'): Int32Array {
    const out: number[] = [];
    let pos = 0;
    for (const ch of text) {
      pos++;
      const id = this.index.get(ch);
      if (id === undefined) {
        const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw new InputError(`${where} ${quote(text, 40)}: the character ${JSON.stringify(ch)} (U+${cp}) at position ${pos} is not in the vocabulary (${this.chars.length} characters: ${quote(this.chars.join(''), 60)})`);
      }
      out.push(id);
    }
    return Int32Array.from(out);
  }

  /** Text of ids: stops at the first EOS, skips PAD and BOS. */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === EOS) break;
      if (id === PAD || id === BOS) continue;
      s += this.symbol(id);
    }
    return s;
  }

  /** The symbol of one id ("<pad>", "<bos>", "<eos>" for the specials), for heatmap labels. */
  symbol(id: number): string {
    if (id >= 0 && id < FIRST_SYMBOL) return SPECIAL_SYMBOLS[id];
    const c = this.chars[id - FIRST_SYMBOL];
    if (c === undefined || !Number.isInteger(id)) throw new InputError(`token id ${id} is outside the vocabulary (0..${this.size - 1})`);
    return c;
  }

  toJSON(): Seq2SeqVocabJSON {
    return { kind: 'seq2seq-chars', chars: [...this.chars] };
  }
}

/** The vocabularies of both sides; `shared` when one vocabulary serves both (then src === tgt). */
export interface Seq2SeqVocabs {
  src: Seq2SeqVocab;
  tgt: Seq2SeqVocab;
  shared: boolean;
}

/**
 * Vocabularies of all the pairs given (pass every split, so held-out pairs can be encoded: a
 * character vocabulary carries no information about the test answers). `shared`: one vocabulary of
 * the characters of both sides (needed for a shared embedding).
 */
export function buildVocabs(pairs: readonly Pair[], shared = false): Seq2SeqVocabs {
  if (shared) {
    const v = Seq2SeqVocab.fromTexts(pairs.flatMap((p) => [p.source, p.target]));
    return { src: v, tgt: v, shared: true };
  }
  return { src: Seq2SeqVocab.fromTexts(pairs.map((p) => p.source)), tgt: Seq2SeqVocab.fromTexts(pairs.map((p) => p.target)), shared: false };
}

export function vocabsToJSON(v: Seq2SeqVocabs): { shared: boolean; src: Seq2SeqVocabJSON; tgt: Seq2SeqVocabJSON } {
  return { shared: v.shared, src: v.src.toJSON(), tgt: v.tgt.toJSON() };
}

export function vocabsFromJSON(j: unknown, source = 'vocab.json'): Seq2SeqVocabs {
  const o = j as { shared?: unknown; src?: unknown; tgt?: unknown } | null;
  if (!o || typeof o !== 'object') throw new InputError(`${source}: not a seq2seq vocabulary pair (expected {"shared", "src", "tgt"})`);
  const src = Seq2SeqVocab.fromJSON(o.src, `${source} (src)`);
  if (o.shared === true) return { src, tgt: src, shared: true };
  return { src, tgt: Seq2SeqVocab.fromJSON(o.tgt, `${source} (tgt)`), shared: false };
}

// ---------------------------------------------------------------------------------------------
// Datasets

function positiveInt(v: number, min: number, max: number, flag: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new InputError(`${flag} must be an integer from ${min} to ${max} (got ${v})`);
  return v;
}

/** `n` pairs with distinct sources drawn by `draw`; `possible` is how many distinct sources exist. */
function distinctPairs(n: number, possible: number, draw: () => Pair, what: string): Pair[] {
  if (n > possible) throw new InputError(`${what}: only ${possible} distinct pairs exist, ${n} were asked for`);
  const seen = new Set<string>();
  const out: Pair[] = [];
  const maxTries = 50 * n + 1000;
  for (let tries = 0; out.length < n; tries++) {
    if (tries > maxTries) throw new InputError(`${what}: could not draw ${n} distinct pairs (got ${out.length}); ask for fewer`);
    const p = draw();
    if (seen.has(p.source)) continue;
    seen.add(p.source);
    out.push(p);
  }
  return out;
}

/**
 * Addition, as in tfjs's addition-rnn example: "535+61" → "596". Each operand has 1..digits digits
 * (the count drawn uniformly, then the number uniformly among those with that many digits, so short
 * operands are as common as long ones), no leading zeros, the source not reversed. Sources are distinct.
 */
export function additionDataset(seed: number, o: { digits?: number; n?: number } = {}): Seq2SeqDataset {
  const digits = positiveInt(o.digits ?? 3, 1, 7, '--digits');
  const n = positiveInt(o.n ?? 50000, 1, 1_000_000, '--pairs');
  const rng = new Rng(deriveSeed(seed, 'seq2seq addition'));
  const operand = (): number => {
    const k = 1 + rng.int(digits);
    return k === 1 ? rng.int(10) : 10 ** (k - 1) + rng.int(9 * 10 ** (k - 1));
  };
  const pairs = distinctPairs(n, 10 ** (2 * digits), () => {
    const a = operand();
    const b = operand();
    return { source: `${a}+${b}`, target: String(a + b) };
  }, 'addition');
  return { name: `addition of numbers with up to ${digits} digit${digits === 1 ? '' : 's'}`, pairs, note: `${n} distinct sums "a+b" -> "c"; operands with 1..${digits} digits, as in tfjs's addition-rnn example (source not reversed)`, baseline: null };
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';

/** Random lowercase strings of length 3..maxLen → their reverse. Sources are distinct. */
export function reverseDataset(seed: number, o: { maxLen?: number; n?: number } = {}): Seq2SeqDataset {
  const maxLen = positiveInt(o.maxLen ?? 8, 3, 64, '--max-len');
  const n = positiveInt(o.n ?? 10000, 1, 1_000_000, '--pairs');
  const rng = new Rng(deriveSeed(seed, 'seq2seq reverse'));
  let possible = 0;
  for (let L = 3; L <= maxLen && possible < 1e15; L++) possible += 26 ** L;
  const pairs = distinctPairs(n, possible, () => {
    const L = 3 + rng.int(maxLen - 2);
    let s = '';
    for (let i = 0; i < L; i++) s += LOWER[rng.int(26)];
    return { source: s, target: [...s].reverse().join('') };
  }, 'reverse');
  return { name: `reverse a string of 3..${maxLen} lowercase letters`, pairs, note: `${n} distinct strings, length uniform in 3..${maxLen}; baseline: copy the input (scores palindromes and middle letters)`, baseline: 'copy' };
}

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function ordinal(d: number): string {
  if (d % 100 >= 11 && d % 100 <= 13) return `${d}th`;
  return `${d}${['th', 'st', 'nd', 'rd'][d % 10] ?? 'th'}`;
}

interface CalendarDay {
  y: number;
  /** 1..12 */
  m: number;
  d: number;
  /** 0 = Sunday */
  wd: number;
}

/** The human-written formats of `dates`; each names the month in words and the year in 4 digits, so none is ambiguous. */
export const DATE_FORMATS: { example: string; write: (c: CalendarDay) => string }[] = [
  { example: '3 March 2021', write: (c) => `${c.d} ${MONTHS[c.m - 1]} ${c.y}` },
  { example: 'March 3, 2021', write: (c) => `${MONTHS[c.m - 1]} ${c.d}, ${c.y}` },
  { example: 'Mar 3 2021', write: (c) => `${MONTHS[c.m - 1].slice(0, 3)} ${c.d} ${c.y}` },
  { example: 'wednesday, 3 march 2021', write: (c) => `${WEEKDAYS[c.wd].toLowerCase()}, ${c.d} ${MONTHS[c.m - 1].toLowerCase()} ${c.y}` },
  { example: '3/Mar/2021', write: (c) => `${c.d}/${MONTHS[c.m - 1].slice(0, 3)}/${c.y}` },
  { example: 'Wed, Mar 3, 2021', write: (c) => `${WEEKDAYS[c.wd].slice(0, 3)}, ${MONTHS[c.m - 1].slice(0, 3)} ${c.d}, ${c.y}` },
  { example: '3rd of March 2021', write: (c) => `${ordinal(c.d)} of ${MONTHS[c.m - 1]} ${c.y}` },
  { example: '03 MAR 2021', write: (c) => `${String(c.d).padStart(2, '0')} ${MONTHS[c.m - 1].slice(0, 3).toUpperCase()} ${c.y}` },
];

const DAY_MS = 86_400_000;
const FIRST_DAY = Date.UTC(1950, 0, 1);
/** Days from 1950-01-01 to 2049-12-31 inclusive. */
export const DATE_RANGE_DAYS = (Date.UTC(2050, 0, 1) - FIRST_DAY) / DAY_MS;

/** The k-th day after 1950-01-01 on the proleptic Gregorian calendar (UTC, so no time zones or DST). */
function calendarDay(k: number): CalendarDay {
  const t = new Date(FIRST_DAY + k * DAY_MS);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), wd: t.getUTCDay() };
}

/**
 * Human-written dates → ISO "YYYY-MM-DD": days drawn uniformly from 1950-01-01..2049-12-31 (a real
 * calendar: month lengths, leap years incl. 2000), each written in one of DATE_FORMATS drawn
 * uniformly. A weekday appears only in the formats that have one, and it is that date's weekday.
 */
export function datesDataset(seed: number, o: { n?: number } = {}): Seq2SeqDataset {
  const n = positiveInt(o.n ?? 10000, 1, 1_000_000, '--pairs');
  const rng = new Rng(deriveSeed(seed, 'seq2seq dates'));
  const pairs = distinctPairs(n, DATE_RANGE_DAYS * DATE_FORMATS.length, () => {
    const c = calendarDay(rng.int(DATE_RANGE_DAYS));
    const f = DATE_FORMATS[rng.int(DATE_FORMATS.length)];
    return { source: f.write(c), target: `${c.y}-${String(c.m).padStart(2, '0')}-${String(c.d).padStart(2, '0')}` };
  }, 'dates');
  return {
    name: 'human-written dates to ISO dates (1950-2049)',
    pairs,
    note: `${n} distinct dates in ${DATE_FORMATS.length} formats (${DATE_FORMATS.map((f) => `"${f.example}"`).join(', ')}) -> YYYY-MM-DD; baseline: copy the input`,
    baseline: 'copy',
  };
}

/**
 * Pairs from a user's CSV (`--csv FILE --source-column a --target-column b`). Cells are trimmed; an
 * empty cell or one longer than maxLen characters is one InputError naming the file, line and column.
 */
export function csvDataset(path: string, sourceColumn: string | undefined, targetColumn: string | undefined, o: { maxLen?: number } = {}): Seq2SeqDataset {
  if (!sourceColumn || !targetColumn) throw new InputError('--csv needs --source-column NAME and --target-column NAME');
  const maxLen = positiveInt(o.maxLen ?? 100, 1, 10_000, '--max-len');
  const csv = readCsv(path);
  const sj = columnIndex(csv, sourceColumn, '--source-column');
  const tj = columnIndex(csv, targetColumn, '--target-column');
  if (sj === tj) throw new InputError(`${csv.path}: --source-column and --target-column are the same column ${quote(sourceColumn)}`);
  const pairs = csv.rows.map((r, i) => {
    const cell = (j: number, col: string, side: string): string => {
      const v = r[j].trim();
      if (!v) throw new InputError(`${csv.path} line ${csv.lines[i]}: empty ${side} in column ${quote(col)}`);
      const len = [...v].length;
      if (len > maxLen) throw new InputError(`${csv.path} line ${csv.lines[i]}: the ${side} in column ${quote(col)} has ${len} characters; at most ${maxLen} (--max-len)`);
      return v;
    };
    return { source: cell(sj, sourceColumn, 'source'), target: cell(tj, targetColumn, 'target') };
  });
  return { name: `${csv.path} ("${sourceColumn}" -> "${targetColumn}")`, pairs, note: `${pairs.length} pairs from ${csv.path}; baseline: copy the input`, baseline: 'copy' };
}

export interface Seq2SeqDataOptions {
  dataset?: string;
  csv?: string;
  sourceColumn?: string;
  targetColumn?: string;
  seed: number;
  /** How many pairs to generate (built-in datasets). */
  n?: number;
  /** addition: the longest operand. */
  digits?: number;
  /** reverse: the longest string; csv: the longest cell. */
  maxLen?: number;
}

/** A built-in dataset by name (default addition), or the user's CSV. */
export function loadSeq2SeqData(o: Seq2SeqDataOptions): Seq2SeqDataset {
  if (o.csv) return csvDataset(o.csv, o.sourceColumn, o.targetColumn, { maxLen: o.maxLen });
  switch (o.dataset ?? 'addition') {
    case 'addition':
      return additionDataset(o.seed, { digits: o.digits, n: o.n });
    case 'reverse':
      return reverseDataset(o.seed, { maxLen: o.maxLen, n: o.n });
    case 'dates':
      return datesDataset(o.seed, { n: o.n });
    default:
      throw new InputError(`unknown seq2seq dataset ${quote(o.dataset ?? '')} (choose ${SEQ2SEQ_DATASETS.join(', ')}, or --csv FILE)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Split

export interface Seq2SeqSplit {
  train: Pair[];
  val: Pair[];
  test: Pair[];
  /** Pairs dropped because their source came earlier (the first one is kept). */
  duplicates: number;
}

/** The fewest distinct pairs a split accepts (so validation and test hold at least one each). */
export const MIN_PAIRS = 10;

/**
 * Seeded split, by default 80/10/10 (val and test at least one pair each). Pairs are first
 * deduplicated by source (first kept), so no source, hence no pair, of the test or validation set
 * appears in training.
 */
export function splitPairs(pairs: readonly Pair[], seed: number, o: { val?: number; test?: number } = {}): Seq2SeqSplit {
  const fv = o.val ?? 0.1;
  const ft = o.test ?? 0.1;
  if (!(fv > 0 && ft > 0 && fv + ft < 1)) throw new InputError(`split fractions must be > 0 with val + test < 1 (got val ${fv}, test ${ft})`);
  const seen = new Set<string>();
  const unique: Pair[] = [];
  for (const p of pairs) {
    if (seen.has(p.source)) continue;
    seen.add(p.source);
    unique.push(p);
  }
  if (unique.length < MIN_PAIRS) throw new InputError(`only ${unique.length} pairs with distinct sources; seq2seq needs at least ${MIN_PAIRS} (train/val/test split)`);
  const idx = new Rng(seed).shuffle(unique.map((_, i) => i));
  const nVal = Math.max(1, Math.floor(unique.length * fv));
  const nTest = Math.max(1, Math.floor(unique.length * ft));
  const pick = (a: number, b: number): Pair[] => idx.slice(a, b).map((i) => unique[i]);
  return { test: pick(0, nTest), val: pick(nTest, nTest + nVal), train: pick(nTest + nVal, idx.length), duplicates: pairs.length - unique.length };
}

// ---------------------------------------------------------------------------------------------
// Batching

/** A pair as ids (no BOS, no EOS). */
export interface EncodedPair {
  src: Int32Array;
  tgt: Int32Array;
}

export function encodePairs(pairs: readonly Pair[], v: Seq2SeqVocabs, what = 'pair'): EncodedPair[] {
  return pairs.map((p, i) => {
    const src = v.src.encode(p.source, `${what} ${i + 1}, source`);
    if (src.length === 0) throw new InputError(`${what} ${i + 1}: the source is empty (every source needs a token)`);
    return { src, tgt: v.tgt.encode(p.target, `${what} ${i + 1}, target`) };
  });
}

/**
 * One batch of encoded pairs, right-padded with PAD: src [B, S] (S = the longest source), tgtIn
 * [B, T] = BOS + target, tgtOut [B, T] = target + EOS (T = longest target + 1), masks 1 on the real
 * tokens (tgtMask covers the target and its EOS).
 */
export function makeBatchFromIds(items: readonly EncodedPair[]): Seq2SeqBatch {
  const B = items.length;
  if (B === 0) throw new InputError('a seq2seq batch needs at least one pair');
  let S = 0;
  let T = 0;
  for (const it of items) {
    if (it.src.length === 0) throw new InputError('a seq2seq batch got an empty source (every source needs a token)');
    S = Math.max(S, it.src.length);
    T = Math.max(T, it.tgt.length + 1);
  }
  const src = new Int32Array(B * S); // [B, S]
  const srcMask = new Uint8Array(B * S); // [B, S]
  const tgtIn = new Int32Array(B * T); // [B, T]
  const tgtOut = new Int32Array(B * T); // [B, T]
  const tgtMask = new Uint8Array(B * T); // [B, T]
  for (let b = 0; b < B; b++) {
    const { src: s, tgt: t } = items[b];
    src.set(s, b * S);
    srcMask.fill(1, b * S, b * S + s.length);
    tgtIn[b * T] = BOS;
    tgtIn.set(t, b * T + 1);
    tgtOut.set(t, b * T);
    tgtOut[b * T + t.length] = EOS;
    tgtMask.fill(1, b * T, b * T + t.length + 1);
  }
  return { batchSize: B, srcLen: S, tgtLen: T, src, srcMask, tgtIn, tgtOut, tgtMask };
}

/** One batch of text pairs (see makeBatchFromIds). */
export function makeBatch(pairs: readonly Pair[], srcVocab: Seq2SeqVocab, tgtVocab: Seq2SeqVocab): Seq2SeqBatch {
  return makeBatchFromIds(encodePairs(pairs, { src: srcVocab, tgt: tgtVocab, shared: srcVocab === tgtVocab }));
}

/**
 * The order of one epoch: indices into `items`, in batches of `batchSize` (the last may be
 * smaller). Shuffled with a seed derived from (seed, epoch), so epoch e is the same whether or not
 * the epochs before it ran (resume). With bucketing, pairs are sorted by source then target length
 * within chunks of 16 batches (less padding), and the batches are then shuffled.
 */
export function epochOrder(items: readonly EncodedPair[], o: { batchSize: number; seed: number; epoch: number; bucketing?: boolean }): number[][] {
  const B = positiveInt(o.batchSize, 1, 1 << 20, 'batch size');
  const rng = new Rng(deriveSeed(o.seed, `seq2seq epoch ${o.epoch}`));
  const n = items.length;
  const idx = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  if (o.bucketing) {
    const chunk = 16 * B;
    const key = (i: number): number => items[i].src.length * 1e6 + items[i].tgt.length;
    for (let s = 0; s < n; s += chunk) {
      const part = idx.slice(s, s + chunk).sort((a, b) => key(a) - key(b) || a - b);
      idx.splice(s, part.length, ...part);
    }
  }
  const batches: number[][] = [];
  for (let s = 0; s < n; s += B) batches.push(idx.slice(s, s + B));
  if (o.bucketing) rng.shuffle(batches);
  return batches;
}

/** The training batches of one epoch (see epochOrder), built lazily. */
export function* epochBatches(items: readonly EncodedPair[], o: { batchSize: number; seed: number; epoch: number; bucketing?: boolean }): Generator<Seq2SeqBatch> {
  for (const group of epochOrder(items, o)) yield makeBatchFromIds(group.map((i) => items[i]));
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** A sequence: a string (one token per character) or token ids (without EOS). */
export type Sequence = string | ArrayLike<number>;

export interface Seq2SeqMetrics {
  n: number;
  /** Fraction of predictions equal to their reference. */
  exact: number;
  /** Fraction of reference positions (each reference's tokens and its EOS) where the prediction has the same token. */
  token: number;
  exactCount: number;
  tokenCorrect: number;
  tokenTotal: number;
}

const tokensOf = (s: Sequence): readonly (string | number)[] => (typeof s === 'string' ? [...s] : Array.from(s));

/**
 * Exact-match sequence accuracy, and token accuracy position by position over the reference's
 * length including its EOS: position i < len(ref) counts when pred[i] === ref[i], position len(ref)
 * (the EOS) counts when the prediction ends there too. Extra predicted tokens beyond it are not
 * counted separately (they cost the EOS position and the exact match). Micro-averaged over all positions.
 */
export function metrics(predictions: readonly Sequence[], references: readonly Sequence[]): Seq2SeqMetrics {
  if (predictions.length !== references.length) throw new InputError(`metrics: ${predictions.length} predictions for ${references.length} references`);
  let exactCount = 0;
  let tokenCorrect = 0;
  let tokenTotal = 0;
  for (let i = 0; i < references.length; i++) {
    const p = tokensOf(predictions[i]);
    const r = tokensOf(references[i]);
    let same = 0;
    for (let t = 0; t < r.length; t++) if (t < p.length && p[t] === r[t]) same++;
    if (p.length === r.length) same++; // the EOS position
    tokenCorrect += same;
    tokenTotal += r.length + 1;
    if (same === r.length + 1) exactCount++;
  }
  const n = references.length;
  return { n, exact: n ? exactCount / n : 0, token: tokenTotal ? tokenCorrect / tokenTotal : 0, exactCount, tokenCorrect, tokenTotal };
}

/** The copy-the-input baseline: every prediction is its source. */
export function copyBaseline(pairs: readonly Pair[]): Seq2SeqMetrics {
  return metrics(
    pairs.map((p) => p.source),
    pairs.map((p) => p.target),
  );
}

