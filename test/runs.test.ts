/**
 * Nothing a user does loses a run (issue 13): taken run directories, resume from copies and from
 * elsewhere, damaged checkpoints, Ctrl-C / SIGTERM / SIGKILL, retention, sizes, environment errors
 * and the small malformed inputs. Each test reproduces the failure first described in the issue.
 * Exactness is asserted bit for bit (params.safetensors bytes), as the house promises.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { duplicateKey, parseJsonText } from '../src/io/files.js';
import { decodeSafetensors, encodeSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { parseCsv } from '../src/io/csv.js';
import { readJsonl } from '../src/io/run-dir.js';
import { specToJSON } from '../src/spec.js';
import { randomTestParams } from '../src/params.js';
import { makeSpec } from './helpers/cases.js';
import { CLI, expectOneLineError, rnnlab } from './helpers/cli.js';
import { stepsIn } from './helpers/runs.js';

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), `rnnlab-${p}-`));

function corpus(dir = tmp('corpus'), lines = 200): string {
  const path = join(dir, 'book.txt');
  writeFileSync(path, Array.from({ length: lines }, (_, i) => `The sea was calm on day ${i % 7}, and the whale swam ${i % 3 ? 'south' : 'north'}.`).join('\n') + '\n');
  return path;
}

const small = ['--hidden', '8', '--seq', '8', '--batch', '2', '--seed', '3', '--optimizer', 'adam'];
const params = (run: string, step: number): Buffer => readFileSync(join(run, 'checkpoints', `step-${step}`, 'params.safetensors'));
describe('run directories', () => {
  test('a taken --out is refused (exit 2, nothing touched); --overwrite replaces it; other folders are never cleared', () => {
    const book = corpus();
    const out = join(tmp('taken'), 'run');
    expect(rnnlab(['train', '--text', book, ...small, '--steps', '4', '--out', out]).code).toBe(0);
    const before = readFileSync(join(out, 'metrics.jsonl'));
    const runJson = readFileSync(join(out, 'run.json'));
    const again = rnnlab(['train', '--text', book, ...small, '--hidden', '12', '--steps', '4', '--out', out]);
    expectOneLineError(again, /already holds a run; choose another --out, add --overwrite to replace it, or continue it with rnnlab train --resume/, expect);
    expect(readFileSync(join(out, 'metrics.jsonl')).equals(before)).toBe(true);
    expect(readFileSync(join(out, 'run.json')).equals(runJson)).toBe(true);
    const over = rnnlab(['train', '--text', book, ...small, '--hidden', '12', '--steps', '4', '--out', out, '--overwrite', '--json']);
    expect(over.code, over.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).spec.hiddenSize).toBe(12);
    expect(readJsonl(join(out, 'metrics.jsonl')).filter((m) => m.type === 'final')).toHaveLength(1); // one run, not two appended
    // a folder that is not a run is not cleared, even with --overwrite
    const notRun = tmp('notrun');
    writeFileSync(join(notRun, 'thesis.tex'), 'precious');
    expectOneLineError(rnnlab(['train', '--text', book, ...small, '--steps', '2', '--out', notRun, '--overwrite']), /not empty and not an rnnlab run directory/, expect);
    expect(readFileSync(join(notRun, 'thesis.tex'), 'utf8')).toBe('precious');
    // --out naming a file, or nothing; check and bench claim their --out the same way
    expectOneLineError(rnnlab(['train', '--text', book, ...small, '--steps', '2', '--out', book]), /exists and is not a directory/, expect);
    expectOneLineError(rnnlab(['train', '--text', book, ...small, '--steps', '2', '--out', '']), /--out is empty/, expect);
    expectOneLineError(rnnlab(['check', '--cell', 'rnn', '--hidden', '4', '--seq', '3', '--batch', '2', '--no-tfjs', '--out', out]), /already holds a run/, expect);
    expectOneLineError(rnnlab(['bench', '--cell', 'rnn', '--hidden', '4', '--batch', '1', '--seq', '3', '--engine', 'scratch', '--out', out]), /already holds a run/, expect);
  });

  test('--resume writes into the run that holds the checkpoint (a copy stays a copy; meta.json cannot send it elsewhere)', () => {
    const book = corpus();
    const root = tmp('copy');
    const orig = join(root, 'orig');
    expect(rnnlab(['train', '--text', book, ...small, '--steps', '4', '--out', orig]).code).toBe(0);
    const copy = join(root, 'copy');
    cpSync(orig, copy, { recursive: true });
    // a crafted "out" in the stored options must not be followed
    const metaPath = join(copy, 'checkpoints', 'step-4', 'meta.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    meta.options.out = '../../elsewhere';
    writeFileSync(metaPath, JSON.stringify(meta));
    const origMetrics = readFileSync(join(orig, 'metrics.jsonl'));
    const r = rnnlab(['train', '--resume', copy, '--steps', '6', '--json'], { cwd: tmp('cwd') });
    expect(r.code, r.stderr).toBe(0);
    expect(stepsIn(copy)).toContain(6);
    expect(stepsIn(orig)).toEqual([4]);
    expect(readFileSync(join(orig, 'metrics.jsonl')).equals(origMetrics)).toBe(true);
    expect(existsSync(join(root, 'elsewhere'))).toBe(false);
    // --out continues the run in a new folder, which records where it came from
    const moved = join(root, 'moved');
    expect(rnnlab(['train', '--resume', orig, '--steps', '6', '--out', moved]).code).toBe(0);
    expect(stepsIn(moved)).toEqual([6]);
    expect(JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')).resumedFrom).toMatch(/orig[/\\]checkpoints[/\\]step-4$/);
    expect(params(moved, 6).equals(params(copy, 6))).toBe(true);
  });

  test('a run records its data by absolute path and hash: resume from another folder reads it; a changed file is refused', () => {
    const dir = tmp('data');
    corpus(dir);
    const run = join(dir, 'run');
    expect(rnnlab(['train', '--text', 'book.txt', ...small, '--steps', '3', '--out', 'run'], { cwd: dir }).code).toBe(0);
    const stored = JSON.parse(readFileSync(join(run, 'checkpoints', 'step-3', 'meta.json'), 'utf8')).options.dataFiles;
    expect(stored).toHaveLength(1);
    expect(stored[0].path).toBe(join(dir, 'book.txt'));
    expect(stored[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    // elsewhere, a different book.txt sits in the current directory: it must not be read
    const elsewhere = tmp('elsewhere');
    writeFileSync(join(elsewhere, 'book.txt'), 'zzzz '.repeat(400));
    const r = rnnlab(['train', '--resume', run, '--steps', '5'], { cwd: elsewhere });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/zzzz|1 symbol/);
    writeFileSync(join(dir, 'book.txt'), readFileSync(join(dir, 'book.txt'), 'utf8') + 'one more line\n');
    expectOneLineError(rnnlab(['train', '--resume', run, '--steps', '7']), /book\.txt: the run's data file changed since it started .*SHA-256 differs/, expect);
    rmSync(join(dir, 'book.txt'));
    expectOneLineError(rnnlab(['train', '--resume', run, '--steps', '7']), /the run's data file \(--text book\.txt\) is gone/, expect);
  });

  test('an incomplete or edited checkpoint is refused with one line naming the file', () => {
    const book = corpus();
    const run = join(tmp('damaged'), 'run');
    expect(rnnlab(['train', '--text', book, ...small, '--steps', '3', '--out', run]).code).toBe(0);
    const ck = join(run, 'checkpoints', 'step-3');
    const cases: [string, (d: string) => void, RegExp][] = [
      ['state', (d) => rmSync(join(d, 'state.safetensors')), /state\.safetensors is missing .*zero state/],
      ['optimizer', (d) => rmSync(join(d, 'optimizer.safetensors')), /optimizer\.safetensors is missing/],
      ['meta', (d) => rmSync(join(d, 'meta.json')), /no training options|meta\.json is missing/],
      ['step', (d) => edit(d, (m) => (m.step = -3)), /"step" is -3, expected an integer >= 1/],
      ['rng', (d) => edit(d, (m) => (m.sampleRng = [1, 2])), /"sampleRng" is not 4/],
      ['cursor', (d) => edit(d, (m) => ((m.cursor as Record<string, unknown>).window = 1e9)), /data cursor is damaged \("window" is 1000000000/],
      ['state size', (d) => writeSafetensors(join(d, 'state.safetensors'), { 'h.0': { dtype: 'F32', shape: [3], data: new Float32Array(3) } }), /"h\.0" holds 3 F32 values, expected 16 floats/],
    ];
    for (const [name, damage, msg] of cases) {
      const copy = join(tmp(`damaged-${name.replace(' ', '-')}`), 'run');
      cpSync(run, copy, { recursive: true });
      damage(join(copy, 'checkpoints', 'step-3'));
      const r = rnnlab(['train', '--resume', copy, '--steps', '5']);
      expectOneLineError(r, msg, expect);
      expect(stepsIn(copy), name).toEqual([3]); // nothing written
    }
    expect(existsSync(ck)).toBe(true);
  });

  test('--resume of a side-by-side run (scratch and tfjs) restores the whole engine set exactly', () => {
    const book = corpus();
    const root = tmp('both');
    const both = [...small, '--engine', 'both', '--backend', 'wasm', '--sample-every', '3', '--sample-length', '6', '--log-every', '1', '--json'];
    expect(rnnlab(['train', '--text', book, ...both, '--steps', '8', '--out', join(root, 'a')]).code).toBe(0);
    expect(rnnlab(['train', '--text', book, ...both, '--steps', '3', '--out', join(root, 'b')]).code).toBe(0);
    const r = rnnlab(['train', '--resume', join(root, 'b'), '--steps', '8', '--json']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['params', 'optimizer', 'state', 'tfjs.params', 'tfjs.optimizer', 'tfjs.state']) {
      const a = readFileSync(join(root, 'a', 'checkpoints', 'step-8', `${f}.safetensors`));
      expect(readFileSync(join(root, 'b', 'checkpoints', 'step-8', `${f}.safetensors`)).equals(a), f).toBe(true);
    }
    const losses = (d: string): unknown[] => readJsonl(join(root, d, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.loss);
    expect(losses('b')).toEqual(losses('a')); // both engines' losses at every step
    // a missing second-engine file is named
    rmSync(join(root, 'b', 'checkpoints', 'step-8', 'tfjs.optimizer.safetensors'));
    expectOneLineError(rnnlab(['train', '--resume', join(root, 'b'), '--steps', '9']), /tfjs\.optimizer\.safetensors is missing \(the optimizer state of engine tfjs-wasm\)/, expect);
  });

  test('the --resume refusal lists every flag that may change', () => {
    const run = join(tmp('flags'), 'run');
    expect(rnnlab(['train', '--text', corpus(), ...small, '--steps', '2', '--out', run]).code).toBe(0);
    const r = rnnlab(['train', '--resume', run, '--steps', '4', '--hidden', '9']);
    expectOneLineError(r, /--hidden cannot change on --resume/, expect);
    for (const f of ['--steps', '--threads', '--backend', '--python', '--engine-timeout', '--out', '--checkpoint-minutes', '--keep-checkpoints']) expect(r.stderr).toContain(f);
  });
});

function edit(dir: string, f: (m: Record<string, unknown>) => void): void {
  const p = join(dir, 'meta.json');
  const m = JSON.parse(readFileSync(p, 'utf8'));
  f(m);
  writeFileSync(p, JSON.stringify(m));
}

/** Starts a run and resolves with the child once stdout shows `after` step records (--json --log-every 1). */
function startRun(args: string[], after: number): Promise<{ child: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const done = new Promise<number | null>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? -1 : null))));
  return new Promise((resolve, reject) => {
    let started = false;
    child.stdout!.on('data', (d) => {
      out += d;
      if (!started && (out.match(/"type":"step"/g) ?? []).length >= after) {
        started = true;
        resolve({ child, out: () => out, err: () => err, done });
      }
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', () => {
      if (!started) reject(new Error(`the run ended before step ${after}: ${err}`));
    });
  });
}

