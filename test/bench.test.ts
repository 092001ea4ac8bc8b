/**
 * `rnnlab bench` runs and reports every requested cell of the matrix (not a timed test: nothing
 * here depends on how fast this machine is), and the scratch engine's buffers are allocated once
 * per shape: a long run does not grow its memory.
 */
import { describe, expect, test } from 'vitest';
import { ScratchEngine } from '../scratch/engine.js';
import { createWasmKernels } from '../scratch/wasm/index.js';
import { randomBatch } from '../src/data/synthetic.js';
import { parseSpec } from '../src/spec.js';
import type { BenchRow } from '../compare/bench.js';
import { likeWithLikeNotes } from '../compare/bench-notes.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { needing, pythonWith } from './helpers/python.js';

describe('rnnlab bench', () => {
  test('every requested cell x hidden x batch x engine x threads is reported, with ratios to the baseline', () => {
    const r = rnnlab([
      'bench', '--cell', 'rnn,gru', '--hidden', '8,16', '--batch', '1,3', '--seq', '5', '--input', '7',
      '--engine', 'scratch,scratch-f64,tfjs-wasm', '--threads', '1,2', '--warmup', '0', '--repeats', '2', '--memory-steps', '3', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const rows = out.rows as Record<string, unknown>[];
    const key = (x: Record<string, unknown>): string => `${x.cell}/${x.hidden}/${x.batch}/${x.engine}/${x.threads}`;
    const want: string[] = [];
    for (const cell of ['rnn', 'gru']) for (const h of [8, 16]) for (const b of [1, 3]) {
      want.push(`${cell}/${h}/${b}/scratch/1`, `${cell}/${h}/${b}/scratch/2`, `${cell}/${h}/${b}/scratch-f64/1`, `${cell}/${h}/${b}/tfjs-wasm/1`);
    }
    expect(rows.map(key).sort()).toEqual(want.sort());
    for (const row of rows) {
      const t = row.trainStepMs as { median: number; p10: number; p90: number; n: number };
      expect(t.median).toBeGreaterThan(0);
      expect(t.p10).toBeLessThanOrEqual(t.median);
      expect(t.p90).toBeGreaterThanOrEqual(t.median);
      expect((row.forwardMs as { median: number }).median).toBeGreaterThan(0);
      expect(row.tokensPerSecond).toBeCloseTo(((row.batch as number) * 5) / (t.median / 1000), 6);
      expect(row.memorySteps).toBeGreaterThanOrEqual(1);
      expect(row.memorySteps).toBeLessThanOrEqual(3);
      if (row.engine === 'tfjs-wasm') {
        expect(row.ratio).toBe(1);
        expect(row.tensorGrowth).toBe(0); // no tensor leaks in the tfjs engine
      } else expect(row.ratio).toBeGreaterThan(0);
    }
  });

  test('the table names every engine; bad input is refused', () => {
    const r = rnnlab(['bench', '--cell', 'lstm', '--hidden', '8', '--batch', '2', '--seq', '4', '--engine', 'scratch,tfjs-cpu', '--threads', '1', '--warmup', '0', '--repeats', '2', '--baseline', 'tfjs-cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lstm\s+8\s+2\s+scratch\s+1\s/);
    expect(r.stdout).toMatch(/tfjs-cpu\s+1\s.*1\.00x/);
    expectOneLineError(rnnlab(['bench', '--engine', 'scratch,pytorchh']), /unknown engine "pytorchh"/, expect);
    expectOneLineError(rnnlab(['bench', '--cell', 'transformer']), /unknown cell "transformer"/, expect);
  });
});

describe('rnnlab bench: the model-variant flags of check', () => {
  test('each variant flag reaches the rows of the cells it belongs to; a flag no benched cell has is refused', () => {
    const r = rnnlab([
      'bench', '--cell', 'rnn,lstm,gru', '--hidden', '6', '--batch', '2', '--seq', '4', '--input', '5', '--engine', 'scratch,tfjs-cpu', '--threads', '1',
      '--warmup', '0', '--repeats', '2', '--gru-reset-after', '--recurrent-activation', 'hardSigmoid', '--activation', 'relu', '--unit-forget-bias',
      '--layers', '2', '--bidirectional', '--merge', 'sum', '--many-to-one', '--loss', 'mse', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).rows as { cell: string; engine: string; model: string }[];
    const model = (cell: string): string => rows.find((x) => x.cell === cell && x.engine === 'scratch')!.model;
    expect(model('rnn')).toBe('bidirectional (sum) rnn (relu) in 5 -> 2x6 -> 5, many-to-one, mse (mean)');
    expect(model('lstm')).toBe('bidirectional (sum) lstm (hardSigmoid, unit forget bias) in 5 -> 2x6 -> 5, many-to-one, mse (mean)');
    expect(model('gru')).toBe('bidirectional (sum) gru (hardSigmoid, reset-after) in 5 -> 2x6 -> 5, many-to-one, mse (mean)');
    // the tfjs twin ran the same models
    expect(rows.filter((x) => x.engine === 'tfjs-cpu').map((x) => x.model)).toEqual(['rnn', 'lstm', 'gru'].map(model));
    expectOneLineError(rnnlab(['bench', '--cell', 'lstm,rnn', '--gru-reset-after']), /--gru-reset-after applies to gru only, and --cell lstm,rnn has none/, expect);
    expectOneLineError(rnnlab(['bench', '--cell', 'gru', '--activation', 'relu']), /--activation applies to rnn only/, expect);
  });

  test.skipIf(!pythonWith('torch, numpy'))(needing('torch, numpy', 'against PyTorch the reset-after GRU runs on nn.GRU, and the output says so'), () => {
    const r = rnnlab(['bench', '--cell', 'gru', '--gru-reset-after', '--hidden', '6', '--batch', '2', '--seq', '4', '--input', '5', '--engine', 'scratch,pytorch', '--baseline', 'pytorch', '--threads', '1', '--warmup', '0', '--repeats', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pytorch: gru \(reset-after\) on nn\.GRU, PyTorch's module for the same equations as scratch's gru \(reset-after\)$/m);
  });

  test('a PyTorch row that ran its torch-ops loop says so, and which flag times PyTorch\'s module instead', () => {
    const spec = parseSpec({ cell: 'gru', inputSize: 5, hiddenSize: 6, outputSize: 5 });
    const row = { engine: 'pytorch', detail: 'torch-ops GRU (reset-before), float32, 1 thread; python 3.11' } as BenchRow;
    expect(likeWithLikeNotes(spec, [row])).toEqual([
      "pytorch: gru (reset-before) ran as torch-ops GRU (reset-before), not as a PyTorch module: PyTorch has no module for the reset-before GRU (tfjs's, the default here; nn.GRU is reset-after); add --gru-reset-after to time scratch's reset-after GRU against nn.GRU",
    ]);
    // scratch rows need no note
    expect(likeWithLikeNotes(spec, [{ ...row, engine: 'scratch' }])).toEqual([]);
  });
});

describe('rnnlab bench --profile', () => {
  test('reports every product of a training step by shape, its GFLOP/s, and the share of the step outside gemm', () => {
    const r = rnnlab(['bench', '--profile', '--cell', 'lstm', '--hidden', '8', '--batch', '2', '--seq', '4', '--input', '5', '--threads', '1,2', '--warmup', '1', '--repeats', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).profile as { threads: number; steps: number; stepMs: number; gemmMs: number; outsideGemm: number; gemmGflop: number; peakGflops: number | null; shapes: { op: string; m: number; n: number; k: number; callsPerStep: number; gflops: number; share: number }[] }[];
    expect(rows.map((x) => x.threads)).toEqual([1, 2]);
    for (const row of rows) {
      expect(row.steps).toBe(2);
      expect(row.gemmMs).toBeGreaterThan(0);
      expect(row.gemmMs).toBeLessThanOrEqual(row.stepMs);
      expect(row.outsideGemm).toBeGreaterThanOrEqual(0);
      expect(row.outsideGemm).toBeLessThan(1);
      const shares = row.shapes.reduce((s, x) => s + x.share, 0);
      expect(shares).toBeCloseTo(1 - row.outsideGemm, 6);
      // the input projection of all steps at once: [T*B, in] x [in, 4H]
      expect(row.shapes).toContainEqual(expect.objectContaining({ op: 'NN', m: 8, n: 32, k: 5, callsPerStep: 1 }));
      // the head: [T*B, H] x [H, O]
      expect(row.shapes).toContainEqual(expect.objectContaining({ op: 'NN', m: 8, n: 5, k: 8, callsPerStep: 1 }));
      for (const x of row.shapes) expect(x.gflops).toBeGreaterThan(0);
      // a step's products: 2 m n k flops each, counted from the shapes
      expect(row.gemmGflop).toBeCloseTo(row.shapes.reduce((s, x) => s + (2 * x.m * x.n * x.k * x.callsPerStep) / 1e9, 0), 12);
      expect(row.peakGflops).toBeGreaterThan(0.1); // the WebAssembly kernels measure their ceiling
    }
    // the WebAssembly kernels (the BLAS's lines: test/blas.test.ts)
    const t = rnnlab(['bench', '--profile', '--cell', 'gru', '--hidden', '8', '--batch', '2', '--seq', '4', '--input', '5', '--threads', '1', '--warmup', '0', '--repeats', '2', '--kernels', 'wasm', '--optimizer', 'rmsprop']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^gru H=8 B=2 seq 4, scratch on wasm-simd kernels: [\d.]+ ms a training step \(rmsprop, mean of 2\); gemm [\d.]+ ms at [\d.]+ GFLOP\/s; outside gemm [\d.]+% of the step$/m);
    expect(t.stdout).toMatch(/^\s+op\s+m\s+n\s+k\s+calls\s+ms\/step\s+GFLOP\/s\s+share\s+on$/m);
    expect(t.stdout).toMatch(/^\s+NN\s+8\s+24\s+5\s+1\s.*\swasm-simd$/m);
    expect(t.stdout).toMatch(/^  ceiling: the gemm's 4x8 microkernel on operands in L1 runs at [\d.]+ GFLOP\/s a thread on this machine; at that rate the step's [\d.]+ GFLOP of products take [\d.]+ ms \(gemm ran at [\d.]+% of it\)$/m);
  });
});

describe('memory', () => {
  test('buffers are allocated once per shape: 300 training steps do not grow the kernel memory', async () => {
    const kernels = await createWasmKernels({ threads: 1 });
    const spec = parseSpec({ cell: 'lstm', inputSize: 12, hiddenSize: 32, outputSize: 12, layers: 2 });
    const e = new ScratchEngine(spec, { kernels });
    const batch = randomBatch(spec, 4, 10, 1);
    e.step(batch);
    const after1 = kernels.usedBytes;
    for (let i = 0; i < 300; i++) e.step(batch);
    expect(kernels.usedBytes).toBe(after1);
    expect(kernels.stats.jsFallbacks).toBe(0); // every product ran in WebAssembly
    await kernels.dispose();
  });
});
