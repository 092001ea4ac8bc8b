/**
 * Seq2seq data and decoding: vocabularies, the built-in datasets (checked by independent parsers),
 * CSV pairs and their errors, the split, batch layout, metrics on hand-made cases, and greedy /
 * beam decoding against fake engines whose optimal outputs are known.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EngineError, InputError } from '../src/errors.js';
import { Rng, deriveSeed } from '../src/rng.js';
import {
  type EncodedPair,
  type Pair,
  Seq2SeqVocab,
  additionDataset,
  buildVocabs,
  copyBaseline,
  csvDataset,
  datesDataset,
  encodePairs,
  epochBatches,
  epochOrder,
  loadSeq2SeqData,
  makeBatch,
  metrics,
  reverseDataset,
  splitPairs,
  vocabsFromJSON,
  vocabsToJSON,
} from '../src/seq2seq/data.js';
import { beamSearch, evaluatePairs, greedyDecode, translateTexts } from '../src/seq2seq/decode.js';
import { type Seq2SeqEngine, type Seq2SeqForward, validateSeq2SeqBatch } from '../src/seq2seq/engine.js';
import { BOS, EOS, PAD, type Seq2SeqBatch, parseSeq2SeqSpec } from '../src/seq2seq/spec.js';

/** Runs `f`, expects an InputError whose message is one line matching `re`. */
function expectInputError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an InputError matching ${re}`).toBeInstanceOf(InputError);
  const msg = (err as Error).message;
  expect(msg).toMatch(re);
  expect(msg).not.toContain('\n');
}

describe('vocabulary', () => {
  test('PAD, BOS, EOS, then the sorted characters; encode/decode and JSON round trip', () => {
    const v = Seq2SeqVocab.fromTexts(['hello', 'world']);
    expect(v.chars).toEqual(['d', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(v.size).toBe(10);
    expect([v.symbol(PAD), v.symbol(BOS), v.symbol(EOS)]).toEqual(['<pad>', '<bos>', '<eos>']);
    const ids = v.encode('hello');
    expect(Array.from(ids)).toEqual([5, 4, 6, 6, 7]);
    expect(v.decode(ids)).toBe('hello');
    // decode skips PAD and BOS and stops at the first EOS
    expect(v.decode([BOS, 5, PAD, 4, EOS, 6, 6])).toBe('he');
    const back = Seq2SeqVocab.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    expect(Array.from(back.encode('world'))).toEqual(Array.from(v.encode('world')));
    expect(back.chars).toEqual(v.chars);
  });

  test('unknown characters and bad JSON are one-line InputErrors naming the character and where', () => {
    const v = Seq2SeqVocab.fromTexts(['abc']);
    expectInputError(() => v.encode('abxc', 'pair 7, source'), /^pair 7, source "abxc": the character "x" \(U\+0078\) at position 3 is not in the vocabulary/);
    expectInputError(() => Seq2SeqVocab.fromJSON({ kind: 'chars', symbols: ['a'] }, 'vocab.json'), /^vocab\.json: not a seq2seq vocabulary/);
    expectInputError(() => Seq2SeqVocab.fromJSON({ kind: 'seq2seq-chars', chars: ['a', 'a'] }, 'v.json'), /listed twice/);
    expectInputError(() => Seq2SeqVocab.fromJSON({ kind: 'seq2seq-chars', chars: ['ab'] }, 'v.json'), /one character/);
    expectInputError(() => v.symbol(99), /token id 99 is outside the vocabulary \(0\.\.5\)/);
  });

  test('separate and shared vocabularies; the pair survives JSON', () => {
    const pairs = [{ source: '12+3', target: '15' }];
    const sep = buildVocabs(pairs);
    expect(sep.src.chars).toEqual(['+', '1', '2', '3']);
    expect(sep.tgt.chars).toEqual(['1', '5']);
    const shared = buildVocabs(pairs, true);
    expect(shared.src).toBe(shared.tgt);
    expect(shared.src.chars).toEqual(['+', '1', '2', '3', '5']);
    for (const v of [sep, shared]) {
      const back = vocabsFromJSON(JSON.parse(JSON.stringify(vocabsToJSON(v))));
      expect(back.shared).toBe(v.shared);
      expect(back.src.chars).toEqual(v.src.chars);
      expect(back.tgt.chars).toEqual(v.tgt.chars);
    }
  });
});

// --- independent date checks (no Date object: the leap rule, month lengths and Zeller's congruence) ---
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const monthLength = (y: number, m: number): number => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
/** Zeller's congruence, 0 = Sunday. */
function weekday(y: number, m: number, d: number): number {
  if (m < 3) {
    m += 12;
    y -= 1;
  }
  const K = y % 100;
  const J = Math.floor(y / 100);
  const h = (d + Math.floor((13 * (m + 1)) / 5) + K + Math.floor(K / 4) + Math.floor(J / 4) + 5 * J) % 7; // 0 = Saturday
  return (h + 6) % 7;
}
const suffixes: Record<number, string> = { 1: 'st', 2: 'nd', 3: 'rd', 21: 'st', 22: 'nd', 23: 'rd', 31: 'st' };

interface ParsedDate {
  format: number;
  y: number;
  m: number;
  d: number;
  weekday?: string;
}
/** Parses the formats the dataset claims to write; returns null for anything else. */
function parseDate(s: string): ParsedDate | null {
  const full = (w: string): number => MONTH_NAMES.indexOf(w.toLowerCase()) + 1;
  const abbr = (w: string): number => (w.length === 3 ? MONTH_NAMES.findIndex((n) => n.slice(0, 3) === w.toLowerCase()) + 1 : 0);
  let r: RegExpMatchArray | null;
  const out = (format: number, y: string, m: number, d: string, wd?: string): ParsedDate | null => (m > 0 ? { format, y: Number(y), m, d: Number(d), ...(wd ? { weekday: wd.toLowerCase() } : {}) } : null);
  if ((r = s.match(/^(\d{1,2}) ([A-Z][a-z]+) (\d{4})$/))) return out(1, r[3], full(r[2]), r[1]);
  if ((r = s.match(/^([A-Z][a-z]+) (\d{1,2}), (\d{4})$/))) return out(2, r[3], full(r[1]), r[2]);
  if ((r = s.match(/^([A-Z][a-z]{2}) (\d{1,2}) (\d{4})$/))) return out(3, r[3], abbr(r[1]), r[2]);
  if ((r = s.match(/^([a-z]+), (\d{1,2}) ([a-z]+) (\d{4})$/))) return DAY_NAMES.includes(r[1]) ? out(4, r[4], full(r[3]), r[2], r[1]) : null;
  if ((r = s.match(/^(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4})$/))) return out(5, r[3], abbr(r[2]), r[1]);
  if ((r = s.match(/^([A-Z][a-z]{2}), ([A-Z][a-z]{2}) (\d{1,2}), (\d{4})$/))) {
    const wd = DAY_NAMES.find((n) => n.slice(0, 3) === r![1].toLowerCase());
    return wd ? out(6, r[4], abbr(r[2]), r[3], wd) : null;
  }
  if ((r = s.match(/^(\d{1,2})(st|nd|rd|th) of ([A-Z][a-z]+) (\d{4})$/))) return r[2] === (suffixes[Number(r[1])] ?? 'th') ? out(7, r[4], full(r[3]), r[1]) : null;
  if ((r = s.match(/^(\d{2}) ([A-Z]{3}) (\d{4})$/))) return out(8, r[3], abbr(r[2]), r[1]);
  return null;
}

describe('datasets', () => {
  test('same seed, same pairs (bit for bit); another seed, other pairs', () => {
    for (const make of [(s: number) => additionDataset(s, { n: 300 }), (s: number) => reverseDataset(s, { n: 300 }), (s: number) => datesDataset(s, { n: 300 })]) {
      const a = make(7).pairs;
      expect(JSON.stringify(make(7).pairs)).toBe(JSON.stringify(a));
      expect(JSON.stringify(make(8).pairs)).not.toBe(JSON.stringify(a));
    }
  });

  test('addition: every pair is arithmetically right, operands of 1..digits digits, sources distinct', () => {
    const d = additionDataset(1, { digits: 3, n: 3000 });
    expect(d.pairs).toHaveLength(3000);
    expect(d.baseline).toBeNull();
    const lens = new Set<number>();
    const wrong: string[] = [];
    for (const { source, target } of d.pairs) {
      const m = source.match(/^(0|[1-9]\d{0,2})\+(0|[1-9]\d{0,2})$/);
      if (!m || !/^(0|[1-9]\d*)$/.test(target) || Number(target) !== Number(m[1]) + Number(m[2])) wrong.push(`${source} -> ${target}`);
      else lens.add(m[1].length).add(m[2].length);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect([...lens].sort()).toEqual([1, 2, 3]);
    expect(new Set(d.pairs.map((p) => p.source)).size).toBe(3000);
    // one digit: exactly 100 distinct sums exist, all of them drawn; 101 is refused
    expect(new Set(additionDataset(1, { digits: 1, n: 100 }).pairs.map((p) => p.source)).size).toBe(100);
    expectInputError(() => additionDataset(1, { digits: 1, n: 101 }), /only 100 distinct pairs exist/);
    expectInputError(() => additionDataset(1, { digits: 0 }), /--digits must be an integer from 1 to 7/);
  });

  test('reverse: targets are the reversed sources, lowercase, lengths 3..maxLen', () => {
    const d = reverseDataset(2, { maxLen: 6, n: 2000 });
    const lens = new Set<number>();
    for (const { source, target } of d.pairs) {
      expect(source).toMatch(/^[a-z]{3,6}$/);
      expect(target).toBe(source.split('').reverse().join(''));
      lens.add(source.length);
    }
    expect([...lens].sort()).toEqual([3, 4, 5, 6]);
    expect(d.baseline).toBe('copy');
  });

  test('dates: every target is the ISO form of its source (parsed independently), weekdays are right, leap days appear', () => {
    // the checkers themselves, on dates known from history
    expect(DAY_NAMES[weekday(2021, 3, 3)]).toBe('wednesday');
    expect(DAY_NAMES[weekday(2000, 1, 1)]).toBe('saturday');
    expect(DAY_NAMES[weekday(1969, 7, 20)]).toBe('sunday');
    expect([isLeap(2000), isLeap(1900), isLeap(2024), isLeap(2023)]).toEqual([true, false, true, false]);

    const d = datesDataset(3, { n: 12000 });
    const formats = new Set<number>();
    const wrong: string[] = []; // collected, so 12000 pairs cost one assertion
    let leapDays = 0;
    let weekdays = 0;
    let minY = 9999;
    let maxY = 0;
    for (const { source, target } of d.pairs) {
      const p = parseDate(source);
      if (!p) {
        wrong.push(`unparsed ${source}`);
        continue;
      }
      const { y, m, d: day } = p;
      if (y < 1950 || y > 2049 || day < 1 || day > monthLength(y, m)) wrong.push(`not a date in range: ${source}`);
      if (target !== `${y}-${String(m).padStart(2, '0')}-${String(day).padStart(2, '0')}`) wrong.push(`${source} -> ${target}`);
      if (p.weekday !== undefined) {
        if (p.weekday !== DAY_NAMES[weekday(y, m, day)]) wrong.push(`wrong weekday: ${source}`);
        weekdays++;
      }
      if (m === 2 && day === 29) leapDays++;
      formats.add(p.format);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect([...formats].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(weekdays).toBeGreaterThan(2000); // 2 of 8 formats have one
    // 25 leap days in 1950..2049; 12000 of 36525 days drawn gives ~8 expected (the seed fixes the count)
    expect(leapDays).toBeGreaterThan(0);
    expect(minY).toBeLessThanOrEqual(1951);
    expect(maxY).toBeGreaterThanOrEqual(2048);
  });

  test('csv: pairs from two columns; bad files and cells are one-line errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-s2s-'));
    const file = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const good = file('good.csv', 'en,fr,note\n cat ,chat,x\n"dog, big",grand chien,y\n');
    const d = csvDataset(good, 'en', 'fr');
    expect(d.pairs).toEqual([
      { source: 'cat', target: 'chat' },
      { source: 'dog, big', target: 'grand chien' },
    ]);
    expect(loadSeq2SeqData({ csv: good, sourceColumn: 'en', targetColumn: 'fr', seed: 0 }).pairs).toEqual(d.pairs);
    expectInputError(() => csvDataset(file('empty.csv', ''), 'en', 'fr'), /empty\.csv: the file is empty/);
    expectInputError(() => csvDataset(file('head.csv', 'en,fr\n'), 'en', 'fr'), /no data rows/);
    expectInputError(() => csvDataset(good, 'de', 'fr'), /good\.csv: no column "de" \(--source-column\); the columns are "en", "fr", "note"/);
    expectInputError(() => csvDataset(good, 'en', 'en'), /the same column/);
    expectInputError(() => csvDataset(file('cell.csv', 'en,fr\ncat,chat\ndog,  \n'), 'en', 'fr'), /cell\.csv line 3: empty target in column "fr"/);
    expectInputError(() => csvDataset(file('long.csv', 'en,fr\nabcdefghijkl,x\n'), 'en', 'fr', { maxLen: 10 }), /long\.csv line 2: the source in column "en" has 12 characters; at most 10 \(--max-len\)/);
    expectInputError(() => csvDataset(file('ragged.csv', 'en,fr\ncat\n'), 'en', 'fr'), /line 2: 1 fields, but the header has 2/);
    expectInputError(() => csvDataset(good, undefined, 'fr'), /--csv needs --source-column NAME and --target-column NAME/);
    expectInputError(() => loadSeq2SeqData({ dataset: 'poems', seed: 0 }), /unknown seq2seq dataset "poems" \(choose addition, reverse, dates, or --csv FILE\)/);
  });
});

describe('split', () => {
  test('seeded 80/10/10 after deduplication by source; no test or validation source in training', () => {
    const pairs: Pair[] = [];
    for (let i = 0; i < 200; i++) pairs.push({ source: `s${i % 150}`, target: `t${i}` }); // 50 repeated sources
    const s = splitPairs(pairs, 5);
    expect(s.duplicates).toBe(50);
    expect([s.train.length, s.val.length, s.test.length]).toEqual([120, 15, 15]);
    const train = new Set(s.train.map((p) => p.source));
    for (const p of [...s.val, ...s.test]) expect(train.has(p.source), p.source).toBe(false);
    const val = new Set(s.val.map((p) => p.source));
    for (const p of s.test) expect(val.has(p.source)).toBe(false);
    expect(new Set([...s.train, ...s.val, ...s.test].map((p) => p.source)).size).toBe(150);
    // the first of a repeated source is kept
    for (const p of [...s.train, ...s.val, ...s.test]) expect(p.target).toBe(`t${Number(p.source.slice(1))}`);
    expect(splitPairs(pairs, 5)).toEqual(s);
    expect(splitPairs(pairs, 6).test).not.toEqual(s.test);
    expectInputError(() => splitPairs(pairs.slice(0, 9), 1), /only 9 pairs with distinct sources; seq2seq needs at least 10/);
    const small = splitPairs(pairs.slice(0, 10), 1);
    expect([small.train.length, small.val.length, small.test.length]).toEqual([8, 1, 1]);
  });
});

describe('batching', () => {
  test('right padding, masks, BOS + target in, target + EOS out', () => {
    const v = Seq2SeqVocab.fromTexts(['abcxyz']); // a=3 b=4 c=5 x=6 y=7 z=8
    const b = makeBatch(
      [
        { source: 'ab', target: 'xyz' },
        { source: 'abc', target: '' },
      ],
      v,
      v,
    );
    expect([b.batchSize, b.srcLen, b.tgtLen]).toEqual([2, 3, 4]);
    expect(Array.from(b.src)).toEqual([3, 4, PAD, 3, 4, 5]);
    expect(Array.from(b.srcMask)).toEqual([1, 1, 0, 1, 1, 1]);
    expect(Array.from(b.tgtIn)).toEqual([BOS, 6, 7, 8, BOS, PAD, PAD, PAD]);
    expect(Array.from(b.tgtOut)).toEqual([6, 7, 8, EOS, EOS, PAD, PAD, PAD]);
    expect(Array.from(b.tgtMask)).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    const spec = parseSeq2SeqSpec({ hiddenSize: 2, srcVocab: v.size, tgtVocab: v.size, embedding: 2 });
    expect(() => validateSeq2SeqBatch(spec, b, true)).not.toThrow();
    expectInputError(() => makeBatch([{ source: '', target: 'x' }], v, v), /pair 1: the source is empty/);
    expectInputError(() => makeBatch([{ source: 'aq', target: 'x' }], v, v), /pair 1, source "aq": the character "q"/);
  });

  test('epochs: each a seeded permutation (reproducible per epoch); bucketing cuts padding', () => {
    const rng = new Rng(11);
    const items: EncodedPair[] = Array.from({ length: 203 }, () => ({ src: new Int32Array(1 + rng.int(12)).fill(3), tgt: new Int32Array(rng.int(9)).fill(4) }));
    for (const bucketing of [false, true]) {
      const o = { batchSize: 8, seed: 4, bucketing };
      const e0 = epochOrder(items, { ...o, epoch: 0 });
      expect(e0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 203 }, (_, i) => i));
      expect(e0.map((g) => g.length).filter((n) => n !== 8)).toEqual([3]);
      expect(epochOrder(items, { ...o, epoch: 0 })).toEqual(e0);
      expect(epochOrder(items, { ...o, epoch: 1 })).not.toEqual(e0);
    }
    const padding = (bucketing: boolean): number => {
      let pad = 0;
      for (const b of epochBatches(items, { batchSize: 8, seed: 4, epoch: 0, bucketing })) pad += b.srcMask.length - b.srcMask.reduce((s, x) => s + x, 0);
      return pad;
    };
    expect(padding(true)).toBeLessThan(padding(false) / 2);
    // the batches hold exactly the items of their group
    const groups = epochOrder(items, { batchSize: 8, seed: 4, epoch: 2 });
    let k = 0;
    for (const b of epochBatches(items, { batchSize: 8, seed: 4, epoch: 2 })) {
      const srcLens = groups[k++].map((i) => items[i].src.length);
      expect(Array.from({ length: b.batchSize }, (_, r) => b.srcMask.subarray(r * b.srcLen, (r + 1) * b.srcLen).reduce((s, x) => s + x, 0))).toEqual(srcLens);
    }
    expect(k).toBe(groups.length);
  });
});

describe('metrics', () => {
  // every expected value here is a ratio of small integers, exact in binary or computed the same way: compared exactly
  test('exact match and token accuracy over the reference length incl. EOS', () => {
    const m = metrics(['596', '59', '5961', 'abc'], ['596', '596', '596', 'xyz']);
    // 4/4, 2/4 (missing token, missing EOS), 3/4 (extra token: the EOS position is wrong), 1/4 (only the EOS position)
    expect(m).toEqual({ n: 4, exact: 0.25, token: 10 / 16, exactCount: 1, tokenCorrect: 10, tokenTotal: 16 });
    const ids = metrics([[5, 9, 6], [5, 9]], [Int32Array.of(5, 9, 6), [5, 9, 6]]);
    expect([ids.exactCount, ids.tokenCorrect, ids.tokenTotal]).toEqual([1, 6, 8]);
    expect(metrics(['', 'a'], ['', ''])).toMatchObject({ exactCount: 1, tokenCorrect: 1, tokenTotal: 2 });
    expectInputError(() => metrics(['a'], []), /1 predictions for 0 references/);
  });

  test('copy baseline: palindromes and middle letters of reversed strings', () => {
    const m = copyBaseline([
      { source: 'aba', target: 'aba' },
      { source: 'abc', target: 'cba' },
    ]);
    expect([m.exactCount, m.tokenCorrect, m.tokenTotal]).toEqual([1, 6, 8]);
  });
});

// --- fake engines: logits and attention as functions of (source ids, prefix after BOS) ---
type LogitFn = (src: number[], prefix: number[]) => number[];
type AttFn = (src: number[], prefix: number[]) => number[];

function fakeEngine(V: number, logitsOf: LogitFn, attOf: AttFn | null, o: { async?: boolean; srcVocab?: number } = {}): Seq2SeqEngine & { calls: number } {
  const spec = parseSeq2SeqSpec({ hiddenSize: 1, srcVocab: o.srcVocab ?? V, tgtVocab: V, embedding: 1, attention: attOf ? 'dot' : 'none' });
  const forward = (b: Seq2SeqBatch): Seq2SeqForward => {
    validateSeq2SeqBatch(spec, b, false); // the decoder must build valid batches
    const { batchSize: B, srcLen: S, tgtLen: T } = b;
    const logits = new Float64Array(B * T * V); // [B, T, V]
    const attention = attOf ? new Float64Array(B * T * S) : null; // [B, T, S]
    for (let r = 0; r < B; r++) {
      const src: number[] = [];
      for (let s = 0; s < S && b.srcMask[r * S + s]; s++) src.push(b.src[r * S + s]);
      expect(b.tgtIn[r * T]).toBe(BOS);
      for (let t = 0; t < T; t++) {
        const prefix = Array.from(b.tgtIn.subarray(r * T + 1, r * T + 1 + t));
        logits.set(logitsOf(src, prefix), (r * T + t) * V);
        if (attention) attention.set(attOf!(src, prefix), (r * T + t) * S);
      }
    }
    return { logits, attention };
  };
  const engine = {
    name: 'fake',
    spec,
    dtype: 'float64' as const,
    calls: 0,
    getParams: () => ({}),
    setParams: () => undefined,
    forward: (b: Seq2SeqBatch) => {
      engine.calls++;
      return o.async ? Promise.resolve().then(() => forward(b)) : forward(b);
    },
    lossAndGrads: () => {
      throw new Error('not used');
    },
    step: () => {
      throw new Error('not used');
    },
    dispose: () => undefined,
  };
  return engine as unknown as Seq2SeqEngine & { calls: number };
}

/** log p of token v under logits z, computed directly (the reference for decoders' sums). */
function logProbOf(z: number[], v: number): number {
  return z[v] - Math.log(z.reduce((s, x) => s + Math.exp(x), 0));
}

/** Logits from a probability table over EOS, a (3), b (4); PAD and BOS get logit -30 (mass ~1e-13, never chosen). */
function tableEngine(table: Record<string, [number, number, number]>, fallback: [number, number, number]): Seq2SeqEngine & { calls: number } {
  const fn: LogitFn = (_src, prefix) => {
    const p = table[prefix.join(',')] ?? fallback;
    return [-30, -30, ...p.map(Math.log)];
  };
  return fakeEngine(5, fn, null);
}

/** A reversing oracle: step k puts logit 5 on the source's (len-1-k)-th token (EOS after the last), attention one-hot there. */
const reverseLogits =
  (V: number): LogitFn =>
  (src, prefix) => {
    const z = new Array<number>(V).fill(0);
    const k = prefix.length;
    z[k < src.length ? src[src.length - 1 - k] : EOS] = 5;
    return z;
  };
const reverseAttention: AttFn = (src, prefix) => {
  const a = new Array<number>(src.length).fill(0);
  a[Math.max(0, src.length - 1 - prefix.length)] = 1;
  return a;
};

/** Pseudo-random logits, a fixed function of (source, prefix), so decoders can be compared call for call. */
const randomLogits =
  (V: number, seed: number): LogitFn =>
  (src, prefix) => {
    const r = new Rng(deriveSeed(seed, `${src.join(',')}|${prefix.join(',')}`));
    return Array.from({ length: V }, () => 2 * r.normal());
  };
const randomAttention: AttFn = (src, prefix) => {
  const r = new Rng(deriveSeed(1, `${src.join(',')}|${prefix.join(',')}`));
  const a = src.map(() => r.float() + 0.01);
  const s = a.reduce((x, y) => x + y, 0);
  return a.map((x) => x / s);
};

describe('decoding', () => {
  test('greedy and beam recover a known optimum (reversal), with attention rows [outLen, S] of the source itself', async () => {
    const V = 8; // PAD BOS EOS + 5 symbols
    const sources = [Int32Array.of(3, 4), Int32Array.of(5, 6, 7, 3), Int32Array.of(7, 7, 4)];
    const lp = 5 - Math.log(Math.exp(5) + 7); // each step's log p
    for (const async of [false, true]) {
      const engine = fakeEngine(V, reverseLogits(V), reverseAttention, { async });
      for (const out of [await greedyDecode(engine, sources), await beamSearch(engine, sources, { beam: 3 })]) {
        out.forEach((d, i) => {
          const src = Array.from(sources[i]);
          expect(d.ids).toEqual([...src].reverse());
          expect(d.ended).toBe(true);
          expect(d.steps).toBe(src.length + 1);
          expect(d.srcLen).toBe(src.length);
          // tolerance 1e-12: a sum of <= 5 float64 log-probabilities, each exact to ~1e-16
          expect(Math.abs(d.logProb - d.steps * lp)).toBeLessThan(1e-12);
          // row k is one-hot on source position len-1-k (the EOS row on position 0); exact
          const expected = new Float64Array(d.steps * src.length);
          for (let k = 0; k < d.steps; k++) expected[k * src.length + Math.max(0, src.length - 1 - k)] = 1;
          expect(d.attention).toEqual(expected);
        });
      }
    }
    // greedy: all three sources in one forward per step; 5 steps for the longest
    const engine = fakeEngine(V, reverseLogits(V), reverseAttention);
    await greedyDecode(engine, sources);
    expect(engine.calls).toBe(5);
    // without attention, the rows are null
    const plain = await greedyDecode(fakeEngine(V, reverseLogits(V), null), sources);
    expect(plain.map((d) => d.attention)).toEqual([null, null, null]);
  });

  test('beam search (K = 3) finds a better sequence than greedy; K = 1 equals greedy exactly', async () => {
    const table: Record<string, [number, number, number]> = {
      '': [0.1, 0.5, 0.4], // EOS, a, b: greedy takes a
      '3': [0.4, 0.3, 0.3], //   then EOS: p = 0.5 * 0.4 = 0.2
      '4': [0.9, 0.05, 0.05], // but b EOS has p = 0.4 * 0.9 = 0.36
    };
    const engine = tableEngine(table, [0.98, 0.01, 0.01]);
    const z = (p: [number, number, number]): number[] => [-30, -30, ...p.map(Math.log)];
    const src = [Int32Array.of(3)];
    const [g] = await greedyDecode(engine, src);
    const [b] = await beamSearch(engine, src, { beam: 3 });
    expect(g.ids).toEqual([3]);
    expect(b.ids).toEqual([4]);
    // tolerance 1e-12: two float64 log terms; the reference is computed from the same logits directly
    expect(Math.abs(g.logProb - (logProbOf(z(table['']), 3) + logProbOf(z(table['3']), EOS)))).toBeLessThan(1e-12);
    expect(Math.abs(b.logProb - (logProbOf(z(table['']), 4) + logProbOf(z(table['4']), EOS)))).toBeLessThan(1e-12);
    expect(Math.abs(b.logProb - Math.log(0.36))).toBeLessThan(1e-9); // 1e-9: PAD/BOS hold ~2e-13 of the mass
    expect(b.logProb).toBeGreaterThan(g.logProb);
    expect(await beamSearch(engine, src, { beam: 1 })).toEqual([g]);
  });

  test('K = 1 equals greedy exactly (ids, log-probabilities, attention) on pseudo-random logits, batched and chunked', async () => {
    const V = 7;
    const rng = new Rng(3);
    const sources = Array.from({ length: 13 }, () => Int32Array.from({ length: 1 + rng.int(6) }, () => 3 + rng.int(V - 3)));
    for (const seed of [1, 2, 3]) {
      const engine = fakeEngine(V, randomLogits(V, seed), randomAttention);
      const g = await greedyDecode(engine, sources, { maxLen: 6, batchSize: 5 });
      const b = await beamSearch(engine, sources, { maxLen: 6, batchSize: 5, beam: 1 });
      expect(b).toEqual(g);
      // the reference sum for each greedy output, token by token
      const fn = randomLogits(V, seed);
      g.forEach((d, i) => {
        const src = Array.from(sources[i]);
        const emitted = d.ended ? [...d.ids, EOS] : d.ids;
        let s = 0;
        emitted.forEach((v, k) => (s += logProbOf(fn(src, d.ids.slice(0, k)), v)));
        expect(Math.abs(d.logProb - s), `source ${i}`).toBeLessThan(1e-12); // float64 sums of <= 6 terms
      });
    }
  });

  test('a wide beam equals exhaustive search over all outputs (alpha 0 and 1)', async () => {
    const V = 5; // EOS + 2 symbols; maxLen 4: outputs of 0..3 symbols then EOS (15 of them)
    const all: number[][] = [[]];
    for (let L = 1; L <= 3; L++) for (const p of all.filter((x) => x.length === L - 1)) for (const v of [3, 4]) all.push([...p, v]);
    for (const seed of [4, 5, 6, 7]) {
      const fn = randomLogits(V, seed);
      const engine = fakeEngine(V, fn, null);
      const src = Int32Array.of(3, 4, 4);
      for (const alpha of [0, 1]) {
        const scored = all.map((ids) => {
          let s = 0;
          [...ids, EOS].forEach((v, k) => (s += logProbOf(fn(Array.from(src), ids.slice(0, k)), v)));
          return { ids, logProb: s, score: s / Math.pow(ids.length + 1, alpha) };
        });
        scored.sort((a, b) => b.score - a.score);
        // the best must be clear of the runner-up, or float rounding could legitimately swap them
        expect(scored[0].score - scored[1].score).toBeGreaterThan(1e-9);
        const [d] = await beamSearch(engine, [src], { beam: 50, maxLen: 4, alpha });
        expect(d.ids).toEqual(scored[0].ids);
        expect(d.ended).toBe(true);
        expect(Math.abs(d.score - scored[0].score)).toBeLessThan(1e-12); // float64 sums of <= 4 terms
      }
    }
  });

  test('alpha favours longer outputs; outputs cut at maxLen are marked unfinished', async () => {
    // p(EOS) = 0.4 at once; "a" EOS: 0.6 * 0.5 = 0.3; "a a" EOS: 0.15 ...
    const engine = tableEngine({ '': [0.4, 0.6, 1e-6] }, [0.5, 0.5, 1e-6]);
    const src = [Int32Array.of(3)];
    expect((await beamSearch(engine, src, { beam: 3, maxLen: 6 }))[0].ids).toEqual([]); // log 0.4 = -0.92 beats log 0.3 = -1.20
    expect((await beamSearch(engine, src, { beam: 3, maxLen: 6, alpha: 1 }))[0].ids).toEqual([3]); // -1.20 / 2 = -0.60 beats -0.92 and -1.90 / 3
    const never = tableEngine({}, [1e-6, 0.7, 0.3]);
    for (const d of [...(await greedyDecode(never, src, { maxLen: 4 })), ...(await beamSearch(never, src, { maxLen: 4, beam: 2 }))]) {
      expect(d.ids).toEqual([3, 3, 3, 3]);
      expect(d.ended).toBe(false);
      expect(d.steps).toBe(4);
    }
  });

  test('texts in, texts out; held-out pairs scored; bad options and engines are refused', async () => {
    const data = reverseDataset(9, { n: 40, maxLen: 5 });
    const vocabs = buildVocabs(data.pairs, true);
    const engine = fakeEngine(vocabs.tgt.size, reverseLogits(vocabs.tgt.size), reverseAttention);
    const [t] = await translateTexts(engine, vocabs, ['abc'], { beam: 2 });
    expect(t.output).toBe('cba');
    expect(t.srcTokens).toEqual(['a', 'b', 'c']);
    expect(t.outTokens).toEqual(['c', 'b', 'a', '<eos>']);
    const ev = await evaluatePairs(engine, vocabs, data.pairs);
    expect(ev.metrics.exact).toBe(1);
    expect(ev.predictions).toEqual(data.pairs.map((p) => p.target));
    expect(copyBaseline(data.pairs).exact).toBeLessThan(0.5);
    await expect(translateTexts(engine, vocabs, ['ab!'])).rejects.toThrow(/the input "ab!": the character "!"/);
    await expect(greedyDecode(engine, [new Int32Array(0)])).rejects.toThrow(/source 1: empty/);
    await expect(beamSearch(engine, [Int32Array.of(3)], { beam: 0 })).rejects.toThrow(/the beam width \(--beam\) must be an integer from 1/);
    await expect(greedyDecode(engine, [Int32Array.of(3)], { alpha: -1 })).rejects.toThrow(InputError);
    const broken = { ...engine, forward: () => ({ logits: new Float64Array(3), attention: null }) } as unknown as Seq2SeqEngine;
    await expect(greedyDecode(broken, [Int32Array.of(3)])).rejects.toThrow(EngineError);
    expect(encodePairs(data.pairs.slice(0, 2), vocabs).map((e) => e.tgt.length)).toEqual(data.pairs.slice(0, 2).map((p) => p.target.length));
  });
});
