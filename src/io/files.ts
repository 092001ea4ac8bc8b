/**
 * Reading the user's files: only regular files, each kind with a size limit (so `--text /dev/zero`
 * or a 30 GB file is refused with one line instead of filling the memory), and JSON that rejects
 * what JSON.parse would accept silently (a duplicated key) and accepts what editors add (a BOM).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, quote } from '../errors.js';
import { formatBytes } from '../sizes.js';

export type FileKind = 'text' | 'csv' | 'json' | 'safetensors' | 'weights';

const MiB = 2 ** 20;

/** The largest file of each kind rnnlab reads (documented in the README, "Limits"). */
export const FILE_LIMITS: Record<FileKind, number> = {
  text: 256 * MiB,
  csv: 256 * MiB,
  json: 64 * MiB,
  safetensors: 2048 * MiB - 1,
  weights: 2048 * MiB - 1,
};

const WHAT: Record<FileKind, string> = { text: 'a text file', csv: 'a CSV file', json: 'a JSON file', safetensors: 'a .safetensors file', weights: 'a binary weights file' };


/** Why `path` cannot be read as `kind`, or null. */
function refuse(path: string, kind: FileKind): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'ENOTDIR') return 'no such file (a part of the path is not a directory)';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    return `cannot be read (${code ?? (e as Error).message})`;
  }
  if (st.isDirectory()) return `is a directory, expected ${WHAT[kind]}`;
  if (!st.isFile()) return `is not a regular file (a device, pipe or socket), expected ${WHAT[kind]}`;
  if (st.size > FILE_LIMITS[kind]) return `is ${formatBytes(st.size)}; rnnlab reads ${kind} files of at most ${formatBytes(FILE_LIMITS[kind])}`;
  return null;
}

/** The bytes of a regular file of at most FILE_LIMITS[kind] bytes; anything else is one InputError line. */
export function readInputFile(path: string, kind: FileKind, what?: string): Buffer {
  const why = refuse(path, kind);
  if (why) throw new InputError(`${path}: ${why}${what && why === 'no such file' ? ` (${what})` : ''}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot be read (${code})`}`);
  }
  try {
    // the size is read again from the open file and the read stops at the limit, so a file that grows meanwhile cannot exceed it
    const size = fstatSync(fd).size;
    if (size > FILE_LIMITS[kind]) throw new InputError(`${path}: is ${formatBytes(size)}; rnnlab reads ${kind} files of at most ${formatBytes(FILE_LIMITS[kind])}`);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Parses JSON text: a leading BOM is accepted, a key given twice in one object is refused. */
export function parseJsonText(text: string, source: string): unknown {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (e) {
    throw new InputError(`${source}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const dup = duplicateKey(t);
  if (dup) throw new InputError(`${source}: the key ${quote(dup)} appears twice in one object; JSON would silently keep the last`);
  return value;
}

export function readJsonInput(path: string, what?: string): unknown {
  return parseJsonText(readInputFile(path, 'json', what).toString('utf8'), path);
}

/** The first key that appears twice in one object of valid JSON text, or null. */
export function duplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
  return null;
}

/**
 * Checks a file to be written (`-o`): not empty, not a directory, and not one of the files the
 * command reads (writing a converted file over the checkpoint's own params.safetensors would make
 * the checkpoint unusable). `inputs` are files or directories (every file directly inside).
 */
export function checkOutputFile(path: string, flag: string, inputs: string[] = [], example = 'out.file'): void {
  if (path.trim() === '') throw new InputError(`${flag} is empty: give the file to write`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError(`${path}: is a directory; ${flag} names the file to write (for example ${join(path, example)})`);
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const target = real(path);
  for (const input of inputs) {
    const files = existsSync(input) && statSync(input).isDirectory() ? readdirSync(input).map((n) => join(input, n)) : [input];
    for (const f of files) {
      if (real(f) === target) throw new InputError(`${path}: is an input of this command (${f}); writing over it would destroy it; choose another ${flag}`);
    }
  }
}
