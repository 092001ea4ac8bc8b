/**
 * An independent float64 forward of src/seq2seq/spec.ts in plain JavaScript, one batch row at a
 * time: embedding lookup, the Keras cells, masked encoder steps keeping the state, a bidirectional
 * encoder (its backward direction walking the row's steps from the last, the masked ones keeping
 * its zero state; outputs [forward ; backward] per step, the next layer reading them; final states
 * concatenated), Luong attention dot / general / concat, combine, head, mean cross-entropy. Written
 * from the spec's equations, sharing no code with the engines (test/seq2seq-tfjs.test.ts and
 * test/seq2seq.test.ts hold both engines to it).
 */
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, embeddingName } from '../../src/seq2seq/spec.js';

export type P = Record<string, Float64Array>;

/**
 * A perturbation of h_t (after masking) of one layer, one row, one unit: dLoss/dh_t by finite
 * differences. For a bidirectional encoder, units 0..H-1 are the forward direction's h_t and
 * H..2H-1 the backward direction's output at step t.
 */
export interface Probe {
  side: 'encoder' | 'decoder';
  layer: number;
  t: number;
  row: number;
  unit: number;
  eps: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

interface Carry {
  h: number[];
  c: number[];
}

/** One step of the spec's cell with H units (Keras equations, gates i,f,c,o and z,r,h): x [in], h, c [H] -> new h, c. */
function cellStep(s: Seq2SeqSpec, H: number, W: Float64Array, U: Float64Array, bias: Float64Array, x: number[], h: number[], c: number[]): Carry {
  const G = s.cell === 'lstm' ? 4 : s.cell === 'gru' ? 3 : 1;
  const GH = G * H;
  const resetAfter = s.cell === 'gru' && s.gruResetAfter;
  const px = new Array<number>(GH).fill(0); // x W + b_in
  const ph = new Array<number>(GH).fill(0); // h U (+ b_rec for reset-after)
  for (let j = 0; j < GH; j++) {
    let a = bias[j];
    for (let i = 0; i < x.length; i++) a += x[i] * W[i * GH + j];
    px[j] = a;
    let r = resetAfter ? bias[GH + j] : 0;
    for (let i = 0; i < H; i++) r += h[i] * U[i * GH + j];
    ph[j] = r;
  }
  const gate = (v: number): number => (s.recurrentActivation === 'sigmoid' ? sigmoid(v) : Math.min(1, Math.max(0, 0.2 * v + 0.5)));
  const hn = new Array<number>(H);
  const cn = [...c];
  for (let j = 0; j < H; j++) {
    if (s.cell === 'rnn') hn[j] = s.activation === 'tanh' ? Math.tanh(px[j] + ph[j]) : Math.max(0, px[j] + ph[j]);
    else if (s.cell === 'lstm') {
      const i = gate(px[j] + ph[j]);
      const f = gate(px[H + j] + ph[H + j]);
      const g = Math.tanh(px[2 * H + j] + ph[2 * H + j]);
      const o = gate(px[3 * H + j] + ph[3 * H + j]);
      cn[j] = f * c[j] + i * g;
      hn[j] = o * Math.tanh(cn[j]);
    }
  }
  if (s.cell === 'gru') {
    const z = Array.from({ length: H }, (_, j) => gate(px[j] + ph[j]));
    const r = Array.from({ length: H }, (_, j) => gate(px[H + j] + ph[H + j]));
    for (let j = 0; j < H; j++) {
      let rec: number;
      if (resetAfter) rec = r[j] * ph[2 * H + j];
      else {
        rec = 0; // reset before the product: (r * h) U_h
        for (let i = 0; i < H; i++) rec += r[i] * h[i] * U[i * GH + 2 * H + j];
      }
      const hh = Math.tanh(px[2 * H + j] + rec);
      hn[j] = z[j] * h[j] + (1 - z[j]) * hh;
    }
  }
  return { h: hn, c: cn };
}

/**
 * One direction of one layer over a row's steps: `order` the steps it walks, mask per step or null,
 * initial carry; the probe (unit offset `off`) added to h at its step. Outputs indexed by step.
 */
function direction(s: Seq2SeqSpec, H: number, p: P, k: string, xs: number[][], order: number[], mask: number[] | null, init: Carry | null, bump: (t: number, h: number[]) => number[]): { out: number[][]; final: Carry } {
  let h = init ? [...init.h] : new Array<number>(H).fill(0);
  let c = init ? [...init.c] : new Array<number>(H).fill(0);
  const out: number[][] = new Array(xs.length);
  for (const t of order) {
    if (!mask || mask[t]) ({ h, c } = cellStep(s, H, p[`${k}kernel`], p[`${k}recurrentKernel`], p[`${k}bias`], xs[t], h, c)); // a masked step keeps h and c
    h = bump(t, h);
    out[t] = h;
  }
  return { out, final: { h, c } };
}

/** One side's stack for one row: xs [n][E], mask [n] or null, initial states per layer -> outputs of the top [n][D] and final states. */
function stack(s: Seq2SeqSpec, p: P, side: 'encoder' | 'decoder', row: number, xs: number[][], mask: number[] | null, init: Carry[] | null, probe?: Probe): { out: number[][]; finals: Carry[] } {
  const bi = side === 'encoder' && s.bidirectional;
  const H = side === 'encoder' ? s.hiddenSize : decoderSize(s);
  const n = xs.length;
  const forward = Array.from({ length: n }, (_, t) => t);
  let seq = xs;
  const finals: Carry[] = [];
  for (let l = 0; l < s.layers; l++) {
    const bump = (off: number) => (t: number, h: number[]): number[] => {
      if (!probe || probe.side !== side || probe.layer !== l || probe.t !== t || probe.row !== row) return h;
      const u = probe.unit - off;
      if (u < 0 || u >= H) return h;
      const out = [...h];
      out[u] += probe.eps;
      return out;
    };
    const f = direction(s, H, p, `${side}.layers.${l}.`, seq, forward, mask, init ? init[l] : null, bump(0));
    if (!bi) {
      finals.push(f.final);
      seq = f.out;
      continue;
    }
    const k = direction(s, H, p, `${side}.layers.${l}.backward.`, seq, [...forward].reverse(), mask, null, bump(H));
    finals.push({ h: [...f.final.h, ...k.final.h], c: [...f.final.c, ...k.final.c] });
    seq = f.out.map((ft, t) => [...ft, ...k.out[t]]);
  }
  return { out: seq, finals };
}

/** score of decoder output h against encoder output o (with the spec's attention). */
function score(s: Seq2SeqSpec, p: P, h: number[], o: number[]): number {
  const D = h.length;
  if (s.attention === 'dot') return o.reduce((a, v, i) => a + v * h[i], 0);
  if (s.attention === 'general') {
    const K = p['attention.kernel'];
    let sum = 0;
    for (let j = 0; j < D; j++) sum += h[j] * o.reduce((a, v, i) => a + v * K[i * D + j], 0);
    return sum;
  }
  // concat: v . tanh([h ; o] W_a)
  const A = s.attentionUnits!;
  const W = p['attention.kernel'];
  const cat = [...h, ...o];
  let sum = 0;
  for (let a = 0; a < A; a++) sum += p['attention.v'][a] * Math.tanh(cat.reduce((acc, v, i) => acc + v * W[i * A + a], 0));
  return sum;
}

/** The spec's model in float64: logits [B, T, V], attention [B, T, S] (or null), the mean cross-entropy over real target steps. */
export function seq2seqReference(s: Seq2SeqSpec, p: P, b: Seq2SeqBatch, probe?: Probe): { logits: Float64Array; attention: Float64Array | null; loss: number } {
  const { batchSize: B, srcLen: S, tgtLen: T } = b;
  const D = decoderSize(s);
  const E = s.embedding;
  const V = s.tgtVocab;
  const logits = new Float64Array(B * T * V);
  const attention = s.attention === 'none' ? null : new Float64Array(B * T * S);
  let lossSum = 0;
  let real = 0;
  const lookup = (side: 'encoder' | 'decoder', id: number): number[] => Array.from(p[embeddingName(s, side)].subarray(id * E, (id + 1) * E));
  for (let row = 0; row < B; row++) {
    const srcMask = Array.from(b.srcMask.subarray(row * S, (row + 1) * S));
    const enc = stack(s, p, 'encoder', row, Array.from(b.src.subarray(row * S, (row + 1) * S), (id) => lookup('encoder', id)), srcMask, null, probe);
    const dec = stack(s, p, 'decoder', row, Array.from(b.tgtIn.subarray(row * T, (row + 1) * T), (id) => lookup('decoder', id)), null, enc.finals, probe);
    const o = enc.out;
    for (let t = 0; t < T; t++) {
      const h = dec.out[t];
      let top = h;
      if (attention) {
        const scores = o.map((os, j) => (srcMask[j] ? score(s, p, h, os) : -Infinity));
        const max = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - max));
        const sum = e.reduce((a, v) => a + v, 0);
        const a = e.map((v) => v / sum);
        a.forEach((v, j) => (attention[(row * T + t) * S + j] = v));
        const context = Array.from({ length: D }, (_, i) => a.reduce((acc, w, j) => acc + w * o[j][i], 0));
        const cat = [...context, ...h];
        const Wc = p['attention.combine.kernel'];
        top = Array.from({ length: D }, (_, j) => Math.tanh(cat.reduce((acc, v, i) => acc + v * Wc[i * D + j], 0)));
      }
      const z = Array.from({ length: V }, (_, v) => top.reduce((acc, x, i) => acc + x * p['head.kernel'][i * V + v], p['head.bias'][v]));
      z.forEach((v, k) => (logits[(row * T + t) * V + k] = v));
      if (b.tgtMask[row * T + t]) {
        const max = Math.max(...z);
        const lse = max + Math.log(z.reduce((acc, v) => acc + Math.exp(v - max), 0));
        lossSum += lse - z[b.tgtOut[row * T + t]];
        real++;
      }
    }
  }
  return { logits, attention, loss: lossSum / real };
}
