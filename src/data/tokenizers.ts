/**
 * Tokenizers for language models. Every tokenizer turns text into ids < size and back, and is
 * saved as vocab.json in checkpoints.
 *   chars     the distinct characters (code points) of the corpus, sorted
 *   bytes256  the UTF-8 bytes, 256 symbols (decoding replaces invalid sequences with U+FFFD)
 *   words     the N most frequent words, lowercased, plus "<unk>"; punctuation marks are tokens of
 *             their own, paragraph breaks are the token "\n"; decoding joins words with spaces
 *             and attaches punctuation the way English prints it
 */
import { InputError } from '../errors.js';

export type TokenizerKind = 'chars' | 'bytes256' | 'words';

const UNK = '<unk>';

export interface TokenizerJSON {
  kind: TokenizerKind;
  symbols?: string[];
  unk?: number;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly level: 'char' | 'word';
  readonly size: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** The symbol of one id, for tables. */
  symbol(id: number): string;
  toJSON(): TokenizerJSON;
}

export class CharTokenizer implements Tokenizer {
  readonly kind = 'chars';
  readonly level = 'char';
  private readonly index = new Map<string, number>();
  /** With an "<unk>" symbol (classification), unknown characters map to it instead of being refused. */
  readonly unk: number | undefined;
  constructor(readonly symbols: string[]) {
    symbols.forEach((s, i) => this.index.set(s, i));
    this.unk = this.index.get(UNK);
  }
  static fromText(text: string, opts: { unk?: boolean } = {}): CharTokenizer {
    const set = new Set<string>();
    for (const ch of text) set.add(ch);
    const chars = [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(opts.unk ? [UNK, ...chars] : chars);
  }
  get size(): number {
    return this.symbols.length;
  }
  encode(text: string, what = 'text'): Int32Array {
    const out: number[] = [];
    const missing = new Set<string>();
    for (const ch of text) {
      const id = this.index.get(ch) ?? this.unk;
      if (id === undefined) missing.add(ch);
      else out.push(id);
    }
    if (missing.size) {
      throw new InputError(`${what} has characters outside the vocabulary: ${[...missing].slice(0, 10).map((c) => JSON.stringify(c)).join(' ')}`);
    }
    return Int32Array.from(out);
  }
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.symbols[ids[i]];
    return s;
  }
  symbol(id: number): string {
    return this.symbols[id];
  }
  toJSON(): TokenizerJSON {
    return { kind: 'chars', symbols: this.symbols, ...(this.unk !== undefined ? { unk: this.unk } : {}) };
  }
}

export class ByteTokenizer implements Tokenizer {
  readonly kind = 'bytes256';
  readonly level = 'char';
  readonly size = 256;
  encode(text: string): Int32Array {
    return Int32Array.from(new TextEncoder().encode(text));
  }
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(ids as ArrayLike<number>));
  }
  symbol(id: number): string {
    return id >= 32 && id < 127 ? String.fromCharCode(id) : `0x${id.toString(16).padStart(2, '0')}`;
  }
  toJSON(): TokenizerJSON {
    return { kind: 'bytes256' };
  }
}

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*|\n\n|[^\s\p{L}\p{N}]/gu;
const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '!', '?', ')', ']', '}', '%', "'", '’', '”']);
const NO_SPACE_AFTER = new Set(['(', '[', '{', '“', '\n']);

export function wordTokens(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) out.push(m[0] === '\n\n' ? '\n' : m[0]);
  return out;
}

export class WordTokenizer implements Tokenizer {
  readonly kind = 'words';
  readonly level = 'word';
  private readonly index = new Map<string, number>();
  readonly unk: number;
  constructor(readonly symbols: string[]) {
    symbols.forEach((s, i) => this.index.set(s, i));
    const u = this.index.get(UNK);
    if (u === undefined) throw new InputError('word vocabulary has no <unk> token');
    this.unk = u;
  }
  /** The `max` most frequent words (ties broken alphabetically) plus <unk>. */
  static fromText(text: string, max: number): WordTokenizer {
    const counts = new Map<string, number>();
    for (const w of wordTokens(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, max)
      .map(([w]) => w);
    return new WordTokenizer([UNK, ...words]);
  }
  get size(): number {
    return this.symbols.length;
  }
  encode(text: string): Int32Array {
    return Int32Array.from(wordTokens(text), (w) => this.index.get(w) ?? this.unk);
  }
  decode(ids: ArrayLike<number>): string {
    let s = '';
    let prev = '\n';
    let quoteOpen = false; // straight double quotes alternate between opening and closing
    for (let i = 0; i < ids.length; i++) {
      const w = this.symbols[ids[i]];
      if (w === '\n') s += '\n\n';
      else {
        const closing = w === '"' && quoteOpen;
        const afterOpening = prev === '"' && quoteOpen;
        if (s.length > 0 && !NO_SPACE_BEFORE.has(w) && !closing && !NO_SPACE_AFTER.has(prev) && !afterOpening) s += ' ';
        s += w;
        if (w === '"') quoteOpen = !quoteOpen;
      }
      prev = w;
    }
    return s;
  }
  symbol(id: number): string {
    return this.symbols[id];
  }
  toJSON(): TokenizerJSON {
    return { kind: 'words', symbols: this.symbols, unk: this.unk };
  }
}

/** A value of a file in a message: its JSON, cut short. */
const shown = (v: unknown): string => {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 40 ? `${j.slice(0, 40)}…` : j;
};

export function tokenizerFromJSON(j: unknown, source = 'vocab.json'): Tokenizer {
  const v = j as TokenizerJSON;
  if (!v || typeof v !== 'object') throw new InputError(`${source}: not a vocabulary`);
  if (v.kind === 'bytes256') return new ByteTokenizer();
  if (v.kind === 'chars' || v.kind === 'words') {
    if (!Array.isArray(v.symbols)) throw new InputError(`${source}: a "${v.kind}" vocabulary needs "symbols", a list of strings`);
    const bad = v.symbols.findIndex((s) => typeof s !== 'string');
    if (bad >= 0) throw new InputError(`${source}: symbol ${bad} is ${shown(v.symbols[bad])}; the symbols of a vocabulary are strings`);
    return v.kind === 'chars' ? new CharTokenizer(v.symbols) : new WordTokenizer(v.symbols);
  }
  throw new InputError(`${source}: unknown vocabulary kind ${shown(v.kind)} (rnnlab writes chars, words and bytes256)`);
}

/** --vocab at word level: the number of words to keep (default 5000). */
export function wordCount(v: string | undefined): number {
  const n = v === undefined ? 5000 : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--vocab for word level is the number of words to keep (got "${v}")`);
  return n;
}
