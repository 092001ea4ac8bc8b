/**
 * `rnnlab bench --race`: the scratch engine and PyTorch train the same character language model
 * on Moby Dick for the same wall time, side by side, one thread each (two `rnnlab train`
 * processes started together on a 2-core machine), and the validation loss each reached is
 * compared against wall time: steps, ms per step, the final validation loss, and an SVG plot.
 * Default model: lstm, hidden 256, batch 32, sequence 100, Adam 0.002, clip norm 5, 5 minutes.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, InterruptedError } from '../errors.js';
import { setGraceful } from '../io/interrupt.js';
import { endGroup, signalGroup, spawnGroup } from '../io/processes.js';
import { writeFileAtomic } from '../io/atomic.js';
import { environmentInfo, newRunDir } from '../io/run-dir.js';
import { type LineSeries, lineChart } from '../io/svg.js';
import type { IO } from '../io/output.js';

export interface RaceOptions {
  minutes: number;
  cell: string;
  hidden: number;
  batch: number;
  seq: number;
  /** Validate every n steps (and at the end). */
  valEvery: number;
  valTokens: number;
  engines: string[];
  out: string;
  /** Replace --out if it holds an earlier race (only rnnlab's files). */
  overwrite?: boolean;
  python?: string;
  /** The scratch engine's kernels and BLAS (train's --kernels and --blas). */
  kernels?: string;
  blas?: string;
  seed: number;
}

export interface RaceCurve {
  engine: string;
  steps: number;
  msPerStep: number;
  finalValLoss: number | null;
  elapsedSeconds: number;
  /** [seconds since the process started, validation loss] */
  val: [number, number][];
  runDir: string;
  /** What the engine ran on (its run.json's engineDetails: dtype, kernels and BLAS, threads; PyTorch's versions). */
  detail: string | null;
}

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** The train processes of the race under way. */
const children = new Set<ChildProcess>();

