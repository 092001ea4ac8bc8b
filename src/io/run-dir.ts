/**
 * A run directory: run.json (what ran: command, spec, flags, seed, engines, backend, versions,
 * machine), metrics.jsonl (one JSON record per logged step, validation, sample, checkpoint, and
 * the final summary), samples.jsonl, and checkpoints/step-N/. Lines are appended one write at a
 * time; run.json and checkpoints are written atomically.
 */
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { readInputFile } from './files.js';
import { isTempName, makeDirs, writeFileAtomic } from './atomic.js';
import { type RunFolder, claimRunFolder, openRunFolder } from './run-folder.js';
import { VERSION } from '../version.js';

export class RunDir {
  /** The run's id (run.json "id", each checkpoint's meta.json "runId"); null for a run from before ids. */
  readonly id: string | null;

  constructor(
    readonly dir: string,
    private readonly folder?: RunFolder,
  ) {
    this.id = folder?.id ?? null;
    if (!folder) makeDirs(dir);
  }

  writeRunJson(info: Record<string, unknown>): void {
    writeFileAtomic(join(this.dir, 'run.json'), JSON.stringify({ ...(this.id ? { id: this.id } : {}), ...info }, null, 2) + '\n');
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

  /** Lets another process write the run (the lock is also released when rnnlab exits). */
  release(): void {
    this.folder?.release();
  }
}

/** The run directory that holds a checkpoint (RUN/checkpoints/step-N -> RUN), or null for a checkpoint outside a run. */
export function runDirOf(checkpointDir: string): string | null {
  const holder = dirname(checkpointDir.replace(/[\\/]+$/, ''));
  return basename(holder) === 'checkpoints' ? dirname(holder) : null;
}

/** The file a sweep's directory holds beside its runs (series --window 5,10,20). */
export const SWEEP_FILE = 'sweep.json';

/**
 * A directory for a new run, claimed and locked (src/io/run-folder.ts): created when absent; an
 * empty one is used; one that holds anything is refused with one line (a second run would
 * overwrite run.json, append to metrics.jsonl and replace checkpoints of the same step), unless
 * `overwrite`, which clears it first, and only when it is an rnnlab run directory holding nothing
 * but rnnlab's files.
 */
export function newRunDir(dir: string, o: { overwrite?: boolean; kind?: string; onStale?: (line: string) => void } = {}): RunDir {
  return new RunDir(dir, claimRunFolder(dir, { overwrite: o.overwrite, kind: o.kind ?? 'train', onStale: o.onStale }));
}

/** An existing run directory, to continue its run in (train --resume): rnnlab's, and locked. */
export function openRunDir(dir: string, onStale?: (line: string) => void): RunDir & { runJson: Record<string, unknown> } {
  const folder = openRunFolder(dir, onStale);
  return Object.assign(new RunDir(dir, folder), { runJson: folder.runJson });
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

/** What a field of a record must be: a step count, a number (null: rnnlab writes NaN as null), text, numbers by engine, an object. */
type FieldKind = 'count' | 'num' | 'str' | 'nums' | 'obj';

/** The fields plot and report read, per record type; `step` of step/val/sample/checkpoint records and `loss` of step records are required. */
const RECORD_FIELDS: Record<string, Record<string, FieldKind>> = {
  step: { step: 'count', loss: 'nums', epoch: 'num', maxParamDiff: 'num', itemsPerSecond: 'num', msPerStep: 'nums', trainSeconds: 'nums', elapsedSeconds: 'num' },
  val: { step: 'count', engine: 'str', valLoss: 'num', epoch: 'num', elapsedSeconds: 'num' },
  sample: { step: 'count', engine: 'str', temperature: 'num', text: 'str', prime: 'str' },
  checkpoint: { step: 'count', dir: 'str' },
  final: { steps: 'count', epochs: 'num', elapsedSeconds: 'num', loss: 'nums', msPerStep: 'nums', validation: 'obj', test: 'obj', maxParamDiff: 'num' },
};
const REQUIRED: Record<string, string[]> = { step: ['step', 'loss'], val: ['step', 'engine'], sample: ['step'], checkpoint: ['step'] };

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function fieldProblem(v: unknown, kind: FieldKind): string | null {
  switch (kind) {
    case 'count':
      return Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'a step count';
    case 'num':
      return v === null || typeof v === 'number' ? null : 'a number';
    case 'str':
      return typeof v === 'string' ? null : 'text';
    case 'nums':
      return isObj(v) && Object.values(v).every((x) => x === null || typeof x === 'number') ? null : 'numbers by engine ({"scratch": 1.23})';
    case 'obj':
      return isObj(v) ? null : 'an object';
  }
}

/**
 * Reads a run's records (metrics.jsonl, samples.jsonl) as user input: a regular file under the
 * size limit, each line a record whose fields are what rnnlab writes (one line naming the first
 * that is not). A line cut short by a crash is skipped; a NaN rnnlab wrote (null) stays null.
 */
export function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  const lines = readInputFile(path, 'text').toString('utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      return; // a line cut short by a crash
    }
    const where = `${path} line ${i + 1}`;
    if (!isObj(r)) throw new InputError(`${where}: ${JSON.stringify(r).slice(0, 40)} is not a record (a JSON object)`);
    const type = r.type;
    if (type !== undefined && typeof type !== 'string') throw new InputError(`${where}: "type" is ${JSON.stringify(type).slice(0, 40)}, not a record type`);
    const fields = RECORD_FIELDS[type as string] ?? {};
    for (const k of REQUIRED[type as string] ?? []) if (r[k] === undefined) throw new InputError(`${where}: a ${type} record without "${k}"`);
    for (const [k, kind] of Object.entries(fields)) {
      if (r[k] === undefined) continue;
      const want = fieldProblem(r[k], kind);
      if (want) throw new InputError(`${where}: "${k}" is ${JSON.stringify(r[k])?.slice(0, 40)}, expected ${want}`);
    }
    out.push(r);
  });
  return out;
}
