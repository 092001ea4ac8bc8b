/**
 * The hostile cases of issue 30, one test (or more) each, numbered as there: nothing deleted that
 * rnnlab did not write, one writer per run, every file read from a run checked like user input,
 * a deadline on every engine answer, no child process outliving rnnlab, nothing in a run folder
 * executed. Refusals run the CLI in process (main with captured output: one line, exit 2, the
 * files untouched); exit codes of signals and stray processes run it as a user would.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { main } from '../src/cli.js';
import type { IO } from '../src/io/output.js';
import { encodeSafetensors, readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { LOCK_FILE, checkReplaceable, claimRunFolder, foreignEntries } from '../src/io/run-folder.js';
import { readJsonl } from '../src/io/run-dir.js';
import { loadRuns, chartsFor } from '../src/report/plots.js';
import { reportHtml } from '../src/report/html.js';
import { isUserError } from '../src/errors.js';
import { assertFits } from '../src/sizes.js';
import { parseSpec } from '../src/spec.js';
import { CLI, ROOT, rnnlab } from './helpers/cli.js';
import { alive, stepsIn } from './helpers/runs.js';

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), `rnnlab-h-${p}-`));
const FAULTY = join(ROOT, 'test', 'fixtures', 'engines', 'faulty.mjs');
const BROKEN = join(ROOT, 'test', 'fixtures', 'engines', 'broken-module.mjs');
const KERAS = join(ROOT, 'test', 'fixtures', 'keras', 'gru-reset-after');

function corpus(dir = tmp('corpus')): string {
  const path = join(dir, 'book.txt');
  writeFileSync(path, Array.from({ length: 120 }, (_, i) => `The sea was calm on day ${i % 7}, and the whale swam ${i % 3 ? 'south' : 'north'}.`).join('\n') + '\n');
  return path;
}
const small = ['--hidden', '6', '--seq', '6', '--batch', '2', '--seed', '3'];

/** The CLI in this process: exit code and what it printed. */
async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: IO = { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => {}, isTTY: false };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const code = await main(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A refusal: exit 2, one line matching `pattern`. */
function refused(r: { code: number; err: string }, pattern: RegExp): void {
  expect(r.code, r.err).toBe(2);
  expect(r.err.split('\n'), r.err).toHaveLength(1);
  expect(r.err).toMatch(pattern);
}

/** Every file under a folder, with its bytes: to show nothing was touched. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), join(rel, e.name));
      else out[join(rel, e.name)] = readFileSync(join(d, e.name), 'base64');
    }
  };
  walk(dir, '');
  return out;
}

async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** rnnlab as a user starts it from a terminal: its own process group (the terminal's Ctrl-C goes to the whole group). */
function startGroup(args: string[], env: Record<string, string> = {}): { child: ChildProcess; err: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env }, cwd: tmp('cwd') });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { child, err: () => err, done };
}

/** A checkpoint is there (retention may already have removed the first one). */
const hasCheckpoint = (run: string): boolean => existsSync(join(run, 'checkpoints')) && readdirSync(join(run, 'checkpoints')).some((n) => /^step-\d+$/.test(n));

