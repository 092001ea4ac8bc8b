/**
 * Every command gives an engine exactly what its handshake claims, and gets the same result
 * another way or refuses at the start (docs/engines.md, "The handshake's supports"). The engines
 * are test/fixtures/engines/hand-written*.mjs (float64, plain JS, no rnnlab code): one claiming
 * plain SGD only (no clipping, no carried state, no optimizer state), one without biases.
 * Float64 against float64: losses, samples and validation agree to rounding (1e-10).
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { check, generatedInputs } from '../compare/check.js';
import { openProvider } from '../src/engines/registry.js';
import { optimizerSpec } from '../src/optimizer.js';
import { randomTestParams } from '../src/params.js';
import { parseSpec } from '../src/spec.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';

const FIX = join(ROOT, 'test', 'fixtures', 'engines');
const SGD = join(FIX, 'hand-written-sgd.mjs');
const NOBIAS = join(FIX, 'hand-written-nobias.mjs');
const NO_OPT = join(FIX, 'plain-no-optimizer-state.mjs');

function corpus(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-caps-'));
  const file = join(dir, 'fox.txt');
  writeFileSync(file, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  return file;
}

const jsonLines = (s: string): Record<string, unknown>[] => s.trim().split('\n').map((l) => JSON.parse(l));

describe('a text run with an engine that claims neither carriedState nor optimizerState', () => {
  const text = corpus();
  const base = ['train', '--text', text, '--cell', 'rnn', '--hidden', '6', '--seq', '8', '--batch', '4', '--optimizer', 'sgd', '--lr', '0.5', '--sample-length', '20', '--engines', 'scratch-f64', '--engines', SGD];

  test('refuses at the start what it cannot do: clipping (--clip-norm 0 avoids it), consecutive windows (--windows random)', () => {
    expectOneLineError(rnnlab([...base, '--steps', '2', '--windows', 'random']), /engine hand-written-sgd cannot train this model: it does not support gradient clipping; train without clipping with --clip-norm 0$/, expect);
    expectOneLineError(rnnlab([...base, '--steps', '2', '--clip-norm', '0']), /engine hand-written cannot train the text task: it does not support a carried state \(carriedState\), which --windows consecutive passes from one window to the next; --windows random trains every window from a zero state$/, expect);
  });

  test('runs to the end with random windows: samples and validation equal scratch-f64\'s; its checkpoints hold its parameters; --resume says its optimizer restarts', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rnnlab-caps-run-')), 'run');
    const r = rnnlab([...base, '--steps', '6', '--clip-norm', '0', '--windows', 'random', '--sample-at', '3', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const recs = jsonLines(r.stdout);
    const samples = recs.filter((x) => x.type === 'sample');
    expect(samples.length).toBe(4); // at step 3 and 6, each engine
    for (const step of [3, 6]) {
      const [a, b] = samples.filter((x) => x.step === step);
      expect(a.engine).toBe('scratch-f64');
      expect(b.engine).toBe('hand-written');
      expect(b.text).toBe(a.text); // the same random stream, the same model: the same text (prefix re-run for every token)
    }
    const vals = recs.filter((x) => x.type === 'val');
    for (const step of [3, 6]) {
      const [a, b] = vals.filter((x) => x.step === step);
      expect(Math.abs((b.valLoss as number) - (a.valLoss as number))).toBeLessThan(1e-10); // whole streams in one pass against windows with the state carried
    }
    const final = recs[recs.length - 1];
    expect(final.type).toBe('final');
    expect(final.steps).toBe(6);
    const ck = join(out, 'checkpoints', 'step-6');
    expect(readdirSync(ck)).toEqual(expect.arrayContaining(['hand-written.params.safetensors', 'params.safetensors', 'optimizer.safetensors']));
    expect(readdirSync(ck)).not.toContain('hand-written.optimizer.safetensors');
    const resumed = rnnlab(['train', '--resume', out, '--steps', '7', '--engines', `scratch-f64,${SGD}`]); // a module engine is named again, never read from the folder
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('rnnlab: note: hand-written keeps no optimizer state (its handshake does not claim optimizerState): its optimizer restarts at step 6 (sgd keeps nothing between steps, so nothing is lost)');
    expect(resumed.stdout).toContain('note: hand-written: it has no carried state (carriedState): its samples run the whole text so far again for every new token, and its validation reads each stream in one pass');
  });

  test('generate runs a checkpoint on it (forward passes only: no optimizer needed) and gives scratch-f64\'s text', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rnnlab-caps-gen-')), 'run');
    expect(rnnlab([...base, '--steps', '3', '--clip-norm', '0', '--windows', 'random', '--out', out]).code).toBe(0);
    const gen = (engine: string): string => {
      const g = rnnlab(['generate', '--checkpoint', out, '--engine', engine, '--length', '30', '--seed', '5', '--json']);
      expect(g.code, g.stderr).toBe(0);
      return JSON.parse(g.stdout).text;
    };
    expect(gen(join(FIX, 'hand-written.mjs'))).toBe(gen('scratch-f64')); // hand-written.mjs claims no optimizer at all
  });
});

describe('an adam engine that claims no optimizerState, resumed beside one that keeps its state', () => {
  test('the verdict names its optimizer restart as the known difference, not "no known difference"', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rnnlab-caps-restart-')), 'run');
    const args = ['--cell', 'rnn', '--hidden', '8', '--seq', '8', '--batch', '4', '--optimizer', 'adam', '--lr', '0.05', '--sample-length', '5'];
    const first = rnnlab(['train', '--text', corpus(), ...args, '--steps', '4', '--engines', `scratch-f64,${NO_OPT}`, '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^engines agree: plain-no-opt and scratch-f64 stay within/m); // the same float64 steps until the resume
    const resumed = rnnlab(['train', '--resume', out, '--steps', '8', '--engines', `scratch-f64,${NO_OPT}`]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('rnnlab: note: plain-no-opt keeps no optimizer state (its handshake does not claim optimizerState): its optimizer restarts at step 4, so the run does not continue exactly');
    expect(resumed.stdout).toMatch(/^engines part ways: plain-no-opt and scratch-f64 differ by more than \S+ \(the trajectory tolerance of check\) from step 5;/m);
    expect(resumed.stdout).toContain("  a known difference explains it: plain-no-opt keeps no optimizer state, so its adam optimizer restarted at step 4 on --resume while the others' continued");
    expect(resumed.stdout).not.toContain('no known difference');
  });
});

describe('bench with an sgd-only engine without clipping', () => {
  const args = ['bench', '--engine', 'scratch', '--engine', SGD, '--cell', 'rnn', '--hidden', '6', '--batch', '2', '--seq', '5', '--input', '4', '--repeats', '1', '--warmup', '0', '--threads', '1', '--baseline', 'hand-written-sgd', '--json'];

  test('--optimizer sgd --lr times it; with adam it skips every row and the footer says the baseline ran nothing', () => {
    const r = rnnlab([...args, '--optimizer', 'sgd', '--lr', '0.1']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).rows;
    expect(rows.map((x: { engine: string }) => x.engine).sort()).toEqual(['hand-written-sgd', 'scratch']);
    const adam = rnnlab(args.filter((a) => a !== '--json'));
    expect(adam.code, adam.stderr).toBe(0);
    expect(adam.stderr).toContain('hand-written-sgd skips rnn H=6 B=2: it does not support the adam optimizer (it supports sgd)');
    expect(adam.stdout).toMatch(/ratio: none, the baseline hand-written-sgd ran no configuration/);
  });
});

describe('biases: false', () => {
  test('check sends it no biases, starts every engine from zero biases, compares no bias gradients, and trains it beside a reference whose biases stay zero', async () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 5 });
    const r = await check(generatedInputs(spec, { batch: 3, seq: 5, seed: 2 }), {
      optimizer: optimizerSpec('sgd', { lr: 0.5 }),
      steps: 3,
      engines: [{ kind: 'scratch', dtype: 'float32' }, { kind: 'module', path: NOBIAS }],
    });
    const { report } = r;
    expect(report.failures).toEqual([]);
    expect(report.pass).toBe(true);
    const biasRows = report.gradients.filter((g) => g.engine === 'no-bias' && g.what.endsWith('bias'));
    expect(biasRows).toEqual([]);
    expect(report.gradients.filter((g) => g.engine === 'scratch').length).toBe(5);
    expect(report.coverage['no-bias']).toEqual({
      compared: ['forward', 'loss', 'gradients (no biases)', 'lockstep training'],
      notCompared: [{ what: 'bias gradients', why: 'it has no biases (biases: false)' }],
    });
    expect(report.trajectory.pair).toBeNull(); // a model with biases and one without are not compared with each other
    expect(r.notes[0]).toMatch(/^every engine starts from zero biases: no-bias has none \(biases: false\)/);
    expect(r.raw.final['no-bias']['layers.0.kernel']).toBeDefined();
  });
});

describe('what is not claimed is never sent', () => {
  test('a module engine is never sent a mask, a carried state or a per-step request it does not claim (a bug in rnnlab if it were)', async () => {
    const spec = parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 5 });
    const p = await openProvider({ kind: 'module', path: SGD });
    const e = await p.open(spec, { params: randomTestParams(spec, 1), optimizer: optimizerSpec('sgd') });
    const b = generatedInputs(spec, { batch: 2, seq: 4, seed: 1, mask: true, carriedState: true }).batch;
    await expect(async () => e.forward({ ...b, initialState: undefined })).rejects.toThrow(/rnnlab would send hand-written a mask, which its handshake does not claim \(supports\.mask\): a bug in rnnlab/);
    await expect(async () => e.forward({ ...b, mask: undefined })).rejects.toThrow(/an initial state, which its handshake does not claim \(supports\.carriedState\)/);
    await expect(async () => e.lossAndGrads({ ...b, mask: undefined, initialState: undefined }, { stateGrads: true })).rejects.toThrow(/a request for per-step gradients/);
    await expect(async () => e.optimizerState()).rejects.toThrow(/an optimizer-state request/);
    expect((await e.forward({ ...b, mask: undefined, initialState: undefined })).output.length).toBe(2 * 4 * 5);
    await p.close();
  });

  test('check with a mask an engine does not claim: one line, exit 2', () => {
    expectOneLineError(
      rnnlab(['check', '--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '5', '--seq', '5', '--batch', '3', '--mask', '--engines', SGD]),
      /engine hand-written-sgd cannot run any of this check: it does not support masks; its handshake claims: cells rnn, lstm, gru; dtypes float64; optimizers sgd; at most 1 layer$/,
      expect,
    );
  });

  test('--clip-norm 0 turns clipping off in check too', () => {
    const r = rnnlab(['check', '--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '5', '--seq', '5', '--batch', '3', '--optimizer', 'sgd', '--clip-norm', '0', '--steps', '2', '--engines', SGD, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.optimizer.clipNorm).toBeUndefined();
    expect(j.coverage['hand-written']).toEqual({ compared: ['forward', 'loss', 'gradients', 'lockstep training'], notCompared: [] });
  });
});

test('check with a carried initial state to an engine without carriedState: one line, exit 2', () => {
  expectOneLineError(
    rnnlab(['check', '--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '5', '--seq', '5', '--batch', '3', '--carried-state', '--engines', SGD]),
    /engine hand-written-sgd cannot run any of this check: it does not support a carried initial state; its handshake claims: /,
    expect,
  );
});
