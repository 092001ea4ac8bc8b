/**
 * What rnnlab may delete, replace and write, in one place (README, "Limits and errors";
 * docs/architecture.md, "Run folders and what rnnlab owns"):
 *
 * - A run folder is a directory whose run.json says rnnlab wrote it (`versions.rnnlab`) and whose
 *   entries are all rnnlab's: its records (run.json, metrics.jsonl, ...), checkpoints/ of
 *   checkpoint files, plots/ of SVG and PNG charts, the runs of a sweep or race inside it, the
 *   lock, and what a cut write left (temporary names). `--overwrite` replaces only such a folder:
 *   anything else in it makes the command refuse, naming it, and nothing is deleted.
 * - One process writes a run at a time: a run folder is locked by `rnnlab.lock` (the owner's pid,
 *   host and start time), taken by an atomic link, released when the command ends. A lock whose
 *   process is gone (killed, the machine restarted) is stale and taken over.
 * - A file named by `-o` is replaced only when rnnlab can tell it wrote it (an rnnlab report, chart,
 *   safetensors file or tfjs export); anything else is refused.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, lstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError, listNames } from '../errors.js';
import { VERSION } from '../version.js';
import { isTempName, makeDirs, writeFileAtomic } from './atomic.js';

export const LOCK_FILE = 'rnnlab.lock';

/** The files rnnlab writes at the top of a run folder (train, check, bench, sweeps, races). */
const RUN_FILES = new Set(['run.json', 'metrics.jsonl', 'samples.jsonl', 'check.json', 'bench.json', 'bench.svg', 'sweep.json', 'plot-data.json', 'race.json', 'race.svg', LOCK_FILE]);
/** The files of a checkpoint directory (writeCheckpoint, of every model kind; import). */
const CHECKPOINT_FILE = /^(?:spec|seq2seq|vocab|data|meta|import)\.json$|^[\w.+-]+\.safetensors$/;
const PLOT_FILE = /^[^/\\]+\.(?:svg|png)$/;

const isFile = (p: string): boolean => {
  try {
    return lstatSync(p).isFile();
  } catch {
    return false;
  }
};
const isDir = (p: string): boolean => {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The first bytes of a regular file ('' when it is not one or cannot be read). */
function head(path: string, n = 4096): string {
  if (!isFile(path)) return '';
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A run.json that rnnlab wrote: a JSON object (of at most 64 MiB) naming rnnlab's version. */
export function readRunJson(dir: string): Record<string, unknown> | null {
  const p = join(dir, 'run.json');
  if (!isFile(p) || statSync(p).size > 64 * 2 ** 20) return null;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const versions = (v as { versions?: unknown }).versions as Record<string, unknown> | undefined;
  return versions && typeof versions === 'object' && typeof versions.rnnlab === 'string' ? (v as Record<string, unknown>) : null;
}

/**
 * Whether a directory is a checkpoint rnnlab wrote: its spec (spec.json or seq2seq.json), its
 * params.safetensors, what wrote it (meta.json of a training run, import.json of an import), no
 * file a checkpoint does not hold, and every safetensors file marked as rnnlab's in its metadata.
 * A folder a user laid out for `check --spec --weights --data` (spec.json and their own
 * safetensors) is not one, whatever its file names.
 */
export function isCheckpointFolder(dir: string): boolean {
  if (!isDir(dir)) return false;
  const names = readdirSync(dir);
  const has = (n: string): boolean => names.includes(n) && isFile(join(dir, n));
  if (!(has('spec.json') || has('seq2seq.json')) || !has('params.safetensors') || !(has('meta.json') || has('import.json'))) return false;
  return names.every((n) => isTempName(n) || (CHECKPOINT_FILE.test(n) && isFile(join(dir, n)) && (!n.endsWith('.safetensors') || safetensorsByRnnlab(join(dir, n)))));
}

/**
 * The entries of a run folder that rnnlab did not write (paths relative to it); [] when every
 * entry is rnnlab's. Symbolic links are never rnnlab's.
 */
export function foreignEntries(dir: string, depth = 0): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (isTempName(name)) continue;
    if (RUN_FILES.has(name) && isFile(p)) continue;
    if (name === 'checkpoints' && isDir(p)) {
      for (const c of readdirSync(p)) {
        const cp = join(p, c);
        if (isTempName(c) || (c === 'best.json' && isFile(cp)) || (/^step-\d+$/.test(c) && isCheckpointFolder(cp))) continue;
        out.push(join(name, c));
      }
      continue;
    }
    if (name === 'plots' && isDir(p)) {
      for (const c of readdirSync(p)) if (!(PLOT_FILE.test(c) && isFile(join(p, c)))) out.push(join(name, c));
      continue;
    }
    // the runs of a sweep or race, each a run folder of its own
    if (depth < 2 && isDir(p) && readRunJson(p)) {
      out.push(...foreignEntries(p, depth + 1).map((e) => join(name, e)));
      continue;
    }
    out.push(name);
  }
  return out;
}