describe('rnnlab deletes or replaces only what it wrote', () => {
  test('1: --overwrite refuses a folder that merely holds checkpoints/ or metrics.jsonl, and a run holding a file of the user\'s', async () => {
    const proj = tmp('proj');
    mkdirSync(join(proj, 'src'));
    mkdirSync(join(proj, 'checkpoints'));
    writeFileSync(join(proj, 'src', 'main.py'), 'code');
    writeFileSync(join(proj, 'paper.tex'), 'p');
    writeFileSync(join(proj, 'metrics.jsonl'), '{"mine": 1}\n');
    const before = snapshot(proj);
    const book = corpus();
    refused(await cli(['train', '--text', book, ...small, '--steps', '2', '--out', proj, '--overwrite']), /not an rnnlab run directory \(no run\.json written by rnnlab\); --overwrite replaces only run directories/);
    refused(await cli(['check', '--cell', 'rnn', '--hidden', '4', '--seq', '3', '--batch', '2', '--no-tfjs', '--steps', '1', '--out', proj, '--overwrite']), /not an rnnlab run directory/);
    expect(snapshot(proj)).toEqual(before);
    // a real run, with the user's notes in it and in its checkpoints: refused by name, kept
    const run = join(tmp('run'), 'run');
    expect((await cli(['train', '--text', book, ...small, '--steps', '2', '--out', run])).code).toBe(0);
    writeFileSync(join(run, 'notes.txt'), 'mine');
    writeFileSync(join(run, 'checkpoints', 'step-2', 'extra.txt'), 'mine too');
    refused(await cli(['train', '--text', book, ...small, '--steps', '2', '--out', run, '--overwrite']), /holds 2 entries rnnlab did not write \("checkpoints\/step-2", "notes\.txt"\); --overwrite replaces only what rnnlab wrote/);
    refused(await cli(['bench', '--cell', 'rnn', '--hidden', '4', '--batch', '1', '--seq', '3', '--engine', 'scratch', '--out', run, '--overwrite']), /rnnlab did not write/);
    expect(readFileSync(join(run, 'notes.txt'), 'utf8')).toBe('mine');
    rmSync(join(run, 'notes.txt'));
    rmSync(join(run, 'checkpoints', 'step-2', 'extra.txt'));
    // without them it is rnnlab's alone, and --overwrite replaces it
    expect((await cli(['train', '--text', book, ...small, '--steps', '3', '--out', run, '--overwrite'])).code).toBe(0);
    expect(stepsIn(run)).toEqual([3]);
  });

  test('1: what counts as rnnlab\'s in a run folder (records, checkpoints, plots, runs of a sweep, cut writes)', () => {
    const d = tmp('own');
    const a = claimRunFolder(join(d, 'sweep'), { kind: 'sweep' });
    const inner = claimRunFolder(join(d, 'sweep', 'w5'), { kind: 'train' });
    for (const f of ['metrics.jsonl', 'samples.jsonl', 'plot-data.json']) writeFileSync(join(d, 'sweep', 'w5', f), '');
    mkdirSync(join(d, 'sweep', 'w5', 'checkpoints', 'step-4'), { recursive: true });
    for (const f of ['spec.json', 'meta.json']) writeFileSync(join(d, 'sweep', 'w5', 'checkpoints', 'step-4', f), '');
    // a checkpoint's safetensors files say rnnlab wrote them
    for (const f of ['params.safetensors', 'tfjs.optimizer.safetensors']) writeSafetensors(join(d, 'sweep', 'w5', 'checkpoints', 'step-4', f), { w: { dtype: 'F32', shape: [1], data: Float32Array.of(0) } }, { generator: 'rnnlab 0.1.0 checkpoint' });
    mkdirSync(join(d, 'sweep', 'plots'));
    writeFileSync(join(d, 'sweep', 'plots', 'loss-steps.svg'), '');
    writeFileSync(join(d, 'sweep', '.run.json.123.abc.tmp'), '');
    writeFileSync(join(d, 'sweep', 'sweep.json'), '{}');
    expect(foreignEntries(join(d, 'sweep'))).toEqual([]);
    writeFileSync(join(d, 'sweep', 'w5', 'checkpoints', 'step-4', 'notes.md'), '');
    writeFileSync(join(d, 'sweep', 'plots', 'photo.jpg'), '');
    expect(foreignEntries(join(d, 'sweep')).sort()).toEqual([join('plots', 'photo.jpg'), join('w5', 'checkpoints', 'step-4')]);
    // the locks of both are held by this process until released
    expect(existsSync(join(d, 'sweep', LOCK_FILE))).toBe(true);
    inner.release();
    a.release();
    expect(existsSync(join(d, 'sweep', LOCK_FILE))).toBe(false);
  });

  test('2: import -o never deletes a folder that is not an rnnlab checkpoint, its own input\'s least of all', async () => {
    const imp = tmp('imp');
    cpSync(KERAS, imp, { recursive: true });
    const before = snapshot(imp);
    refused(await cli(['import', join(imp, 'model.json'), '-o', imp, '--overwrite']), /holds this command's input .*model\.json; writing the checkpoint there would delete it/);
    const precious = tmp('precious');
    writeFileSync(join(precious, 'thesis.txt'), 'years of work');
    mkdirSync(join(precious, 'sub'));
    writeFileSync(join(precious, 'sub', 'data.csv'), '1,2');
    refused(await cli(['import', join(imp, 'model.json'), '-o', precious, '--overwrite']), /holds files that are not an rnnlab checkpoint; rnnlab replaces only what it wrote/);
    expect(snapshot(imp)).toEqual(before);
    expect(readFileSync(join(precious, 'thesis.txt'), 'utf8')).toBe('years of work');
    expect(readFileSync(join(precious, 'sub', 'data.csv'), 'utf8')).toBe('1,2');
    // a folder laid out for check --spec --weights --data has a checkpoint's file names, and is the user's
    const mine = tmp('mine');
    writeFileSync(join(mine, 'spec.json'), JSON.stringify({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2 }));
    writeSafetensors(join(mine, 'my-weights.safetensors'), { w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
    writeSafetensors(join(mine, 'params.safetensors'), { w: { dtype: 'F32', shape: [1], data: Float32Array.of(2) } });
    writeFileSync(join(mine, 'meta.json'), '{}');
    const mineBefore = snapshot(mine);
    refused(await cli(['import', join(imp, 'model.json'), '-o', mine, '--overwrite']), /holds files that are not an rnnlab checkpoint/);
    expect(snapshot(mine)).toEqual(mineBefore);
    // an earlier import is rnnlab's: replaced with --overwrite only
    const ck = join(tmp('ck'), 'gru');
    expect((await cli(['import', join(imp, 'model.json'), '-o', ck])).code).toBe(0);
    refused(await cli(['import', join(imp, 'model.json'), '-o', ck]), /already holds a checkpoint \(add --overwrite to replace it\)/);
    expect((await cli(['import', join(imp, 'model.json'), '-o', ck, '--overwrite'])).code).toBe(0);
  });

  test('3: bench --race --out refuses a folder holding scratch/ and pytorch/ of the user\'s (before anything runs)', async () => {
    const out = tmp('race');
    for (const e of ['scratch', 'pytorch']) {
      mkdirSync(join(out, e));
      writeFileSync(join(out, e, 'results.txt'), e);
    }
    const before = snapshot(out);
    refused(await cli(['bench', '--race', '--minutes', '0.01', '--out', out]), /is not empty; choose a new or empty directory for --out/);
    refused(await cli(['bench', '--race', '--minutes', '0.01', '--out', out, '--overwrite']), /not an rnnlab run directory/);
    expect(snapshot(out)).toEqual(before);
  });

  test('4: report -o and export -o replace only what rnnlab wrote (never a run\'s metrics.jsonl or params.safetensors)', async () => {
    const run = join(tmp('rep'), 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '2', '--out', run])).code).toBe(0);
    const before = snapshot(run);
    refused(await cli(['report', run, '-o', join(run, 'metrics.jsonl')]), /metrics\.jsonl: exists and is not an rnnlab report; rnnlab replaces only files it wrote/);
    refused(await cli(['report', run, '-o', join(run, 'checkpoints', 'step-2', 'params.safetensors')]), /is not an rnnlab report/);
    expect(snapshot(run)).toEqual(before);
    const html = join(tmp('html'), 'report.html');
    expect((await cli(['report', run, '-o', html])).code).toBe(0);
    expect((await cli(['report', run, '-o', html])).code).toBe(0); // its own report, replaced
    // an export: a second one needs --overwrite, and files of those names that rnnlab did not write stay
    const web = join(tmp('web'), 'model');
    expect((await cli(['export', run, '-o', web, '--backend', 'cpu'])).code).toBe(0);
    const weights = readFileSync(join(web, 'weights.bin'));
    refused(await cli(['export', run, '-o', web, '--backend', 'cpu']), /already holds an export \(model\.json, weights\.bin\); add --overwrite to replace it/);
    expect(readFileSync(join(web, 'weights.bin')).equals(weights)).toBe(true);
    writeFileSync(join(web, 'model.json'), '{"format": "mine"}');
    refused(await cli(['export', run, '-o', web, '--backend', 'cpu', '--overwrite']), /model\.json: exists and is not an rnnlab export/);
    refused(await cli(['export', run, '-o', run, '--backend', 'cpu']), /is an rnnlab run directory; an export there would mix with its files/);
  });

  test('4: plot, convert and predict -o replace only their own kind of file', async () => {
    const d = tmp('outs');
    const run = join(d, 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '2', '--out', run])).code).toBe(0);
    const plots = join(d, 'plots');
    mkdirSync(plots);
    writeFileSync(join(plots, 'loss-steps.svg'), '<svg>my own drawing</svg>');
    refused(await cli(['plot', run, '-o', plots, '--no-png']), /loss-steps\.svg: exists and is not an rnnlab chart/);
    expect(readFileSync(join(plots, 'loss-steps.svg'), 'utf8')).toBe('<svg>my own drawing</svg>');
    rmSync(join(plots, 'loss-steps.svg'));
    expect((await cli(['plot', run, '-o', plots, '--no-png'])).code).toBe(0);
    expect((await cli(['plot', run, '-o', plots, '--no-png'])).code).toBe(0); // its own charts, redrawn
    const pt = join(d, 'model.pt.safetensors');
    writeSafetensors(pt, { x: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }, { format: 'pt' }); // as PyTorch's save_file writes
    refused(await cli(['convert', run, '--to', 'pytorch', '-o', pt]), /is not a safetensors file written by rnnlab/);
    rmSync(pt);
    expect((await cli(['convert', run, '--to', 'pytorch', '-o', pt])).code).toBe(0);
    expect((await cli(['convert', run, '--to', 'pytorch', '-o', pt])).code).toBe(0);
    // predict's CSV: its own (a label and a probability per class after the input's columns), nothing else
    const csv = join(d, 'labelled.csv');
    writeFileSync(csv, 'name,label,p_en,p_fr\nMaria,en,0.6,0.4\n');
    expect(() => checkReplaceable(csv, '-o', 'labels')).not.toThrow();
    writeFileSync(csv, 'name,score\nMaria,3\n');
    expect(() => checkReplaceable(csv, '-o', 'labels')).toThrow(/labelled\.csv: exists and is not a CSV rnnlab labelled/);
  });
});

