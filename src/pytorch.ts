/**
 * Canonical parameters <-> PyTorch layout (nn.RNN / nn.LSTM / nn.GRU state_dict names, plus an
 * nn.Linear head), for bringing weights in and taking them out:
 *   weight_ih_l{k} [G*H, in] = kernel^T        weight_hh_l{k} [G*H, H] = recurrentKernel^T
 *   bias_ih_l{k}, bias_hh_l{k} [G*H]           head.weight [O, H] = head.kernel^T, head.bias [O]
 * Gate blocks: LSTM i, f, g, o is the canonical i, f, c, o order; GRU's r, z, n is canonical
 * z, r, h reordered, and only a reset-after GRU has PyTorch's equations. Token input: the layer-0
 * kernel [V, G*H] becomes weight_ih_l0 [G*H, V], for one-hot inputs. RNN and LSTM: on import
 * bias = bias_ih + bias_hh; on export bias_ih = bias, bias_hh = 0.
 */
import { InputError } from './errors.js';
import { type NamedParams, paramLayout, validateParams } from './params.js';
import { biasRows, cellOf, gateCount } from './cells.js';
import { type ModelSpec, layerInSize, layerOutSize } from './spec.js';
import { type NamedTensors, type Tensor, shapeStr } from './tensor.js';

export interface PyTorchNames {
  /** Prefix of the recurrent tensors, e.g. "rnn." for a module attribute named rnn (default none). */
  prefix?: string;
  /** Name of the head module (default "head"). */
  head?: string;
}

/** PyTorch gate block k holds canonical gate block order[k] (GRU: r, z, n <- z, r, h), from the cell table. */
function blockOrder(spec: ModelSpec): number[] {
  const c = cellOf(spec);
  return c.pytorch.gates.map((g) => c.gates.indexOf(g));
}

export function assertPyTorchCompatible(spec: ModelSpec): void {
  if (spec.bidirectional && spec.merge !== 'concat' && spec.layers > 1) {
    throw new InputError(`PyTorch's stacked bidirectional modules concatenate the two directions between layers; merge "${spec.merge}" with ${spec.layers} layers has no PyTorch layout (use concat, or one layer)`);
  }
  const why = cellOf(spec).pytorch.unsupported(spec);
  if (why) throw new InputError(why);
}

/** [rows, cols] row-major -> its transpose, with gate blocks of `cols` reordered. */
function transposeBlocks(src: ArrayLike<number>, rows: number, cols: number, H: number, order: number[], out: FArr): void {
  // out is [cols, rows]; out block k (rows k*H..) comes from src columns of block order[k]
  for (let k = 0; k < order.length; k++) {
    for (let j = 0; j < H; j++) {
      const srcCol = order[k] * H + j;
      const dstRow = k * H + j;
      for (let i = 0; i < rows; i++) out[dstRow * rows + i] = src[i * cols + srcCol];
    }
  }
}

/** The inverse: PyTorch [G*H, in] (blocks in PyTorch order) -> canonical [in, G*H]. */
function untransposeBlocks(src: ArrayLike<number>, inSize: number, H: number, order: number[], out: FArr): void {
  const GH = order.length * H;
  for (let k = 0; k < order.length; k++) {
    for (let j = 0; j < H; j++) {
      const srcRow = k * H + j;
      const dstCol = order[k] * H + j;
      for (let i = 0; i < inSize; i++) out[i * GH + dstCol] = src[srcRow * inSize + i];
    }
  }
}

function copyInto(src: ArrayLike<number>, out: FArr): FArr {
  for (let i = 0; i < out.length; i++) out[i] = src[i];
  return out;
}

function reorderVector(src: ArrayLike<number>, H: number, order: number[], toPyTorch: boolean, out: FArr): FArr {
  for (let k = 0; k < order.length; k++) {
    for (let j = 0; j < H; j++) {
      if (toPyTorch) out[k * H + j] = src[order[k] * H + j];
      else out[order[k] * H + j] = src[k * H + j];
    }
  }
  return out;
}

type FArr = Float32Array | Float64Array;

/** The directions of each layer: canonical infix and PyTorch suffix ("backward." and "_reverse" for the backward one). */
function directions(spec: ModelSpec): [string, string][] {
  return spec.bidirectional ? [['', ''], ['backward.', '_reverse']] : [['', '']];
}

/** Float64 in, float64 out (fixtures, gradient checks); otherwise float32. */
function allocator(tensors: NamedTensors): { make: (n: number) => FArr; wrap: (shape: number[], data: FArr) => Tensor } {
  const f64 = Object.values(tensors).some((t) => t.dtype === 'F64');
  return {
    make: (n) => (f64 ? new Float64Array(n) : new Float32Array(n)),
    wrap: (shape, data) => ({ dtype: f64 ? 'F64' : 'F32', shape, data }),
  };
}

