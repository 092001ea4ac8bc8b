/**
 * The engine protocol's data on the wire (docs/engines.md, "Tensors"): a tensor is
 * {dtype, shape, data: base64 of little-endian row-major values}; batches and states are plain
 * objects of tensors. Decoding checks dtype, shape and size, so a wrong answer is named, not
 * compared.
 */
import type { Batch, State } from '../engine.js';
import type { StateName } from '../cells.js';
import type { Seq2SeqBatch } from '../seq2seq/spec.js';
import type { EngineDType } from '../supports.js';
import type { NamedTensors, Tensor } from '../tensor.js';
import { shapeStr } from '../tensor.js';

export interface WireTensor {
  dtype: 'F32' | 'F64' | 'I32' | 'U8';
  shape: number[];
  data: string;
}

const CTORS = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array } as const;

type Typed = Float32Array | Float64Array | Int32Array | Uint8Array;

function wireDtype(a: Typed): WireTensor['dtype'] {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Int32Array) return 'I32';
  return 'U8';
}

/** x86 and ARM are little-endian, as the protocol is; the bytes go out as they are. */
export function encodeArray(a: ArrayLike<number>, shape: number[], as?: EngineDType): WireTensor {
  let t: Typed;
  if (as === 'float64') t = a instanceof Float64Array ? a : Float64Array.from(a);
  else if (as === 'float32') t = a instanceof Float32Array ? a : Float32Array.from(a);
  else t = a as Typed;
  return { dtype: wireDtype(t), shape, data: Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('base64') };
}

export function encodeTensors(t: NamedTensors, as: EngineDType): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [k, v] of Object.entries(t)) out[k] = encodeArray(v.data as ArrayLike<number>, v.shape, k === 'iterations' ? 'float64' : as);
  return out;
}

export function encodeState(s: State, B: number, H: number, as: EngineDType): { h: WireTensor[]; c?: WireTensor[] } {
  return { h: s.h.map((h) => encodeArray(h, [B, H], as)), ...(s.c ? { c: s.c.map((c) => encodeArray(c, [B, H], as)) } : {}) };
}

/** A batch as the protocol sends it: floats in the engine's dtype, ids as I32, the mask as U8. */
export function encodeBatch(b: Batch, inputSize: number, tokens: boolean, outputSize: number, returnSequences: boolean, H: number, as: EngineDType): Record<string, unknown> {
  const { batchSize: B, seqLen: T } = b;
  const out: Record<string, unknown> = {
    x: tokens ? encodeArray(b.x, [B, T]) : encodeArray(b.x, [B, T, inputSize], as),
  };
  if (b.y) {
    const lead = returnSequences ? [B, T] : [B];
    out.y = b.y instanceof Int32Array ? encodeArray(b.y, lead) : encodeArray(b.y, [...lead, outputSize], as);
  }
  if (b.mask) out.mask = encodeArray(b.mask, [B, T]);
  if (b.initialState) out.initial_state = encodeState(b.initialState, B, H, as);
  return out;
}

/** An encoder-decoder batch as the protocol sends it (docs/engines.md, "Encoder-decoder models"): ids I32, masks U8; `tgt_out` only with `targets`. */
export function encodeSeq2SeqBatch(b: Seq2SeqBatch, targets: boolean): Record<string, WireTensor> {
  const { batchSize: B, srcLen: S, tgtLen: T } = b;
  return {
    src: encodeArray(b.src, [B, S]),
    src_mask: encodeArray(b.srcMask, [B, S]),
    tgt_in: encodeArray(b.tgtIn, [B, T]),
    ...(targets ? { tgt_out: encodeArray(b.tgtOut, [B, T]) } : {}),
    tgt_mask: encodeArray(b.tgtMask, [B, T]),
  };
}

/**
 * Decodes a tensor, checking it is one, that its size matches its shape and, when `expect` is
 * given, that the shape is that one. Problems are thrown as plain messages (the caller names the
 * engine and the answer).
 */
export function decodeTensor(v: unknown, what: string, expect?: number[]): Tensor {
  const t = v as Partial<WireTensor> | null;
  if (!t || typeof t !== 'object' || typeof t.data !== 'string' || !Array.isArray(t.shape) || !(t.dtype && t.dtype in CTORS)) {
    throw new Error(`${what} is not a tensor ({"dtype": "F32"|"F64"|"I32"|"U8", "shape": [...], "data": base64})`);
  }
  if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${what} has an invalid shape ${JSON.stringify(t.shape)}`);
  const Ctor = CTORS[t.dtype];
  const bytes = Buffer.from(t.data, 'base64');
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== n * Ctor.BYTES_PER_ELEMENT) {
    throw new Error(`${what} has ${bytes.length} bytes of data, but ${t.dtype} ${shapeStr(t.shape)} needs ${n * Ctor.BYTES_PER_ELEMENT}`);
  }
  if (expect && (expect.length !== t.shape.length || expect.some((d, i) => d !== t.shape![i]))) {
    throw new Error(`${what} has shape ${shapeStr(t.shape)}, expected ${shapeStr(expect)}`);
  }
  const data = new Ctor(n);
  new Uint8Array(data.buffer).set(bytes);
  return { dtype: t.dtype, shape: t.shape, data } as Tensor;
}

/** Floats of a decoded tensor in the engine's dtype. */
export function floats(t: Tensor, as: EngineDType): Float32Array | Float64Array {
  if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new Error(`expected F32 or F64, got ${t.dtype}`);
  const d = t.data as Float32Array | Float64Array;
  if (as === 'float64') return d instanceof Float64Array ? d : Float64Array.from(d);
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

export function decodeNamed(v: unknown, what: string): NamedTensors {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not an object of named tensors`);
  const out: NamedTensors = {};
  // an own property whatever the name ("__proto__" too), so that a wrong name is refused by name, never dropped
  for (const [k, t] of Object.entries(v as Record<string, unknown>)) Object.defineProperty(out, k, { value: decodeTensor(t, `${what}[${JSON.stringify(k)}]`), enumerable: true, writable: true, configurable: true });
  return out;
}

/** A state from the wire: h, and c where the cell carries one (`carried`, from the cell table). */
export function decodeState(v: unknown, what: string, layers: number, B: number, H: number, carried: readonly StateName[], as: EngineDType): State {
  const lstm = carried.includes('c');
  const s = v as { h?: unknown; c?: unknown } | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.h) || s.h.length !== layers) throw new Error(`${what} must be {"h": [${layers} tensor(s) [${B}, ${H}]]${lstm ? ', "c": [...]' : ''}}`);
  const h = s.h.map((t, l) => floats(decodeTensor(t, `${what}.h[${l}]`, [B, H]), as));
  if (!lstm) return { h };
  if (!Array.isArray(s.c) || s.c.length !== layers) throw new Error(`${what}.c must hold ${layers} tensor(s) [${B}, ${H}] (lstm)`);
  return { h, c: s.c.map((t, l) => floats(decodeTensor(t, `${what}.c[${l}]`, [B, H]), as)) };
}
