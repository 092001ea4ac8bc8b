/**
 * `rnnlab check`: passes for every cell and variant on generated cases; a planted bug is caught
 * with exit 1 and the right parameter named; --dump files round-trip; bad input exits 2.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { writeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { check, generatedInputs } from '../compare/check.js';
import { runCheck } from '../compare/comparisons.js';
import type { Engine } from '../src/engine.js';
import { optimizerSpec } from '../src/optimizer.js';
import { randomTestParams } from '../src/params.js';
import { specToJSON } from '../src/spec.js';
import { VARIANTS, makeSpec } from './helpers/cases.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';

describe('check passes for every cell and variant (library, tfjs on wasm)', () => {
  test.each(VARIANTS)('$label', async ({ fields }) => {
    const spec = makeSpec({ ...fields, layers: 2 }, { inputSize: 6, hiddenSize: 10, outputSize: 5 });
    const inputs = generatedInputs(spec, { batch: 4, seq: 7, seed: 2, mask: true, carriedState: true });
    const r = await check(inputs, { optimizer: optimizerSpec('adam', { lr: 0.01 }), steps: 5, backend: 'wasm', perStep: true });
    expect(r.report.failures).toEqual([]);
    expect(r.report.pass).toBe(true);
    expect(r.report.engines).toEqual(['scratch', 'tfjs-wasm']);
    expect(r.report.perStep!.length).toBe(2 * 7);
    for (const row of r.report.perStep!) for (const e of Object.values(row.errors)) expect(e).toBeLessThanOrEqual(1e-4);
    expect(r.report.trajectory.driftStep).toBeNull();
  });
});

describe('check --per-step fails on per-step gradients', () => {
  test('an engine whose dLoss/dh_t is wrong at one step (parameter gradients right) fails, naming layer and step', () => {
    const engine = join(ROOT, 'test', 'fixtures', 'engines', 'wrong-dh.mjs');
    const args = ['check', '--cell', 'rnn', '--hidden', '6', '--seq', '4', '--batch', '2', '--steps', '1', '--engines', engine, '--no-tfjs'];
    const r = rnnlab([...args, '--per-step', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.failures).toEqual([expect.stringMatching(/^dLoss\/dh layer 0 at step 1 \(wrong-dh vs scratch-f64: [\d.]+e[+-]\d+ > 1e-9\)$/)]);
    expect(out.gradients.every((g: { pass: boolean }) => g.pass)).toBe(true);
    // without --per-step the same engine passes: only the per-step comparison can see this fault
    expect(rnnlab(args).code).toBe(0);
  });
});

describe('two engines compared with each other', () => {
  test('are held to the looser precision of the two: a half-float engine 4e-3 from the float32 one passes its own 5e-2 limit', async () => {
    const spec = makeSpec({ cell: 'gru' }, { inputSize: 3, hiddenSize: 5, outputSize: 4 });
    const params = randomTestParams(spec, 4);
    const optimizer = optimizerSpec('sgd', { lr: 0.1 });
    const { batch } = generatedInputs(spec, { batch: 2, seq: 4, seed: 2 });
    const f32 = new ScratchEngine(spec, { params, optimizer });
    const inner = new ScratchEngine(spec, { params, optimizer });
    // what half floats do to the parameters, roughly: each off by a relative 4e-3 once it has trained
    let stepped = false;
    const half: Engine = {
      name: 'half',
      spec,
      dtype: 'float16',
      getParams: () => {
        const p = inner.getParams();
        return stepped ? Object.fromEntries(Object.entries(p).map(([k, t]) => [k, { ...t, data: t.data.map((v) => v * (1 + 4e-3)) }])) : p;
      },
      setParams: (p) => inner.setParams(p),
      forward: (b) => inner.forward(b),
      lossAndGrads: (b, w) => inner.lossAndGrads(b, w),
      step: (b) => {
        stepped = true;
        return inner.step(b);
      },
      optimizerState: () => inner.optimizerState(),
      setOptimizerState: (st) => inner.setOptimizerState(st),
      dispose: () => inner.dispose(),
    };
    const reference = new ScratchEngine(spec, { dtype: 'float64', params, optimizer });
    const { report } = await runCheck({ spec, batch, steps: 2, reference, engines: [f32, half] });
    const pairRows = report.final.filter((r) => r.engine === 'half' && r.against === f32.name);
    expect(pairRows.length).toBeGreaterThan(0);
    for (const r of pairRows) {
      expect(r.maxRelError).toBeGreaterThan(2e-3); // outside the float32 limit of two float32 engines
      expect(r.limit).toBe(5e-2); // the half-float trajectory limit (compare/tolerance.ts)
      expect(r.pass).toBe(true);
    }
    expect(report.trajectory.limit).toBe(5e-2);
    expect(report.pass, report.failures.join('; ')).toBe(true);
  });
});

describe('rnnlab check (CLI)', () => {
  test('generated case: table, PASS, exit 0; --json has the report', () => {
    const r = rnnlab(['check', '--cell', 'lstm', '--layers', '2', '--hidden', '12', '--seq', '8', '--batch', '3', '--steps', '4', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tfjs-wasm    under test: tfjs 4.22.0, backend wasm');
    expect(r.stdout).toMatch(/verdict: PASS/);
    const j = rnnlab(['check', '--cell', 'rnn', '--hidden', '6', '--seq', '5', '--batch', '2', '--steps', '3', '--backend', 'cpu', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.backend).toBe('cpu');
    expect(out.pass).toBe(true);
    expect(out.gradients.length).toBe(2 * 5);
    expect(out.trajectory.steps.length).toBe(3);
  });

  test('a planted bug is caught: exit 1, the right parameters named', () => {
    const drop = rnnlab(['check', '--cell', 'gru', '--hidden', '8', '--seq', '6', '--batch', '2', '--steps', '2', '--fault', 'drop-bptt', '--no-tfjs', '--json']);
    expect(drop.code).toBe(1);
    const d = JSON.parse(drop.stdout);
    const failing = d.gradients.filter((g: { pass: boolean }) => !g.pass).map((g: { what: string }) => g.what);
    expect(failing).toContain('layers.0.recurrentKernel');
    expect(failing).not.toContain('head.kernel'); // the head's gradient does not use BPTT
    expect(d.forward.every((f: { pass: boolean }) => f.pass)).toBe(true); // the forward pass is right

    const swap = rnnlab(['check', '--cell', 'lstm', '--hidden', '8', '--seq', '6', '--batch', '2', '--steps', '2', '--fault', 'swap-gates', '--backend', 'wasm']);
    expect(swap.code).toBe(1);
    expect(swap.stdout).toMatch(/output\s+scratch\s.*FAIL/);
    expect(swap.stdout).toMatch(/verdict: FAIL/);
  });

  test('--dump writes the three files; they round-trip against fresh engines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-dump-'));
    const spec = makeSpec({ cell: 'gru', gruResetAfter: true });
    const params = randomTestParams(spec, 3);
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(specToJSON(spec)));
    writeSafetensors(join(dir, 'w.safetensors'), params);
    const x = new Float32Array(2 * 4 * 3).map((_, i) => Math.sin(i));
    const y = Int32Array.from({ length: 8 }, (_, i) => i % 5);
    writeSafetensors(join(dir, 'd.safetensors'), { x: { dtype: 'F32', shape: [2, 4, 3], data: x }, y: { dtype: 'I32', shape: [2, 4], data: y } });
    const r = rnnlab(['check', '--spec', join(dir, 'spec.json'), '--weights', join(dir, 'w.safetensors'), '--data', join(dir, 'd.safetensors'), '--optimizer', 'sgd', '--lr', '0.5', '--steps', '3', '--dump', join(dir, 'out'), '--backend', 'wasm', '--kernels', 'js']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const f32 = readSafetensors(join(dir, 'out', 'scratch.safetensors'));
    const f64 = readSafetensors(join(dir, 'out', 'scratch-f64.safetensors'));
    const tf = readSafetensors(join(dir, 'out', 'tfjs.safetensors'));
    expect(tf.metadata.engine).toBe('tfjs-wasm');
    expect(f64.tensors.output.dtype).toBe('F64');
    expect(f32.tensors.loss.shape).toEqual([3]);
    expect(f32.tensors.output.shape).toEqual([2, 4, 5]);
    // the same numbers from a fresh scratch engine
    const batch = { batchSize: 2, seqLen: 4, x, y };
    const e = new ScratchEngine(spec, { params, optimizer: optimizerSpec('sgd', { lr: 0.5 }) });
    const g = e.lossAndGrads(batch);
    expect(f32.tensors.loss.data[0]).toBe(g.loss);
    for (const name of Object.keys(params)) expect(Array.from(f32.tensors[`grad.${name}`].data)).toEqual(Array.from(g.grads[name].data));
    for (let i = 0; i < 3; i++) e.step(batch);
    const after = e.getParams();
    for (const name of Object.keys(params)) {
      expect(f32.tensors[`final.${name}`].shape).toEqual(params[name].shape);
      expect(Array.from(f32.tensors[`final.${name}`].data)).toEqual(Array.from(after[name].data));
    }
  });

  test('bad input: one line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-bad-'));
    const spec = makeSpec({ cell: 'lstm' });
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(specToJSON(spec)));
    // weights of another spec
    const other = makeSpec({ cell: 'lstm' }, { hiddenSize: 6 });
    writeSafetensors(join(dir, 'w.safetensors'), randomTestParams(other, 1));
    const good = { x: { dtype: 'F32' as const, shape: [2, 4, 3], data: new Float32Array(24) }, y: { dtype: 'I32' as const, shape: [2, 4], data: new Int32Array(8) } };
    writeSafetensors(join(dir, 'd.safetensors'), good);
    expectOneLineError(rnnlab(['check', '--spec', specPath, '--weights', join(dir, 'w.safetensors'), '--data', join(dir, 'd.safetensors')]), /w\.safetensors do not match the spec: layers\.0\.kernel has shape \[3, 24\], expected \[3, 16\]/, expect);
    writeSafetensors(join(dir, 'w.safetensors'), randomTestParams(spec, 1));
    const w = ['--spec', specPath, '--weights', join(dir, 'w.safetensors'), '--data', join(dir, 'd.safetensors')];
    writeSafetensors(join(dir, 'd.safetensors'), { ...good, x: { dtype: 'F32', shape: [2, 4, 5], data: new Float32Array(40) } });
    expectOneLineError(rnnlab(['check', ...w]), /x is F32 \[2, 4, 5\], but this spec needs F32 \[B, T, 3\]/, expect);
    writeSafetensors(join(dir, 'd.safetensors'), { ...good, y: { dtype: 'I32', shape: [2, 4], data: Int32Array.of(0, 1, 2, 9, 0, 0, 0, 0) } });
    expectOneLineError(rnnlab(['check', ...w]), /y: class id 9 at index 3 is outside 0\.\.4/, expect);
    const nan = new Float32Array(24);
    nan[7] = NaN;
    writeSafetensors(join(dir, 'd.safetensors'), { ...good, x: { dtype: 'F32', shape: [2, 4, 3], data: nan } });
    expectOneLineError(rnnlab(['check', ...w]), /x: non-finite value \(NaN\) at \[0, 2, 1\]/, expect);
    writeSafetensors(join(dir, 'd.safetensors'), { ...good, y: { dtype: 'F32', shape: [2, 4], data: new Float32Array(8) } });
    expectOneLineError(rnnlab(['check', ...w]), /y is F32 \[2, 4\], but this spec \(softmaxCrossEntropy, many-to-many\) needs I32 class ids \[2, 4\]/, expect);
    writeFileSync(join(dir, 'd.safetensors'), 'not a safetensors file at all');
    expectOneLineError(rnnlab(['check', ...w]), /not a valid safetensors file/, expect);
    expectOneLineError(rnnlab(['check', '--data', join(dir, 'd.safetensors')]), /--data needs --spec/, expect);
    expectOneLineError(rnnlab(['check', '--steps', '0']), /--steps.*expected an integer >= 1/, expect);
  });
});
