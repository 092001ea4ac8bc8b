/**
 * What the tasks that read text share in their hidden-state views (src/report/states.ts): the text
 * of --text, checked, and its tokens as the model reads them.
 */
import type { Tokenizer } from '../data/tokenizers.js';
import { InputError } from '../errors.js';
import type { StateInput } from './task.js';

/** The --text the views read: refused when absent or empty. */
export function requireText(dir: string, text: string | undefined): string {
  if (text === undefined) throw new InputError(`${dir}: give the text to read with --text "..."`);
  if (!text.trim()) throw new InputError('--text is empty');
  return text;
}

/** `text` (as the model's tokenizer reads it: lowercased for some classifiers) as token ids, a label per token; `given` names it in titles. */
export function textStateInput(tokenizer: Tokenizer, text: string, given: string): StateInput {
  const ids = (tokenizer as { encode(s: string, what?: string): Int32Array }).encode(text, '--text');
  if (ids.length === 0) throw new InputError('--text has no tokens in this vocabulary');
  if (ids.length > 2000) throw new InputError(`--text has ${ids.length} tokens; the views read at most 2000`);
  return { x: ids, labels: Array.from(ids, (id) => tokenizer.symbol(id)), source: `"${given.length > 40 ? `${given.slice(0, 40)}…` : given}"` };
}
