#!/usr/bin/env node
/**
 * The README, tested (npm run docs:check; test/readme.test.ts runs it in npm test):
 *
 * 1. Every `npx rnnlab ...` line of the README's ```sh blocks runs, in README order, in a sandbox
 *    that looks like the project (examples/, data/, python/ and ../shared linked in; the files the
 *    examples name, such as book.txt, sales.csv and spec.json, made here), with a small-run
 *    override (few steps, small models, short benchmarks) so that the whole README runs in about a
 *    minute. A non-zero exit fails the check (a `--fault` example must exit 1, as documented).
 *    Examples that need what this machine lacks (PyTorch, NumPy, ../shared/data) are skipped with
 *    the reason.
 * 2. Every ```ts block that imports from 'rnnlab' runs (transpiled by TypeScript), importing the
 *    package by its name.
 * 3. Every sample output marked `<!-- output: rnnlab ARGS | lines RANGES [| exit N] -->` above a
 *    ``` block is regenerated from a real run of that command (full size; the lines RANGES of its
 *    output, "..." where lines are left out) and compared, timings and versions masked; `--update`
 *    writes the fresh output into the README instead.
 *
 * Usage: node scripts/docs-check.mjs [--update] [--only REGEX] [--json]
 * Exit code 0 when everything passed (skips allowed), 1 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const README = join(ROOT, 'README.md');
const args = process.argv.slice(2);
const UPDATE = args.includes('--update');
const JSON_OUT = args.includes('--json');
const ONLY = args.includes('--only') ? new RegExp(args[args.indexOf('--only') + 1]) : null;

if (!existsSync(CLI)) {
  console.error('docs-check: dist/ is missing; run npm run build first');
  process.exit(2);
}
const { findBlas } = await import(pathToFileURL(join(ROOT, 'dist', 'scratch', 'blas.js')).href);

// ---- the README's parts ----

/** Shell-like words: quotes group, backslash-newline continues. */
export function shellWords(line) {
  const out = [];
  let cur = '';
  let q = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q) q = null;
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '#' && !cur && !has) break;
    else cur += c;
  }
  if (q) throw new Error(`unbalanced quote in: ${line}`);
  if (has || cur) out.push(cur);
  return out;
}

