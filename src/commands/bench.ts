/** `rnnlab bench`: the timing matrix, scratch against TensorFlow.js, in one process. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { type BenchRow, type EngineFactory, benchConfig } from '../../compare/bench.js';
import { ScratchEngine } from '../../scratch/engine.js';
import { type KernelChoice, defaultThreads, disposeKernels, makeKernels } from '../../scratch/kernel-sets.js';
import type { Kernels } from '../../scratch/kernels.js';
import { randomBatch } from '../data/synthetic.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { optimizerSpec } from '../optimizer.js';
import { randomTestParams } from '../params.js';
import { RunDir, environmentInfo } from '../report/run.js';
import { benchChartSvg } from '../report/plots.js';
import { type CellType, parseSpec } from '../spec.js';
import { intArg, intListArg } from './options.js';
import type { IO } from './io.js';

const ENGINES = ['scratch', 'scratch-js', 'scratch-f64', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-node'];

interface Flags {
  cell: string[];
  hidden: number[];
  batch: number[];
  seq: number;
  input: number;
  tokens?: number;
  engine: string[];
  threads?: number[];
  baseline: string;
  kernels: KernelChoice;
  warmup: number;
  repeats: number;
  budget: number;
  memorySteps: number;
  out?: string;
  json?: boolean;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

export function registerBench(program: Command, io: IO): void {
  program
    .command('bench')
    .description('time forward passes and training steps, scratch against TensorFlow.js, over a matrix of configurations')
    .option('--cell <list>', 'cells', list, ['rnn', 'lstm', 'gru'])
    .option('--hidden <list>', 'hidden sizes', intListArg(1), [64, 128, 256])
    .option('--batch <list>', 'batch sizes', intListArg(1), [1, 32])
    .option('--seq <n>', 'sequence length', intArg(1), 50)
    .option('--input <n>', 'input features (dense), also the number of output classes', intArg(1), 65)
    .option('--tokens <v>', 'token-id input of a vocabulary of v (the word-level case); overrides --input', intArg(2))
    .option('--engine <list>', `engines: ${ENGINES.join(', ')}`, list, ['scratch', 'scratch-f64', 'tfjs-wasm', 'tfjs-cpu'])
    .option('--threads <list>', 'thread counts for the scratch engine (default 1 and the cores, at most 2)', intListArg(1))
    .option('--baseline <engine>', 'every row prints its speed relative to this engine', 'tfjs-wasm')
    .option('--kernels <k>', 'scratch float32 kernels: auto, wasm, js', 'auto')
    .option('--warmup <n>', 'untimed rounds first', intArg(0), 2)
    .option('--repeats <n>', 'timed rounds (medians over these)', intArg(1), 7)
    .option('--budget <s>', 'seconds one engine may spend on one configuration (fewer repeats when slow)', intArg(1), 20)
    .option('--memory-steps <n>', 'after timing, run each engine alone for up to n steps (within --budget) and report heap and tensor growth', intArg(0), 0)
    .option('--out <dir>', 'write bench.json and bench.svg into this run directory')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  rnnlab bench --cell lstm --hidden 128 --batch 1,32 --engine scratch,tfjs-wasm\n' +
        '  rnnlab bench --cell lstm --hidden 128 --tokens 5000 --batch 1 --engine scratch,tfjs-wasm\n' +
        '  rnnlab bench --cell lstm --hidden 128 --batch 32 --engine scratch --memory-steps 1000\n' +
        '  npm run bench   (the standard matrix; writes runs/bench-*/bench.json and bench.svg)',
    )
    .action(async (f: Flags) => {
      for (const e of f.engine) if (!ENGINES.includes(e)) throw new InputError(`unknown engine "${e}" (choose from ${ENGINES.join(', ')})`);
      for (const c of f.cell) if (!['rnn', 'lstm', 'gru'].includes(c)) throw new InputError(`unknown cell "${c}" (choose rnn, lstm, gru)`);
      const threads = [...new Set(f.threads ?? [1, defaultThreads()])];
      const factories = await makeFactories(f.engine, threads, f.kernels, io);
      const rows: BenchRow[] = [];
      const configs = f.cell.flatMap((cell) => f.hidden.flatMap((hidden) => f.batch.map((batch) => ({ cell, hidden, batch }))));
      const table = !f.json;
      const t0 = performance.now();
      if (table) {
        io.out(`bench: ${configs.length} configurations x ${factories.length} engines; seq ${f.seq}, ${f.tokens ? `token input (vocabulary ${f.tokens})` : `input ${f.input}`}; adam; medians of up to ${f.repeats} repeats after ${f.warmup} warm-up`);
        for (const fa of factories) io.out(`  ${(fa.name + (fa.name === 'scratch' ? ` x${fa.threads}` : '')).padEnd(14)} ${fa.detail}`);
        io.out('');
      }
      for (const [i, c] of configs.entries()) {
        const vocab = f.tokens ?? f.input;
        const spec = parseSpec({ cell: c.cell as CellType, inputSize: vocab, hiddenSize: c.hidden, outputSize: vocab, input: f.tokens ? 'tokens' : 'dense' });
        const batch = randomBatch(spec, c.batch, f.seq, 7);
        const label = `${c.cell} H=${c.hidden} B=${c.batch}`;
        const r = await benchConfig({
          spec,
          batch,
          engines: factories,
          warmup: f.warmup,
          repeats: f.repeats,
          budgetSeconds: f.budget,
          memorySteps: f.memorySteps,
          baseline: f.engine.includes(f.baseline) ? f.baseline : null,
          onProgress: (m) => io.progress(`bench ${i + 1}/${configs.length} ${label}: ${m}`),
        });
        rows.push(...r);
        if (table) {
          if (i === 0) io.out(header(f).join('\n'));
          for (const row of r) io.out(formatRow(row, f));
        }
      }
      for (const fa of factories) await (fa as EngineFactory & { close?: () => Promise<void> }).close?.();
      const seconds = (performance.now() - t0) / 1000;
      const result = { rows, baseline: f.baseline, seq: f.seq, input: f.input, tokens: f.tokens ?? null, seconds, ...environmentInfo() };
      if (f.out) {
        const run = new RunDir(f.out);
        run.writeRunJson({ command: ['rnnlab', ...process.argv.slice(2)].join(' '), kind: 'bench', flags: f, ...environmentInfo() });
        writeFileAtomic(join(f.out, 'bench.json'), JSON.stringify(result, null, 1) + '\n');
        writeFileAtomic(join(f.out, 'bench.svg'), benchChartSvg(rows, f.baseline));
        for (const r of rows) run.metric({ type: 'bench', ...r });
      }
      if (f.json) {
        io.out(JSON.stringify(result));
        return;
      }
      io.out('');
      io.out(`ratio = ${f.baseline} training-step time / the row's (how many times faster than ${f.baseline}); ${seconds.toFixed(0)} s in all`);
      if (f.out) io.out(`wrote ${join(f.out, 'bench.json')} and ${join(f.out, 'bench.svg')}`);
    });
}

