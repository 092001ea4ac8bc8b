/**
 * Canonical named parameters (a contract; Keras/tfjs layout, row-major):
 *   layers.{l}.kernel          [in, G*H]   (in = inputSize for l = 0, else H)
 *   layers.{l}.recurrentKernel [H, G*H]
 *   layers.{l}.bias            [G*H]       (gru with gruResetAfter: [2, G*H], row 0 input, row 1 recurrent)
 *   head.kernel [H, O], head.bias [O]
 * G = 1 (rnn), 4 (lstm: i, f, c, o), 3 (gru: z, r, h).
 * With an embedding, "embedding" [V, E] comes first and layer 0 reads E features. A bidirectional
 * layer adds layers.{l}.backward.kernel / .recurrentKernel / .bias (same shapes and gate order);
 * with merge "concat" the next layer and the head read 2H features.
 */
import { InputError } from './errors.js';
import { Rng } from './rng.js';
import { GATE_NAMES, biasRows, cellOf, gateCount } from './cells.js';
import { type ModelSpec, layerInSize, layerOutSize } from './spec.js';
import { type NamedTensors, type Tensor, numel, shapeStr } from './tensor.js';

export type NamedParams = NamedTensors;

export type ParamKind = 'embedding' | 'kernel' | 'recurrentKernel' | 'bias' | 'headKernel' | 'headBias';

export interface ParamInfo {
  name: string;
  shape: number[];
  kind: ParamKind;
  layer: number; // -1 for the head and the embedding
  /** Of a bidirectional layer: which direction the parameter belongs to. */
  direction?: 'forward' | 'backward';
}

/** Every parameter of a spec, in canonical order. */
export function paramLayout(spec: ModelSpec): ParamInfo[] {
  const G = gateCount(spec.cell);
  const H = spec.hiddenSize;
  const out: ParamInfo[] = [];
  if (spec.embedding > 0) out.push({ name: 'embedding', shape: [spec.inputSize, spec.embedding], kind: 'embedding', layer: -1 });
  const biasShape = biasRows(spec) === 2 ? [2, G * H] : [G * H];
  for (let l = 0; l < spec.layers; l++) {
    const inSize = layerInSize(spec, l);
    for (const direction of spec.bidirectional ? (['forward', 'backward'] as const) : ([undefined] as const)) {
      const p = `layers.${l}.${direction === 'backward' ? 'backward.' : ''}`;
      const d = direction ? { direction } : {};
      out.push({ name: `${p}kernel`, shape: [inSize, G * H], kind: 'kernel', layer: l, ...d });
      out.push({ name: `${p}recurrentKernel`, shape: [H, G * H], kind: 'recurrentKernel', layer: l, ...d });
      out.push({ name: `${p}bias`, shape: biasShape, kind: 'bias', layer: l, ...d });
    }
  }
  out.push({ name: 'head.kernel', shape: [layerOutSize(spec), spec.outputSize], kind: 'headKernel', layer: -1 });
  out.push({ name: 'head.bias', shape: [spec.outputSize], kind: 'headBias', layer: -1 });
  return out;
}

/** The number of parameters, by arithmetic on the shapes paramLayout lists (so a 10^8-layer spec is counted, not listed). */
export function paramCount(spec: ModelSpec): number {
  const G = gateCount(spec.cell);
  const H = spec.hiddenSize;
  const bias = biasRows(spec) * G * H;
  const dirs = spec.bidirectional ? 2 : 1;
  const layer = (inSize: number): number => dirs * (inSize * G * H + H * G * H + bias);
  const embedding = spec.embedding > 0 ? spec.inputSize * spec.embedding : 0;
  return embedding + layer(layerInSize(spec, 0)) + (spec.layers - 1) * layer(layerOutSize(spec)) + layerOutSize(spec) * spec.outputSize + spec.outputSize;
}

/**
 * The gate that holds element `index` (flat, row-major) of a parameter, or '' for the head.
 * Gates are contiguous blocks of H columns along the last axis.
 */
export function gateOf(spec: ModelSpec, info: ParamInfo, index: number): string {
  if (info.layer < 0) return '';
  const G = gateCount(spec.cell);
  const H = spec.hiddenSize;
  const col = index % (G * H);
  return GATE_NAMES[spec.cell][Math.floor(col / H)];
}

/**
 * Checks that `p` holds exactly the parameters of `spec`, each with the right shape and a float
 * dtype. Missing, extra and mis-shaped tensors are named in one line.
 */
