/**
 * A run directory: run.json (what ran: command, spec, flags, seed, engines, backend, versions,
 * machine), metrics.jsonl (one JSON record per logged step, validation, sample, checkpoint, and
 * the final summary), samples.jsonl, and checkpoints/step-N/. Lines are appended one write at a
 * time; run.json and checkpoints are written atomically.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { isTempName, writeFileAtomic } from '../io/atomic.js';
import { VERSION } from '../version.js';

export class RunDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  writeRunJson(info: Record<string, unknown>): void {
    writeFileAtomic(join(this.dir, 'run.json'), JSON.stringify(info, null, 2) + '\n');
  }

  metric(record: object): void {
    appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
  }

  sample(record: Record<string, unknown>): void {
    appendFileSync(join(this.dir, 'samples.jsonl'), JSON.stringify(record) + '\n');
  }

  checkpointDir(step: number): string {
    return join(this.dir, 'checkpoints', `step-${step}`);
  }
}

/** The run directory that holds a checkpoint (RUN/checkpoints/step-N -> RUN), or null for a checkpoint outside a run. */
export function runDirOf(checkpointDir: string): string | null {
  const holder = dirname(checkpointDir.replace(/[\\/]+$/, ''));
  return basename(holder) === 'checkpoints' ? dirname(holder) : null;
}

/** The file a sweep's directory holds beside its runs (series --window 5,10,20). */
export const SWEEP_FILE = 'sweep.json';

const RUN_FILES = ['run.json', 'metrics.jsonl', 'samples.jsonl', 'checkpoints', 'check.json', 'bench.json', SWEEP_FILE];

/**
 * A directory for a new run: created when absent; an existing empty directory is used; one that
 * holds anything is refused with one line (a second run would overwrite run.json, append to
 * metrics.jsonl and replace checkpoints of the same step), unless `overwrite`, which clears it
 * first, and only when it is an rnnlab run directory.
 */
export function newRunDir(dir: string, o: { overwrite?: boolean } = {}): RunDir {
  if (dir.trim() === '') throw new InputError('--out is empty: give the directory for the run');
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: exists and is not a directory; choose another --out`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      const isRun = entries.some((e) => RUN_FILES.includes(e));
      if (!o.overwrite) {
        throw new InputError(
          isRun
            ? `${dir}: already holds a run; choose another --out, add --overwrite to replace it, or continue it with rnnlab train --resume ${dir}`
            : `${dir}: is not empty; choose a new or empty directory for --out`,
        );
      }
      if (!isRun) throw new InputError(`${dir}: is not empty and not an rnnlab run directory; --overwrite clears only run directories`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return new RunDir(dir);
}

/** Removes what writes killed midway left behind: ".name.<pid>.<random>.tmp" files and directories. */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const d of [dir, join(dir, 'checkpoints')]) {
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d)) {
      if (isTempName(e)) {
        rmSync(join(d, e), { recursive: true, force: true });
        removed.push(join(d, e));
      }
    }
  }
  return removed;
}

export function defaultRunDir(task: string, root = 'runs'): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  let dir = join(root, `${task}-${stamp}`);
  for (let i = 2; existsSync(dir); i++) dir = join(root, `${task}-${stamp}-${i}`);
  return dir;
}

/** Versions and machine, for run.json. */
export function environmentInfo(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c = cpus();
  return {
    versions: { rnnlab: VERSION, node: process.version, ...extra },
    machine: { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${platform()} ${release()}` },
  };
}

/** The newest checkpoint of a run directory, or the directory itself when it is a checkpoint. */
export function resolveCheckpoint(path: string, note?: (line: string) => void): string {
  if (!existsSync(path)) throw new InputError(`${path}: no such run or checkpoint directory`);
  if (existsSync(join(path, 'spec.json')) || existsSync(join(path, 'seq2seq.json'))) return path;
  const sweep = readSweep(path);
  if (sweep) {
    const best = sweep.runs.filter((r) => r.valLoss !== null).sort((a, b) => a.valLoss! - b.valLoss!)[0] ?? sweep.runs[0];
    if (!best) throw new InputError(`${path}: a sweep without runs`);
    note?.(`${path} is a sweep of ${sweep.runs.length} runs; using ${best.folder}${best.valLoss !== null ? `, the lowest validation loss (${best.valLoss.toPrecision(4)})` : ''}`);
    return resolveCheckpoint(join(path, best.folder));
  }
  const cdir = join(path, 'checkpoints');
  if (existsSync(cdir)) {
    const steps = readdirSync(cdir)
      .map((n) => /^step-(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    if (steps.length) return join(cdir, `step-${steps[0]}`);
  }
  throw new InputError(`${path}: neither a checkpoint (spec.json) nor a run directory with checkpoints`);
}

export interface SweepRecord {
  kind: 'sweep';
  task: string;
  /** Each run's folder inside the sweep's directory, and its final validation loss (first engine). */
  runs: { folder: string; valLoss: number | null }[];
}

/** The sweep record of a directory, or null when it is not a sweep. */
export function readSweep(dir: string): SweepRecord | null {
  const p = join(dir, SWEEP_FILE);
  if (!existsSync(p)) return null;
  let v: SweepRecord;
  try {
    v = JSON.parse(readFileSync(p, 'utf8')) as SweepRecord;
  } catch {
    throw new InputError(`${p}: not valid JSON`);
  }
  if (v?.kind !== 'sweep' || !Array.isArray(v.runs)) throw new InputError(`${p}: not a sweep record`);
  return v;
}

/** Reads metrics.jsonl, skipping a truncated last line. */
export function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      /* a line cut short by a crash */
    }
  }
  return out;
}