const COLS: [string, number][] = [
  ['cell', 4],
  ['H', 4],
  ['B', 3],
  ['engine', 11],
  ['thr', 3],
  ['train step ms (p10-p90)', 25],
  ['forward ms', 10],
  ['tok/s', 9],
  ['ratio', 7],
];

function columns(f: Flags): [string, number][] {
  return [...COLS, ...(f.memorySteps ? ([['heap +MB/steps', 14], ['tensors +', 9]] as [string, number][]) : [])];
}

function header(f: Flags): string[] {
  const c = columns(f);
  const w = c.map(([h, n]) => Math.max(h.length, n));
  return [c.map(([h], i) => (i === 0 || i === 3 ? h.padEnd(w[i]) : h.padStart(w[i]))).join('  '), w.map((n) => '-'.repeat(n)).join('  ')];
}

function formatRow(r: BenchRow, f: Flags): string {
  const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const cells = [
    r.cell,
    String(r.hidden),
    String(r.batch),
    r.engine,
    String(r.threads),
    `${ms(r.trainStepMs.median)} (${ms(r.trainStepMs.p10)}-${ms(r.trainStepMs.p90)})`,
    ms(r.forwardMs.median),
    Math.round(r.tokensPerSecond).toLocaleString('en-US'),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    ...(f.memorySteps ? [r.heapGrowthMB === null ? '-' : `${r.heapGrowthMB.toFixed(2)}/${r.memorySteps}`, r.tensorGrowth === null ? '-' : String(r.tensorGrowth)] : []),
  ];
  const widths = header(f)[1].split('  ').map((d) => d.length);
  return cells.map((c, i) => (i < 1 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
}

async function makeFactories(engines: string[], threads: number[], kernels: KernelChoice, io: IO): Promise<(EngineFactory & { close?: () => Promise<void> })[]> {
  const out: (EngineFactory & { close?: () => Promise<void> })[] = [];
  const opt = optimizerSpec('adam');
  for (const name of engines) {
    if (name === 'scratch' || name === 'scratch-js') {
      for (const t of name === 'scratch' ? threads : [1]) {
        const probe = await makeKernels(name === 'scratch-js' ? 'js' : kernels, t);
        if (probe.note) io.err(`rnnlab: note: ${probe.note}`);
        await disposeKernels(probe.kernels);
        const made: Kernels[] = [];
        out.push({
          name,
          threads: probe.kernels.name === 'js' ? 1 : t,
          detail: `float32, ${probe.kernels.name} kernels`,
          make: async (spec) => {
            const k = (await makeKernels(name === 'scratch-js' ? 'js' : kernels, t)).kernels;
            made.push(k);
            return new ScratchEngine(spec, { params: randomTestParams(spec, 1), optimizer: opt, kernels: k });
          },
          close: async () => {
            for (const k of made) await disposeKernels(k);
          },
        });
        if (probe.kernels.name === 'js' && name === 'scratch' && threads.length > 1) break;
      }
    } else if (name === 'scratch-f64') {
      out.push({ name, threads: 1, detail: 'float64, js kernels', make: async (spec) => new ScratchEngine(spec, { dtype: 'float64', params: randomTestParams(spec, 1), optimizer: opt }) });
    } else {
      const backend = name.slice('tfjs-'.length) as 'wasm' | 'cpu' | 'node';
      const { createTfjsEngine } = await import('../../tfjs/engine.js');
      const { loadTf, describeBackend } = await import('../../tfjs/backend.js');
      const loaded = await loadTf(backend);
      out.push({
        name,
        threads: 1,
        detail: describeBackend(loaded),
        make: (spec) => createTfjsEngine(spec, { backend, params: randomTestParams(spec, 1), optimizer: opt }),
        tensors: () => loaded.tf.memory().numTensors,
      });
    }
  }
  return out;
}
