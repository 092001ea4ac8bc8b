/**
 * A task is one module and a line that registers it: this file writes a whole new task (the
 * parity of a bit string, a many-to-one classification), registers it, and uses it through the
 * CLI exactly as the built-in tasks are used: its own flag, its defaults, training with
 * checkpoints, --resume, its printed result and its use-command. Nothing else in rnnlab changes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import type { IO } from '../src/io/output.js';
import type { Batch, Engine } from '../src/engine.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { Rng } from '../src/rng.js';
import { type TrainOptions, modelSpec } from '../src/run-options.js';
import { TASKS, flagKey, registerTask, taskOnlyKeys } from '../src/tasks/registry.js';
import { USE_ENGINE_FLAGS } from '../src/tasks/use-engine.js';
import { type TrainTask, defineTask } from '../src/tasks/task.js';

interface ParityFlags extends TrainOptions {
  bits: number;
}

function parityBatch(rng: Rng, B: number, T: number): Batch {
  const x = new Float32Array(B * T);
  const y = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let p = 0;
    for (let t = 0; t < T; t++) {
      const v = rng.int(2);
      x[b * T + t] = v;
      p ^= v;
    }
    y[b] = p;
  }
  return { batchSize: B, seqLen: T, x, y };
}

class ParityTask implements TrainTask<{ testLoss: number }> {
  readonly name = 'parity';
  readonly stateful = false;
  readonly stepsPerEpoch = 10;
  readonly itemName = 'seq';
  readonly itemsPerStep: number;
  private rng: Rng;
  private readonly val: Batch;
  constructor(
    readonly spec: ReturnType<typeof modelSpec>,
    private readonly o: ParityFlags,
  ) {
    this.itemsPerStep = o.batch;
    this.rng = new Rng(o.seed);
    this.val = parityBatch(new Rng(o.seed + 1), 16, o.bits);
  }
  describe(): string[] {
    return [`parity of ${this.o.bits} bits`];
  }
  nextBatch(): { batch: Batch; resetState: boolean } {
    return { batch: parityBatch(this.rng, this.o.batch, this.o.bits), resetState: true };
  }
  epochProgress(): number {
    return 0;
  }
  getCursor(): unknown {
    return { rng: this.rng.getState() };
  }
  setCursor(c: unknown): void {
    this.rng.setState((c as { rng: number[] }).rng);
  }
  async evaluate(engine: Engine): Promise<{ valLoss: number }> {
    return { valLoss: (await engine.lossAndGrads(this.val)).loss };
  }
  async finish(engine: Engine): Promise<{ testLoss: number }> {
    return { testLoss: (await engine.lossAndGrads(this.val)).loss };
  }
}

const parityTask = defineTask<ParityFlags, { testLoss: number }>({
  name: 'parity',
  summary: 'parity (a test task)',
  flags: [{ flags: '--bits <n>', help: 'bits per string (default 5)', parse: (v: string) => Number(v) }],
  defaults: { hidden: 8, batch: 4, steps: 6, bits: 5 },
  seqLength: (o) => o.bits,
  build: (o) => {
    const spec = modelSpec(o, 1, 2, { input: 'dense', returnSequences: false, loss: 'softmaxCrossEntropy' });
    return { task: new ParityTask(spec, o), spec, data: { task: 'parity', bits: o.bits } };
  },
  printResult: (out, s) => out(`parity test loss ${s.testLoss.toFixed(4)}`),
  use: {
    name: 'parity-bits',
    description: 'the bits of a parity checkpoint',
    flags: [{ flags: '--checkpoint <dir>', help: 'a parity checkpoint', required: true }],
    examples: [],
    run: async (_args, f: { checkpoint: string }, io) => io.out(`bits ${(readCheckpoint(f.checkpoint).data as { bits: number }).bits}`),
  },
});

function captureIO(): IO & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), progress: () => {}, isTTY: false };
}

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.lines, err: io.errors };
}

describe('tasks', () => {
  it('the built-in tasks are text, series, classify and seq2seq, each with flags that no other task takes unless it declares them too', () => {
    expect(TASKS.map((t) => t.name)).toEqual(['text', 'series', 'classify', 'seq2seq']);
    const only = taskOnlyKeys();
    expect(only.get('seq')).toEqual(['text']);
    expect(only.get('csv')).toEqual(['series', 'classify', 'seq2seq']);
    expect(only.get('attention')).toEqual(['seq2seq']);
    expect(only.get('bucketing')).toEqual(['classify']);
  });

  it("a flag's key is commander's attribute name, for every task flag and use-command flag (the tasks name them without commander)", () => {
    const spellings = [...TASKS.flatMap((t) => [...t.flags, ...(t.use?.flags ?? [])]), ...USE_ENGINE_FLAGS].map((f) => f.flags);
    expect(spellings.length).toBeGreaterThan(40);
    for (const f of spellings) expect(flagKey(f), f).toBe(new Option(f).attributeName());
    expect(flagKey('--no-bucketing')).toBe('bucketing');
    expect(flagKey('-o, --out <file>')).toBe('out');
  });

  it('a new task is a module and a line: train, resume, its printer and its use-command work through the CLI', async () => {
    registerTask(parityTask);
    expect(() => registerTask(parityTask)).toThrow(/already registered/);
    const dir = join(mkdtempSync(join(tmpdir(), 'rnnlab-task-')), 'run');
    const help = await run(['train', '--help']);
    expect(help.out.join('\n')).toMatch(/--bits <n>\s+parity: bits per string/);

    const a = await run(['train', '--task', 'parity', '--bits', '6', '--steps', '4', '--sample-at', '2', '--out', dir]);
    expect(a.err).toEqual([]);
    expect(a.code).toBe(0);
    expect(a.out.join('\n')).toMatch(/parity of 6 bits/);
    expect(a.out.join('\n')).toMatch(/parity test loss \d\.\d{4}/);
    const b = await run(['train', '--resume', join(dir, 'checkpoints', 'step-2'), '--out', `${dir}-resumed`, '--json']);
    expect(b.code).toBe(0);
    const final = JSON.parse(b.out[b.out.length - 1]);
    expect(final.task).toBe('parity');
    expect(final.steps).toBe(4);
    // resumed from step 2 with the data cursor restored: the same last loss as the run that went through
    const first = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.step === 4);
    expect(final.loss.scratch).toBe(first[0].loss.scratch);

    const use = await run(['parity-bits', '--checkpoint', join(dir, 'checkpoints', 'step-4')]);
    expect(use.out).toEqual(['bits 6']);
    // its flag belongs to it alone
    const wrong = await run(['train', '--task', 'text', '--bits', '3']);
    expect(wrong.code).toBe(2);
    expect(wrong.err.join('\n')).toMatch(/--bits is a parity flag; the text task does not use it/);
  });
});
