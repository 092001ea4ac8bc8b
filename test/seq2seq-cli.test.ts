/**
 * The seq2seq task through the CLI: check --seq2seq (scratch and the tfjs twin against float64),
 * a small training run and its records, translate (greedy, beam, attention), plot, and bad input.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { readSeq2SeqCheckpoint } from '../src/seq2seq/checkpoint.js';
import { decodeIds } from '../src/seq2seq/decode.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'rnnlab-s2s-'));

describe('check --seq2seq', () => {
  it.each([
    ['lstm', 'general attention', ['--attention', 'general']],
    ['gru', 'a bidirectional encoder, concat attention', ['--bidirectional', '--attention', 'concat', '--attention-units', '6']],
  ])('%s with %s, masks, two layers and per-step gradients: scratch and tfjs-wasm pass against float64', (cell, _, flags) => {
    const r = rnnlab(['check', '--seq2seq', '--cell', cell, ...flags, '--layers', '2', '--hidden', '8', '--input', '9', '--output', '7', '--seq', '6', '--target-seq', '5', '--batch', '3', '--mask', '--per-step', '--steps', '3', '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass).toBe(true);
    expect(j.engines.map((e: { name: string }) => e.name)).toEqual(['scratch', 'tfjs-wasm', 'scratch-f64']);
    expect(j.gradients.map((g: { what: string }) => g.what)).toEqual(expect.arrayContaining(['attention.kernel', 'attention.combine.kernel', 'encoder.layers.1.recurrentKernel', 'decoder.embedding']));
    if (flags.includes('--bidirectional')) {
      expect(j.spec).toMatchObject({ bidirectional: true, attention: 'concat', attentionUnits: 6 });
      expect(j.gradients.map((g: { what: string }) => g.what)).toEqual(expect.arrayContaining(['encoder.layers.1.backward.kernel', 'attention.v']));
    }
    expect(j.perStep.filter((s: { side: string }) => s.side === 'encoder')).toHaveLength(2 * 6);
    expect(j.perStep.filter((s: { side: string }) => s.side === 'decoder')).toHaveLength(2 * 5);
  });

  it('gradcheck --seq2seq passes at 1e-6 for every attention mode, masked, and names the attention parameters', () => {
    for (const attention of ['none', 'dot', 'general', 'concat']) {
      const r = rnnlab(['gradcheck', '--seq2seq', '--cell', 'gru', '--gru-reset-after', '--attention', attention, '--mask', ...(attention === 'concat' ? ['--bidirectional'] : []), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.pass).toBe(true);
      expect(j.maxRelError).toBeLessThan(1e-6);
      expect(j.params.some((p: { name: string }) => p.name === 'attention.combine.kernel')).toBe(attention !== 'none');
    }
    expectOneLineError(rnnlab(['gradcheck', '--seq2seq', '--cell', 'rnn', '--activation', 'relu']), /smooth activations/, expect);
  });

  it('an engine asked for that cannot run is bad input, never a PASS without it; a flag of the other check is refused', () => {
    expectOneLineError(rnnlab(['check', '--seq2seq', '--engines', `scratch,${join(ROOT, 'examples', 'js-engine', 'plain-rnn.js')}`, '--hidden', '4', '--steps', '1']), /engine plain-rnn cannot run this encoder-decoder: it does not support encoder-decoder models/, expect);
    expectOneLineError(rnnlab(['check', '--attention', 'dot']), /--attention, --attention-units and --target-seq are for --seq2seq/, expect);
    expectOneLineError(rnnlab(['check', '--seq2seq', '--fault', 'swap-gates']), /does not go with --model, --fault, --carried-state or --out/, expect);
  });
});

describe('train --task seq2seq and translate', () => {
  it('a small reverse run writes its records, a checkpoint translate reads, and attention heatmaps plot draws', () => {
    const d = tmp();
    const run = join(d, 'rev');
    const t = rnnlab(['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '300', '--max-len', '5', '--hidden', '16', '--embedding', '8', '--batch', '32', '--epochs', '2', '--out', run]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/pairs: 240 train, 30 validation, 30 test/);
    expect(t.stdout).toMatch(/validation @ step \d+ \(scratch\): valLoss [\d.]+ nats\/token, exact [\d.]+%, token [\d.]+%/);
    expect(t.stdout).toMatch(/baseline: copy the input/);
    // the progress table of the one training loop, with a rule under its header; the run ends saying how long it ran
    expect(t.stdout).toMatch(/^ +step +epoch +loss scratch .*\n-+ +-+ +-+/m);
    expect(t.stdout).toMatch(/^done: 16 steps \(2 epochs\) in [\d.]+ s; last loss scratch [\d.]+; per step scratch [\d.]+ ms$/m);
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const final = metrics.find((m) => m.type === 'final');
    expect(final.stoppedBy).toBe('steps');
    expect(final.test.n).toBe(30);
    expect(final.test.baseline.name).toBe('copy the input');
    expect(metrics.filter((m) => m.type === 'val')).toHaveLength(2);
    const plot = JSON.parse(readFileSync(join(run, 'plot-data.json'), 'utf8'));
    expect(plot.kind).toBe('attention');
    for (const e of plot.examples) {
      expect(e.attention).toHaveLength(e.outTokens.length);
      for (const row of e.attention) expect(Math.abs(row.reduce((a: number, v: number) => a + v, 0) - 1)).toBeLessThan(1e-3); // rounded to 4 digits per weight
    }
    // translate: greedy and beam 1 agree; the attention table has a row per output token
    const g = JSON.parse(rnnlab(['translate', '--checkpoint', run, 'abcd', 'ed', '--json']).stdout);
    const b1 = JSON.parse(rnnlab(['translate', '--checkpoint', run, 'abcd', 'ed', '--beam', '1', '--json']).stdout);
    expect(b1.translations.map((x: { output: string }) => x.output)).toEqual(g.translations.map((x: { output: string }) => x.output));
    const b3 = JSON.parse(rnnlab(['translate', '--checkpoint', run, 'abcd', '--beam', '3', '--json']).stdout);
    // a beam keeps the best of K hypotheses: its log-probability is never below greedy's (alpha 0)
    expect(b3.translations[0].logProb).toBeGreaterThanOrEqual(g.translations[0].logProb - 1e-9);
    // the run directory means its best-validation checkpoint, the one its test used
    const final0 = metrics.find((m) => m.type === 'final');
    expect(g.checkpoint).toBe(join(run, 'checkpoints', `step-${final0.bestStep}`));
    const a = rnnlab(['translate', '--checkpoint', run, 'abc', '--attention', '--svg', join(d, 'att.svg')]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^abc {2}-> {2}/);
    expect(readFileSync(join(d, 'att.svg'), 'utf8')).toMatch(/<svg[\s\S]*attention/);
    const p = rnnlab(['plot', run]);
    expect(p.code, p.stderr).toBe(0);
    expect(readdirSync(join(run, 'plots')).filter((f) => /^attention-\d-rev\.svg$/.test(f)).length).toBeGreaterThan(0);
    // a checkpoint of a run from before the one loop (no optimizer state, the meta.json of then): translate reads it as before; --resume refuses it in one line
    const old = join(d, 'old', 'checkpoints', `step-${final0.bestStep}`);
    mkdirSync(old, { recursive: true });
    for (const f of ['seq2seq.json', 'params.safetensors', 'vocab.json']) copyFileSync(join(g.checkpoint, f), join(old, f));
    writeFileSync(join(old, 'meta.json'), JSON.stringify({ step: final0.bestStep, epoch: 1, engine: 'scratch', options: { task: 'seq2seq', dataset: 'reverse', hidden: 16, seed: 1 } }));
    const o = JSON.parse(rnnlab(['translate', '--checkpoint', old, 'abcd', 'ed', '--json']).stdout);
    expect(o.translations).toEqual(g.translations);
    expectOneLineError(rnnlab(['train', '--resume', old]), /cannot be resumed|cannot resume/, expect);
  });

  it('a bidirectional encoder with concat attention trains, its checkpoint names both, and translate decodes it step by step as the whole-prefix decoder does', async () => {
    const d = tmp();
    const run = join(d, 'bi');
    const t = rnnlab(['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '200', '--max-len', '5', '--hidden', '8', '--embedding', '4', '--batch', '32', '--epochs', '2', '--bidirectional', '--attention', 'concat', '--out', run]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/model: lstm 1x8 \(bidirectional encoder, decoder 16\), embedding 4, attention concat \(8 units\)/);
    const ck = readSeq2SeqCheckpoint(join(run, 'checkpoints', readdirSync(join(run, 'checkpoints')).find((f) => f.startsWith('step-'))!));
    expect(ck.spec).toMatchObject({ bidirectional: true, attention: 'concat', attentionUnits: 8 });
    // on the same checkpoint: the step-wise decoder (translate's) gives the whole-prefix decoder's outputs, bit for bit (scratch, TypeScript kernels)
    const e = new ScratchSeq2Seq(ck.spec, { params: ck.params });
    const sources = ['abcd', 'e', 'dcbae', 'ab'].map((x) => ck.vocabs.src.encode(x));
    for (const beam of [1, 3]) expect(await decodeIds(e, sources, { beam, maxLen: 8 })).toEqual(await decodeIds(e, sources, { beam, maxLen: 8, wholePrefix: true }));
    const g = JSON.parse(rnnlab(['translate', '--checkpoint', run, 'abcd', '--json']).stdout);
    expect(g.translations[0].attention[0]).toHaveLength(4);
  });

  it('on the one loop: a loss that turns NaN stops the run at its step and keeps the last good checkpoint; --keep-checkpoints keeps the newest and the best', () => {
    const d = tmp();
    const small = ['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '200', '--max-len', '5', '--hidden', '8', '--embedding', '4', '--batch', '16', '--checkpoint-every', '1'];
    const nan = rnnlab([...small, '--steps', '30', '--lr', '1e30', '--clip-norm', '0', '--out', join(d, 'nan')]);
    expect(nan.code).toBe(1);
    const m = /the scratch loss became (?:NaN|-?Infinity) at step (\d+); training stopped \(the last good checkpoint is (\S+)\)/.exec(nan.stderr);
    expect(m, nan.stderr).not.toBeNull();
    expect(m![2]).toBe(join(d, 'nan', 'checkpoints', `step-${Number(m![1]) - 1}`));
    expect(readSeq2SeqCheckpoint(m![2]).spec.hiddenSize).toBe(8);
    const kept = join(d, 'kept');
    const k = rnnlab([...small, '--steps', '14', '--keep-checkpoints', '2', '--out', kept]);
    expect(k.code, k.stderr).toBe(0);
    const best = JSON.parse(readFileSync(join(kept, 'checkpoints', 'best.json'), 'utf8'));
    const steps = readdirSync(join(kept, 'checkpoints')).filter((f) => f.startsWith('step-')).map((f) => Number(f.slice(5))).sort((a, b) => a - b);
    expect(steps).toEqual([...new Set([best.step, 13, 14])].sort((a, b) => a - b));
  });

  it('bad input: one line, exit 2', () => {
    const d = tmp();
    expectOneLineError(rnnlab(['train', '--task', 'seq2seq', '--dataset', 'poems', '--out', join(d, 'a')]), /unknown seq2seq dataset "poems"/, expect);
    writeFileSync(join(d, 'pairs.csv'), 'en,fr\nhello,bonjour\n');
    expectOneLineError(rnnlab(['train', '--task', 'seq2seq', '--csv', join(d, 'pairs.csv'), '--source-column', 'en', '--target-column', 'de', '--out', join(d, 'b')]), /de/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '100', '--engines', `scratch,${join(ROOT, 'examples', 'js-engine', 'plain-rnn.js')}`, '--out', join(d, 'c')]), /engine plain-rnn cannot run this encoder-decoder: it does not support encoder-decoder models/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'seq2seq', '--bidirectional', '--merge', 'sum', '--out', join(d, 'e')]), /--merge sum: a bidirectional seq2seq encoder concatenates/, expect);
    expectOneLineError(rnnlab(['train', '--task', 'seq2seq', '--attention-units', '8', '--out', join(d, 'f')]), /--attention-units .* goes with --attention concat/, expect);
    expectOneLineError(rnnlab(['translate', '--checkpoint', join(d, 'nothing'), 'x']), /no such run or checkpoint directory/, expect);
    expect(existsSync(join(d, 'b', 'checkpoints'))).toBe(false);
  });
});
