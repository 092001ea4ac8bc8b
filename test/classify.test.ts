/**
 * Classification: padding + masking gives each sequence the result it has alone, in both engines
 * alike; metrics against hand counts; the CLI (json summary, predict); bad input.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { CharTokenizer } from '../src/data/tokenizers.js';
import type { Batch, Engine, State } from '../src/engine.js';
import { randomTestParams } from '../src/params.js';
import { parseSpec } from '../src/spec.js';
import { ClassifyTask, encodeBatch, splitExamples } from '../src/tasks/classify.js';
import { createTfjsEngine } from '../tfjs/engine.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { expectClose } from './helpers/close.js';

describe('variable lengths: padding and masking', () => {
  test.each(['lstm', 'gru', 'rnn'] as const)('%s: a padded, masked batch equals each sequence alone, in scratch and tfjs', async (cell) => {
    const spec = parseSpec({ cell, inputSize: 9, hiddenSize: 6, outputSize: 3, input: 'tokens', returnSequences: false });
    const params = randomTestParams(spec, 2);
    const seqs = [Int32Array.of(1, 2, 3, 4, 5, 6, 7), Int32Array.of(8, 1), Int32Array.of(3, 3, 3, 3)];
    const batch = encodeBatch(seqs.map((ids, label) => ({ ids, label })), 100);
    expect(batch.seqLen).toBe(8); // rounded up to a multiple of 4
    const engines: Engine[] = [new ScratchEngine(spec, { params }), await createTfjsEngine(spec, { backend: 'wasm', params })];
    const outs = await Promise.all(engines.map(async (e) => (await e.forward(batch)).output));
    const alone = new Float32Array(9);
    seqs.forEach((ids, b) => alone.set(new ScratchEngine(spec, { dtype: 'float64', params }).forward({ batchSize: 1, seqLen: ids.length, x: ids }).output, b * 3));
    for (const o of outs) expectClose('padded-batch output of one sequence', o, alone, 'forward');
    // gradients agree too (the masked steps contribute nothing)
    const g = await Promise.all(engines.map(async (e) => (await e.lossAndGrads(batch)).grads));
    for (const name of Object.keys(g[0])) expectClose(name, g[1][name].data, g[0][name].data, 'grad');
    engines[1].dispose();
  });
});

/** An engine that predicts class = the first token id (for metric tests). */
class FirstTokenEngine implements Engine {
  readonly name = 'first-token';
  constructor(readonly spec: ReturnType<typeof parseSpec>) {}
  forward(b: Batch): { output: Float32Array; finalState: State } {
    const out = new Float32Array(b.batchSize * this.spec.outputSize);
    for (let i = 0; i < b.batchSize; i++) out[i * this.spec.outputSize + ((b.x[i * b.seqLen] as number) % this.spec.outputSize)] = 10;
    return { output: out, finalState: { h: [] } };
  }
  getParams(): never { throw new Error('unused'); }
  setParams(): void {}
  lossAndGrads(): never { throw new Error('unused'); }
  step(): never { throw new Error('unused'); }
  async optimizerState(): Promise<never> { throw new Error('unused'); }
  async setOptimizerState(): Promise<void> {}
  dispose(): void {}
}

describe('metrics', () => {
  test('accuracy, precision, recall, F1, confusion and the majority baseline, by hand', async () => {
    const tok = new CharTokenizer(['<unk>', 'a', 'b']); // ids: a = 1, b = 2
    const spec = parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 2, outputSize: 3, input: 'tokens', returnSequences: false });
    const ex = (text: string, label: string): { text: string; label: string } => ({ text, label });
    // classes sorted: x (0), y (1), z (2); the engine predicts class = first id % 3: "a.." -> y, "b.." -> z
    const task = new ClassifyTask(
      spec,
      tok,
      ['x', 'y', 'z'],
      { train: [ex('a', 'y'), ex('a', 'y'), ex('b', 'z')], val: [], test: [ex('a', 'y'), ex('a', 'x'), ex('b', 'z'), ex('b', 'y'), ex('ab', 'y')] },
      { batch: 2, maxLen: 10, bucketing: true, seed: 1 },
      'toy',
    );
    const m = await task.metrics(new FirstTokenEngine(spec), task.parts.test);
    expect(m.confusion).toEqual([
      [0, 1, 0],
      [0, 2, 1],
      [0, 0, 1],
    ]);
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
    expect(m.baselineAccuracy).toBeCloseTo(3 / 5, 12); // majority class of the training set: y
    expect(m.majorityClass).toBe('y');
    const y = m.perClass[1];
    expect(y.precision).toBeCloseTo(2 / 3, 12);
    expect(y.recall).toBeCloseTo(2 / 3, 12);
    expect(y.f1).toBeCloseTo(2 / 3, 12);
    expect(m.perClass[2]).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
  });

  test('a single class is refused', () => {
    expect(() => splitExamples(Array.from({ length: 20 }, () => ({ text: 'a', label: 'only' })), 1)).toThrow(/single class \("only"\)/);
  });
});

