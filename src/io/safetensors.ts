/**
 * safetensors: 8-byte little-endian header length N, N bytes of JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}), then the
 * raw little-endian buffers. Readable by PyTorch, numpy and JavaScript alike.
 * We write F32, F64, I32 and U8; we read those plus I64 (PyTorch's default for class ids),
 * converted to I32 when every value fits.
 */
import { duplicateKey, readInputFile } from './files.js';
import { InputError } from '../errors.js';
import { type DType, type NamedTensors, type Tensor, numel, shapeStr } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';

const BYTES: Record<string, number> = { F32: 4, F64: 8, I32: 4, U8: 1, I64: 8 };
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: NamedTensors;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: NamedTensors, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    const n = numel(t.shape);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape ${shapeStr(t.shape)}`);
    const bytes = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const headerBytes = new TextEncoder().encode(json);
  const pad = (8 - ((8 + headerBytes.length) % 8)) % 8;
  json += ' '.repeat(pad);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const [, t] of entries) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos); // typed arrays are little-endian on every platform Node runs on
    pos += src.length;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const bad = (why: string): InputError => new InputError(`${source}: not a valid safetensors file (${why})`);
  if (bytes.length < 8) throw bad(`only ${bytes.length} bytes; the 8-byte header length is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER) throw bad(`header length ${headerLen} is implausible`);
  if (8 + headerLen > bytes.length) {
    throw bad(`header says ${headerLen} bytes but the file has only ${bytes.length - 8} after the length; truncated?`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw bad('header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object');
  const dup = duplicateKey(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  if (dup !== null) throw bad(`the tensor name ${JSON.stringify(dup)} appears twice`);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: NamedTensors = {};
  let metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry && typeof entry === 'object') metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') throw bad(`entry "${name}" is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) {
      throw new InputError(`${source}: tensor "${name}" has dtype ${JSON.stringify(e.dtype)}; rnnlab reads F32, F64, I32, I64 and U8`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(`tensor "${name}" has a bad shape`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
      throw bad(`tensor "${name}" has bad data_offsets`);
    }
    const shape = e.shape as number[];
    const [begin, end] = off as [number, number];
    if (end > dataLen) throw bad(`tensor "${name}" ends at byte ${end} but only ${dataLen} data bytes are present; truncated?`);
    const width = BYTES[e.dtype];
    if (end - begin !== numel(shape) * width) {
      throw bad(`tensor "${name}" spans ${end - begin} bytes, but ${e.dtype} ${shapeStr(shape)} needs ${numel(shape) * width}`);
    }
    spans.push({ name, begin, end });
    // Copy into a fresh, aligned buffer.
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    // an own property whatever the name ("__proto__" too), so that a wrong name is refused by name, never dropped
    Object.defineProperty(tensors, name, { value: makeTensor(e.dtype, shape, raw.buffer, name, source), enumerable: true, writable: true, configurable: true });
  }
  // the format indexes the whole byte buffer, without holes or overlaps (and so without trailing bytes)
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const s of spans) {
    if (s.begin < at) throw bad(`tensor "${s.name}" overlaps the bytes of another tensor (it starts at ${s.begin}, before ${at})`);
    if (s.begin > at) throw bad(`bytes ${at}..${s.begin} of the data belong to no tensor`);
    at = s.end;
  }
  if (at !== dataLen) throw bad(`${dataLen - at} bytes after the last tensor belong to no tensor`);
  return { tensors, metadata };
}

function makeTensor(dtype: string, shape: number[], buf: ArrayBuffer, name: string, source: string): Tensor {
  switch (dtype) {
    case 'F32':
      return { dtype: 'F32', shape, data: new Float32Array(buf) };
    case 'F64':
      return { dtype: 'F64', shape, data: new Float64Array(buf) };
    case 'I32':
      return { dtype: 'I32', shape, data: new Int32Array(buf) };
    case 'U8':
      return { dtype: 'U8', shape, data: new Uint8Array(buf) };
    case 'I64': {
      const big = new BigInt64Array(buf);
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new InputError(`${source}: tensor "${name}" (I64) holds ${v}, which does not fit in I32`);
        }
        out[i] = Number(v);
      }
      return { dtype: 'I32', shape, data: out, fileDtype: 'I64' };
    }
    default:
      throw new InputError(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
  }
}

export function readSafetensors(path: string): SafetensorsFile {
  const b = readInputFile(path, 'safetensors');
  return decodeSafetensors(new Uint8Array(b.buffer, b.byteOffset, b.length), path);
}

/** Written to a temporary file and renamed, so a crash never leaves a half-written file. */
export function writeSafetensors(path: string, tensors: NamedTensors, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export type { DType };
