/**
 * The timing matrix. For every configuration (cell, hidden, batch) all engines get the same
 * weights and batch, warm up, and are then timed in alternation (the order rotates each repeat),
 * so a machine that speeds up or slows down affects every engine alike and ratios measured in one
 * run hold. Per engine: forward time and training-step time (forward + BPTT + optimizer update),
 * median and 10th / 90th percentiles over the repeats, tokens per second, heap growth and (tfjs)
 * live tensors. An engine in another process is timed by the milliseconds it reports for its own
 * computation (the pipe and the encoding are not its speed); the row says so. Talks only to Engine;
 * the caller makes the engines.
 */
import type { Batch, Engine } from '../src/engine.js';
import { type ModelSpec, describeSpec } from '../src/spec.js';

export interface Timing {
  median: number;
  p10: number;
  p90: number;
  n: number;
}

export interface EngineFactory {
  /** Row label: "scratch", "scratch-f64", "tfjs-wasm", ... */
  name: string;
  threads: number;
  /** e.g. "wasm-simd kernels", "tfjs 4.22.0 wasm" */
  detail: string;
  make(spec: ModelSpec): Promise<Engine>;
  /** Live tfjs tensors, when the engine is a tfjs one (a browser engine's are counted in its page). */
  tensors?(): number | Promise<number>;
  /** Time by what the engine reports (`ms`) rather than wall time: engines in another process. */
  selfTimed?: boolean;
}

export interface BenchRow {
  cell: string;
  hidden: number;
  batch: number;
  seq: number;
  input: number;
  tokens: boolean;
  /** The model timed (describeSpec): the cell's variant, layers, head and loss. */
  model: string;
  engine: string;
  threads: number;
  /** What the engine says it ran for this model (PyTorch: nn.GRU, or its torch-ops loop). */
  detail: string;
  trainStepMs: Timing;
  forwardMs: Timing;
  tokensPerSecond: number;
  /** Heap growth over `memorySteps` extra steps of this engine alone (after GC when node runs with --expose-gc), or null. */
  heapGrowthMB: number | null;
  memorySteps: number;
  /** Live tfjs tensors added over those steps. */
  tensorGrowth: number | null;
  /** baseline median train-step time / this engine's (how many times faster than the baseline) */
  ratio: number | null;
  /** "inside its process" when timed by the engine's own report, else "wall". */
  timedBy: 'wall' | 'inside its process';
}

export function timing(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => {
    if (s.length === 0) return NaN;
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
  };
  return { median: q(0.5), p10: q(0.1), p90: q(0.9), n: s.length };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

export interface BenchConfig {
  spec: ModelSpec;
  batch: Batch;
  engines: EngineFactory[];
  warmup: number;
  repeats: number;
  /** Seconds one engine may spend on its repeats of a configuration (fewer repeats when slow). */
  budgetSeconds: number;
  /** Extra steps per engine, run alone, to measure heap and tensor growth (0 = skip). */
  memorySteps: number;
  baseline: string | null;
  onProgress?: (msg: string) => void;
}

/** One configuration: every engine timed in alternation. */
export async function benchConfig(c: BenchConfig): Promise<BenchRow[]> {
  const { spec, batch } = c;
  const engines: Engine[] = [];
  for (const f of c.engines) engines.push(await f.make(spec));
  const fwd: number[][] = engines.map(() => []);
  const stp: number[][] = engines.map(() => []);
  const spent = engines.map(() => 0);
  try {
    for (let w = 0; w < c.warmup; w++) {
      for (const [i, e] of engines.entries()) {
        const t0 = performance.now();
        await e.forward(batch);
        await e.step(batch);
        spent[i] += performance.now() - t0;
      }
    }
    const perRound = spent.map((ms) => ms / Math.max(1, c.warmup));
    const repeats = engines.map((_, i) => Math.max(2, Math.min(c.repeats, Math.floor((c.budgetSeconds * 1000) / Math.max(perRound[i], 1e-3)))));
    const rounds = Math.max(...repeats);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < engines.length; k++) {
        const i = (k + r) % engines.length; // rotate the order
        if (r >= repeats[i]) continue;
        const e = engines[i];
        const own = c.engines[i].selfTimed;
        let t0 = performance.now();
        const f = (await e.forward(batch)) as { ms?: number };
        fwd[i].push(own && f.ms !== undefined ? f.ms : performance.now() - t0);
        t0 = performance.now();
        const s = await e.step(batch);
        stp[i].push(own && s.ms !== undefined ? s.ms : performance.now() - t0);
      }
      c.onProgress?.(`round ${r + 1}/${rounds}`);
    }
    const memory: { heap: number | null; tensors: number | null; steps: number }[] = [];
    for (const [i, e] of engines.entries()) {
      if (c.memorySteps <= 0 || c.engines[i].selfTimed) {
        memory.push({ heap: null, tensors: null, steps: 0 }); // another process's heap is not ours to measure
        continue;
      }
      // as many steps as asked, within the engine's time budget
      const steps = Math.max(1, Math.min(c.memorySteps, Math.floor((c.budgetSeconds * 1000) / Math.max(timing(stp[i]).median, 1e-3))));
      gc();
      const h0 = process.memoryUsage().heapUsed;
      const t0 = await c.engines[i].tensors?.();
      for (let s = 0; s < steps; s++) await e.step(batch);
      gc();
      const t1 = await c.engines[i].tensors?.();
      memory.push({ heap: (process.memoryUsage().heapUsed - h0) / 2 ** 20, tensors: t0 !== undefined && t1 !== undefined ? t1 - t0 : null, steps });
    }
    const rows: BenchRow[] = c.engines.map((f, i) => {
      const t = timing(stp[i]);
      return {
        cell: spec.cell,
        hidden: spec.hiddenSize,
        batch: batch.batchSize,
        seq: batch.seqLen,
        input: spec.inputSize,
        tokens: spec.input === 'tokens',
        model: describeSpec(spec),
        engine: f.name,
        threads: f.threads,
        detail: engines[i].detail || f.detail,
        trainStepMs: t,
        forwardMs: timing(fwd[i]),
        tokensPerSecond: (batch.batchSize * batch.seqLen) / (t.median / 1000),
        heapGrowthMB: memory[i].heap,
        memorySteps: memory[i].steps,
        tensorGrowth: memory[i].tensors,
        ratio: null,
        timedBy: f.selfTimed ? 'inside its process' : 'wall',
      };
    });
    // against the baseline at the same thread count, else at one thread, else any
    const baseFor = (t: number): BenchRow | undefined =>
      c.baseline ? rows.find((r) => r.engine === c.baseline && r.threads === t) ?? rows.find((r) => r.engine === c.baseline && r.threads === 1) ?? rows.find((r) => r.engine === c.baseline) : undefined;
    for (const r of rows) {
      const base = baseFor(r.threads);
      r.ratio = base ? base.trainStepMs.median / r.trainStepMs.median : null;
    }
    return rows;
  } finally {
    for (const e of engines) await e.dispose();
  }
}