/** One `rnnlab train` process; resolves with its JSON lines. */
function trainProcess(o: RaceOptions, engine: string, dir: string, io: IO): Promise<Record<string, unknown>[]> {
  const args = [
    CLI, 'train', '--task', 'text', '--cell', o.cell, '--hidden', String(o.hidden), '--batch', String(o.batch), '--seq', String(o.seq),
    '--optimizer', 'adam', '--lr', '0.002', '--clip-norm', '5', '--seed', String(o.seed),
    '--steps', '100000000', '--minutes', String(o.minutes), '--val-every', String(o.valEvery), '--val-tokens', String(o.valTokens),
    '--checkpoint-minutes', '0', '--keep-checkpoints', '1', '--sample-length', '50',
    '--engine', engine, '--threads', '1', ...(o.python ? ['--python', o.python] : []),
    ...(o.kernels ? ['--kernels', o.kernels] : []), ...(o.blas ? ['--blas', o.blas] : []), '--out', dir, '--json',
  ];
  return new Promise((resolve, reject) => {
    // its own process group: a Ctrl-C reaches the race, which passes it on (each run checkpoints); when the race ends, so do they
    const child = spawnGroup(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const last = out.trimEnd().split('\n').pop() ?? '';
      if (last.startsWith('{"type":"step"')) {
        try {
          const r = JSON.parse(last) as { step: number; elapsedSeconds: number };
          io.progress(`race: ${engine} step ${r.step}, ${r.elapsedSeconds.toFixed(0)} s`);
        } catch {
          /* a line still arriving */
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      endGroup(child);
      if (code !== 0) {
        reject(new InputError(`race: the ${engine} run failed (exit ${code}): ${err.trim().split('\n').pop() ?? ''}`));
        return;
      }
      resolve(out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}

function curveOf(engine: string, lines: Record<string, unknown>[], runDir: string): RaceCurve {
  const final = lines.find((l) => l.type === 'final') as
    | { steps: number; elapsedSeconds: number; msPerStep: Record<string, number>; validation?: Record<string, { valLoss: number }> }
    | undefined;
  if (!final) throw new InputError(`race: the ${engine} run printed no final summary`);
  const name = Object.keys(final.msPerStep)[0];
  const val = lines.filter((l) => l.type === 'val').map((l) => [l.elapsedSeconds as number, l.valLoss as number] as [number, number]);
  return {
    engine: name,
    steps: final.steps,
    msPerStep: final.msPerStep[name],
    finalValLoss: final.validation?.[name]?.valLoss ?? (val.length ? val[val.length - 1][1] : null),
    elapsedSeconds: final.elapsedSeconds,
    val,
    runDir,
    detail: runDetail(runDir),
  };
}

/** The engine's detail line from a run's run.json, or null when it cannot be read. */
function runDetail(runDir: string): string | null {
  try {
    const d = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { engineDetails?: unknown };
    return Array.isArray(d.engineDetails) && typeof d.engineDetails[0] === 'string' ? d.engineDetails[0] : null;
  } catch {
    return null;
  }
}

export async function raceCommand(o: RaceOptions, io: IO, json: boolean): Promise<{ curves: RaceCurve[]; svg: string }> {
  if (!(o.minutes > 0)) throw new InputError(`--minutes must be positive (got ${o.minutes})`);
  // the race's folder is claimed like any run's: a taken one is refused, --overwrite replaces only rnnlab's files
  const folder = newRunDir(o.out, { overwrite: o.overwrite, kind: 'race', onStale: (l) => io.err(`rnnlab: ${l}`) });
  try {
    const r = await race(o, io, json);
    folder.writeRunJson({ command: ['rnnlab', ...process.argv.slice(2)].join(' '), kind: 'race', options: o, ...environmentInfo() });
    return r;
  } finally {
    folder.release();
  }
}

async function race(o: RaceOptions, io: IO, json: boolean): Promise<{ curves: RaceCurve[]; svg: string }> {
  if (!json) {
    io.out(
      `race: ${o.engines.join(' and ')} side by side, one thread each, ${o.minutes} min each: ${o.cell} H=${o.hidden}, batch ${o.batch}, seq ${o.seq}, ` +
        `Adam 0.002, clip norm 5, Moby Dick by characters; validation every ${o.valEvery} steps and at the end (${o.valTokens} tokens)`,
    );
  }
  // Ctrl-C or SIGTERM: passed on to the runs, which finish their step and checkpoint
  let stopped: NodeJS.Signals | null = null;
  setGraceful((sig) => {
    stopped = sig;
    io.err(`\nrnnlab: ${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping the runs (each writes a checkpoint)`);
    for (const c of children) signalGroup(c, sig);
  });
  let lines: Record<string, unknown>[][];
  try {
    lines = await Promise.all(o.engines.map((e) => trainProcess(o, e, join(o.out, e), io).catch((err: unknown) => (stopped ? [] : Promise.reject(err)))));
  } finally {
    setGraceful(null);
  }
  if (stopped) {
    const resume = o.engines.map((e) => `rnnlab train --resume ${join(o.out, e)}`).join(' and ');
    throw new InterruptedError(stopped, `race stopped by ${stopped === 'SIGINT' ? 'Ctrl-C' : stopped}; each run wrote a checkpoint of its last step (continue them with ${resume})`);
  }
  const curves = o.engines.map((e, i) => curveOf(e, lines[i], join(o.out, e)));
  const series: LineSeries[] = curves.map((c) => ({ name: `${c.engine}: ${c.steps} steps, ${c.msPerStep.toFixed(0)} ms/step`, points: c.val, markers: true }));
  const svg = lineChart({
    title: `Validation loss against wall time: ${o.cell} H=${o.hidden}, batch ${o.batch}, seq ${o.seq}, one thread each, side by side`,
    xLabel: 'seconds since the process started',
    yLabel: 'validation loss (nats per character)',
    series,
  });
  const svgPath = join(o.out, 'race.svg');
  writeFileAtomic(svgPath, svg);
  writeFileAtomic(join(o.out, 'race.json'), JSON.stringify({ options: o, curves }, null, 1) + '\n');
  if (json) {
    io.out(JSON.stringify({ curves, svg: svgPath }));
  } else {
    io.out('');
    io.out(`${'engine'.padEnd(10)} ${'steps'.padStart(6)} ${'ms/step'.padStart(8)} ${'final val loss'.padStart(15)} ${'seconds'.padStart(8)}`);
    for (const c of curves) {
      io.out(`${c.engine.padEnd(10)} ${String(c.steps).padStart(6)} ${c.msPerStep.toFixed(0).padStart(8)} ${(c.finalValLoss === null ? '-' : c.finalValLoss.toFixed(3)).padStart(15)} ${c.elapsedSeconds.toFixed(0).padStart(8)}`);
    }
    for (const c of curves) if (c.detail) io.out(`  ${c.detail}`);
    io.out('');
    io.out(`wrote ${svgPath}, ${join(o.out, 'race.json')} and the two run directories under ${o.out}`);
  }
  return { curves, svg: svgPath };
}