describe('one process writes a run at a time', () => {
  test('5: a run being written refuses a second writer (--overwrite, --resume); its lock goes stale when the process is killed', async () => {
    const book = corpus();
    const run = join(tmp('lock'), 'run');
    const a = startGroup(['train', '--text', book, ...small, '--steps', '100000', '--log-every', '1', '--checkpoint-every', '5', '--json', '--out', run]);
    try {
      await until(() => hasCheckpoint(run), 'the first checkpoint');
      refused(await cli(['train', '--text', book, ...small, '--steps', '3', '--out', run, '--overwrite']), new RegExp(`another rnnlab process \\(pid ${a.child.pid}, since .*\\) is writing this run; one process writes a run at a time`));
      refused(await cli(['train', '--resume', run, '--steps', '100001']), /another rnnlab process .* is writing this run/);
      expect(readJsonl(join(run, 'metrics.jsonl')).filter((m) => m.type === 'step').every((m, i, all) => i === 0 || (m.step as number) > (all[i - 1].step as number))).toBe(true);
      a.child.kill('SIGKILL');
      expect(await a.done).toBeNull();
    } finally {
      a.child.kill('SIGKILL');
    }
    const lock = JSON.parse(readFileSync(join(run, LOCK_FILE), 'utf8'));
    expect(lock.pid).toBe(a.child.pid);
    const last = stepsIn(run).pop()!;
    const r = await cli(['train', '--resume', run, '--steps', String(last + 2)]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/rnnlab\.lock: a stale lock \(process \d+ is gone\); taking it over/);
    expect(existsSync(join(run, LOCK_FILE))).toBe(false);
  });
  test('5: processes that all find the same stale lock: exactly one takes it over', async () => {
    const mod = pathToFileURL(join(ROOT, 'dist', 'src', 'io', 'run-folder.js')).href;
    for (let round = 0; round < 4; round++) {
      const dir = tmp('stale');
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), since: 'then', start: null, command: 'rnnlab train' }) + '\n');
      const at = Date.now() + 700;
      const kids = Array.from({ length: 6 }, () => spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'locks', 'contender.mjs'), mod, dir, String(at)]));
      const said = await Promise.all(kids.map((k) => new Promise<string>((res) => {
        let o = '';
        k.stdout!.on('data', (d) => {
          o += d;
          if (o.includes('\n')) res(o.trim());
        });
        k.on('close', () => res(o.trim()));
      })));
      for (const k of kids) k.kill('SIGKILL');
      expect(said.filter((w) => w === 'won'), said.join(',')).toHaveLength(1);
    }
  });
});

