/** `rnnlab gradcheck` as a user runs it: the table, --json, exit codes, bad input. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { expectOneLineError, rnnlab } from './helpers/cli.js';

describe('rnnlab gradcheck', () => {
  test('prints a table and passes (exit 0)', () => {
    const r = rnnlab(['gradcheck', '--cell', 'gru', '--gru-reset-after', '--layers', '2', '--mask', '--carried-state']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gradcheck {2}gru \(sigmoid, reset-after\)/);
    for (const name of ['layers.1.recurrentKernel', 'head.bias', 'input x', 'initial h.1']) expect(r.stdout).toContain(name);
    expect(r.stdout).toMatch(/max relative error \S+ <= 1e-6 .*: PASS/);
  });

  test('--json: maxRelError and a params array', () => {
    const r = rnnlab(['gradcheck', '--cell', 'lstm', '--recurrent-activation', 'hardSigmoid', '--many-to-one', '--loss', 'mse', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.maxRelError).toBeLessThanOrEqual(1e-6);
    expect(out.params.map((p: { name: string }) => p.name)).toEqual([
      'layers.0.kernel',
      'layers.0.recurrentKernel',
      'layers.0.bias',
      'head.kernel',
      'head.bias',
      'input x',
    ]);
    for (const p of out.params) expect(typeof p.maxRelError).toBe('number');
    expect(out.spec.returnSequences).toBe(false);
  });

  test('every cell and variant from the command line', () => {
    for (const args of [['--cell', 'rnn', '--activation', 'relu'], ['--cell', 'gru', '--recurrent-activation', 'hardSigmoid'], ['--cell', 'rnn', '--tokens', '--input', '6']]) {
      const r = rnnlab(['gradcheck', ...args, '--json']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(JSON.parse(r.stdout).maxRelError).toBeLessThanOrEqual(1e-6);
    }
  });

  test('bad input: one line, exit 2, no stack trace', () => {
    expectOneLineError(rnnlab(['gradcheck', '--cell', 'transformer']), /argument 'transformer' is invalid. Allowed choices are rnn, lstm, gru/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--hidden', '0']), /--hidden.*expected an integer >= 1, got 0/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--hidden', '4x']), /--hidden.*expected an integer/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--frobnicate']), /unknown option '--frobnicate'/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--cell', 'lstm', '--gru-reset-after']), /"gruResetAfter" applies to gru only/, expect);
    expectOneLineError(rnnlab(['frobnicate']), /unknown command 'frobnicate'/, expect);
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-cli-'));
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, hiden: 3 }));
    expectOneLineError(rnnlab(['gradcheck', '--spec', spec]), /spec\.json: unknown field "hiden"/, expect);
    writeFileSync(spec, '{"cell": "lstm",');
    expectOneLineError(rnnlab(['gradcheck', '--spec', spec]), /spec\.json: not valid JSON/, expect);
    expectOneLineError(rnnlab(['gradcheck', '--spec', join(dir, 'nope.json')]), /nope\.json: no such file/, expect);
  });

  test('--help lists the flags', () => {
    const r = rnnlab(['gradcheck', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--cell', '--layers', '--hidden', '--input', '--output', '--seq', '--batch', '--many-to-one', '--loss', '--recurrent-activation', '--gru-reset-after', '--seed', '--json']) {
      expect(r.stdout).toContain(f);
    }
  });
});
