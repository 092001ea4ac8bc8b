/**
 * PyTorch as an engine (python/rnnlab_torch.py through the protocol). Float32 PyTorch is held to
 * the float32 policy like tfjs; float64 PyTorch must agree with scratch-f64 to 1e-12 (measured
 * ~1e-15: the two are independent float64 implementations, so only summation order differs; a
 * wrong formula would be off by more than 1e-4). Skipped, saying why, where no Python imports
 * torch (CI installs Debian's python3-torch).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseEngineList } from '../src/engines/registry.js';
import { check, generatedInputs } from '../compare/check.js';
import { optimizerSpec } from '../src/optimizer.js';
import { parseSpec } from '../src/spec.js';
import { expectOneLineError, rnnlab } from './helpers/cli.js';
import { needing, pythonWith } from './helpers/python.js';
import { expectClose, expectNear } from './helpers/close.js';

const py = pythonWith('torch, numpy');
const env: Record<string, string> = py ? { RNNLAB_PYTHON: py } : {};

test('no Python with torch: one line that says how to install it', () => {
  const r = rnnlab(['check', '--cell', 'rnn', '--hidden', '4', '--input', '3', '--output', '2', '--engines', 'pytorch'], { env: { RNNLAB_PYTHON: '/nonexistent/python3' } });
  expectOneLineError(r, /the PyTorch engine needs a Python that imports torch and numpy; \/nonexistent\/python3: not found; install it with apt-get install python3-torch python3-numpy libopenblas0-pthread/, expect);
});

const CASES: { name: string; spec: Record<string, unknown>; optimizer: [string, Record<string, number>]; mask?: boolean; carried?: boolean; perStep?: boolean }[] = [
  { name: 'rnn tanh, mask, adam, per-step', spec: { cell: 'rnn' }, optimizer: ['adam', { lr: 0.01 }], mask: true, perStep: true },
  { name: 'rnn relu, many-to-one mse, carried state, sgd', spec: { cell: 'rnn', activation: 'relu', returnSequences: false, loss: 'mse' }, optimizer: ['sgd', { lr: 0.1 }], carried: true },
  { name: 'lstm, 2 layers, mask, carried state, momentum with clipNorm, per-step', spec: { cell: 'lstm', layers: 2 }, optimizer: ['momentum', { clipNorm: 0.5 }], mask: true, carried: true, perStep: true },
  { name: 'lstm hardSigmoid, tokens, rmsprop with momentum', spec: { cell: 'lstm', recurrentActivation: 'hardSigmoid', input: 'tokens' }, optimizer: ['rmsprop', { momentum: 0.5 }] },
  { name: 'gru reset-before, mask, adagrad, per-step', spec: { cell: 'gru' }, optimizer: ['adagrad', {}], mask: true, perStep: true },
  { name: 'gru reset-after, many-to-one, sumOverTime, adam with clipValue', spec: { cell: 'gru', gruResetAfter: true, returnSequences: false, lossReduction: 'sumOverTime' }, optimizer: ['adam', { clipValue: 0.05 }] },
  { name: 'gru reset-after (nn.GRU), rmsprop', spec: { cell: 'gru', gruResetAfter: true, layers: 2 }, optimizer: ['rmsprop', {}] },
  { name: 'lstm (nn.LSTM), many-to-one mse, adagrad', spec: { cell: 'lstm', returnSequences: false, loss: 'mse' }, optimizer: ['adagrad', {}], carried: true },
];

describe.skipIf(!py)('check --engines scratch,tfjs,pytorch,pytorch-f64', () => {
  for (const c of CASES) {
    test(needing('torch, numpy', c.name), async () => {
      const spec = parseSpec({ inputSize: 5, hiddenSize: 6, outputSize: 4, ...c.spec });
      const inputs = generatedInputs(spec, { batch: 3, seq: 7, seed: 3, mask: c.mask, carriedState: c.carried });
      const { report, engines } = await check(inputs, {
        optimizer: optimizerSpec(c.optimizer[0], c.optimizer[1]),
        steps: 5,
        engines: parseEngineList(['scratch,tfjs-wasm,pytorch,pytorch-f64']),
        perStep: c.perStep,
        python: py!,
      });
      expect(report.failures).toEqual([]);
      expect(report.pass).toBe(true);
      expect(report.engines).toEqual(['scratch', 'tfjs-wasm', 'pytorch', 'pytorch-f64']);
      expect(report.trajectory.trained).toEqual(report.engines);
      const rows = [...report.forward, ...report.loss.comparisons, ...report.gradients, ...report.final].filter((r) => r.engine === 'pytorch-f64' && r.against === 'scratch-f64');
      expect(rows.length).toBeGreaterThan(10);
      for (const r of rows) expect(r.maxRelError, r.what).toBeLessThan(1e-12);
      for (const r of report.gradients.filter((g) => g.engine === 'pytorch')) expect(r.maxRelError, r.what).toBeLessThan(1e-4);
      if (c.perStep) {
        for (const row of report.perStep!) {
          expect(row.errors['pytorch-f64']).toBeLessThan(1e-12);
          expect(row.errors.pytorch).toBeLessThan(1e-4);
        }
      }
      const pt = engines.find((e) => e.name === 'pytorch')!;
      expect(pt.detail).toMatch(/float32, \d threads?; python 3[\d.]+, torch [\d.]+\w*, numpy [\d.]+, /);
    });
  }
});

describe.skipIf(!py)('PyTorch in bench, train and the use-commands', () => {
  test(needing('torch, numpy', 'bench times PyTorch inside its own process beside scratch, with ratios to it'), () => {
    const r = rnnlab(['bench', '--cell', 'lstm', '--hidden', '8', '--batch', '2', '--seq', '4', '--input', '5', '--engine', 'scratch,pytorch', '--threads', '1', '--warmup', '0', '--repeats', '2', '--baseline', 'pytorch', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).rows as { engine: string; ratio: number; timedBy: string; detail: string; threads: number }[];
    expect(rows.map((x) => x.engine)).toEqual(['scratch', 'pytorch']);
    const pt = rows[1];
    expect(pt.timedBy).toBe('inside its process');
    expect(pt.threads).toBe(1);
    expect(pt.ratio).toBe(1);
    expect(pt.detail).toMatch(/BLAS|MKL|BLIS/);
    expect(rows[0].ratio).toBeGreaterThan(0);
  });

  test(needing('torch, numpy', 'bench --race: scratch and PyTorch train side by side for the same wall time; endpoints printed, validation loss against time plotted'), () => {
    const out = mkdtempSync(join(tmpdir(), 'rnnlab-race-'));
    const r = rnnlab(['bench', '--race', '--minutes', '0.05', '--hidden', '16', '--batch', '4', '--seq', '10', '--val-every', '10', '--out', out, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { curves: { engine: string; steps: number; msPerStep: number; finalValLoss: number; elapsedSeconds: number; val: [number, number][]; detail: string }[]; svg: string };
    expect(res.curves.map((c) => c.engine)).toEqual(['scratch', 'pytorch']);
    // what each ran on: scratch's kernel set, PyTorch's versions; one thread each
    expect(res.curves[0].detail).toMatch(/^scratch \(float32, .*kernels.*1 thread\)$/);
    expect(res.curves[1].detail).toMatch(/^pytorch \(.*1 thread; python .*torch/);
    for (const c of res.curves) {
      expect(c.steps).toBeGreaterThan(0);
      expect(c.msPerStep).toBeGreaterThan(0);
      expect(c.finalValLoss).toBeGreaterThan(0);
      expect(c.elapsedSeconds).toBeGreaterThanOrEqual(3); // 0.05 min of training, then the last validation
      expect(c.val.length).toBeGreaterThanOrEqual(1);
      expect(c.val[c.val.length - 1][1]).toBe(c.finalValLoss);
    }
    expect(readdirSync(out).sort()).toEqual(['pytorch', 'race.json', 'race.svg', 'run.json', 'scratch']);
    const svg = readFileSync(res.svg, 'utf8');
    expect(svg).toContain('Validation loss against wall time');
    expect(svg).toMatch(/scratch: \d+ steps/);
    expect(svg).toMatch(/pytorch: \d+ steps/);
    const table = rnnlab(['bench', '--race', '--hidden', '16,32']);
    expect(table.code).toBe(2);
    expect(table.stderr).toMatch(/--race trains one model: give one --hidden/);
  });

  test(needing('torch, numpy', 'train --engines scratch,pytorch: identical weights and batches, losses side by side, a checkpoint holding both; predict on pytorch'), () => {
    const out = mkdtempSync(join(tmpdir(), 'rnnlab-pt-'));
    const r = rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--hidden', '8', '--epochs', '0.1', '--engines', 'scratch,pytorch', '--out', out, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const first = lines.find((l) => l.type === 'step');
    // step 1 runs both from the same weights on the same batch: float32 rounding apart
    expectNear('step-1 loss, pytorch against scratch', first.loss.pytorch, first.loss.scratch, 1e-5, { absolute: true });
    const final = lines[lines.length - 1];
    expect(final.engines).toEqual(['scratch', 'pytorch']);
    expect(final.maxParamDiff).toBeLessThan(2e-3);
    const ck = final.checkpoint as string;
    expect(readdirSync(ck)).toEqual(expect.arrayContaining(['params.safetensors', 'pytorch.params.safetensors', 'pytorch.optimizer.safetensors']));
    const s = JSON.parse(rnnlab(['predict', '--checkpoint', ck, 'Maria', '--json']).stdout);
    const p = rnnlab(['predict', '--checkpoint', ck, 'Maria', '--engine', 'pytorch', '--json'], { env });
    expect(p.code, p.stderr).toBe(0);
    const pj = JSON.parse(p.stdout);
    expect(pj.engine).toBe('pytorch');
    expect(pj.label).toBe(s.label);
    const classes = Object.keys(s.probabilities);
    expectClose('class probabilities, pytorch against scratch', classes.map((k) => pj.probabilities[k]), classes.map((k) => s.probabilities[k]), 1e-5, { absolute: true });
  });
});