describe('no false success, no wrong result read from a file', () => {
  test('6: a module engine whose promise never settles is an error by its deadline, in check and in train', async () => {
    const r = await cli(['check', '--cell', 'rnn', '--hidden', '3', '--input', '2', '--output', '2', '--seq', '3', '--batch', '2', '--steps', '1', '--engines', BROKEN, '--engine-timeout', '0.5'], { BROKEN_MODULE: 'never-forward' });
    refused(r, /engine broken: forward\(\) did not settle within 0\.5 s \(raise --engine-timeout/);
    const t = await cli(['train', '--text', corpus(), ...small, '--cell', 'rnn', '--optimizer', 'sgd', '--steps', '31', '--engine', BROKEN, '--engine-timeout', '0.5', '--out', join(tmp('never'), 'run')], { BROKEN_MODULE: 'never-step' });
    refused(t, /engine broken: step\(\) did not settle within 0\.5 s/);
  });

  test('7: a resumed optimizer or state file of the wrong dtype, NaN or a negative running mean of squares is refused; a NaN after a resume names the checkpoint it continued from', async () => {
    const book = corpus();
    const run = join(tmp('opt'), 'run');
    expect((await cli(['train', '--text', book, ...small, '--steps', '3', '--out', run])).code).toBe(0);
    const ck = join(run, 'checkpoints', 'step-3');
    const pristine = join(tmp('pristine'), 'step-3');
    cpSync(ck, pristine, { recursive: true });
    const edit = (file: string, f: (t: ReturnType<typeof readSafetensors>['tensors']) => void): void => {
      cpSync(pristine, ck, { recursive: true });
      const t = readSafetensors(join(ck, file)).tensors;
      f(t);
      writeFileSync(join(ck, file), encodeSafetensors(t));
    };
    const cases: [string, (t: ReturnType<typeof readSafetensors>['tensors']) => void, RegExp][] = [
      ['optimizer.safetensors', (t) => (t['m.head.bias'] = { dtype: 'I32', shape: t['m.head.bias'].shape, data: new Int32Array(t['m.head.bias'].data.buffer.slice(0)) }), /optimizer\.safetensors: "m\.head\.bias" is I32; optimizer state is F32 or F64/],
      ['optimizer.safetensors', (t) => (t['m.head.bias'].data[1] = NaN), /"m\.head\.bias" holds NaN at index 1; optimizer state is finite/],
      ['optimizer.safetensors', (t) => (t['v.layers.0.kernel'].data[0] = -1e-6), /"v\.layers\.0\.kernel" holds -9\.9\d*e-7 at index 0; adam's "v" is a running mean of squares, never negative/],
      ['optimizer.safetensors', (t) => (t.iterations.data[0] = 2.5), /"iterations" must be one count >= 0/],
      ['state.safetensors', (t) => (t['h.0'].data[3] = NaN), /state\.safetensors: "h\.0" holds NaN at index 3; a carried state is finite/],
    ];
    for (const [file, f, pattern] of cases) {
      edit(file, f);
      refused(await cli(['train', '--resume', run, '--steps', '5']), pattern);
    }
    // finite but huge weights: the loss overflows at the first step after the resume, whose checkpoint is the last good one
    cpSync(pristine, ck, { recursive: true });
    const p = readSafetensors(join(ck, 'params.safetensors')).tensors;
    for (const t of Object.values(p)) t.data.fill(3e38);
    writeFileSync(join(ck, 'params.safetensors'), encodeSafetensors(p, { format: 'rnnlab-canonical' }));
    const nan = await cli(['train', '--resume', run, '--steps', '5']);
    expect(nan.code, nan.err).toBe(1);
    expect(nan.err).toMatch(new RegExp(`loss became (NaN|Infinity) at step 4; training stopped \\(the last good checkpoint is ${ck.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
  });

  test('7: a NaN in the initial state of check --data is the file\'s fault, named before any engine runs', async () => {
    const d = tmp('data');
    const spec = { cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2 };
    writeFileSync(join(d, 'spec.json'), JSON.stringify(spec));
    const h = new Float32Array(6);
    h[4] = NaN;
    writeSafetensors(join(d, 'data.safetensors'), { x: { dtype: 'F32', shape: [2, 3, 2], data: new Float32Array(12) }, y: { dtype: 'I32', shape: [2, 3], data: new Int32Array(6) }, 'h.0': { dtype: 'F32', shape: [2, 3], data: h } });
    refused(await cli(['check', '--spec', join(d, 'spec.json'), '--data', join(d, 'data.safetensors'), '--no-tfjs', '--steps', '1']), /data\.safetensors: initial state: h\.0 holds a non-finite value \(NaN\) at \[1, 1\]/);
  });

  test('8: values near the float64 limit are refused before scaling, not turned into NaN metrics', async () => {
    const d = tmp('huge');
    writeFileSync(join(d, 'huge.csv'), 'v\n' + Array.from({ length: 80 }, (_, i) => (i % 2 ? '1.7e308' : '-1.7e308')).join('\n') + '\n');
    for (const scale of ['standard', 'minmax']) {
      refused(await cli(['train', '--task', 'series', '--csv', join(d, 'huge.csv'), '--column', 'v', '--scale', scale, '--window', '4', '--horizon', '2', '--steps', '2', '--out', join(d, scale)]), /column "v": its values \(from -1\.7e\+308 to 1\.7e\+308\) are too large to scale and measure in float64/);
    }
  });

  test('9: flags --spec or --seq2seq would ignore are refused by name', async () => {
    const d = tmp('spec');
    writeFileSync(join(d, 'spec.json'), JSON.stringify({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2 }));
    refused(await cli(['check', '--spec', join(d, 'spec.json'), '--cell', 'rnn', '--hidden', '64', '--layers', '3']), /--spec gives the whole model, so --cell, --layers, --hidden would be ignored; leave them out/);
    refused(await cli(['gradcheck', '--spec', join(d, 'spec.json'), '--hidden', '64']), /--spec gives the whole model, so --hidden would be ignored/);
    refused(await cli(['check', '--seq2seq', '--bidirectional', '--merge', 'sum']), /--seq2seq checks an encoder-decoder .*directions concatenated\), so --merge would be ignored/);
  });

  test('10: the size bound counts an embedding model\'s embedding, not the one-hot kernel it replaces', () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 3_000_000, embedding: 16, input: 'tokens', hiddenSize: 256, outputSize: 10, returnSequences: false });
    // 48 million parameters, the largest tensor the embedding [3e6, 16]: fits a machine with the memory
    expect(() => assertFits(spec, { batch: 8, seq: 20, engines: 3, bytesPerFloat: 8 }, 2 ** 40)).not.toThrow();
    // without the embedding, the kernel [3e6, 1024] is too large for one array
    const oneHot = parseSpec({ cell: 'lstm', inputSize: 3_000_000, input: 'tokens', hiddenSize: 256, outputSize: 10, returnSequences: false });
    expect(() => assertFits(oneHot, { batch: 8, seq: 20, engines: 3, bytesPerFloat: 8 }, 2 ** 40)).toThrow(/one weight matrix has 3,072,000,000 elements/);
  });
});

describe('every child process ends with rnnlab', () => {
  const checkArgs = ['check', '--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '4', '--seq', '6', '--batch', '3', '--steps', '1', '--no-tfjs'];

  test('11: an engine\'s grandchild holding its stdout neither keeps rnnlab waiting nor outlives it', () => {
    const dir = tmp('grand');
    const pidFile = join(dir, 'sleep.pid');
    // a shell that leaves a `sleep 30` in the background (holding the engine's stdout) and becomes the engine
    const engine = `cmd:sh -c "sleep 30 & echo $! > ${pidFile}; exec ${process.execPath} ${FAULTY} ok"`;
    const t0 = Date.now();
    const r = rnnlab([...checkArgs, '--engines', 'scratch', '--engines', engine], { timeout: 60_000 });
    // the engine answers forward and stops at loss_and_grads (not implemented): one line, promptly
    expect(r.stderr).toMatch(/engine faulty: failed in "loss_and_grads"/);
    expect(Date.now() - t0).toBeLessThan(25_000); // not the 30 s the sleep holds the pipe
    const sleep = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(sleep)).toBe(false);
    // a hanging one: the timeout ends the engine and what it started, at once
    const pid2 = join(dir, 'sleep2.pid');
    const t1 = Date.now();
    const h = rnnlab([...checkArgs, '--engines', `cmd:sh -c "sleep 30 & echo $! > ${pid2}; exec ${process.execPath} ${FAULTY} hang-init"`, '--engine-timeout', '1'], { timeout: 60_000 });
    expect(h.code).toBe(2);
    expect(h.stderr).toMatch(/did not answer "init" within 1 s/);
    expect(Date.now() - t1).toBeLessThan(20_000);
    expect(alive(Number(readFileSync(pid2, 'utf8')))).toBe(false);
  });

  test('12: a terminal\'s Ctrl-C (to the whole process group) stops a run on a cmd: engine with a checkpoint and the resume line', async () => {
    const run = join(tmp('ctrlc'), 'run');
    const a = startGroup(['train', '--text', corpus(), ...small, '--cell', 'rnn', '--optimizer', 'sgd', '--steps', '100000', '--log-every', '1', '--checkpoint-every', '3', '--json', '--engine', `cmd:${process.execPath} ${FAULTY} trains`, '--out', run]);
    try {
      await until(() => hasCheckpoint(run), 'a few steps');
      process.kill(-a.child.pid!, 'SIGINT');
      expect(await a.done, a.err()).toBe(130);
    } finally {
      a.child.kill('SIGKILL');
    }
    expect(a.err()).toMatch(/stopped by Ctrl-C at step \d+; checkpoint \S+; continue with: rnnlab train --resume \S+/);
    expect(a.err()).not.toMatch(/exited on SIGINT/);
  });

  test('13: Ctrl-C in a seq2seq run writes a checkpoint and the resume line; the resumed run ends with the parameters of an uninterrupted one, bit for bit', async () => {
    // the reverse dataset, generated from the seed; one kernel thread so that both processes run the same arithmetic
    const args = ['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '400', '--max-len', '5', '--hidden', '8', '--embedding', '4', '--batch', '8', '--bidirectional', '--attention', 'concat', '--kernels', 'wasm', '--threads', '1', '--log-every', '1', '--json'];
    const run = join(tmp('s2s'), 'run');
    const a = startGroup([...args, '--steps', '100000', '--out', run]);
    try {
      await until(() => existsSync(join(run, 'metrics.jsonl')) && (readFileSync(join(run, 'metrics.jsonl'), 'utf8').match(/"type":"step"/g) ?? []).length >= 3, 'a few steps');
      process.kill(-a.child.pid!, 'SIGINT');
      expect(await a.done, a.err()).toBe(130);
    } finally {
      a.child.kill('SIGKILL');
    }
    const m = /stopped by Ctrl-C at step (\d+); checkpoint (\S+); continue with: rnnlab train --resume (\S+)/.exec(a.err());
    expect(m, a.err()).not.toBeNull();
    const at = Number(m![1]);
    expect(m![2]).toBe(join(run, 'checkpoints', `step-${at}`));
    expect(existsSync(join(m![2], 'optimizer.safetensors'))).toBe(true);
    expect(readJsonl(join(run, 'metrics.jsonl')).some((r) => r.type === 'interrupted' && r.step === at)).toBe(true);
    // resumed to `at + 7` steps (past the end of the first epoch, 40 steps, when it stopped near its start) against a run of those steps at once
    const total = String(Math.max(at + 7, 45));
    const resumed = await cli(['train', '--resume', m![3], '--steps', total]);
    expect(resumed.code, resumed.err).toBe(0);
    const whole = join(tmp('s2s'), 'whole');
    const w = await cli([...args, '--steps', total, '--out', whole]);
    expect(w.code, w.err).toBe(0);
    for (const f of ['params.safetensors', 'optimizer.safetensors']) {
      const x = readSafetensors(join(run, 'checkpoints', `step-${total}`, f)).tensors;
      const y = readSafetensors(join(whole, 'checkpoints', `step-${total}`, f)).tensors;
      expect(Object.keys(x).sort()).toEqual(Object.keys(y).sort());
      const bytes = (d: ArrayBufferView): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      for (const k of Object.keys(y)) expect(bytes(x[k].data as ArrayBufferView).equals(bytes(y[k].data as ArrayBufferView)), `${f} ${k}`).toBe(true);
    }
    // the test after training reads the same best checkpoint and finds the same exact match
    const fin = (d: string): Record<string, unknown> => readJsonl(join(d, 'metrics.jsonl')).filter((r) => r.type === 'final').pop()!;
    expect(fin(run).test).toEqual(fin(whole).test);
    expect(fin(run).bestStep).toBe(fin(whole).bestStep);
  });

  test('14: an engine timeout beyond what a timer holds is refused; the handshake keeps to --engine-timeout', async () => {
    refused(await cli([...checkArgs, '--engines', `cmd:${process.execPath} ${FAULTY} ok`, '--engine-timeout', '3000000']), /--engine-timeout.*expected a number <= 2147483, got 3000000/);
    refused(await cli([...checkArgs, '--engines', `cmd:${process.execPath} ${FAULTY} ok`], { RNNLAB_ENGINE_TIMEOUT: '1e10' }), /RNNLAB_ENGINE_TIMEOUT must be a number of seconds > 0 and <= 2147483/);
    const t0 = Date.now();
    refused(await cli([...checkArgs, '--engines', `cmd:${process.execPath} ${FAULTY} hang-hello`, '--engine-timeout', '1']), /did not answer "hello" within 1 s \(raise --engine-timeout/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});

describe('nothing in a run folder is executed', () => {
  test('15: --resume of a run on a cmd: engine needs the command again, and only that command', async () => {
    const d = tmp('cmd');
    const run = join(d, 'run');
    const engine = `cmd:${process.execPath} ${FAULTY} trains`;
    const base = ['train', '--text', corpus(), ...small, '--cell', 'rnn', '--optimizer', 'sgd', '--out', run];
    expect((await cli([...base, '--steps', '2', '--engine', engine])).code).toBe(0);
    refused(await cli(['train', '--resume', run, '--steps', '3']), /code that rnnlab never runs because a run folder names it .* give the engines again: --engines ".*faulty\.mjs trains"/);
    expect((await cli(['train', '--resume', run, '--steps', '3', '--engine', engine])).code).toBe(0);
    // a folder whose meta.json names another command: it is not run, with or without the real one
    const meta = join(run, 'checkpoints', 'step-3', 'meta.json');
    const m = JSON.parse(readFileSync(meta, 'utf8'));
    m.options.engine = `cmd:touch ${join(d, 'PWNED')}`;
    writeFileSync(meta, JSON.stringify(m));
    refused(await cli(['train', '--resume', run, '--steps', '4']), /give the engines again: --engines "cmd:touch /);
    refused(await cli(['train', '--resume', run, '--steps', '4', '--engine', engine]), /is not the run's engines \("cmd:touch .*"\); a run continues on the engines it started with/);
    expect(existsSync(join(d, 'PWNED'))).toBe(false);
  });
  test('15: --resume never loads a library or starts a program a run folder names (--blas, --browser, --python)', async () => {
    const d = tmp('lib');
    const run = join(d, 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--cell', 'rnn', '--steps', '2', '--out', run])).code).toBe(0);
    // a shared library whose constructor leaves a file: loading it (dlopen) is running it
    const evil = join(d, 'libevil.so');
    try {
      writeFileSync(join(d, 'evil.c'), `#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) { FILE *f = fopen("${join(d, 'PWNED')}", "w"); if (f) fclose(f); }\n`);
      execFileSync('cc', ['-shared', '-fPIC', '-o', evil, join(d, 'evil.c')], { stdio: 'ignore' });
    } catch {
      return; // no C compiler here: nothing to plant
    }
    const meta = join(run, 'checkpoints', 'step-2', 'meta.json');
    const m = JSON.parse(readFileSync(meta, 'utf8'));
    Object.assign(m.options, { kernels: 'blas', blas: evil, browser: join(d, 'chromium.sh'), python: join(d, 'python.sh') });
    writeFileSync(meta, JSON.stringify(m));
    const r = await cli(['train', '--resume', run, '--steps', '3']);
    expect(existsSync(join(d, 'PWNED'))).toBe(false);
    for (const flag of ['--blas', '--browser', '--python']) expect(r.err).toContain(`note: the run was started with ${flag} "${d}`);
    expect(r.err).toMatch(/never takes a program or library from a run folder/);
  });
});

describe('every file read from a run is checked like user input', () => {
  test('16: stored options that are not what a flag gives, and a checkpoint of another run, are refused by name', async () => {
    const d = tmp('opts');
    const text = join(d, 'text');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '2', '--out', text])).code).toBe(0);
    const ck = join(text, 'checkpoints', 'step-2');
    const meta = join(ck, 'meta.json');
    const pristine = readFileSync(meta, 'utf8');
    const edit = (f: (o: Record<string, unknown>) => void): void => {
      const m = JSON.parse(pristine);
      f(m.options);
      writeFileSync(meta, JSON.stringify(m));
    };
    const cases: [(o: Record<string, unknown>) => void, RegExp][] = [
      [(o) => (o.task = 'series'), /the stored option "window" is missing \(a series run always records it\)/],
      [(o) => (o.hidden = 'many'), /the stored option "hidden" \(--hidden\) is "\\"many\\"", which --hidden would refuse/],
      [(o) => (o.layers = -2), /"layers" \(--layers\) is "-2", which --layers would refuse/],
      [(o) => (o.cell = 'transformer'), /"cell" \(--cell\) is "\\"transformer\\"", which --cell would refuse/],
      [(o) => (o.gruResetAfter = 'yes'), /"gruResetAfter" \(--gru-reset-after\) is "\\"yes\\"", expected true or false/],
      [(o) => (o.shell = 'rm -rf'), /the stored option "shell" is no option of rnnlab train/],
      [(o) => delete o.seq, /the stored option "seq" is missing \(a text run always records it\)/],
    ];
    for (const [f, pattern] of cases) {
      edit(f);
      const r = await cli(['train', '--resume', text, '--steps', '3']);
      refused(r, pattern);
    }
    writeFileSync(meta, pristine);
    // a series checkpoint copied into the text run
    const series = join(d, 'series');
    expect((await cli(['train', '--task', 'series', '--dataset', 'synthetic', '--hidden', '4', '--steps', '2', '--out', series])).code).toBe(0);
    cpSync(join(series, 'checkpoints', 'step-2'), join(text, 'checkpoints', 'step-9'), { recursive: true });
    const before = readFileSync(join(text, 'metrics.jsonl'));
    refused(await cli(['train', '--resume', text, '--steps', '12']), /step-9: this checkpoint is from a "series" run, but .*text holds a "text" run/);
    expect(readFileSync(join(text, 'metrics.jsonl')).equals(before)).toBe(true);
  });

  test('17: plot and report refuse a record that is not one rnnlab writes, and a metrics.jsonl that is not a regular file', async () => {
    const run = join(tmp('recs'), 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '2', '--out', run])).code).toBe(0);
    const metrics = join(run, 'metrics.jsonl');
    const good = readFileSync(metrics, 'utf8');
    writeFileSync(metrics, good + 'null\n');
    refused(await cli(['plot', run, '--no-png']), /metrics\.jsonl line \d+: null is not a record/);
    writeFileSync(metrics, good + '{"type":"step","step":3,"loss":null}\n');
    refused(await cli(['report', run, '-o', join(tmp('r'), 'r.html')]), /metrics\.jsonl line \d+: "loss" is null, expected numbers by engine/);
    // a NaN rnnlab wrote (as null) is drawn around, not refused
    writeFileSync(metrics, good + '{"type":"step","step":3,"loss":{"scratch":null}}\n');
    expect((await cli(['plot', run, '--no-png', '-o', join(tmp('p'), 'plots')])).code).toBe(0);
    rmSync(metrics);
    execFileSync('mkfifo', [metrics]);
    const t0 = Date.now();
    refused(await cli(['plot', run, '--no-png']), /metrics\.jsonl: is not a regular file/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test('17: every field of every record and file of a run, made null, text, a number or absent: a chart or one line, never a crash', async () => {
    const run = join(tmp('fuzz'), 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '3', '--engines', 'scratch,scratch-f64', '--sample-every', '2', '--sample-length', '4', '--out', run])).code).toBe(0);
    const chk = join(tmp('fuzz'), 'chk');
    expect((await cli(['check', '--cell', 'gru', '--hidden', '3', '--input', '2', '--output', '2', '--seq', '3', '--batch', '2', '--steps', '2', '--no-tfjs', '--out', chk])).code).toBeLessThanOrEqual(1);
    const crashes: string[] = [];
    const values: [string, (o: Record<string, unknown>, k: string) => void][] = [
      ['null', (o, k) => (o[k] = null)],
      ['text', (o, k) => (o[k] = 'x')],
      ['number', (o, k) => (o[k] = -1)],
      ['absent', (o, k) => delete o[k]],
    ];
    const work = join(tmp('fuzz'), 'w');
    const attempt = (dir: string, file: string, mutate: (text: string) => string, label: string): void => {
      // the run's records and files, without its checkpoints (the charts do not read them)
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work);
      for (const f of readdirSync(dir)) if (f !== 'checkpoints') cpSync(join(dir, f), join(work, f));
      writeFileSync(join(work, file), mutate(readFileSync(join(dir, file), 'utf8')));
      try {
        const runs = loadRuns(work);
        chartsFor(runs);
        reportHtml(runs);
      } catch (e) {
        if (!isUserError(e)) crashes.push(`${label}: ${(e as Error).message}`);
      }
    };
    for (const [dir, files] of [[run, ['metrics.jsonl', 'samples.jsonl', 'run.json']], [chk, ['metrics.jsonl', 'check.json', 'run.json']]] as const) {
      for (const file of files) {
        const lines = readFileSync(join(dir, file), 'utf8').trim().split('\n');
        const records = file.endsWith('.jsonl') ? lines.map((l) => JSON.parse(l)) : [JSON.parse(lines.join('\n'))];
        // one record of each type (the others have the same fields)
        const firsts = new Set(records.map((r: Record<string, unknown>) => records.findIndex((x: Record<string, unknown>) => x.type === r.type)));
        records.forEach((rec: Record<string, unknown>, i: number) => {
          if (!firsts.has(i)) return;
          for (const k of Object.keys(rec)) {
            for (const [name, f] of values) {
              const edited = () => {
                const copy = records.map((r: unknown) => JSON.parse(JSON.stringify(r)));
                f(copy[i], k);
                return copy.map((r: unknown) => JSON.stringify(r)).join('\n') + '\n';
              };
              attempt(dir, file, edited, `${file} #${i} ${k} ${name}`);
            }
          }
        });
      }
    }
    expect(crashes).toEqual([]);
  });

  test('18: a module engine\'s malformed optimizerState() is one line naming the engine', async () => {
    const r = await cli(['train', '--text', corpus(), ...small, '--cell', 'rnn', '--optimizer', 'adam', '--steps', '2', '--engine', BROKEN, '--out', join(tmp('bad-opt'), 'run')], { BROKEN_MODULE: 'bad-optimizer-state' });
    refused(r, /engine broken: optimizerState returned "v\.head\.bias" with shape "oops", expected a list of sizes/);
  });

  test('18: an optimizer state of the wrong shape, or without "iterations", is refused in one line before a checkpoint holds it; the last good checkpoint stays', async () => {
    const book = corpus();
    const args = ['train', '--text', book, ...small, '--cell', 'rnn', '--optimizer', 'adam', '--engine', BROKEN];
    // right at the checkpoint of step 2, then "m.layers.0.kernel" of shape [1]
    const run = join(tmp('opt-shape'), 'run');
    const r = await cli([...args, '--steps', '4', '--checkpoint-every', '2', '--out', run], { BROKEN_MODULE: 'wrong-shape-optimizer-state' });
    const good = join(run, 'checkpoints', 'step-2');
    refused(r, new RegExp(`^rnnlab: engine broken: the optimizer state it answered at step 4 is malformed: "m\\.layers\\.0\\.kernel" has shape \\[1\\], expected \\[\\d+, 6\\] \\(the shape of its parameter\\); training stopped without writing that checkpoint \\(the last good checkpoint is ${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`));
    expect(readdirSync(join(run, 'checkpoints')).filter((n) => /^step-/.test(n))).toEqual(['step-2']);
    expect(readSafetensors(join(good, 'optimizer.safetensors')).tensors['m.layers.0.kernel'].shape).toEqual([readSafetensors(join(good, 'params.safetensors')).tensors['layers.0.kernel'].shape[0], 6]);
    expect((await cli(['train', '--resume', run, '--steps', '4', '--engine', BROKEN])).code).toBe(0); // the last good one resumes
    // {}: no "iterations" (nor any slot), from the first checkpoint on
    const empty = join(tmp('opt-empty'), 'run');
    const e = await cli([...args, '--steps', '2', '--out', empty], { BROKEN_MODULE: 'empty-optimizer-state' });
    refused(e, /^rnnlab: engine broken: the optimizer state it answered at step 2 is malformed: no "iterations" \(the count of steps taken, F64 \[1\]\); training stopped without writing that checkpoint \(no checkpoint was written before it\)$/);
    expect(hasCheckpoint(empty)).toBe(false);
  });

  test('19: records a killed run wrote after its checkpoint are dropped on resume (steps stay in order)', async () => {
    const run = join(tmp('trim'), 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '10', '--log-every', '1', '--checkpoint-every', '5', '--keep-checkpoints', '0', '--sample-every', '2', '--sample-length', '3', '--out', run])).code).toBe(0);
    // as if killed just before the checkpoint of step 10: its records of steps 6-10 are there, the checkpoint is not
    rmSync(join(run, 'checkpoints', 'step-10'), { recursive: true });
    writeFileSync(join(run, 'metrics.jsonl'), readFileSync(join(run, 'metrics.jsonl'), 'utf8') + '{"type":"step","step":11,"lo'); // and a line cut short
    const r = await cli(['train', '--resume', run, '--steps', '10']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/metrics\.jsonl: dropped \d+ record\(s\) written after the checkpoint of step 5 \(by a run that was cut short, or of steps now trained again\)/);
    const steps = readJsonl(join(run, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const samples = readJsonl(join(run, 'samples.jsonl')).map((m) => m.step);
    expect(samples).toEqual([2, 4, 6, 8, 10]);
  });
});