export function toPyTorch(spec: ModelSpec, p: NamedParams, names: PyTorchNames = {}): NamedTensors {
  assertPyTorchCompatible(spec);
  validateParams(spec, p);
  const { make, wrap } = allocator(p);
  const pre = names.prefix ?? '';
  const head = names.head ?? 'head';
  const H = spec.hiddenSize;
  const G = gateCount(spec.cell);
  const order = blockOrder(spec);
  const out: NamedTensors = {};
  if (spec.embedding > 0) out['embedding.weight'] = wrap([spec.inputSize, spec.embedding], copyInto(p.embedding.data, make(spec.inputSize * spec.embedding)));
  for (let l = 0; l < spec.layers; l++) {
    const inSize = layerInSize(spec, l);
    for (const [dir, sfx] of directions(spec)) {
      const wih = make(G * H * inSize);
      transposeBlocks(p[`layers.${l}.${dir}kernel`].data, inSize, G * H, H, order, wih);
      const whh = make(G * H * H);
      transposeBlocks(p[`layers.${l}.${dir}recurrentKernel`].data, H, G * H, H, order, whh);
      const bias = p[`layers.${l}.${dir}bias`].data;
      // a second bias row (reset-after GRU) is PyTorch's bias_hh; otherwise bias_hh is zero
      const rows = biasRows(spec);
      out[`${pre}weight_ih_l${l}${sfx}`] = wrap([G * H, inSize], wih);
      out[`${pre}weight_hh_l${l}${sfx}`] = wrap([G * H, H], whh);
      out[`${pre}bias_ih_l${l}${sfx}`] = wrap([G * H], reorderVector(bias.subarray(0, G * H), H, order, true, make(G * H)));
      out[`${pre}bias_hh_l${l}${sfx}`] = wrap([G * H], rows === 2 ? reorderVector(bias.subarray(G * H, 2 * G * H), H, order, true, make(G * H)) : make(G * H));
    }
  }
  const O = spec.outputSize;
  const Hout = layerOutSize(spec);
  const hw = make(O * Hout);
  transposeBlocks(p['head.kernel'].data, Hout, O, O, [0], hw);
  out[`${head}.weight`] = wrap([O, Hout], hw);
  out[`${head}.bias`] = wrap([O], copyInto(p['head.bias'].data, make(O)));
  return out;
}

export function fromPyTorch(spec: ModelSpec, t: NamedTensors, names: PyTorchNames = {}, source = 'PyTorch weights'): NamedParams {
  assertPyTorchCompatible(spec);
  const pre = names.prefix ?? '';
  const head = names.head ?? 'head';
  const H = spec.hiddenSize;
  const G = gateCount(spec.cell);
  const O = spec.outputSize;
  const order = blockOrder(spec);
  const Hout = layerOutSize(spec);
  const expected: [string, number[]][] = [];
  if (spec.embedding > 0) expected.push(['embedding.weight', [spec.inputSize, spec.embedding]]);
  for (let l = 0; l < spec.layers; l++) {
    const inSize = layerInSize(spec, l);
    for (const [, sfx] of directions(spec)) {
      expected.push([`${pre}weight_ih_l${l}${sfx}`, [G * H, inSize]], [`${pre}weight_hh_l${l}${sfx}`, [G * H, H]]);
      expected.push([`${pre}bias_ih_l${l}${sfx}`, [G * H]], [`${pre}bias_hh_l${l}${sfx}`, [G * H]]);
    }
  }
  expected.push([`${head}.weight`, [O, Hout]], [`${head}.bias`, [O]]);
  const problems: string[] = [];
  const missing = expected.filter(([n]) => !t[n]).map(([n]) => n);
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  const known = new Set(expected.map(([n]) => n));
  const extra = Object.keys(t).filter((n) => !known.has(n));
  if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
  for (const [n, shape] of expected) {
    const x = t[n];
    if (x && (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i]))) {
      problems.push(`${n} has shape ${shapeStr(x.shape)}, expected ${shapeStr(shape)}`);
    }
    if (x && x.dtype !== 'F32' && x.dtype !== 'F64') problems.push(`${n} is ${x.dtype}, expected F32 or F64`);
  }
  if (problems.length) throw new InputError(`${source} do not match the spec: ${problems.join('; ')}`);
  const { make, wrap } = allocator(t);

  const out: NamedParams = {};
  const layout = paramLayout(spec);
  if (spec.embedding > 0) out.embedding = wrap([spec.inputSize, spec.embedding], copyInto(t['embedding.weight'].data, make(spec.inputSize * spec.embedding)));
  for (let l = 0; l < spec.layers; l++) {
    const inSize = layerInSize(spec, l);
    for (const [dir, sfx] of directions(spec)) {
      const kernel = make(inSize * G * H);
      untransposeBlocks(t[`${pre}weight_ih_l${l}${sfx}`].data, inSize, H, order, kernel);
      const rk = make(H * G * H);
      untransposeBlocks(t[`${pre}weight_hh_l${l}${sfx}`].data, H, H, order, rk);
      const bih = reorderVector(t[`${pre}bias_ih_l${l}${sfx}`].data, H, order, false, make(G * H));
      const bhh = reorderVector(t[`${pre}bias_hh_l${l}${sfx}`].data, H, order, false, make(G * H));
      let bias: FArr;
      if (biasRows(spec) === 2) {
        bias = make(2 * G * H);
        bias.set(bih, 0);
        bias.set(bhh, G * H);
      } else {
        bias = make(G * H);
        const a = t[`${pre}bias_ih_l${l}${sfx}`].data;
        const b = t[`${pre}bias_hh_l${l}${sfx}`].data;
        for (let i = 0; i < G * H; i++) bias[i] = Number(a[i]) + Number(b[i]); // LSTM/RNN order needs no reordering
      }
      out[`layers.${l}.${dir}kernel`] = wrap([inSize, G * H], kernel);
      out[`layers.${l}.${dir}recurrentKernel`] = wrap([H, G * H], rk);
      out[`layers.${l}.${dir}bias`] = wrap(layout.find((x) => x.name === `layers.${l}.${dir}bias`)!.shape, bias);
    }
  }
  const hk = make(Hout * O);
  untransposeBlocks(t[`${head}.weight`].data, Hout, O, [0], hk);
  out['head.kernel'] = wrap([Hout, O], hk);
  out['head.bias'] = wrap([O], copyInto(t[`${head}.bias`].data, make(O)));
  validateParams(spec, out, source);
  return out;
}
