/**
 * `rnnlab bench`: the timing matrix, every engine in one run (scratch, tfjs, PyTorch, your own),
 * timed in alternation so that ratios hold.
 */
import { assertFits } from '../sizes.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type BenchRow, type EngineFactory, benchConfig } from '../../compare/bench.js';
import type { KernelChoice } from '../run-options.js';
import { raceCommand } from './race.js';
import { randomBatch } from '../data/synthetic.js';
import type { Engine } from '../engine.js';
import { BROWSER_HELP, type EngineProvider, type StepProfile, collectEngines, defaultThreads, openProvider, parseEngineRef, profileScratch } from '../engines/registry.js';
import { modelUnsupported, trainingUnsupported } from '../supports.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type OptimizerSpec, describeOptimizer, optimizerSpec } from '../optimizer.js';
import { castParams, randomTestParams } from '../params.js';
import { environmentInfo, newRunDir } from '../io/run-dir.js';
import { benchChartSvg } from '../report/plots.js';
import { type CellType, type ModelSpec, appliesToCell, describeSpec, parseSpec } from '../spec.js';
import { CELLS, type VariantField, cellsWith } from '../cells.js';
import { BLAS_FLAG, ENGINE_TIMEOUT_HELP, type VariantOptionFlags, addVariantOptions, engineTimeoutArg, sharedFlag, kernelsOption, variantSpecFields } from './flags.js';
import { intArg, intListArg, listArg, numArg, threadsListArg } from '../io/args.js';
import { likeWithLikeNotes } from '../../compare/bench-notes.js';
import type { IO } from '../io/output.js';
import { plural } from '../io/table.js';