describe('messages', () => {
  test('20: a spec key with a newline, an ANSI escape or a NUL is quoted on one line; a tensor named __proto__ is refused like any other name', async () => {
    const d = tmp('msg');
    writeFileSync(join(d, 'spec.json'), JSON.stringify({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2, 'evil\nkey\u001b[31m\u0000': 1 }));
    const r = await cli(['check', '--spec', join(d, 'spec.json')]);
    refused(r, /unknown field "evil\\nkey\\u001b\[31m\\u0000"/);
    expect(r.err).not.toMatch(/[\u0000\u001b]/);
    writeFileSync(join(d, 'ok.json'), JSON.stringify({ cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: 2 }));
    const header = '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const w = Buffer.concat([Buffer.alloc(8), Buffer.from(header), Buffer.alloc(4)]);
    w.writeBigUInt64LE(BigInt(header.length), 0);
    writeFileSync(join(d, 'w.safetensors'), w);
    refused(await cli(['check', '--spec', join(d, 'ok.json'), '--weights', join(d, 'w.safetensors')]), /unexpected __proto__/);
  });

  test('20: a numeric vocabulary symbol is named; generate --length beyond its bound says the bound', async () => {
    const run = join(tmp('vocab'), 'run');
    expect((await cli(['train', '--text', corpus(), ...small, '--steps', '2', '--out', run])).code).toBe(0);
    refused(await cli(['generate', '--checkpoint', run, '--length', '100000000']), /--length.*expected an integer <= 1000000, got 100000000/);
    const vocab = join(run, 'checkpoints', 'step-2', 'vocab.json');
    const v = JSON.parse(readFileSync(vocab, 'utf8'));
    v.symbols[3] = 7;
    writeFileSync(vocab, JSON.stringify(v));
    refused(await cli(['generate', '--checkpoint', run]), /vocab\.json: symbol 3 is 7; the symbols of a vocabulary are strings/);
  });

  test.skipIf(process.getuid?.() !== 0)('20: a read-only file system is named as one (not "no such file or directory")', async (ctx) => {
    const ro = tmp('rofs');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // no mount in this container
    }
    try {
      refused(await cli(['check', '--cell', 'rnn', '--hidden', '3', '--seq', '3', '--batch', '2', '--no-tfjs', '--steps', '1', '--out', join(ro, 'a', 'run')]), /a: the file system is read-only; choose another place to write/);
    } finally {
      execFileSync('umount', [ro], { stdio: 'ignore' });
    }
  });
});