// ---- the lock: one writer per run ----

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  /** The process's start time in clock ticks since boot (Linux), so that a reused pid is not taken for the owner. */
  start: string | null;
  command: string;
}

/** Locks this process holds: lock path -> its text. */
const held = new Map<string, string>();
let exitHooked = false;

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ")"
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? 'zombie' : (fields[19] ?? null);
  } catch {
    return null;
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return Number.isSafeInteger(v?.pid) && v.pid > 0 && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote a lock still runs (another machine's process is assumed to). */
function holderAlive(l: LockInfo, path: string): boolean {
  if (l.host !== hostname()) return true;
  if (l.pid === process.pid) return held.has(resolve(path));
  try {
    process.kill(l.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(l.pid);
  if (start === 'zombie') return false;
  return !(start !== null && l.start !== null && start !== l.start);
}

/**
 * Takes the lock of a folder, or refuses with one line naming the process that holds it; a stale
 * lock (its process is gone) is taken over. Returns the release function.
 */
export function lockFolder(dir: string, onStale?: (line: string) => void): () => void {
  const path = join(dir, LOCK_FILE);
  const text = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), start: processStart(process.pid), command: ['rnnlab', ...process.argv.slice(2)].join(' ').slice(0, 300) } satisfies LockInfo) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    // written whole under a temporary name, then linked: the lock appears with its content or not at all
    const tmp = join(dir, `.${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    writeFileSync(tmp, text);
    try {
      linkSync(tmp, path);
      held.set(resolve(path), text);
      if (!exitHooked) {
        exitHooked = true;
        process.on('exit', releaseAllLocks);
      }
      return () => releaseLock(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
    let seen: string;
    try {
      seen = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile: try again
    }
    const other = readLock(path);
    if (other && holderAlive(other, path)) throw lockedError(dir, other, path);
    // Taken over by moving it aside, then checking that what was moved is the stale lock just read:
    // two processes that both found it stale must not both win (the second would remove the first's
    // fresh lock). A fresh lock moved by mistake is put back, and the next attempt sees it.
    const aside = join(dir, `.${LOCK_FILE}.stale.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      renameSync(path, aside);
    } catch {
      continue; // another process moved it first
    }
    let moved = '';
    try {
      moved = readFileSync(aside, 'utf8');
    } catch {
      /* judged as not the one read */
    }
    if (moved !== seen) {
      try {
        linkSync(aside, path);
      } catch {
        /* a third process took the lock meanwhile: the next attempt meets it */
      }
      rmSync(aside, { force: true });
      continue;
    }
    rmSync(aside, { force: true });
    onStale?.(`${path}: a stale lock (process ${other?.pid ?? '?'} is gone); taking it over`);
  }
  throw new InputError(`${dir}: could not take the lock ${path}: another process keeps taking it`);
}

