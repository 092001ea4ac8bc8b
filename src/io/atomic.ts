/** Writes that a crash cannot leave half-done: write a temporary file beside the target, then rename. */
import { mkdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

/** Whether a file name is one tmpName made (or the ".old" of a directory being replaced): a write cut short left it. */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.[a-z0-9]+\.tmp(\.old)?$/.test(name);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
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
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  mkdirSync(tmp, { recursive: true });
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