describe('rnnlab train --task classify, predict', () => {
  test('names: --json summary with accuracy, baseline, per-class metrics and the confusion matrix; predict', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-c-'));
    const r = rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--steps', '60', '--hidden', '24', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(last.test.classes).toEqual(['female', 'male']);
    expect(last.test.baselineAccuracy).toBeGreaterThan(0.5);
    expect(last.test.perClass).toHaveLength(2);
    // the metrics agree with the confusion matrix, recomputed here (rows: truth, columns: prediction)
    const cm = last.test.confusion as number[][];
    expect(cm.flat().reduce((a, b) => a + b, 0)).toBe(last.test.n);
    expect(last.test.accuracy).toBeCloseTo((cm[0][0] + cm[1][1]) / last.test.n, 12);
    const m = last.test.classes.indexOf(last.test.majorityClass); // the training set's majority class, counted in the test set
    expect(last.test.baselineAccuracy).toBeCloseTo((cm[m][0] + cm[m][1]) / last.test.n, 12);
    for (const c of [0, 1]) {
      const col = cm[0][c] + cm[1][c];
      const row = cm[c][0] + cm[c][1];
      if (col > 0) expect(last.test.perClass[c].precision).toBeCloseTo(cm[c][c] / col, 12);
      expect(last.test.perClass[c].recall).toBeCloseTo(cm[c][c] / row, 12);
    }
    // training and prediction share the preprocessing (character level lowercases), recorded in data.json
    const data = JSON.parse(readFileSync(join(dir, 'checkpoints', `step-60`, 'data.json'), 'utf8'));
    expect(data.lowercase).toBe(true);
    const probs = (t: string): unknown => JSON.parse(rnnlab(['predict', '--checkpoint', dir, t, '--json']).stdout).probabilities;
    expect(probs('JENNIFER')).toEqual(probs('jennifer'));
    const p = rnnlab(['predict', '--checkpoint', dir, 'Jennifer', '--json']);
    expect(p.code, p.stderr).toBe(0);
    const out = JSON.parse(p.stdout);
    expect(['female', 'male']).toContain(out.label);
    expect(out.probabilities.female + out.probabilities.male).toBeCloseTo(1, 10);
    const human = rnnlab(['predict', '--checkpoint', dir, 'Jennifer']);
    expect(human.stdout).toMatch(/^(female|male) {2}\(\d+\.\d%\)/);
    // several texts at once, as translate takes them: each gets what it gets alone
    const many = JSON.parse(rnnlab(['predict', '--checkpoint', dir, 'Jennifer', 'JENNIFER', 'Tom', '--json']).stdout);
    expect(many.predictions.map((x: { text: string }) => x.text)).toEqual(['Jennifer', 'JENNIFER', 'Tom']);
    expect(many.predictions[0].probabilities).toEqual(out.probabilities);
    expect(many.predictions[2].probabilities).toEqual(probs('Tom'));
    expect(rnnlab(['predict', '--checkpoint', dir, 'Jennifer', 'Tom']).stdout).toMatch(/^Tom\s+(female|male)\s+\d\.\d{4}\s+\d\.\d{4}$/m);
  });

  test('a CSV with text and label columns, word level, both engines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-csv-'));
    const rows = ['review,sentiment'];
    for (let i = 0; i < 60; i++) rows.push(i % 2 ? `"great fun, loved it ${i}",pos` : `"dull and slow, hated it ${i}",neg`);
    writeFileSync(join(dir, 'r.csv'), rows.join('\n'));
    const r = rnnlab(['train', '--task', 'classify', '--csv', join(dir, 'r.csv'), '--text-column', 'review', '--label-column', 'sentiment', '--steps', '20', '--engine', 'both', '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(Object.keys(last.testByEngine)).toEqual(['scratch', 'tfjs-wasm']);
    expect(last.maxParamDiff).toBeLessThan(2e-3);
  });

  test('bad input: one clear line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-cbad-'));
    writeFileSync(join(dir, 'one.csv'), ['t,l', ...Array.from({ length: 20 }, (_, i) => `x${i},same`)].join('\n'));
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--csv', join(dir, 'one.csv'), '--text-column', 't', '--label-column', 'l']), /single class \("same"\)/, expect);
    writeFileSync(join(dir, 'empty.csv'), 't,l\nhello,a\n  ,b\n');
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--csv', join(dir, 'empty.csv'), '--text-column', 't', '--label-column', 'l']), /empty\.csv line 3: empty text in column "t"/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--csv', join(dir, 'empty.csv'), '--text-column', 'text', '--label-column', 'l']), /no column "text" \(--text-column\)/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'classify', '--dataset', 'movies']), /unknown classification dataset "movies"/, expect);
  });
});