function lockedError(dir: string, other: LockInfo, path: string): InputError {
  return new InputError(
    `${dir}: another rnnlab process (pid ${other.pid}${other.host !== hostname() ? ` on ${other.host}` : ''}, since ${other.since}) is writing this run; ` +
      `one process writes a run at a time: wait for it to end or stop it (if no rnnlab runs there, remove ${path})`,
  );
}

/** Refuses at once when another live process holds the folder's lock (before reading what it is writing). */
export function refuseIfLocked(dir: string): void {
  const path = join(dir, LOCK_FILE);
  const other = existsSync(path) ? readLock(path) : null;
  if (other && holderAlive(other, path)) throw lockedError(dir, other, path);
}

function releaseLock(path: string): void {
  const key = resolve(path);
  const text = held.get(key);
  if (text === undefined) return;
  held.delete(key);
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
  } catch {
    /* already gone (the folder was removed) */
  }
}

/** Releases every lock this process holds (the CLI calls it when a command ends, however it ends). */
export function releaseAllLocks(): void {
  for (const p of [...held.keys()]) releaseLock(p);
}

// ---- claiming a folder for a new run, opening one to continue it ----

export interface RunFolder {
  dir: string;
  /** The run's id (in run.json and every checkpoint's meta.json), or null for a run from before ids. */
  id: string | null;
  /** run.json as it was when the folder was opened (a resume), or the claim. */
  runJson: Record<string, unknown>;
  release(): void;
}

/** run.json's first content: a claim, so that the folder is known to be rnnlab's from its first moment. */
function claimJson(kind: string, id: string): Record<string, unknown> {
  return { claimed: true, kind, id, command: ['rnnlab', ...process.argv.slice(2)].join(' '), startedAt: new Date().toISOString(), versions: { rnnlab: VERSION } };
}

/**
 * Removes a run folder's entries (all rnnlab's, checked under its lock) but the lock itself. The
 * runs inside it (a sweep's, a race's) are all locked first: when another process writes one of
 * them, nothing at all is deleted.
 */
function clearRunFolder(dir: string): void {
  const releases: (() => void)[] = [];
  const lockRunsIn = (d: string, depth: number): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === LOCK_FILE || !isDir(p) || !readRunJson(p)) continue;
      releases.push(lockFolder(p));
      if (depth < 2) lockRunsIn(p, depth + 1);
    }
  };
  try {
    lockRunsIn(dir, 0);
    for (const name of readdirSync(dir)) if (name !== LOCK_FILE) rmSync(join(dir, name), { recursive: true, force: true });
  } finally {
    for (const release of releases.reverse()) release();
  }
}

/**
 * A folder for a new run: created when absent; an empty one (or one holding only the claim of a
 * run that never wrote anything) is used; a run folder is replaced only with `overwrite` and only
 * when everything in it is rnnlab's; anything else is refused with one line and left untouched.
 */