describe('interrupts', () => {
  const N = 400; // long enough to be running when the signal comes, short enough for a test (~1 s)
  const args = (book: string, out: string): string[] => ['train', '--text', book, ...small, '--steps', String(N), '--log-every', '1', '--sample-every', '50', '--sample-length', '8', '--json', '--out', out];

  test.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: the step finishes, a checkpoint is written, the resume command is printed; exit %i; resume ends bit-identical', async (sig, code) => {
    const book = corpus();
    const root = tmp(`sig-${sig}`);
    const full = join(root, 'full');
    expect(rnnlab(args(book, full)).code).toBe(0);
    const cut = join(root, 'cut');
    const r = await startRun(args(book, cut), 20);
    r.child.kill(sig);
    expect(await r.done).toBe(code);
    const line = r.err().trim().split('\n').pop()!;
    const m = /stopped by (Ctrl-C|SIGTERM) at step (\d+); checkpoint (\S+); continue with: rnnlab train --resume (\S+)$/.exec(line);
    expect(m, r.err()).not.toBeNull();
    const step = Number(m![2]);
    expect(step).toBeGreaterThanOrEqual(20);
    expect(step).toBeLessThan(N);
    expect(m![3]).toBe(join(cut, 'checkpoints', `step-${step}`));
    expect(stepsIn(cut)).toContain(step);
    expect(readJsonl(join(cut, 'metrics.jsonl')).some((x) => x.type === 'interrupted' && x.step === step)).toBe(true);
    const resumed = rnnlab(['train', '--resume', m![4], '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(params(cut, N).equals(params(full, N))).toBe(true);
  });

  test('a second Ctrl-C quits at once (130), and every checkpoint left is whole', async () => {
    const cut = join(tmp('twice'), 'run');
    const r = await startRun([...args(corpus(), cut), '--checkpoint-every', '5', '--keep-checkpoints', '0'], 12);
    r.child.kill('SIGINT');
    r.child.kill('SIGINT');
    expect(await r.done).toBe(130);
    for (const s of stepsIn(cut)) {
      for (const f of ['spec.json', 'params.safetensors', 'optimizer.safetensors', 'state.safetensors', 'meta.json']) expect(existsSync(join(cut, 'checkpoints', `step-${s}`, f)), `step-${s}/${f}`).toBe(true);
    }
    const resumed = rnnlab(['train', '--resume', cut, '--steps', String(stepsIn(cut).pop()! + 2), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
  });

  test('SIGKILL at any moment, then --resume: leftovers of cut writes are removed and the run ends bit-identical', async () => {
    const book = corpus();
    const root = tmp('kill');
    const full = join(root, 'full');
    const a = [...args(book, full), '--checkpoint-every', '7', '--keep-checkpoints', '0'];
    expect(rnnlab(a).code).toBe(0);
    const cut = join(root, 'cut');
    const r = await startRun(a.map((x) => (x === full ? cut : x)), 30);
    r.child.kill('SIGKILL');
    await r.done;
    // what a write killed midway leaves: a temporary checkpoint directory
    const stale = join(cut, 'checkpoints', `.step-999.${r.child.pid}.abc123.tmp`);
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'params.safetensors'), 'half');
    const resumed = rnnlab(['train', '--resume', cut, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/removed .*\.step-999\..*\.tmp, left by a write that was cut short/);
    expect(existsSync(stale)).toBe(false);
    expect(params(cut, N).equals(params(full, N))).toBe(true);
  });
});

describe('checkpoint retention', () => {
  test('the newest 3 are kept plus the best by validation loss, named in best.json; --keep-checkpoints 0 keeps all', () => {
    const book = corpus();
    const run = join(tmp('keep'), 'run');
    const r = rnnlab(['train', '--text', book, ...small, '--steps', '24', '--checkpoint-every', '2', '--val-every', '2', '--out', run]);
    expect(r.code, r.stderr).toBe(0);
    const kept = stepsIn(run);
    const best = JSON.parse(readFileSync(join(run, 'checkpoints', 'best.json'), 'utf8'));
    // the best is the lowest validation loss among the checkpointed steps, computed here from metrics.jsonl
    const vals = readJsonl(join(run, 'metrics.jsonl')).filter((m) => m.type === 'val' && (m.step as number) % 2 === 0);
    const lowest = vals.reduce((b, m) => ((m.valLoss as number) < (b.valLoss as number) ? m : b));
    expect(best.step).toBe(lowest.step);
    expect(best.valLoss).toBe(lowest.valLoss);
    expect(kept.slice(-3)).toEqual([20, 22, 24]);
    expect(new Set(kept)).toEqual(new Set([20, 22, 24, best.step]));
    const all = join(tmp('keepall'), 'run');
    expect(rnnlab(['train', '--text', book, ...small, '--steps', '12', '--checkpoint-every', '2', '--keep-checkpoints', '0', '--out', all]).code).toBe(0);
    expect(stepsIn(all)).toEqual([2, 4, 6, 8, 10, 12]);
  });

  test('a safety checkpoint is written by wall time (--checkpoint-minutes)', () => {
    const run = join(tmp('safety'), 'run');
    // 0.0001 minutes = 6 ms: every few steps
    const r = rnnlab(['train', '--text', corpus(), ...small, '--steps', '60', '--checkpoint-minutes', '0.0001', '--keep-checkpoints', '0', '--out', run]);
    expect(r.code, r.stderr).toBe(0);
    expect(stepsIn(run).length).toBeGreaterThan(2);
    const none = join(tmp('nosafety'), 'run');
    expect(rnnlab(['train', '--text', corpus(), ...small, '--steps', '60', '--checkpoint-minutes', '0', '--out', none]).code).toBe(0);
    expect(stepsIn(none)).toEqual([60]);
  });
});

describe('sizes', () => {
  test('threads, layers, hidden units and files beyond what the machine can hold are refused with numbers', () => {
    const book = corpus();
    expectOneLineError(rnnlab(['train', '--text', book, '--threads', '100000000', '--steps', '1']), /--threads.*expected at most \d+ \(the cores of this machine\)/, expect);
    expectOneLineError(rnnlab(['train', '--text', book, '--layers', '100000000', '--steps', '1']), /the model does not fit: [\d,]+ parameters; at batch 32 x 64 steps it needs about [\d.]+ [KMGTP]iB, more than 75% of this machine's/, expect);
    expectOneLineError(rnnlab(['train', '--text', book, '--hidden', '100000', '--steps', '1']), /the model is too large: one weight matrix has 40,000,000,000 elements/, expect);
    expectOneLineError(rnnlab(['check', '--cell', 'lstm', '--hidden', '100000', '--no-tfjs']), /the model is too large/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--cell', 'gru', '--layers', '100000000']), /the model does not fit/, expect);
    expectOneLineError(rnnlab(['bench', '--cell', 'rnn', '--hidden', '100000', '--batch', '1', '--engine', 'scratch']), /the model (is too large|does not fit)/, expect);
    expectOneLineError(rnnlab(['train', '--text', '/dev/zero', '--steps', '1']), /\/dev\/zero: is not a regular file/, expect);
    const big = join(tmp('big'), 'big.txt');
    writeFileSync(big, '');
    truncateSync(big, 257 * 2 ** 20); // sparse: no disk used
    expectOneLineError(rnnlab(['train', '--text', big, '--steps', '1']), /big\.txt: is 257 MiB; rnnlab reads text files of at most 256 MiB/, expect);
  });

  test('--steps beyond 2^53 and seeds beyond 32 bits are refused', () => {
    expect(rnnlab(['train', '--steps', '99999999999999999999']).stderr).toMatch(/expected an integer <= 9007199254740991/);
    const seed = rnnlab(['train', '--seed', '4294967296']);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toMatch(/--seed.*expected an integer <= 4294967295/);
  });
});

describe('environment errors are the user\'s situation, not bugs', () => {
  test('a path through a file, -o naming a directory, and writing over an input: one line, exit 2', () => {
    const book = corpus();
    const r = rnnlab(['train', '--text', book, ...small, '--steps', '2', '--out', join(book, 'run')]);
    expect(r.stderr).not.toMatch(/internal error|bug in rnnlab/);
    expectOneLineError(r, /book\.txt[/\\]run: /, expect);
    const run = join(tmp('env'), 'run');
    expect(rnnlab(['train', '--text', book, ...small, '--steps', '2', '--out', run]).code).toBe(0);
    const ck = join(run, 'checkpoints', 'step-2');
    expectOneLineError(rnnlab(['report', run, '-o', tmpdir()]), /is a directory; -o names the file to write \(for example .*report\.html\)/, expect);
    expectOneLineError(rnnlab(['convert', ck, '--to', 'pytorch', '-o', tmpdir()]), /is a directory; -o names the file to write/, expect);
    const before = readFileSync(join(ck, 'params.safetensors'));
    expectOneLineError(rnnlab(['convert', ck, '--to', 'pytorch', '-o', join(ck, 'params.safetensors')]), /is an input of this command .*writing over it would destroy it/, expect);
    expect(readFileSync(join(ck, 'params.safetensors')).equals(before)).toBe(true);
  });

  test.skipIf(process.getuid?.() === 0)('a read-only directory', () => {
    const dir = tmp('ro');
    mkdirSync(join(dir, 'locked'), { mode: 0o555 });
    const r = rnnlab(['train', '--text', corpus(), ...small, '--steps', '2', '--out', join(dir, 'locked', 'run')]);
    expectOneLineError(r, /permission denied/, expect);
  });
});

describe('small malformed inputs', () => {
  test('a CSV with a header and no rows says so (series and classify); a duplicated column is refused', () => {
    const dir = tmp('csv');
    writeFileSync(join(dir, 'h.csv'), 'month,value\n');
    expectOneLineError(rnnlab(['train', '--task', 'series', '--csv', join(dir, 'h.csv'), '--column', 'value']), /has a header row but no data rows/, expect);
    writeFileSync(join(dir, 'c.csv'), 'text,label\n');
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--csv', join(dir, 'c.csv'), '--text-column', 'text', '--label-column', 'label']), /has a header row but no data rows/, expect);
    expect(() => parseCsv('a,b,a\n1,2,3\n', 'd.csv')).toThrow('d.csv: the header names the column "a" twice');
  });

  test('an error quoting input keeps the quote short', () => {
    const dir = tmp('long');
    writeFileSync(join(dir, 'wide.csv'), Array.from({ length: 2000 }, (_, i) => `column_number_${i}`).join(',') + '\n' + Array(2000).fill('1').join(',') + '\n');
    const r = rnnlab(['train', '--task', 'series', '--csv', join(dir, 'wide.csv'), '--column', 'nope']);
    expectOneLineError(r, /no column "nope" \(--column\); the columns are "column_number_0", .* and 1988 more/, expect);
    expect(r.stderr.length).toBeLessThan(1000);
  });

  test('a data file whose mask hides every step is refused by check', () => {
    const dir = tmp('mask');
    const spec = makeSpec({ cell: 'rnn' });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(specToJSON(spec)));
    const [B, T] = [2, 3];
    writeSafetensors(join(dir, 'd.safetensors'), {
      x: { dtype: 'F32', shape: [B, T, spec.inputSize], data: new Float32Array(B * T * spec.inputSize).fill(0.5) },
      y: spec.returnSequences ? { dtype: 'I32', shape: [B, T], data: new Int32Array(B * T) } : { dtype: 'I32', shape: [B], data: new Int32Array(B) },
      mask: { dtype: 'U8', shape: [B, T], data: new Uint8Array(B * T) },
    });
    expectOneLineError(rnnlab(['check', '--spec', join(dir, 'spec.json'), '--data', join(dir, 'd.safetensors'), '--no-tfjs']), /the mask hides every step/, expect);
  });

  test('safetensors: duplicate names, overlapping or unindexed bytes are refused; I64 is named I64', () => {
    const t = { a: { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: 'F32' as const, shape: [1], data: new Float32Array([3]) } };
    const good = encodeSafetensors(t);
    expect(decodeSafetensors(good).tensors.b.data[0]).toBe(3);
    const withHeader = (h: string, data: number[]): Uint8Array => {
      const head = new TextEncoder().encode(h);
      const out = new Uint8Array(8 + head.length + data.length * 4);
      new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
      out.set(head, 8);
      out.set(new Uint8Array(Float32Array.from(data).buffer), 8 + head.length);
      return out;
    };
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [1, 2]), 'x')).toThrow(/the tensor name "a" appears twice/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [1, 2]), 'x')).toThrow(/overlaps/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [1, 2]), 'x')).toThrow(/4 bytes after the last tensor belong to no tensor/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [1, 2]), 'x')).toThrow(/bytes 0\.\.4 of the data belong to no tensor/);
    // an I64 weight: the message names the file's dtype
    const spec = makeSpec({ cell: 'rnn' });
    const p = randomTestParams(spec, 1);
    const dir = tmp('i64');
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(specToJSON(spec)));
    const k = p['layers.0.kernel'];
    const big = new BigInt64Array(k.data.length);
    writeSafetensors(join(dir, 'w.safetensors'), { ...p, 'layers.0.kernel': { dtype: 'I32', shape: k.shape, data: new Int32Array(k.data.length) } });
    // rewrite that tensor as I64 by hand
    const raw = readFileSync(join(dir, 'w.safetensors'));
    const n = Number(raw.readBigUInt64LE(0));
    const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
    const body: Buffer[] = [];
    let at = 0;
    const names = Object.keys(header).filter((x) => x !== '__metadata__');
    for (const name of names) {
      const [s, e] = header[name].data_offsets;
      const bytes = name === 'layers.0.kernel' ? Buffer.from(big.buffer) : raw.subarray(8 + n + s, 8 + n + e);
      header[name] = { ...header[name], dtype: name === 'layers.0.kernel' ? 'I64' : header[name].dtype, data_offsets: [at, at + bytes.length] };
      at += bytes.length;
      body.push(bytes);
    }
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(join(dir, 'w.safetensors'), Buffer.concat([len, h, ...body]));
    expectOneLineError(rnnlab(['check', '--spec', join(dir, 'spec.json'), '--weights', join(dir, 'w.safetensors'), '--no-tfjs']), /layers\.0\.kernel is I64, expected F32 or F64/, expect);
  });

  test('JSON: a BOM is accepted, a duplicated key refused (spec files and everything else read as JSON)', () => {
    expect(parseJsonText('\uFEFF{"a":1}', 'x')).toEqual({ a: 1 });
    expect(duplicateKey('{"a":{"b":1,"c":[{"b":2}]},"b":3}')).toBeNull();
    expect(duplicateKey('{"a":1,"b":{"x":1,"x":2}}')).toBe('x');
    expect(duplicateKey('{"a\\"q":1,"a\\"q":2}')).toBe('a"q');
    const dir = tmp('json');
    const spec = JSON.stringify(specToJSON(makeSpec({ cell: 'gru' })));
    writeFileSync(join(dir, 'bom.json'), '\uFEFF' + spec);
    const ok = rnnlab(['gradcheck', '--spec', join(dir, 'bom.json'), '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    writeFileSync(join(dir, 'dup.json'), spec.replace('{', '{"hiddenSize":3,'));
    expectOneLineError(rnnlab(['gradcheck', '--spec', join(dir, 'dup.json')]), /the key "hiddenSize" appears twice in one object/, expect);
  });

  test('flags of another task are refused, not ignored', () => {
    expectOneLineError(rnnlab(['train', '--dataset', 'co2', '--steps', '1']), /--dataset is a series\/classify\/seq2seq flag; the text task does not use it/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'series', '--text', 'x.txt', '--steps', '1']), /--text is a text flag; the series task does not use it/, expect);
  });
});

