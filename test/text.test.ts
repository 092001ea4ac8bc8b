/**
 * Text tasks: corpora, tokenizers, batching, training runs with checkpoints and exact resume,
 * generation, and bad input.
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadCorpus, stripGutenberg } from '../src/data/corpus.js';
import { ByteTokenizer, CharTokenizer, WordTokenizer, tokenizerFromJSON } from '../src/data/tokenizers.js';
import { readJsonl } from '../src/io/run-dir.js';
import { parseSpec } from '../src/spec.js';
import { TextTask } from '../src/tasks/text.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';

const VERNE = join(__dirname, '..', '..', 'shared', 'data', 'julesverne');
const hasVerne = existsSync(VERNE);

function corpusFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-text-'));
  const lines: string[] = [];
  for (let i = 0; i < 120; i++) lines.push(`The sea was calm on day ${i % 7}, and the whale swam ${i % 3 === 0 ? 'north' : 'south'}.`);
  const path = join(dir, 'book.txt');
  writeFileSync(path, `Header junk\n*** START OF THE PROJECT GUTENBERG EBOOK TEST ***\n${lines.join('\n')}\n*** END OF THE PROJECT GUTENBERG EBOOK TEST ***\nLicence text that must go.\n`);
  return path;
}

describe('corpus and tokenizers', () => {
  test('Gutenberg licence text outside the markers is stripped', () => {
    const r = stripGutenberg('licence\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nbody text\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore licence');
    expect(r.text).toBe('body text\n');
    const c = loadCorpus([corpusFile()]);
    expect(c.text.startsWith('The sea was calm')).toBe(true);
    expect(c.text).not.toContain('Licence');
    expect(loadCorpus([corpusFile()], { keepLicense: true }).text).toContain('Licence');
  });

  test('Moby Dick is the default corpus', () => {
    const c = loadCorpus(undefined);
    expect(c.text.length).toBeGreaterThan(1_000_000);
    expect(c.text).toContain('Call me Ishmael.');
  });

  test('chars, bytes256 and words round trip', () => {
    const text = 'Café — "naïve" text, twice.\n\nNew paragraph!';
    const c = CharTokenizer.fromText(text);
    expect(c.decode(c.encode(text))).toBe(text);
    const b = new ByteTokenizer();
    expect(b.encode('é')).toEqual(Int32Array.of(0xc3, 0xa9));
    expect(b.decode(b.encode(text))).toBe(text);
    const w = WordTokenizer.fromText(text, 100);
    expect(w.decode(w.encode(text))).toBe('café — "naïve" text, twice.\n\nnew paragraph!');
    const small = WordTokenizer.fromText('a a a b b c', 2);
    expect(small.symbols).toEqual(['<unk>', 'a', 'b']);
    expect(Array.from(small.encode('a c b'))).toEqual([1, 0, 2]);
    expect(tokenizerFromJSON(JSON.parse(JSON.stringify(w.toJSON()))).decode(w.encode(text))).toBe(w.decode(w.encode(text)));
  });
});

describe('text batches', () => {
  const spec = parseSpec({ cell: 'rnn', inputSize: 10, hiddenSize: 4, outputSize: 10, input: 'tokens' });
  const ids = Int32Array.from({ length: 101 }, (_, i) => i % 10);
  const opts = { batch: 2, seq: 5, windows: 'consecutive' as const, valTokens: 100, sampleLength: 5, temperature: 1, seed: 1 };

  test('consecutive windows: B streams from the start, y = x shifted, state reset at each epoch', () => {
    const t = new TextTask(spec, new CharTokenizer('0123456789'.split('')), ids, ids.subarray(0, 0), opts, 'digits');
    // streams of 50 tokens: row 0 starts at 0, row 1 at 50
    const a = t.nextBatch();
    expect(a.resetState).toBe(true);
    expect(Array.from(a.batch.x)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect(Array.from(a.batch.y!)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    const b = t.nextBatch();
    expect(b.resetState).toBe(false);
    expect(Array.from(b.batch.x).slice(0, 5)).toEqual([5, 6, 7, 8, 9]);
    expect(t.stepsPerEpoch).toBe(9); // floor((50 - 1) / 5)
    for (let i = 2; i < 9; i++) t.nextBatch();
    expect(t.nextBatch().resetState).toBe(true); // a new epoch starts from a zero state
    expect(t.epochProgress()).toBeCloseTo(1 + 1 / 9, 10);
  });

  test('a corpus shorter than one window per row is refused', () => {
    expect(() => new TextTask(spec, new CharTokenizer('0123456789'.split('')), ids.subarray(0, 10), ids, { ...opts, batch: 4 }, 'digits')).toThrow(
      /has 10 tokens; one window of 5 \(\+1\) tokens for each of 4 batch rows needs 24/,
    );
  });
});

describe('rnnlab train --task text and generate', () => {
  const common = ['--seq', '12', '--batch', '4', '--hidden', '16', '--seed', '7'];

  test('a run writes run.json, metrics, samples, checkpoints; --json ends with the summary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-run-'));
    const r = rnnlab(['train', '--task', 'text', '--text', corpusFile(), ...common, '--steps', '12', '--sample-at', '6,12', '--sample-length', '20', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    expect(last.type).toBe('final');
    expect(last.steps).toBe(12);
    expect(last.elapsedSeconds).toBeGreaterThan(0);
    expect(last.validation.scratch.valBitsPerChar).toBeCloseTo(last.validation.scratch.valLoss / Math.LN2, 10);
    expect(lines.filter((l) => l.type === 'sample').map((l) => l.step)).toEqual([6, 12]);
    const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    expect(run.spec.input).toBe('tokens');
    expect(run.engines).toEqual(['scratch']);
    expect(readJsonl(join(dir, 'metrics.jsonl')).some((m) => m.type === 'step')).toBe(true);
    expect(readJsonl(join(dir, 'samples.jsonl'))).toHaveLength(2);
    for (const f of ['spec.json', 'params.safetensors', 'optimizer.safetensors', 'state.safetensors', 'vocab.json', 'meta.json']) {
      expect(existsSync(join(dir, 'checkpoints', 'step-12', f)), f).toBe(true);
    }
  });

  test('--resume continues exactly: the same losses as an uninterrupted run', () => {
    const file = corpusFile();
    const a = mkdtempSync(join(tmpdir(), 'rnnlab-a-'));
    const b = mkdtempSync(join(tmpdir(), 'rnnlab-b-'));
    const args = ['train', '--text', file, ...common, '--optimizer', 'adam', '--sample-every', '4', '--sample-length', '10', '--log-every', '1', '--json'];
    expect(rnnlab([...args, '--steps', '10', '--out', a]).code).toBe(0);
    expect(rnnlab([...args, '--steps', '4', '--out', b]).code).toBe(0);
    const r = rnnlab(['train', '--resume', join(b, 'checkpoints', 'step-4'), '--steps', '10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const loss = (dir: string): number[] => readJsonl(join(dir, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => (m.loss as Record<string, number>).scratch);
    expect(loss(b)).toEqual(loss(a)); // every step, bit for bit
    const samples = (dir: string): string[] => readJsonl(join(dir, 'samples.jsonl')).map((s) => String(s.text));
    expect(samples(b)).toEqual(samples(a));
    expect(readFileSync(join(b, 'checkpoints', 'step-10', 'params.safetensors')).equals(readFileSync(join(a, 'checkpoints', 'step-10', 'params.safetensors')))).toBe(true);
    // hyperparameters cannot change on resume
    expectOneLineError(rnnlab(['train', '--resume', b, '--steps', '12', '--lr', '0.1']), /--lr cannot change on --resume/, expect);
  });

  test('both engines side by side; generate from a tfjs-made checkpoint with either engine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-both-'));
    const r = rnnlab(['train', '--text', corpusFile(), ...common, '--steps', '4', '--engine', 'both', '--backend', 'wasm', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loss scratch\s+loss tfjs-wasm\s+param diff/);
    expect(r.stdout).toMatch(/engines agree: tfjs-wasm and scratch stay within 2e-3, the trajectory tolerance of check; largest parameter difference \d\.\d\de-\d at step \d/);
    expect(existsSync(join(dir, 'checkpoints', 'step-4', 'tfjs.params.safetensors'))).toBe(true);

    const t = mkdtempSync(join(tmpdir(), 'rnnlab-tfjs-'));
    expect(rnnlab(['train', '--text', corpusFile(), ...common, '--steps', '3', '--engine', 'tfjs', '--backend', 'wasm', '--out', t]).code).toBe(0);
    const g = (extra: string[]): string => {
      const out = rnnlab(['generate', '--checkpoint', t, '--length', '30', '--prime', 'The sea', '--json', ...extra]);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout).text;
    };
    expect(g(['--temperature', '0'])).toBe(g(['--temperature', '0', '--seed', '99'])); // greedy ignores the seed
    expect(g(['--seed', '5'])).toBe(g(['--seed', '5'])); // a fixed seed gives the same text
    expect(g(['--temperature', '0'])).toBe(g(['--temperature', '0', '--engine', 'tfjs', '--backend', 'wasm'])); // either engine
    expect(g(['--seed', '5'])).toHaveLength(30);
  });

  test('a loss that turns NaN stops the run at that step and keeps the last good checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-nan-'));
    const r = rnnlab(['train', '--text', corpusFile(), ...common, '--steps', '20', '--optimizer', 'sgd', '--lr', '1e38', '--clip-norm', '1e38', '--checkpoint-every', '1', '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const m = /loss became (NaN|Infinity) at step (\d+); training stopped \(the last good checkpoint is (.*step-(\d+))\)/.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(Number(m![4])).toBe(Number(m![2]) - 1);
    expect(existsSync(join(m![3], 'params.safetensors'))).toBe(true);
  });

  test('bad input: one clear line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-bad-'));
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'missing.txt')]), /missing\.txt: no such file/, expect);
    writeFileSync(join(dir, 'empty.txt'), '');
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'empty.txt')]), /empty\.txt: the file is empty/, expect);
    writeFileSync(join(dir, 'bin.txt'), Buffer.from([72, 105, 0, 1, 2]));
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'bin.txt')]), /bin\.txt: looks binary \(a NUL byte at offset 2\)/, expect);
    writeFileSync(join(dir, 'latin1.txt'), Buffer.from([72, 233, 108, 108, 111]));
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'latin1.txt')]), /latin1\.txt: is not valid UTF-8 text/, expect);
    writeFileSync(join(dir, 'short.txt'), 'tiny text');
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'short.txt'), '--seq', '50']), /training text has \d+ tokens; one window of 50/, expect);
    writeFileSync(join(dir, 'one.txt'), 'a'.repeat(5000));
    expectOneLineError(rnnlab(['train', '--text', join(dir, 'one.txt')]), /vocabulary has 1 symbol \("a"\); a language model needs at least 2/, expect);
    // a checkpoint from another spec
    const run = mkdtempSync(join(tmpdir(), 'rnnlab-ck-'));
    expect(rnnlab(['train', '--text', corpusFile(), ...common, '--steps', '2', '--out', run]).code).toBe(0);
    const ck = join(run, 'checkpoints', 'step-2');
    const other = join(dir, 'other');
    cpSync(ck, other, { recursive: true });
    const spec = JSON.parse(readFileSync(join(other, 'spec.json'), 'utf8'));
    writeFileSync(join(other, 'spec.json'), JSON.stringify({ ...spec, hiddenSize: 32 }));
    expectOneLineError(rnnlab(['generate', '--checkpoint', other]), /params\.safetensors do not match the spec: layers\.0\.kernel has shape/, expect);
    copyFileSync(join(ck, 'spec.json'), join(other, 'spec.json'));
    writeFileSync(join(other, 'vocab.json'), JSON.stringify({ kind: 'chars', symbols: ['a', 'b'] }));
    expectOneLineError(rnnlab(['generate', '--checkpoint', other]), /vocab\.json has 2 symbols but the model expects/, expect);
    expectOneLineError(rnnlab(['generate', '--checkpoint', ck, '--prime', 'Zqx~']), /--prime has characters outside the vocabulary/, expect);
  });
});

describe.skipIf(!hasVerne)('verne presets (../shared/data/julesverne)', () => {
  test('verne-char-rnn reproduces the study settings; flags override the preset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-verne-'));
    const r = rnnlab(['train', '--preset', 'verne-char-rnn', '--corpus-dir', VERNE, '--steps', '5', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    expect(run.spec).toMatchObject({ cell: 'rnn', inputSize: 256, hiddenSize: 128, outputSize: 256, lossReduction: 'sumOverTime' });
    expect(run.optimizer).toMatchObject({ name: 'adagrad', lr: 0.01, initialAccumulatorValue: 0, epsilon: 1e-8, clipValue: 5 });
    expect(run.optimizer.clipNorm).toBeUndefined();
    expect(run.flags).toMatchObject({ batch: 1, seq: 50, windows: 'consecutive', steps: 5 });
    const first = readJsonl(join(dir, 'metrics.jsonl')).find((m) => m.type === 'step')!;
    // summed over 50 steps from small random weights: about 50 ln 256 = 277.26
    expect(Math.abs((first.loss as Record<string, number>).scratch - 50 * Math.log(256))).toBeLessThan(3);
  });

  test('a missing corpus directory is a clear error', () => {
    expectOneLineError(rnnlab(['train', '--preset', 'verne-word-rnn', '--corpus-dir', '/nonexistent']), /needs the Jules Verne novels: pass --corpus-dir/, expect);
  });
});