function readmeParts(text) {
  const lines = text.split('\n');
  const commands = [];
  const snippets = [];
  const outputs = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const lang = fence[2];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) j++;
    const body = lines.slice(i + 1, j);
    if (lang === 'sh') {
      for (let k = 0; k < body.length; k++) {
        const first = k;
        let l = body[k].trim();
        while (l.endsWith('\\') && k + 1 < body.length) l = l.slice(0, -1) + ' ' + body[++k].trim();
        if (l.startsWith('npx rnnlab ')) commands.push({ line: i + 2 + first, words: shellWords(l).slice(2), text: l.replace(/\s+#.*$/, '') });
      }
    } else if (lang === 'ts' && body.some((l) => /from 'rnnlab'/.test(l))) {
      snippets.push({ line: i + 1, code: body.join('\n') });
    } else if (lang === '') {
      const marker = /^<!-- output: rnnlab (.*?) \| lines ([\d,\-\s]+)(?: \| exit (\d+))? -->$/.exec((lines[i - 1] ?? '').trim());
      if (marker) outputs.push({ start: i + 1, end: j, words: shellWords(marker[1]), ranges: marker[2], exit: Number(marker[3] ?? 0), old: body.join('\n') });
    }
    i = j;
  }
  return { lines, commands, snippets, outputs };
}

// ---- the sandbox ----

function sandbox() {
  const base = mkdtempSync(join(tmpdir(), 'rnnlab-docs-'));
  const dir = join(base, 'project');
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  for (const d of ['examples', 'data', 'python']) symlinkSync(join(ROOT, d), join(dir, d));
  // the Keras models the README imports (test/fixtures/keras/)
  mkdirSync(join(dir, 'test'));
  symlinkSync(join(ROOT, 'test', 'fixtures'), join(dir, 'test', 'fixtures'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'rnnlab'));
  // rnnlab's dependencies sit beside it in a user's node_modules (snippets import @tensorflow/tfjs)
  symlinkSync(join(ROOT, 'node_modules', '@tensorflow'), join(dir, 'node_modules', '@tensorflow'));
  const shared = resolve(ROOT, '..', 'shared');
  if (existsSync(shared)) symlinkSync(shared, join(base, 'shared'));
  return { base, dir };
}

/** The files the README's examples name, as a user would have them. */
async function makeFixtures(dir) {
  const lib = await import(join(ROOT, 'dist', 'src', 'index.js'));
  const words = 'the sea whale ship captain wind sail night day island engineer storm harbour rope deck'.split(' ');
  const rng = new lib.Rng(3);
  const prose = (n) =>
    Array.from({ length: n }, () => {
      const s = Array.from({ length: 6 + rng.int(8) }, () => words[rng.int(words.length)]).join(' ');
      return s[0].toUpperCase() + s.slice(1) + '.';
    }).join(' ');
  writeFileSync(join(dir, 'book.txt'), prose(600));
  writeFileSync(join(dir, 'a.txt'), prose(300));
  writeFileSync(join(dir, 'b.txt'), prose(300));
  // sales.csv: monthly units with a trend, a season, a price and a promotion flag
  const sales = ['month,units,price,promo'];
  for (let i = 0; i < 96; i++) {
    const month = `${2015 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
    const promo = i % 7 === 0 ? 1 : 0;
    sales.push(`${month},${(200 + 2 * i + 30 * Math.sin((2 * Math.PI * i) / 12) + 25 * promo + 5 * rng.normal()).toFixed(1)},${(9.99 + 0.01 * i).toFixed(2)},${promo}`);
  }
  writeFileSync(join(dir, 'sales.csv'), sales.join('\n') + '\n');
  const good = 'great wonderful loved fine superb enjoyable'.split(' ');
  const bad = 'awful boring hated dull poor tedious'.split(' ');
  const reviews = ['review,sentiment'];
  for (let i = 0; i < 120; i++) {
    const pos = i % 2 === 0;
    const w = pos ? good : bad;
    reviews.push(`"The film was ${w[rng.int(w.length)]}, the cast ${w[rng.int(w.length)]} and the ending ${w[rng.int(w.length)]}",${pos ? 'positive' : 'negative'}`);
  }
  writeFileSync(join(dir, 'reviews.csv'), reviews.join('\n') + '\n');
  // aclImdb/: the IMDB layout in miniature (train/ and test/, a folder per label, a file per review)
  for (const part of ['train', 'test']) {
    for (const [label, w] of [['pos', good], ['neg', bad]]) {
      const folder = join(dir, 'aclImdb', part, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < (part === 'train' ? 30 : 8); i++) writeFileSync(join(folder, `${i}_${label}.txt`), `The film was ${w[rng.int(w.length)]} and the ending ${w[rng.int(w.length)]}.`);
    }
  }
  // spec.json, canonical weights and a batch (check --spec --weights --data)
  const spec = lib.parseSpec({ cell: 'lstm', inputSize: 5, hiddenSize: 8, outputSize: 4 });
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(lib.specToJSON(spec), null, 2) + '\n');
  const params = lib.initParams(spec, 1);
  lib.writeSafetensors(join(dir, 'w.safetensors'), params);
  const b = lib.randomBatch(spec, 4, 10, 2);
  lib.writeSafetensors(join(dir, 'd.safetensors'), {
    x: { dtype: 'F32', shape: [4, 10, 5], data: b.x },
    y: { dtype: 'I32', shape: [4, 10], data: b.y },
  });
  // s2s.json, its canonical weights and a batch (check --seq2seq --spec --weights --data): a GRU encoder-decoder, bidirectional, concat attention, masked rows
  const s2s = lib.parseSeq2SeqSpec({ cell: 'gru', hiddenSize: 8, layers: 2, srcVocab: 12, tgtVocab: 10, embedding: 4, attention: 'concat', bidirectional: true });
  writeFileSync(join(dir, 's2s.json'), JSON.stringify(lib.seq2seqToJSON(s2s), null, 2) + '\n');
  lib.writeSafetensors(join(dir, 's2s-weights.safetensors'), lib.randomSeq2SeqParams(s2s, 1));
  const sb = lib.randomSeq2SeqBatch(s2s, 4, 7, 5, 2, { mask: true });
  lib.writeSafetensors(join(dir, 's2s-data.safetensors'), {
    src: { dtype: 'I32', shape: [4, 7], data: sb.src },
    srcMask: { dtype: 'U8', shape: [4, 7], data: sb.srcMask },
    tgtIn: { dtype: 'I32', shape: [4, 5], data: sb.tgtIn },
    tgtOut: { dtype: 'I32', shape: [4, 5], data: sb.tgtOut },
    tgtMask: { dtype: 'U8', shape: [4, 5], data: sb.tgtMask },
  });
  // reviews in four classes written with the words of the fixture model's vocabulary (its import --vocab example)
  const vocab = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'keras', 'gru-reset-after', 'vocab.json'), 'utf8'));
  const four = ['review,sentiment'];
  const classes = ['mixed', 'negative', 'neutral', 'positive'];
  for (let i = 0; i < 80; i++) four.push(`${Array.from({ length: 6 }, () => vocab[2 + 4 * (i % 4) + rng.int(4)]).join(' ')},${classes[i % 4]}`);
  writeFileSync(join(dir, 'reviews4.csv'), four.join('\n') + '\n');
  // torch.safetensors: the same model as a PyTorch state_dict with model.rnn and model.fc
  lib.writeSafetensors(join(dir, 'torch.safetensors'), lib.toPyTorch(spec, params, { prefix: 'rnn.', head: 'fc' }));
}

// ---- what this machine can run ----

function pythonWith(mods) {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', `import ${mods}`], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function haveBrowser() {
  for (const b of [process.env.RNNLAB_BROWSER, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean)) {
    if (spawnSync('sh', ['-c', `command -v "${b}"`]).status === 0) return true;
  }
  return false;
}

function skipReason(words) {
  const all = words.join(' ');
  if (/tfjs-web(gl|gpu)/.test(all) && !haveBrowser()) return 'needs Chromium (apt-get install chromium)';
  if (/pytorch/.test(all) && !pythonWith('torch, numpy')) return 'needs PyTorch (apt-get install python3-torch python3-numpy)';
  if (/cmd:python3 /.test(all) && spawnSync('python3', ['-c', 'import numpy']).status !== 0) return 'needs NumPy for python3';
  if (/\.\.\/shared\//.test(all) && !existsSync(resolve(ROOT, '..', 'shared', 'data'))) return 'needs ../shared/data (the Jules Verne novels)';
  if (/--kernels blas/.test(all) && blasMissing(words)) return `needs koffi and a BLAS: ${blasMissing(words)}`;
  return null;
}

/** Why the BLAS kernels (koffi and the library of the example's --blas, else the usual places) cannot run here, or null. */
function blasMissing(words) {
  const i = words.indexOf('--blas');
  return findBlas(i >= 0 ? words[i + 1] : undefined).missing ?? null;
}

// ---- the small-run override ----

/** Replaces the value of a flag, or appends the flag; `drop` removes flags (and their values). */
function withFlags(words, set, drop = []) {
  const takesValue = (w, next) => next !== undefined && !next.startsWith('--');
  const out = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const name = w.split('=')[0];
    if (drop.includes(name) || name in set) {
      if (!w.includes('=') && takesValue(w, words[i + 1])) i++;
      continue;
    }
    out.push(w);
  }
  for (const [k, v] of Object.entries(set)) out.push(k, ...(v === true ? [] : [String(v)]));
  return out;
}

function taskOf(words) {
  const i = words.indexOf('--task');
  if (i >= 0) return words[i + 1];
  return 'text'; // presets are text presets; text is the default task
}

export function smallRun(words) {
  const [cmd] = words;
  // a resume continues the small run before it (3 steps) by a few more; its model and data are the run's
  if (cmd === 'train' && words.includes('--resume')) return withFlags(words, { '--steps': 5 }, ['--epochs', '--minutes']);
  if (cmd === 'train') {
    const task = taskOf(words);
    const words_ = words.includes('spam') || (task === 'classify' && words.includes('word'));
    const own =
      task === 'text' ? { '--sample-length': 10, '--val-tokens': 300 } : task === 'classify' ? { '--max-len': 8, ...(words_ ? { '--vocab': 300 } : {}) } : task === 'seq2seq' ? { '--pairs': 1000 } : {};
    return withFlags(words, { '--steps': 3, '--hidden': 8, ...own }, ['--epochs', '--minutes']);
  }
  if (cmd === 'check') return withFlags(words, { '--steps': 2 });
  if (cmd === 'bench' && words.includes('--race')) return withFlags(words, { '--minutes': 0.05, '--hidden': 16, '--batch': 4, '--seq': 10, '--val-every': 10 });
  if (cmd === 'bench') return withFlags(words, { '--hidden': 16, '--seq': 5, '--repeats': 1, '--warmup': 0, '--budget': 1, '--threads': 1 });
  if (cmd === 'generate') return withFlags(words, { '--length': 20 });
  return words;
}

function expectedExit(words) {
  return words.includes('--fault') ? 1 : 0;
}

// ---- running ----

function rnnlab(words, cwd, timeout = 300_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...words], { cwd, encoding: 'utf8', timeout, env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds: (performance.now() - t0) / 1000 };
}

function selectLines(text, ranges) {
  const lines = text.replace(/\n$/, '').split('\n');
  const parts = ranges.split(',').map((r) => r.trim()).filter(Boolean).map((r) => {
    const [a, b] = r.split('-').map(Number);
    return [a, b ?? a];
  });
  const out = [];
  parts.forEach(([a, b], k) => {
    if (k > 0 && a > parts[k - 1][1] + 1) out.push('...');
    out.push(...lines.slice(a - 1, b));
  });
  if (parts.length && parts[parts.length - 1][1] < lines.length) out.push('...');
  return out.join('\n');
}

/** The lines that say what each engine runs on (kernels, threads, backend): they differ between machines. */
const engineLines = (text) => text.split('\n').filter((l) => /under test:|reference:/.test(l));

/** Every number replaced: the shape of an output without its values. */
const shape = (text) =>
  text
    .split('\n')
    .filter((l) => !/under test:|reference:/.test(l))
    .join('\n')
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#');

/** What may differ between two runs of the same command: times, speeds, versions, paths. */
function masked(text) {
  return text
    .replace(/\d+(\.\d+)?\s?(ms|s|min)\b/g, '<time>')
    .replace(/\d[\d,]*\s?(tok|tokens|seq)\/s/g, '<speed>')
    .replace(/\b\d+\.\d+\.\d+\w*/g, '<version>')
    .replace(/\/tmp\/\S+/g, '<path>');
}

async function main() {
  const text = readFileSync(README, 'utf8');
  const parts = readmeParts(text);
  const { base, dir } = sandbox();
  await makeFixtures(dir);
  const results = [];
  const log = (r) => {
    results.push(r);
    if (!JSON_OUT) console.log(`${r.status.padEnd(7)} ${r.seconds === undefined ? '      ' : `${r.seconds.toFixed(1).padStart(5)}s`}  README:${r.line}  ${r.what}${r.note ? `  (${r.note})` : ''}`);
  };

  const seen = new Set();
  for (const c of parts.commands) {
    if (ONLY && !ONLY.test(c.text)) continue;
    // an example the README shows twice (the quick start and its section) runs once
    if (seen.has(c.text)) continue;
    seen.add(c.text);
    const skip = skipReason(c.words);
    if (skip) {
      log({ status: 'skipped', line: c.line, what: c.text, note: skip });
      continue;
    }
    const words = smallRun(c.words);
    const r = rnnlab(words, dir);
    const want = expectedExit(c.words);
    const ok = r.code === want;
    log({
      status: ok ? 'ok' : 'FAILED',
      line: c.line,
      what: c.text,
      seconds: r.seconds,
      note: ok ? undefined : `exit ${r.code}, expected ${want}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`,
    });
  }

  const ts = await import('typescript');
  parts.snippets.forEach((s, i) => {
    if (ONLY && !ONLY.test(s.code)) return;
    const js = ts.default.transpileModule(s.code, { compilerOptions: { module: ts.default.ModuleKind.ESNext, target: ts.default.ScriptTarget.ES2022 } }).outputText;
    const file = join(dir, `snippet-${i + 1}.mjs`);
    writeFileSync(file, js);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    const ok = r.status === 0;
    log({ status: ok ? 'ok' : 'FAILED', line: s.line, what: `library snippet ${i + 1} (import ... from 'rnnlab')`, seconds: (performance.now() - t0) / 1000, note: ok ? undefined : (r.stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim().slice(0, 300)) });
  });

  let readme = parts.lines.slice();
  for (const o of [...parts.outputs].reverse()) {
    const what = `sample output of rnnlab ${o.words.join(' ')}`;
    if (ONLY && !ONLY.test(what)) continue;
    const skip = skipReason(o.words);
    if (skip) {
      log({ status: 'skipped', line: o.start, what, note: skip });
      continue;
    }
    const r = rnnlab(o.words, dir);
    if (r.code !== o.exit) {
      log({ status: 'FAILED', line: o.start, what, seconds: r.seconds, note: `exit ${r.code}: ${r.stderr.trim().split('\n').pop()}` });
      continue;
    }
    const fresh = selectLines(r.stdout, o.ranges);
    if (UPDATE) {
      readme.splice(o.start, o.end - o.start, ...fresh.split('\n'));
      log({ status: fresh === o.old ? 'ok' : 'updated', line: o.start, what, seconds: r.seconds });
    } else {
      const same = masked(fresh) === masked(o.old);
      // same engines (kernels, backend): the numbers must match to the digit; other engines give other
      // rounding, so on such a machine only the output's shape is compared
      const sameEngines = masked(engineLines(fresh).join('\n')) === masked(engineLines(o.old).join('\n'));
      const firstDiff = fresh.split('\n').find((l, k) => masked(l) !== masked(o.old.split('\n')[k] ?? ''));
      if (same) log({ status: 'ok', line: o.start, what, seconds: r.seconds });
      else if (!sameEngines && shape(fresh) === shape(o.old)) {
        log({ status: 'ok', line: o.start, what, seconds: r.seconds, note: `numbers not compared: this machine runs other engines (${engineLines(fresh).map((l) => l.trim()).join('; ')})` });
      } else log({ status: 'STALE', line: o.start, what, seconds: r.seconds, note: `the README shows something else (first differing line now reads ${JSON.stringify(firstDiff)}); run npm run docs:check -- --update` });
    }
  }
  if (UPDATE) writeFileSync(README, readme.join('\n'));

  rmSync(base, { recursive: true, force: true });
  const count = (s) => results.filter((r) => r.status === s).length;
  const failed = count('FAILED') + count('STALE');
  const summary = { passed: count('ok') + count('updated'), skipped: count('skipped'), failed, updated: count('updated') };
  if (JSON_OUT) console.log(JSON.stringify({ ...summary, results }));
  else console.log(`\ndocs-check: ${summary.passed} passed, ${summary.skipped} skipped, ${failed} failed${UPDATE ? `, ${summary.updated} sample outputs updated` : ''}`);
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