describe('file system errors', () => {
  test.each([
    ['ENOSPC', 'write', /out\/x: no space left on the device; free some space or write elsewhere/],
    ['EROFS', 'open', /out\/x: the file system is read-only; choose another place to write/],
    ['EACCES', 'mkdir', /out\/x: permission denied/],
    ['EDQUOT', 'write', /out\/x: the disk quota is exhausted/],
    ['EMFILE', 'open', /too many open files/],
  ])('%s is one line for the user', async (code, syscall, msg) => {
    const { systemErrorMessage } = await import('../src/cli.js');
    const e = Object.assign(new Error(`${code}: something`), { code, syscall, path: 'out/x' });
    expect(systemErrorMessage(e)).toMatch(msg);
    expect(systemErrorMessage(new Error('plain'))).toBeNull(); // a real bug stays an internal error
  });

  test('a file written atomically is named as the user asked for it, not by its temporary name', async () => {
    const { systemErrorMessage } = await import('../src/cli.js');
    const e = Object.assign(new Error('EROFS'), { code: 'EROFS', syscall: 'open', path: 'out/.report.html.4242.k3j9x.tmp' });
    expect(systemErrorMessage(e)).toBe('out/report.html: the file system is read-only; choose another place to write (another --out or -o)');
    const top = Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'open', path: '.labels.csv.17.abc.tmp' });
    expect(systemErrorMessage(top)).toMatch(/^labels\.csv: permission denied/);
  });
});
