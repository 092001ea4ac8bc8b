/**
 * LSTM (Keras/tfjs; gate order i, f, c, o in the fused matrices):
 *   z = x_t W + h_{t-1} U + b                       [B, 4H]
 *   i = s(z_i)   f = s(z_f)   g = tanh(z_c)   o = s(z_o)     s = sigmoid or hardSigmoid
 *   c_t = f * c_{t-1} + i * g
 *   h_t = o * tanh(c_t)
 * Cache per step: the activated gates [B, 4H] and tanh(c_t) [B, H].
 */
import { type Arr, type FastKernels, type Gemm, gemm as jsGemm } from '../kernels.js';
import { type AllStepsArgs, type Alloc, type BackArgs, type Cell, type CellDerivatives, type CellGrads, type CellWeights, type GateActivation, type StepArgs, at, gateFn, gateGradFn, gateRegions, timesUTransposed } from './cell.js';

export interface LstmCache {
  gates: Arr; // [T, B, 4H] i, f, g, o after activation
  tanhC: Arr; // [T, B, H]
}

/** `fast`: a kernel set's element-wise routines (used for sigmoid gates when they take the buffers). `d`: a planted mistake's derivatives. */
export function lstmCell(H: number, recurrentActivation: GateActivation, gemm: Gemm = jsGemm, fast: FastKernels = {}, d?: CellDerivatives): Cell<LstmCache> {
  const G = 4;
  const GH = G * H;
  const s = d?.gate ?? gateFn(recurrentActivation);
  const ds = d?.gateGrad ?? gateGradFn(recurrentActivation);
  const dCand = d?.candidateGrad;
  const dOut = d?.cellOutGrad;
  // offsets of each gate inside a row of 4H
  const I = 0;
  const F = H;
  const C = 2 * H;
  const O = 3 * H;
  const fastGates = recurrentActivation === 'sigmoid' && !d ? fast.lstmForward?.bind(fast) : undefined;
  const fastBack = recurrentActivation === 'sigmoid' && !d ? fast.lstmBackward?.bind(fast) : undefined;
  return {
    G,
    carry: 2,
    newCache: (T: number, B: number, alloc: Alloc): LstmCache => ({ gates: alloc(T * B * GH), tanhC: alloc(T * B * H) }),

    forward(w: CellWeights, cache: LstmCache, { t, B, P, prev: [hPrev, cp], next: [h, cn], UT }: StepArgs): void {
      const z = at(cache.gates, t, B * GH); // [B, 4H]
      const tc = at(cache.tanhC, t, B * H); // [B, H]
      z.set(P);
      if (UT) gemm(false, true, B, GH, H, hPrev, H, UT, H, 1, z, GH); // z += h_{t-1} U
      else gemm(false, false, B, GH, H, hPrev, H, w.U, GH, 1, z, GH);
      if (fastGates?.(B, H, z, cp, cn, h, tc)) return;
      for (let b = 0; b < B; b++) {
        const r = b * GH;
        for (let j = 0; j < H; j++) {
          const i = s(z[r + I + j]);
          const f = s(z[r + F + j]);
          const g = Math.tanh(z[r + C + j]);
          const o = s(z[r + O + j]);
          z[r + I + j] = i;
          z[r + F + j] = f;
          z[r + C + j] = g;
          z[r + O + j] = o;
          const k = b * H + j;
          const ct = f * cp[k] + i * g;
          cn[k] = ct;
          const th = Math.tanh(ct);
          tc[k] = th;
          h[k] = o * th;
        }
      }
    },

    backward(w: CellWeights, cache: LstmCache, { t, B, prev: [, cp], dNext: [dh, dc], dP, dPrev: [dhPrev, dcPrev], UT }: BackArgs): void {
      const z = at(cache.gates, t, B * GH);
      const tc = at(cache.tanhC, t, B * H);
      if (!fastBack?.(B, H, z, tc, cp, dh, dc, dP, dcPrev)) for (let b = 0; b < B; b++) {
        const r = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const i = z[r + I + j];
          const f = z[r + F + j];
          const gg = z[r + C + j];
          const o = z[r + O + j];
          const th = tc[k];
          // h = o * tanh(c)
          const dO = dh[k] * th;
          const dcT = dc[k] + dh[k] * o * (dOut ? dOut(th) : 1 - th * th); // total dLoss/dc_t
          // c = f * c_{t-1} + i * g
          dcPrev[k] = dcT * f;
          dP[r + I + j] = dcT * gg * ds(i);
          dP[r + F + j] = dcT * cp[k] * ds(f);
          dP[r + C + j] = dcT * i * (dCand ? dCand(gg) : 1 - gg * gg);
          dP[r + O + j] = dO * ds(o);
        }
      }
      timesUTransposed(gemm, B, H, GH, 0, GH, dP, w.U, UT, 0, dhPrev); // dhPrev = dz U^T
    },

    weightGrads(_cache: LstmCache, { T, B, hPrev, dP }: AllStepsArgs, g: CellGrads): void {
      gemm(true, false, H, GH, T * B, hPrev, H, dP, GH, 1, g.dU, GH); // dU += sum_t h_{t-1}^T dz_t
    },

    kinkPattern(cache: LstmCache, _hOut: Arr, T: number, B: number): Uint8Array | null {
      if (recurrentActivation !== 'hardSigmoid') return null;
      return gateRegions(cache.gates, T * B, GH, [[I, F + H], [O, O + H]]); // i, f and o
    },
  };
}
