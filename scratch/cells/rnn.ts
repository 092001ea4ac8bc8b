/**
 * Simple RNN (Elman):  h_t = act(x_t W + h_{t-1} U + b),  act = tanh or relu.
 * Cache: nothing beyond h_t itself (both derivatives are written from the output).
 */
import { type Arr, type FastKernels, type Gemm, gemm as jsGemm } from '../kernels.js';
import { type AllStepsArgs, type BackArgs, type Cell, type CellDerivatives, type CellGrads, type CellWeights, type StepArgs, timesUTransposed } from './cell.js';

export type RnnCache = { H: number };

/** `fast`: a kernel set's element-wise routines (its tanh, when it takes the buffers). `d`: a planted mistake's derivatives (candidateGrad: tanh'). */
export function rnnCell(H: number, activation: 'tanh' | 'relu', gemm: Gemm = jsGemm, fast: FastKernels = {}, d?: CellDerivatives): Cell<RnnCache> {
  const relu = activation === 'relu';
  const dTanh = relu ? undefined : d?.candidateGrad;
  const fastTanh = fast.tanh?.bind(fast);
  const fastTanhBack = dTanh ? undefined : fast.tanhBackward?.bind(fast);
  return {
    G: 1,
    carry: 1,
    newCache: () => ({ H }),

    forward(w: CellWeights, _cache: RnnCache, { B, P, prev: [hPrev], next: [h], UT }: StepArgs): void {
      h.set(P); // [B, H]  x W + b
      if (UT) gemm(false, true, B, H, H, hPrev, H, UT, H, 1, h, H); // += h_{t-1} U
      else gemm(false, false, B, H, H, hPrev, H, w.U, H, 1, h, H);
      const n = B * H;
      if (relu) for (let i = 0; i < n; i++) h[i] = h[i] > 0 ? h[i] : 0;
      else if (!fastTanh?.(n, h)) for (let i = 0; i < n; i++) h[i] = Math.tanh(h[i]);
    },

    backward(w: CellWeights, _cache: RnnCache, { B, next: [h], dNext: [dh], dP, dPrev: [dhPrev], UT }: BackArgs): void {
      const n = B * H;
      // da = dh * act'(a), written from h: tanh' = 1 - h^2, relu' = [h > 0]
      if (relu) for (let i = 0; i < n; i++) dP[i] = h[i] > 0 ? dh[i] : 0;
      else if (dTanh) for (let i = 0; i < n; i++) dP[i] = dh[i] * dTanh(h[i]);
      else if (!fastTanhBack?.(n, h, dh, dP)) for (let i = 0; i < n; i++) dP[i] = dh[i] * (1 - h[i] * h[i]);
      timesUTransposed(gemm, B, H, H, 0, H, dP, w.U, UT, 0, dhPrev); // dhPrev = da U^T
    },

    weightGrads(_cache: RnnCache, { T, B, hPrev, dP }: AllStepsArgs, g: CellGrads): void {
      gemm(true, false, H, H, T * B, hPrev, H, dP, H, 1, g.dU, H); // dU += sum_t h_{t-1}^T da_t
    },

    kinkPattern(_cache: RnnCache, hOut: Arr, T: number, B: number): Uint8Array | null {
      if (!relu) return null;
      return Uint8Array.from(hOut.subarray(0, T * B * H), (v) => (v > 0 ? 1 : 0));
    },
  };
}

export type { Arr };
