/** safetensors: the byte format written by hand, round trips bit for bit, and clear errors. */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { initParams } from '../src/params.js';
import { InputError } from '../src/errors.js';
import { makeSpec } from './helpers/cases.js';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers/cli.js';
import { needing, pythonWith } from './helpers/python.js';

/** A file built byte by byte from the format description (not by our writer). */
function handMade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  test('reads a hand-made file with F32, F64, I32, U8 and I64 tensors', () => {
    const f32 = new Float32Array([1.5, -2.25]);
    const f64 = new Float64Array([Math.PI]);
    const i32 = new Int32Array([7, -8, 9]);
    const u8 = new Uint8Array([1, 0, 1, 1]);
    const i64 = new BigInt64Array([3n, -4n]);
    const parts = [f32, f64, i32, u8, i64].map((a) => new Uint8Array(a.buffer));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    const offs: number[][] = [];
    for (const p of parts) {
      data.set(p, o);
      offs.push([o, o + p.length]);
      o += p.length;
    }
    const file = handMade(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [2], data_offsets: offs[0] },
        b: { dtype: 'F64', shape: [1, 1], data_offsets: offs[1] },
        c: { dtype: 'I32', shape: [3], data_offsets: offs[2] },
        d: { dtype: 'U8', shape: [2, 2], data_offsets: offs[3] },
        e: { dtype: 'I64', shape: [2], data_offsets: offs[4] },
      },
      data,
    );
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Array.from(tensors.a.data)).toEqual([1.5, -2.25]);
    expect(tensors.b.shape).toEqual([1, 1]);
    expect(tensors.b.data[0]).toBe(Math.PI);
    expect(Array.from(tensors.c.data)).toEqual([7, -8, 9]);
    expect(tensors.d.dtype).toBe('U8');
    expect(tensors.e.dtype).toBe('I32'); // I64 class ids become I32
    expect(Array.from(tensors.e.data)).toEqual([3, -4]);
  });

  test('our writer: 8-byte aligned data, header readable as JSON, round trip bit exact', () => {
    const spec = makeSpec({ cell: 'gru', gruResetAfter: true, layers: 2 });
    const p = initParams(spec, 5);
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-st-'));
    const path = join(dir, 'w.safetensors');
    writeSafetensors(path, p, { spec: 'x' });
    const bytes = readFileSync(path);
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header['layers.0.bias']).toMatchObject({ dtype: 'F32', shape: [2, 12] });
    const back = readSafetensors(path).tensors;
    expect(Object.keys(back)).toEqual(Object.keys(p));
    for (const name of Object.keys(p)) {
      expect(back[name].shape).toEqual(p[name].shape);
      expect(Buffer.from(back[name].data.buffer).equals(Buffer.from(p[name].data.buffer))).toBe(true);
    }
  });

  test('a truncated file is a clear error', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 3), 'w.st')).toThrow(/w\.st: .*truncated/);
    expect(() => decodeSafetensors(bytes.subarray(0, 5), 'w.st')).toThrow(InputError);
    expect(() => decodeSafetensors(bytes.subarray(0, 20), 'w.st')).toThrow(/truncated/);
  });

  test('a bad header is a clear error', () => {
    const bad = handMade({}, new Uint8Array(0));
    bad.set(new TextEncoder().encode('{x'), 8);
    expect(() => decodeSafetensors(bad, 'f')).toThrow(/header is not valid JSON/);
    const wrongSize = handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(() => decodeSafetensors(wrongSize, 'f')).toThrow(/spans 8 bytes, but F32 \[3\] needs 12/);
    const f16 = handMade({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(() => decodeSafetensors(f16, 'f')).toThrow(/dtype "F16"/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge, 'f')).toThrow(/implausible/);
  });

  test('a missing file is a clear error', () => {
    expect(() => readSafetensors('/nonexistent/w.safetensors')).toThrow(/no such file/);
  });

  test('writing replaces the file atomically (no temporary files left)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-st-'));
    const path = join(dir, 'a.safetensors');
    writeFileSync(path, 'old');
    writeSafetensors(path, { w: { dtype: 'F64', shape: [1], data: Float64Array.of(2) } });
    expect(readSafetensors(path).tensors.w.data[0]).toBe(2);
    expect(readdirSync(dir)).toEqual(['a.safetensors']);
  });
});

describe('python/rnnlab_safetensors.py: the files read with NumPy alone', () => {
  const py = pythonWith('numpy');
  test.skipIf(!py)(needing('numpy', 'reads every tensor of a file rnnlab wrote, bit for bit, and its metadata'), () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-st-py-'));
    const tensors = {
      'grad.layers.0.kernel': { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.from([0.1, -2.5, 3e-8, 1 / 3, -0, 7]) },
      loss: { dtype: 'F64' as const, shape: [3], data: Float64Array.from([2.302585092994046, 1 / 7, -1e-300]) },
      y: { dtype: 'I32' as const, shape: [2, 2], data: Int32Array.from([0, -1, 2 ** 31 - 1, 5]) },
      mask: { dtype: 'U8' as const, shape: [4], data: Uint8Array.from([1, 1, 0, 255]) },
    };
    writeSafetensors(join(dir, 'd.safetensors'), tensors, { engine: 'scratch-f64' });
    // the reader prints each tensor's dtype, shape and bytes (hex), and the metadata
    const script = [
      'import sys, json',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})`,
      'from rnnlab_safetensors import load_file, load_metadata',
      `t = load_file(${JSON.stringify(join(dir, 'd.safetensors'))})`,
      `print(json.dumps({"tensors": {k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in t.items()}, "meta": load_metadata(${JSON.stringify(join(dir, 'd.safetensors'))})}))`,
    ].join('\n');
    const r = spawnSync(py!, ['-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const numpy = { F32: 'float32', F64: 'float64', I32: 'int32', U8: 'uint8' };
    for (const [k, t] of Object.entries(tensors)) {
      expect(out.tensors[k], k).toEqual([numpy[t.dtype], t.shape, Buffer.from(t.data.buffer).toString('hex')]);
    }
    expect(out.meta).toEqual({ engine: 'scratch-f64' });
  });
});
