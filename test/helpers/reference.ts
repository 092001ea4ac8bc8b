/**
 * An independent forward pass written straight from the equations in ARCHITECTURE.md: plain
 * nested loops in float64, batch-major, one element at a time, no shared code with scratch/.
 * Used to prove the engine's forward pass (gradcheck only proves gradients match the forward).
 */
import type { Batch } from '../../src/engine.js';
import type { NamedParams } from '../../src/params.js';
import type { ModelSpec } from '../../src/spec.js';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const hsig = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));

export function referenceForward(spec: ModelSpec, p: NamedParams, b: Batch): { output: number[]; loss: number | null } {
  const { batchSize: B, seqLen: T } = b;
  const H = spec.hiddenSize;
  const O = spec.outputSize;
  const G = spec.cell === 'rnn' ? 1 : spec.cell === 'lstm' ? 4 : 3;
  const ra = spec.recurrentActivation === 'sigmoid' ? sig : hsig;
  const get = (name: string): number[] => Array.from(p[name].data as ArrayLike<number>);
  // inputs per layer: seq[b][t] = vector
  let seq: number[][][] = [];
  for (let bb = 0; bb < B; bb++) {
    const rows: number[][] = [];
    for (let t = 0; t < T; t++) {
      if (spec.input === 'tokens') {
        const v = new Array(spec.inputSize).fill(0);
        v[(b.x as Int32Array)[bb * T + t]] = 1;
        rows.push(v);
      } else {
        rows.push(Array.from(b.x.subarray((bb * T + t) * spec.inputSize, (bb * T + t + 1) * spec.inputSize)));
      }
    }
    seq.push(rows);
  }
  for (let l = 0; l < spec.layers; l++) {
    const W = get(`layers.${l}.kernel`);
    const U = get(`layers.${l}.recurrentKernel`);
    const bias = get(`layers.${l}.bias`);
    const inSize = l === 0 ? spec.inputSize : H;
    const GH = G * H;
    const resetAfter = spec.cell === 'gru' && spec.gruResetAfter;
    const next: number[][][] = [];
    for (let bb = 0; bb < B; bb++) {
      let h = b.initialState ? Array.from(b.initialState.h[l].subarray(bb * H, (bb + 1) * H)) : new Array(H).fill(0);
      let c = b.initialState?.c ? Array.from(b.initialState.c[l].subarray(bb * H, (bb + 1) * H)) : new Array(H).fill(0);
      const outs: number[][] = [];
      for (let t = 0; t < T; t++) {
        const x = seq[bb][t];
        // xw[g*H + j] = sum_i x_i W[i, g*H + j] + b_in
        const xw = new Array(GH).fill(0);
        const hu = new Array(GH).fill(0);
        for (let q = 0; q < GH; q++) {
          let s = bias[q];
          for (let i = 0; i < inSize; i++) s += x[i] * W[i * GH + q];
          xw[q] = s;
          let r = resetAfter ? bias[GH + q] : 0;
          for (let i = 0; i < H; i++) r += h[i] * U[i * GH + q];
          hu[q] = r;
        }
        let hn: number[];
        let cn = c;
        if (spec.cell === 'rnn') {
          hn = xw.map((v, j) => (spec.activation === 'tanh' ? Math.tanh(v + hu[j]) : Math.max(0, v + hu[j])));
        } else if (spec.cell === 'lstm') {
          hn = new Array(H);
          cn = new Array(H);
          for (let j = 0; j < H; j++) {
            const ig = ra(xw[j] + hu[j]);
            const fg = ra(xw[H + j] + hu[H + j]);
            const gg = Math.tanh(xw[2 * H + j] + hu[2 * H + j]);
            const og = ra(xw[3 * H + j] + hu[3 * H + j]);
            cn[j] = fg * c[j] + ig * gg;
            hn[j] = og * Math.tanh(cn[j]);
          }
        } else {
          hn = new Array(H);
          const z = new Array(H);
          const r = new Array(H);
          for (let j = 0; j < H; j++) {
            z[j] = ra(xw[j] + hu[j]);
            r[j] = ra(xw[H + j] + hu[H + j]);
          }
          for (let j = 0; j < H; j++) {
            let cand: number;
            if (resetAfter) {
              cand = Math.tanh(xw[2 * H + j] + r[j] * hu[2 * H + j]);
            } else {
              let s = 0;
              for (let i = 0; i < H; i++) s += r[i] * h[i] * U[i * GH + 2 * H + j];
              cand = Math.tanh(xw[2 * H + j] + s);
            }
            hn[j] = z[j] * h[j] + (1 - z[j]) * cand;
          }
        }
        const on = !b.mask || b.mask[bb * T + t] === 1;
        if (on) {
          h = hn;
          c = cn;
        }
        outs.push(h);
      }
      next.push(outs);
    }
    seq = next;
  }
  const Wo = get('head.kernel');
  const bo = get('head.bias');
  const dense = (h: number[]): number[] =>
    bo.map((bj, j) => {
      let s = bj;
      for (let i = 0; i < H; i++) s += h[i] * Wo[i * O + j];
      return s;
    });
  const output: number[] = [];
  // per-position losses
  let total = 0;
  let count = 0;
  const y = b.y;
  const posLoss = (z: number[], yi: number): number => {
    if (spec.loss === 'softmaxCrossEntropy') {
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      return lse - z[(y as Int32Array)[yi]];
    }
    let s = 0;
    for (let j = 0; j < O; j++) s += (z[j] - (y as Float32Array)[yi * O + j]) ** 2;
    return s / O;
  };
  for (let bb = 0; bb < B; bb++) {
    if (spec.returnSequences) {
      for (let t = 0; t < T; t++) {
        const z = dense(seq[bb][t]);
        output.push(...z);
        if (y && (!b.mask || b.mask[bb * T + t])) {
          total += posLoss(z, bb * T + t);
          count++;
        }
      }
    } else {
      const z = dense(seq[bb][T - 1]);
      output.push(...z);
      if (y) {
        total += posLoss(z, bb);
        count++;
      }
    }
  }
  const loss = !y ? null : spec.lossReduction === 'mean' ? total / count : total / B;
  return { output, loss };
}