const ENGINES = ['scratch', 'scratch-js', 'scratch-f64', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-node', 'tfjs-webgl', 'tfjs-webgpu', 'tfjs-webgl-f16', 'pytorch', 'pytorch-f64'];

interface Flags extends VariantOptionFlags {
  cell: string[];
  hidden: number[];
  batch: number[];
  seq: number;
  input: number;
  tokens?: number;
  engine: string[];
  engines?: string[];
  threads?: number[];
  baseline?: string;
  kernels: KernelChoice;
  blas?: string;
  warmup: number;
  repeats: number;
  budget: number;
  memorySteps: number;
  python?: string;
  browser?: string;
  engineTimeout?: number;
  out?: string;
  overwrite?: boolean;
  json?: boolean;
  profile?: boolean;
  race?: boolean;
  minutes: number;
  valEvery: number;
  seed?: number;
  optimizer: string;
  lr?: number;
  /** The longest engine name (the table's column). */
  engineWidth?: number;
}


export function registerBench(program: Command, io: IO): void {
  const cmd = program
    .command('bench')
    .description('time forward passes and training steps, scratch against TensorFlow.js, over a matrix of configurations')
    .addOption(sharedFlag('cells', { note: 'default rnn,lstm,gru; the variant flags below apply to the cells they belong to' }))
    .addOption(sharedFlag('hiddens', { note: 'default 64,128,256' }))
    .option('--batch <list>', 'batch sizes (default 1,32)', intListArg(1))
    .option('--seq <n>', 'sequence length', intArg(1), 50)
    .option('--input <n>', 'input features (dense), also the number of output classes', intArg(1), 65)
    .option('--tokens <v>', 'token-id input of a vocabulary of v (the word-level case); overrides --input', intArg(2));
  addVariantOptions(cmd)
    .option('--engine <list>', `engines: ${ENGINES.join(', ')}, a module path or "cmd:COMMAND" (repeatable; default scratch,scratch-f64,tfjs-wasm,tfjs-cpu)`, collectEngines)
    .option('--engines <list>', 'the same as --engine', collectEngines)
    .option('--threads <list>', 'thread counts for the scratch engine and PyTorch (default 1 and the cores, at most 2)', threadsListArg)
    .option('--baseline <engine>', 'every row prints its speed relative to this engine at the same thread count (default tfjs-wasm, else the last engine)')
    .option('--python <path>', 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)')
    .option('--browser <path>', BROWSER_HELP)
    .option('--engine-timeout <s>', ENGINE_TIMEOUT_HELP, engineTimeoutArg)
    .addOption(kernelsOption('scratch kernels', 'auto'))
    .option(...BLAS_FLAG)
    .addOption(sharedFlag('optimizer', { default: 'adam', note: 'of the training steps timed; engines without it skip the rows' }))
    .addOption(sharedFlag('lr', { note: "default: the optimizer's" }))
    .option('--warmup <n>', 'untimed rounds first', intArg(0), 2)
    .option('--repeats <n>', 'timed rounds (medians over these)', intArg(1), 7)
    .option('--budget <s>', 'seconds one engine may spend on one configuration (fewer repeats when slow)', intArg(1), 20)
    .option('--memory-steps <n>', 'after timing, run each engine alone for up to n steps (within --budget) and report heap and tensor growth', intArg(0), 0)
    .option('--out <dir>', 'write bench.json and bench.svg into this run directory')
    .option('--overwrite', 'replace the run directory of --out if it already holds a run')
    .option('--profile', 'instead of the matrix: where the scratch engine\'s training step spends its time (gemm GFLOP/s per shape, time outside gemm; --repeats steps)')
    .option('--race', 'instead of the matrix: scratch and PyTorch train the character lstm (H 256, batch 32, seq 100, Adam 0.002, clip 5) on Moby Dick for --minutes each, side by side on one thread each; prints steps, ms/step and final validation loss, writes race.svg (validation loss against wall time) into --out (default runs/race)')
    .option('--minutes <m>', 'with --race: wall time of each engine', numArg({ positive: true }), 5)
    .option('--val-every <n>', 'with --race: validate every n steps (and at the end)', intArg(1), 50)
    .option('--seed <n>', 'with --race: seed of weights and data order (default 1)', intArg(0))
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  rnnlab bench --cell lstm --hidden 128 --batch 1,32 --engine scratch,tfjs-wasm\n' +
        '  rnnlab bench --cell lstm --hidden 128 --tokens 5000 --batch 1 --engine scratch,tfjs-wasm\n' +
        '  rnnlab bench --cell lstm --hidden 128 --batch 32 --engine scratch --memory-steps 1000\n' +
        '  rnnlab bench --cell gru --gru-reset-after --hidden 128 --batch 1,32 --engine scratch,pytorch --baseline pytorch   (against nn.GRU)\n' +
        '  rnnlab bench --cell lstm --hidden 256 --batch 32 --threads 1 --profile\n' +
        '  rnnlab bench --race --minutes 5 --out runs/race   (scratch against PyTorch on Moby Dick, side by side: 5 min)\n' +
        '  npm run bench   (the standard matrix; writes runs/bench-*/bench.json and bench.svg)',
    )
    .action((f: Flags, cmd: Command) => benchAction(f, cmd, io));
}