export function validateParams(spec: ModelSpec, p: NamedParams, source = 'weights'): void {
  const layout = paramLayout(spec);
  const expected = new Set(layout.map((i) => i.name));
  const missing = layout.filter((i) => !(i.name in p)).map((i) => i.name);
  const extra = Object.keys(p).filter((n) => !expected.has(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
  for (const info of layout) {
    const t = p[info.name];
    if (!t) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F64') problems.push(`${info.name} is ${t.fileDtype ?? t.dtype}, expected F32 or F64`);
    else if (t.shape.length !== info.shape.length || t.shape.some((d, i) => d !== info.shape[i])) {
      problems.push(`${info.name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(info.shape)}`);
    }
  }
  if (problems.length) throw new InputError(`${source} do not match the spec: ${problems.join('; ')}`);
  for (const info of layout) {
    const d = p[info.name].data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new InputError(`${source}: ${info.name} holds a non-finite value (${d[i]}) at index ${i}`);
    }
  }
}

function glorotUniform(rng: Rng, fanIn: number, fanOut: number, out: Float64Array): void {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
}

/**
 * Orthogonal [rows, cols] with rows <= cols (as Keras/tfjs): a normal [cols, rows] matrix is
 * orthonormalised column by column (modified Gram-Schmidt, which is QR with a positive diagonal
 * of R) and transposed, so the rows of the result are orthonormal.
 */
function orthogonal(rng: Rng, rows: number, cols: number, out: Float64Array): void {
  const n = Math.max(rows, cols);
  const m = Math.min(rows, cols);
  // a: m vectors of length n
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  for (let j = 0; j < m; j++) {
    const vj = a.subarray(j * n, (j + 1) * n);
    for (let k = 0; k < j; k++) {
      const vk = a.subarray(k * n, (k + 1) * n);
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vj[i] * vk[i];
      for (let i = 0; i < n; i++) vj[i] -= dot * vk[i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += vj[i] * vj[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) vj[i] /= norm;
  }
  // rows <= cols: row r of the result is vector r.  rows > cols: column c is vector c.
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = rows <= cols ? a[r * n + c] : a[c * n + r];
    }
  }
}

function finish(shape: number[], values: Float64Array, dtype: 'F32' | 'F64'): Tensor {
  return { dtype, shape, data: dtype === 'F32' ? Float32Array.from(values) : values };
}

/**
 * Seeded initial parameters, as Keras/tfjs initialise them: glorotUniform kernels, orthogonal
 * recurrent kernels, zero biases (the lstm forget gate at 1 with unitForgetBias).
 * Same seed, same bits.
 */
export function initParams(spec: ModelSpec, seed: number, dtype: 'F32' | 'F64' = 'F32'): NamedParams {
  const rng = new Rng(seed);
  const H = spec.hiddenSize;
  const out: NamedParams = {};
  for (const info of paramLayout(spec)) {
    const v = new Float64Array(numel(info.shape));
    switch (info.kind) {
      case 'kernel':
      case 'headKernel':
        glorotUniform(rng, info.shape[0], info.shape[1], v);
        break;
      case 'recurrentKernel':
        orthogonal(rng, info.shape[0], info.shape[1], v);
        break;
      case 'bias':
        // an lstm's unit forget bias: the forget gate's block of the first row starts at 1
        for (const [gate, value] of cellOf(spec).initialBias(spec)) {
          const g = cellOf(spec).gates.indexOf(gate);
          v.fill(value, g * H, (g + 1) * H);
        }
        break;
      case 'headBias':
        break;
      case 'embedding':
        // Keras's Embedding initialiser: uniform in +-0.05
        for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-0.05, 0.05);
        break;
    }
    out[info.name] = finish(info.shape, v, dtype);
  }
  return out;
}

/**
 * Test weights: kernels uniform in +-kernelScale and biases in +-biasScale, every value non-zero
 * and no two gates alike, so a swapped gate or a dropped bias cannot pass a comparison.
 */
export function randomTestParams(
  spec: ModelSpec,
  seed: number,
  dtype: 'F32' | 'F64' = 'F32',
  kernelScale = 0.5,
  biasScale = 0.3,
): NamedParams {
  const rng = new Rng(seed);
  const out: NamedParams = {};
  for (const info of paramLayout(spec)) {
    const v = new Float64Array(numel(info.shape));
    const scale = info.kind === 'bias' || info.kind === 'headBias' ? biasScale : kernelScale;
    for (let i = 0; i < v.length; i++) {
      let x = 0;
      while (Math.abs(x) < 0.01 * scale) x = rng.uniform(-scale, scale);
      v[i] = x;
    }
    out[info.name] = finish(info.shape, v, dtype);
  }
  return out;
}

/** Same names and shapes, values converted to `dtype` (copies). */
export function castParams(p: NamedParams, dtype: 'F32' | 'F64'): NamedParams {
  const out: NamedParams = {};
  for (const [name, t] of Object.entries(p)) {
    out[name] = {
      dtype,
      shape: [...t.shape],
      data: dtype === 'F32' ? Float32Array.from(t.data as ArrayLike<number>) : Float64Array.from(t.data as ArrayLike<number>),
    };
  }
  return out;
}