export function claimRunFolder(dir: string, o: { overwrite?: boolean; kind: string; flag?: string; onStale?: (line: string) => void }): RunFolder {
  const flag = o.flag ?? '--out';
  if (dir.trim() === '') throw new InputError(`${flag} is empty: give the directory for the run`);
  let entries: string[] = [];
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: exists and is not a directory; choose another ${flag}`);
    entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && !isTempName(e));
  }
  const run = entries.length ? readRunJson(dir) : null;
  const onlyClaim = run?.claimed === true && entries.length === 1;
  if (entries.length && !onlyClaim) {
    if (!o.overwrite) {
      throw new InputError(
        run
          ? `${dir}: already holds a run; choose another ${flag}, add --overwrite to replace it${o.kind === 'train' ? `, or continue it with rnnlab train --resume ${dir}` : ''}`
          : `${dir}: is not empty; choose a new or empty directory for ${flag}`,
      );
    }
    if (!run) throw new InputError(`${dir}: is not empty and not an rnnlab run directory (no run.json written by rnnlab); --overwrite replaces only run directories`);
  }
  makeDirs(dir);
  // what the folder holds is judged under its lock: a run another process writes is refused as such
  const release = lockFolder(dir, o.onStale);
  try {
    // judged again under the lock: what the folder holds now, not what it held a moment ago
    const now = readdirSync(dir).filter((e) => e !== LOCK_FILE && !isTempName(e));
    if (now.length) {
      const claimOnly = now.length === 1 && readRunJson(dir)?.claimed === true;
      if (!claimOnly) {
        if (!o.overwrite || !readRunJson(dir)) throw new InputError(`${dir}: was written to while rnnlab claimed it; choose a new or empty directory for ${flag}`);
        refuseForeign(dir);
      }
      clearRunFolder(dir);
    }
    const id = randomBytes(8).toString('hex');
    const claim = claimJson(o.kind, id);
    writeFileAtomic(join(dir, 'run.json'), JSON.stringify(claim, null, 2) + '\n');
    return { dir, id, runJson: claim, release };
  } catch (e) {
    release();
    throw e;
  }
}

function refuseForeign(dir: string): void {
  const foreign = foreignEntries(dir);
  if (foreign.length) {
    throw new InputError(`${dir}: holds ${foreign.length === 1 ? 'an entry' : `${foreign.length} entries`} rnnlab did not write (${listNames(foreign, 5)}); --overwrite replaces only what rnnlab wrote: move ${foreign.length === 1 ? 'it' : 'them'} away or choose another --out`);
  }
}

/** An existing run folder, to continue its run (train --resume): it must be rnnlab's, and is locked. */
export function openRunFolder(dir: string, onStale?: (line: string) => void): RunFolder {
  const run = readRunJson(dir);
  if (!run) throw new InputError(`${dir}: not an rnnlab run directory (no run.json written by rnnlab), so rnnlab does not write into it; give --out DIR to continue the run in a new folder`);
  const release = lockFolder(dir, onStale);
  return { dir, id: typeof run.id === 'string' ? run.id : null, runJson: run, release };
}

// ---- a checkpoint directory written whole (import -o) ----

/**
 * A directory to be replaced by a checkpoint: absent or empty, or (with `overwrite`) a checkpoint
 * rnnlab wrote, holding checkpoint files only. Never a directory holding anything else (the
 * model.json being imported, a thesis), which replacing would delete.
 */
export function checkCheckpointTarget(dir: string, o: { overwrite?: boolean; flag: string; inputs?: string[] }): void {
  if (dir.trim() === '') throw new InputError(`${o.flag} is empty: give the directory to write`);
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new InputError(`${o.flag} ${dir}: exists and is not a directory`);
  const target = resolve(dir);
  for (const input of o.inputs ?? []) {
    const d = resolve(dirname(input));
    if (d === target || d.startsWith(target + '/')) throw new InputError(`${o.flag} ${dir}: holds this command's input ${input}; writing the checkpoint there would delete it; choose another ${o.flag}`);
  }
  if (readdirSync(dir).length === 0) return;
  if (!isCheckpointFolder(dir)) {
    throw new InputError(`${o.flag} ${dir}: the directory holds files that are not an rnnlab checkpoint; rnnlab replaces only what it wrote: choose a new or empty directory`);
  }
  if (!o.overwrite) throw new InputError(`${o.flag} ${dir}: already holds a checkpoint (add --overwrite to replace it)`);
}

// ---- files named by -o: replaced only when rnnlab wrote them ----

export type OutputKind = 'report' | 'chart' | 'png' | 'safetensors' | 'tfjs' | 'weights' | 'labels';