/** `rnnlab bench` with its flags parsed: a race, a profile, or the timing matrix. */
async function benchAction(f: Flags, cmd: Command, io: IO): Promise<void> {
  if (f.race) {
    const one = <T>(xs: T[] | undefined, d: T, what: string): T => {
      if (xs && xs.length > 1) throw new InputError(`--race trains one model: give one ${what}`);
      return xs?.[0] ?? d;
    };
    const engines = [...(f.engine ?? []), ...(f.engines ?? [])].flatMap((v) => listArg(v));
    await raceCommand(
      {
        minutes: f.minutes,
        cell: one(f.cell, 'lstm', '--cell'),
        hidden: one(f.hidden, 256, '--hidden'),
        batch: one(f.batch, 32, '--batch'),
        seq: cmd.getOptionValueSource('seq') === 'cli' ? f.seq : 100,
        valEvery: f.valEvery,
        valTokens: 20000,
        engines: engines.length ? engines : ['scratch', 'pytorch'],
        out: f.out ?? join('runs', 'race'),
        overwrite: f.overwrite,
        python: f.python,
        seed: f.seed ?? 1,
        kernels: f.kernels,
        blas: f.blas,
      },
      io,
      !!f.json,
    );
    return;
  }
  f.cell ??= [...CELLS];
  f.hidden ??= [64, 128, 256];
  f.batch ??= [1, 32];
  f.engine = [...(f.engine ?? []), ...(f.engines ?? [])];
  if (f.engine.length === 0) f.engine = ['scratch,scratch-f64,tfjs-wasm,tfjs-cpu'];
  for (const c of f.cell) if (!(CELLS as readonly string[]).includes(c)) throw new InputError(`unknown cell "${c}" (choose ${CELLS.join(', ')})`);
  checkVariantCells(f);
  const threads = [...new Set(f.threads ?? [1, defaultThreads()])];
  if (f.profile) {
    await profileCommand(f, threads, io);
    return;
  }
  const run = f.out ? newRunDir(f.out, { overwrite: f.overwrite, kind: 'bench' }) : null;
  const optimizer = optimizerSpec(f.optimizer, { lr: f.lr });
  const factories = await makeFactories(f, threads, io, optimizer);
  const baseline = f.baseline ?? (factories.some((x) => x.name === 'tfjs-wasm') ? 'tfjs-wasm' : factories[factories.length - 1].name);
  if (!factories.some((x) => x.name === baseline)) throw new InputError(`--baseline ${baseline} is not among the engines (${[...new Set(factories.map((x) => x.name))].join(', ')})`);
  f.engineWidth = Math.max(...factories.map((x) => x.name.length));
  const rows: BenchRow[] = [];
  const configs = f.cell.flatMap((cell) => f.hidden.flatMap((hidden) => f.batch.map((batch) => ({ cell, hidden, batch }))));
  const table = !f.json;
  if (table) {
    io.out(`bench: ${plural(configs.length, 'configuration')} x ${plural(factories.length, 'engine')}; seq ${f.seq}, ${f.tokens ? `token input (vocabulary ${f.tokens}${f.embedding ? `, embedding ${f.embedding}` : ''})` : `input ${f.input}`}${f.bidirectional ? ', bidirectional' : ''}; ${describeOptimizer(optimizer)}; medians of up to ${plural(f.repeats, 'repeat')} after ${f.warmup} warm-up`);
    for (const cell of f.cell) io.out(`  model: ${describeSpec(benchSpec(f, cell, 1)).replace(/ -> (\d+)x1 -> /, ' -> $1xH -> ')}`);
    for (const fa of factories) {
      io.out(`  ${(fa.name + (threads.length > 1 && fa.threads > 1 ? ` x${fa.threads}` : '')).padEnd(14)} ${fa.detail}${fa.selfTimed ? '; timed inside its own process' : ''}`);
      if (fa.timing) io.out(`  ${''.padEnd(14)} (${fa.timing})`);
    }
    io.out('');
  }
  const notes: string[] = [];
  for (const [i, c] of configs.entries()) {
    const spec = benchSpec(f, c.cell, c.hidden);
    assertFits(spec, { batch: c.batch, seq: f.seq, engines: 1, bytesPerFloat: 8 });
    const batch = randomBatch(spec, c.batch, f.seq, 7);
    const label = `${c.cell} H=${c.hidden} B=${c.batch}`;
    const able = factories.filter((fa) => {
      const why = modelUnsupported(spec, fa.supports) ?? trainingUnsupported(optimizer, fa.supports);
      if (why && table) io.err(`rnnlab: note: ${fa.name} skips ${label}: it does not support ${why}`);
      return !why;
    });
    const r = await benchConfig({
      spec,
      batch,
      engines: able,
      warmup: f.warmup,
      repeats: f.repeats,
      budgetSeconds: f.budget,
      memorySteps: f.memorySteps,
      baseline,
      onProgress: (m) => io.progress(`bench ${i + 1}/${configs.length} ${label}: ${m}`),
    });
    rows.push(...r);
    for (const n of likeWithLikeNotes(spec, r)) if (!notes.includes(n)) notes.push(n);
    if (table) {
      if (i === 0) io.out(header(f).join('\n'));
      for (const row of r) io.out(formatRow(row, f));
    }
  }
  for (const fa of factories) await fa.close();
  // the command's wall time: performance.now() counts from the process's start (engines started, Python loaded, all)
  const seconds = performance.now() / 1000;
  const result = { rows, baseline, seq: f.seq, input: f.input, tokens: f.tokens ?? null, seconds, ...environmentInfo() };
  if (run && f.out) {
    run.writeRunJson({ command: ['rnnlab', ...process.argv.slice(2)].join(' '), kind: 'bench', flags: f, ...environmentInfo() });
    writeFileAtomic(join(f.out, 'bench.json'), JSON.stringify(result, null, 1) + '\n');
    writeFileAtomic(join(f.out, 'bench.svg'), benchChartSvg(rows, baseline));
    for (const r of rows) run.metric({ type: 'bench', ...r });
  }
  if (f.json) {
    io.out(JSON.stringify(result));
    return;
  }
  io.out('');
  if (rows.some((r) => r.engine === baseline)) io.out(`ratio = ${baseline} training-step time at the row's thread count (else at 1) / the row's: how many times faster than ${baseline}; ${seconds.toFixed(1)} s in all`);
  else io.out(`ratio: none, the baseline ${baseline} ran no configuration (see the notes above; --baseline picks another); ${seconds.toFixed(1)} s in all`);
  if (factories.some((x) => x.selfTimed)) io.out('engines in another process are timed by what they measure inside their process (without the pipe)');
  for (const n of notes) io.out(n);
  if (f.out) io.out(`wrote ${join(f.out, 'bench.json')} and ${join(f.out, 'bench.svg')}`);
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
  const cols = COLS.map(([h, n]): [string, number] => (h === 'engine' ? [h, Math.max(n, f.engineWidth ?? 0)] : [h, n]));
  return [...cols, ...(f.memorySteps ? ([['heap +MB/steps', 14], ['tensors +', 9]] as [string, number][]) : [])];
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

/** The variant flags that belong to one cell only, by the spec field each sets. */
const CELL_FLAGS: [keyof VariantOptionFlags & VariantField, string][] = [
  ['activation', '--activation'],
  ['recurrentActivation', '--recurrent-activation'],
  ['gruResetAfter', '--gru-reset-after'],
  ['unitForgetBias', '--unit-forget-bias'],
];

/** A cell flag that belongs to none of the cells benched is a mistake, not something to ignore. */
function checkVariantCells(f: Flags): void {
  for (const [field, flag] of CELL_FLAGS) {
    if (f[field] === undefined || f[field] === false) continue;
    if (!f.cell.some((c) => appliesToCell(field, c as CellType))) {
      const owners = cellsWith(field);
      throw new InputError(`${flag} applies to ${owners.join('/')} only, and --cell ${f.cell.join(',')} has none`);
    }
  }
  if (f.embedding && !f.tokens) throw new InputError('--embedding looks up token ids: give --tokens V too');
}

/** The model of one row: the cell and width of the row, the variant flags that apply to that cell. */
function benchSpec(f: Flags, cell: string, hidden: number): ModelSpec {
  const vocab = f.tokens ?? f.input;
  const fields = variantSpecFields(f);
  for (const k of Object.keys(fields) as (keyof ModelSpec)[]) if (!appliesToCell(k, cell as CellType)) delete fields[k];
  return parseSpec({ cell, inputSize: vocab, hiddenSize: hidden, outputSize: vocab, input: f.tokens ? 'tokens' : 'dense', ...fields }, 'bench flags');
}

type Factory = EngineFactory & { close: () => Promise<void>; supports: EngineProvider['supports']; timing?: string };

async function makeFactories(f: Flags, threads: number[], io: IO, opt: OptimizerSpec): Promise<Factory[]> {
  const out: Factory[] = [];
  const refs = f.engine.flatMap((v) => (v.trim().startsWith('cmd:') ? [v] : v.split(',').map((x) => x.trim()).filter(Boolean)));
  for (const name of refs) {
    const ref = parseEngineRef(name, 'auto');
    // the scratch engine and PyTorch run at every thread count asked for; the others (scratch-js: the TypeScript kernels) on one thread
    const counts = (ref.kind === 'scratch' && ref.dtype === 'float32' && !ref.kernels) || ref.kind === 'pytorch' ? threads : [1];
    for (const t of counts) {
      const p = await openProvider(ref, { kernels: f.kernels, blas: f.blas, threads: t, python: f.python, browser: f.browser, timeoutMs: f.engineTimeout ? f.engineTimeout * 1000 : undefined, onProgress: (w) => io.progress(w) });
      if (p.unavailable) {
        io.err(`rnnlab: note: ${p.name} is left out: it cannot run here: ${p.unavailable}`);
        await p.close();
        break;
      }
      let probe: Engine | null = null;
      if (ref.kind === 'scratch' && ref.dtype === 'float32') {
        // learn which kernels (and so how many threads) this machine gives, before the table's header
        const spec = parseSpec({ cell: 'rnn', inputSize: 2, hiddenSize: 2, outputSize: 2 });
        probe = await p.open(spec, { params: randomTestParams(spec, 1), optimizer: opt });
        for (const n of p.notes) io.err(`rnnlab: note: ${n}`);
      }
      out.push({
        name: p.name,
        threads: p.threads,
        detail: p.detail,
        supports: p.supports,
        selfTimed: ref.kind === 'pytorch' || ref.kind === 'cmd',
        ...(p.timing ? { timing: p.timing } : {}),
        make: (spec) => p.open(spec, { params: castParams(randomTestParams(spec, 1), p.dtype === 'float64' ? 'F64' : 'F32'), optimizer: opt }),
        ...(p.tfjs ? { tensors: p.tfjs.numTensors } : {}),
        close: async () => {
          await probe?.dispose();
          await p.close();
        },
      });
      if (probe && p.threads === 1 && t > 1) break; // js kernels: one thread only
    }
  }
  if (out.length === 0) throw new InputError('none of the engines asked for can run here (the notes above say why)');
  // the same engine twice at one thread count gets "#2" (rows are keyed by engine and threads)
  const seen = new Map<string, number>();
  for (const x of out) {
    const k = `${x.name}/${x.threads}`;
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    if (n > 1) x.name = `${x.name}#${n}`;
  }
  return out;
}

interface ProfileRow extends StepProfile {
  cell: string;
  hidden: number;
  batch: number;
  seq: number;
  /** The optimizer of the steps timed (--optimizer). */
  optimizer: string;
  threads: number;
  /** The kernel set's name ("blas", "wasm-simd", ...). */
  kernelSet: string;
  /** ... described for the headline (describeKernels: the BLAS library, or why there is none). */
  kernelsAbout: string;
}

/** `bench --profile`: the float32 scratch engine on timed kernels, per configuration and thread count. */
async function profileCommand(f: Flags, threads: number[], io: IO): Promise<void> {
  const rows: ProfileRow[] = [];
  const notes = new Set<string>();
  for (const cell of f.cell) {
    for (const hidden of f.hidden) {
      for (const batchSize of f.batch) {
        const spec = benchSpec(f, cell, hidden);
        assertFits(spec, { batch: batchSize, seq: f.seq, engines: 1, bytesPerFloat: 4 });
        const batch = randomBatch(spec, batchSize, f.seq, 7);
        for (const t of threads) {
          io.progress(`profile ${cell} H=${hidden} B=${batchSize} x${t}`);
          const optimizer = optimizerSpec(f.optimizer, { lr: f.lr });
          const r = await profileScratch(spec, batch, { kernels: f.kernels, blas: f.blas, threads: t, params: randomTestParams(spec, 1), optimizer, warmup: f.warmup, steps: f.repeats });
          if (r.note && !notes.has(r.note)) io.err(`rnnlab: note: ${r.note}`);
          if (r.note) notes.add(r.note);
          // kernels with fewer threads than asked (the TypeScript ones): one row per thread count they have
          if (rows.some((x) => x.cell === cell && x.hidden === hidden && x.batch === batchSize && x.threads === r.threads)) continue;
          const row: ProfileRow = { cell, hidden, batch: batchSize, seq: f.seq, threads: r.threads, optimizer: optimizer.name, kernelSet: r.kernelSet, kernelsAbout: r.kernelsAbout, ...r.profile };
          rows.push(row);
          if (!f.json) io.out(formatProfile(row));
        }
      }
    }
  }
  if (f.json) io.out(JSON.stringify({ profile: rows, seq: f.seq, input: f.input, tokens: f.tokens ?? null, ...environmentInfo() }));
}

function formatProfile(r: ProfileRow): string {
  const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `${r.cell} H=${r.hidden} B=${r.batch} seq ${r.seq}, scratch on ${r.kernelsAbout}: ${ms(r.stepMs)} ms a training step (${r.optimizer}, mean of ${r.steps}); ` +
      `gemm ${ms(r.gemmMs)} ms at ${r.gemmGflops.toFixed(1)} GFLOP/s; outside gemm ${pct(r.outsideGemm)} of the step`,
    `  ${'op'.padEnd(3)} ${'m'.padStart(5)} ${'n'.padStart(5)} ${'k'.padStart(5)} ${'calls'.padStart(6)} ${'ms/step'.padStart(8)} ${'GFLOP/s'.padStart(8)} ${'share'.padStart(6)}  on`,
  ];
  for (const s of r.shapes) {
    lines.push(`  ${s.op.padEnd(3)} ${String(s.m).padStart(5)} ${String(s.n).padStart(5)} ${String(s.k).padStart(5)} ${String(Math.round(s.callsPerStep)).padStart(6)} ${ms(s.msPerStep).padStart(8)} ${s.gflops.toFixed(1).padStart(8)} ${pct(s.share).padStart(6)}  ${s.on}`);
  }
  if (r.kernels.length) lines.push(`  other kernels: ${r.kernels.map((k) => `${k.name} ${ms(k.msPerStep)} ms (${pct(k.share)})`).join(', ')}`);
  if (r.blasGflops) {
    // the BLAS's products against what the library reaches on a large product at this thread count
    const blasShapes = r.shapes.filter((s) => s.on === 'blas');
    const gflop = blasShapes.reduce((a, s) => a + (2 * s.m * s.n * s.k * s.callsPerStep) / 1e9, 0);
    const msOn = blasShapes.reduce((a, s) => a + s.msPerStep, 0);
    const rate = msOn > 0 ? gflop / msOn * 1e3 : 0;
    lines.push(
      `  ceiling: ${r.blasLibrary} reaches ${r.blasGflops.toFixed(1)} GFLOP/s on a 512x512x512 product at ${plural(r.threads, 'thread')} here; ` +
        `the step's ${gflop.toFixed(2)} GFLOP of products on it ran at ${rate.toFixed(1)} GFLOP/s (${pct(rate / r.blasGflops)} of that), ` +
        `and would take ${ms((gflop / r.blasGflops) * 1e3)} ms at that rate` +
        (r.peakGflops ? `; the WebAssembly gemm's 4x8 microkernel reaches ${r.peakGflops.toFixed(1)} GFLOP/s a thread` : ''),
    );
  } else if (r.peakGflops) {
    const ceiling = r.peakGflops * r.threads;
    lines.push(
      `  ceiling: the gemm's 4x8 microkernel on operands in L1 runs at ${r.peakGflops.toFixed(1)} GFLOP/s a thread on this machine; ` +
        `at ${r.threads === 1 ? 'that rate' : `${r.threads} times that`} the step's ${r.gemmGflop.toFixed(2)} GFLOP of products take ${ms((r.gemmGflop / ceiling) * 1e3)} ms ` +
        `(gemm ran at ${pct(r.gemmGflops / ceiling)} of it)`,
    );
  }
  return lines.join('\n') + '\n';
}
