/**
 * check's diagnosis names the mistake. The engine under test is test/fixtures/engines/hand-written.mjs,
 * an RNN/LSTM/GRU written by hand in plain JavaScript that shares no code with rnnlab, switched
 * to make one classic mistake at a time (HAND_MISTAKE). For each, check must name that mistake
 * first, with its parameter (which gate, which pair, k, c); a clean engine passes with no
 * diagnosis; a bug outside the catalogue (one gradient element perturbed) gets "no known mistake
 * reproduces it" and names none. Small models (T = 6, H = 4, B = 3) in process; the catalogue's
 * budget is lifted so that load on the machine cannot cut it short (one test cuts it on purpose).
 * Matches are held to the float64 limits (the engine is float64): every tensor within 1e-9
 * (gradients) and 1e-10 (outputs, loss), while each mistake moves some tensor by far more.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { check, generatedInputs } from '../compare/check.js';
import { optimizerSpec } from '../src/optimizer.js';
import { type ModelSpec, parseSpec } from '../src/spec.js';
import { ROOT, rnnlab } from './helpers/cli.js';

const HAND = join(ROOT, 'test', 'fixtures', 'engines', 'hand-written.mjs');

async function diagnose(mistake: string, fields: Partial<ModelSpec>, data: { mask?: boolean; carriedState?: boolean } = {}, diagnoseSeconds = 600) {
  process.env.HAND_MISTAKE = mistake;
  const spec = parseSpec({ inputSize: 3, hiddenSize: 4, outputSize: 5, ...fields });
  const inputs = generatedInputs(spec, { batch: 3, seq: 6, seed: 3, ...data });
  const r = await check(inputs, { optimizer: optimizerSpec('sgd'), steps: 0, engines: [{ kind: 'module', path: HAND }], diagnoseSeconds });
  return { report: r.report, inputs };
}

afterEach(() => {
  delete process.env.HAND_MISTAKE;
});

// [HAND_MISTAKE, model, data, the id named first, its parameters]
const CASES: [string, Partial<ModelSpec>, { mask?: boolean; carriedState?: boolean }, string, Record<string, unknown>][] = [
  ['cell-state-skips-forget-gate', { cell: 'lstm' }, {}, 'cell-state-skips-forget-gate', {}],
  ['no-recurrent-gradient', { cell: 'lstm' }, {}, 'no-recurrent-gradient', {}],
  ['truncated-bptt:2', { cell: 'lstm' }, {}, 'truncated-bptt', { k: 2 }],
  ['truncated-bptt:cut3', { cell: 'gru' }, {}, 'truncated-bptt', { cutAt: 3 }],
  ['gate-bias-gradient-dropped:f', { cell: 'lstm' }, {}, 'gate-bias-gradient-dropped', { gate: 'f' }],
  ['gates-swapped:z+r', { cell: 'gru', gruResetAfter: true }, {}, 'gates-swapped', { gates: ['z', 'r'], pass: 'forward' }],
  ['gates-swapped:i+f/grads', { cell: 'lstm' }, {}, 'gates-swapped', { gates: ['i', 'f'], pass: 'gradients' }],
  ['tanh-derivative', { cell: 'rnn' }, {}, 'tanh-derivative', { form: 'one-minus-y', at: 'everywhere' }],
  ['tanh-derivative', { cell: 'lstm' }, {}, 'tanh-derivative', { form: 'one-minus-y', at: 'everywhere' }],
  ['sigmoid-derivative-at-preactivation', { cell: 'gru' }, {}, 'sigmoid-derivative-at-preactivation', { form: 'at-preactivation' }],
  ['loss-scale', { cell: 'gru' }, {}, 'loss-scale', { c: 3, scaled: 'both' }],
  ['gru-update-convention', { cell: 'gru' }, {}, 'gru-update-convention', {}],
  ['gru-reset-position', { cell: 'gru', gruResetAfter: true }, {}, 'gru-reset-position', { bias: 'summed' }],
  ['hard-sigmoid-definition', { cell: 'lstm', recurrentActivation: 'hardSigmoid' }, {}, 'hard-sigmoid-definition', {}],
  ['weights-transposed', { cell: 'rnn' }, {}, 'weights-transposed', {}],
  ['initial-state-ignored', { cell: 'lstm' }, { carriedState: true }, 'initial-state-ignored', {}],
  ['mask-ignored', { cell: 'gru' }, { mask: true }, 'mask-ignored', { loss: 'counted' }],
  ['head-last-step-only', { cell: 'rnn' }, {}, 'head-last-step-only', {}],
  ['recurrent-weight-gradient-time-offset', { cell: 'lstm' }, {}, 'recurrent-weight-gradient-time-offset', {}],
];

describe('check names the mistake planted in a hand-written engine', () => {
  test.each(CASES)('%s (%o)', async (mistake, fields, data, id, parameters) => {
    const { report, inputs } = await diagnose(mistake, fields, data);
    if (data.mask) expect(inputs.batch.mask!.includes(0)).toBe(true); // the mask hides something
    expect(report.pass).toBe(false);
    const d = report.diagnosis[0];
    expect(d.engine).toBe('hand-written');
    expect(d.mistakes!.length).toBeGreaterThan(0);
    expect(d.mistakes![0].id).toBe(id);
    expect(d.mistakes![0].parameters).toEqual(parameters);
    expect(d.mistakes![0].matchedWithin).toBeLessThan(1e-9);
    expect(d.lines).toContainEqual(`that is the mistake: ${d.mistakes![0].detail}`);
    expect(d.catalogue!.cutShort).toBe(false);
  });

  test('the loss scale is found from the ratio and its cause named: the loss summed over the batch (B = 3)', async () => {
    const d = (await diagnose('loss-scale', { cell: 'lstm' })).report.diagnosis[0];
    expect(d.mistakes![0].detail).toMatch(/^the loss and every gradient are 3 times the reference's \(c = 3: the loss summed over the batch instead of averaged\)$/);
  });

  test('without per-step gradients it localises in time: a window of 2 steps agrees up to 3 steps, disagrees from 4', async () => {
    const d = (await diagnose('truncated-bptt:2', { cell: 'rnn' })).report.diagnosis[0];
    expect(d.shortestFailingLength).toBe(4);
    expect(d.lines).toContain('it agrees on sequences of up to 3 steps and disagrees from 4: the gradient that travels 3 steps back is lost or wrong (a truncation of backpropagation through time?)');
    expect((await diagnose('no-recurrent-gradient', { cell: 'gru' })).report.diagnosis[0].shortestFailingLength).toBe(2);
  });

  test('a bidirectional model\'s forward names no "first" step (each step\'s output reads the whole sequence)', async () => {
    const spec = parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 5, bidirectional: true });
    const r = await check(generatedInputs(spec, { batch: 2, seq: 5, seed: 3 }), { optimizer: optimizerSpec('sgd'), steps: 0, noTfjs: true, fault: 'weights-transposed', diagnoseSeconds: 600 });
    const d = r.report.diagnosis[0];
    expect(d.stage).toBe('forward');
    expect(d.outputStep).toBeUndefined();
    expect(d.lines[0]).toMatch(/\(bidirectional: every step's output reads the whole sequence, so no step is the first\)/);
    expect(d.mistakes![0].id).toBe('weights-transposed');
  });

  test('a clean engine passes with no diagnosis', async () => {
    for (const cell of ['rnn', 'lstm', 'gru'] as const) {
      const { report } = await diagnose('', { cell, gruResetAfter: cell === 'gru' }, { mask: true, carriedState: true });
      expect(report.failures).toEqual([]);
      expect(report.pass).toBe(true);
      expect(report.diagnosis).toEqual([]);
    }
  });

  test('a bug outside the catalogue (one gradient element perturbed): "no known mistake reproduces it", none named', async () => {
    const { report } = await diagnose('perturb-one', { cell: 'lstm' });
    const d = report.diagnosis[0];
    expect(d.mistakes).toEqual([]);
    expect(d.lines).toContainEqual(expect.stringMatching(/^no known mistake reproduces it \(all \d+ variants of scratch-f64 with a catalogued mistake planted, on the same weights and batch\)$/));
    expect(d.lines.join('\n')).not.toMatch(/that is the mistake|reproduce it, best fit/);
  });

  test('a catalogue cut short says so, and the verdict (exit code) is the same', async () => {
    const { report } = await diagnose('cell-state-skips-forget-gate', { cell: 'lstm' }, {}, 0);
    const d = report.diagnosis[0];
    expect(report.pass).toBe(false);
    expect(d.catalogue!.cutShort).toBe(true);
    expect(d.lines).toContainEqual(expect.stringMatching(/^the catalogue was cut short: 0 of \d+ variants tried within --diagnose-seconds 0; --diagnose-seconds S gives it more time$/));
  });

  test('the CLI: the diagnosis in the table, and in --json each entry has mistakes and shortestFailingLength; exit 1', () => {
    const args = ['check', '--cell', 'lstm', '--hidden', '4', '--input', '3', '--output', '5', '--seq', '6', '--batch', '3', '--engines', HAND, '--diagnose-seconds', '600'];
    const env = { HAND_MISTAKE: 'cell-state-skips-forget-gate' };
    const t = rnnlab(args, { env });
    expect(t.code, t.stderr).toBe(1);
    expect(t.stdout).toContain('  that is the mistake: the cell-state gradient passed back without the forget gate (dc_prev = dc, not dc * f)');
    expect(t.stdout).toMatch(/verdict: FAIL \(\d+ of 7 comparisons outside the tolerance policy\); compared for hand-written on forward, loss and gradients; not compared: lockstep training \(it has no optimizer\)/);
    const j = JSON.parse(rnnlab([...args, '--json'], { env }).stdout);
    expect(j.diagnosis[0].mistakes[0]).toMatchObject({ id: 'cell-state-skips-forget-gate', parameters: {}, detail: expect.stringContaining('forget gate') });
    expect(j.diagnosis[0].mistakes[0].matchedWithin).toBeLessThan(1e-9);
    expect(j.diagnosis[0].shortestFailingLength).toBe(2);
  });
});