const WRITTEN_BY: Record<OutputKind, { what: string; ours: (path: string) => boolean }> = {
  report: { what: 'an rnnlab report', ours: (p) => /^<!doctype html><html lang="en"><head><meta charset="utf-8">(<meta name="generator" content="rnnlab[^"]*">)?<title>rnnlab report<\/title>/.test(head(p, 512)) },
  chart: { what: 'an rnnlab chart', ours: (p) => /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" class="chart" data-chart="/.test(head(p, 256)) },
  // a PNG is rnnlab's when the chart it was drawn from, beside it, is
  png: { what: 'drawn from an rnnlab chart', ours: (p) => WRITTEN_BY.chart.ours(p.replace(/\.png$/, '.svg')) },
  safetensors: { what: 'a safetensors file written by rnnlab', ours: (p) => safetensorsByRnnlab(p) },
  tfjs: { what: 'an rnnlab export', ours: (p) => /"generatedBy":"rnnlab /.test(head(p, 256)) },
  // the weights of an export are rnnlab's when its model.json, beside them, is
  weights: { what: 'the weights of an rnnlab export', ours: (p) => WRITTEN_BY.tfjs.ours(join(dirname(p), 'model.json')) },
  // predict's CSV: the input's columns, then the predicted label and a probability per class
  labels: { what: 'a CSV rnnlab labelled', ours: (p) => /(?:^|,)(?:label|predicted)(?:,p_[^,\r\n]*)+\r?\n/.test(head(p, 64 * 1024).split('\n')[0] + '\n') },
};

/** Whether a safetensors file's metadata says rnnlab wrote it (a generator, or rnnlab's own format names). */
function safetensorsByRnnlab(path: string): boolean {
  if (!isFile(path)) return false;
  let meta: unknown;
  try {
    const fd = openSync(path, 'r');
    try {
      const len = Buffer.alloc(8);
      if (readSync(fd, len, 0, 8, 0) !== 8) return false;
      const n = Number(len.readBigUInt64LE(0));
      if (n > 16 * 2 ** 20) return false;
      const h = Buffer.alloc(n);
      if (readSync(fd, h, 0, n, 8) !== n) return false;
      meta = (JSON.parse(h.toString('utf8')) as Record<string, unknown>).__metadata__;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  const m = (meta ?? {}) as Record<string, unknown>;
  return (typeof m.generator === 'string' && m.generator.startsWith('rnnlab')) || m.format === 'rnnlab-canonical' || m.format === 'rnnlab-seq2seq';
}

/**
 * A file rnnlab is about to write over: absent, or one it can tell it wrote (of `kind`); anything
 * else (a run's metrics.jsonl, the user's own file) is refused with one line.
 */
export function checkReplaceable(path: string, flag: string, kind: OutputKind): void {
  if (!existsSync(path) && !isFile(path)) return;
  if (isDir(path)) return; // the caller says what a directory means for its flag
  const w = WRITTEN_BY[kind];
  if (!w.ours(path)) throw new InputError(`${path}: exists and is not ${w.what}; rnnlab replaces only files it wrote: remove it or choose another ${flag}`);
}

/**
 * A directory for an export (model.json + weights.bin): new, or a folder of the user's that is
 * not a run or a checkpoint (the two files are added to it); an earlier rnnlab export there is
 * replaced only with `overwrite`; files of those names that rnnlab did not write are refused.
 */
export function checkExportTarget(dir: string, o: { overwrite?: boolean; flag: string }): void {
  if (dir.trim() === '') throw new InputError(`${o.flag} is empty: give the directory to write`);
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new InputError(`${o.flag} ${dir}: exists and is not a directory`);
  if (readRunJson(dir) || isCheckpointFolder(dir)) throw new InputError(`${o.flag} ${dir}: is an rnnlab ${readRunJson(dir) ? 'run directory' : 'checkpoint'}; an export there would mix with its files: choose another ${o.flag}`);
  const model = join(dir, 'model.json');
  const weights = join(dir, 'weights.bin');
  checkReplaceable(model, o.flag, 'tfjs');
  checkReplaceable(weights, o.flag, 'weights');
  if ((existsSync(model) || existsSync(weights)) && !o.overwrite) throw new InputError(`${o.flag} ${dir}: already holds an export (model.json, weights.bin); add --overwrite to replace it`);
}

/** The generator marker of files whose format has room for one (safetensors metadata, the report's <meta>). */
export const GENERATOR = `rnnlab ${VERSION}`;
