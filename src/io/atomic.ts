/** Writes that a crash cannot leave half-done: write a temporary file beside the target, then rename. */
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

/** Whether a file name is one tmpName made (or the ".old" of a directory being replaced): a write cut short left it. */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.[a-z0-9]+\.tmp(\.old)?$/.test(name);
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir reports a read-only file system as
 * "no such file or directory" and never returns under /proc; here the level that cannot be made
 * reports its own error (EROFS, EACCES, ENOTDIR, ...).
 */
export function makeDirs(path: string, target = path): void {
  try {
    if (statSync(path).isDirectory()) return;
    // a file where a folder should be: reported for the path asked for, as mkdir -p does
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${target}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: target });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR' && (e as NodeJS.ErrnoException).path === target) throw e;
    /* absent: made below */
  }
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent, target);
  try {
    mkdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(path).isDirectory()) return;
    throw e;
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  makeDirs(dirname(path));
  const tmp = tmpName(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Fills a directory through `fill(tmpDir)`, then renames it into place (replacing an older one).
 * A crash leaves either the old directory or the new one, never a mixture.
 */
export function writeDirAtomic(path: string, fill: (dir: string) => void): void {
  makeDirs(dirname(path));
  const tmp = tmpName(path);
  mkdirSync(tmp);
  try {
    fill(tmp);
    const old = `${tmp}.old`;
    let moved = false;
    try {
      renameSync(path, old);
      moved = true;
    } catch {
      /* no previous directory */
    }
    renameSync(tmp, path);
    if (moved) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Removes a directory so that a crash midway never leaves half of it under its name: it is renamed
 * to a temporary name first (which the next resume clears, and which counts as a cut write).
 */
export function removeDirAtomic(path: string): void {
  const tmp = tmpName(path);
  try {
    renameSync(path, tmp);
  } catch {
    return; // already gone
  }
  rmSync(tmp, { recursive: true, force: true });
}
