/**
 * GRU, reset gate after the recurrent product (PyTorch, Keras 2 `reset_after=True`; gate order
 * z, r, h; the bias is [2, 3H]: the input row joins the input projection, the recurrent row
 * b_rec is added to the recurrent product):
 *   M  = h_{t-1} U + b_rec                       [B, 3H], columns M_z, M_r, M_h
 *   z  = s(x W_z + b_z + M_z)
 *   r  = s(x W_r + b_r + M_r)
 *   hh = tanh(x W_h + b_h + r * M_h)
 *   h_t = z * h_{t-1} + (1 - z) * hh
 * Cache per step: z, r, hh [B, 3H] and M_h [B, H]; backward keeps dLoss/dM of every step [B, 3H].
 */
import { type Arr, type FastKernels, type Gemm, addColumnSums, gemm as jsGemm } from '../kernels.js';
import { type AllStepsArgs, type Alloc, type BackArgs, type Cell, type CellDerivatives, type CellGrads, type CellWeights, type GateActivation, type StepArgs, at, gateFn, gateGradFn, gateRegions, timesUTransposed } from './cell.js';

export interface GruResetAfterCache {
  gates: Arr; // [T, B, 3H] z, r, hh after activation
  Mh: Arr; // [T, B, H] M_h = h_{t-1} U_h + b_rec_h
  M: Arr; // [B, 3H] scratch: M (forward)
  dM: Arr; // [T, B, 3H] dLoss/dM of every step (backward)
}

/** `fast`: a kernel set's element-wise routines (used for sigmoid gates when they take the buffers). `d`: a planted mistake's derivatives. */
export function gruResetAfterCell(H: number, recurrentActivation: GateActivation, gemm: Gemm = jsGemm, fast: FastKernels = {}, d?: CellDerivatives): Cell<GruResetAfterCache> {
  const GH = 3 * H;
  const s = d?.gate ?? gateFn(recurrentActivation);
  const ds = d?.gateGrad ?? gateGradFn(recurrentActivation);
  const dCand = d?.candidateGrad;
  // column offsets of each gate inside a row of 3H
  const cz = 0;
  const cr = H;
  const ch = 2 * H;
  const fastStep = recurrentActivation === 'sigmoid' && !d ? fast.gruResetAfterForward?.bind(fast) : undefined;
  const fastBack = recurrentActivation === 'sigmoid' && !d ? fast.gruResetAfterBackward?.bind(fast) : undefined;
  return {
    G: 3,
    carry: 1,
    newCache: (T: number, B: number, alloc: Alloc): GruResetAfterCache => ({ gates: alloc(T * B * GH), Mh: alloc(T * B * H), M: alloc(B * GH), dM: alloc(T * B * GH) }),

    forward(w: CellWeights, cache: GruResetAfterCache, { t, B, P, prev: [hPrev], next: [h], UT }: StepArgs): void {
      const a = at(cache.gates, t, B * GH); // [B, 3H] input projections, then gates
      const Mh = at(cache.Mh, t, B * H);
      const M = cache.M;
      a.set(P);
      for (let b = 0; b < B; b++) M.set(w.bRec!, b * GH);
      if (UT) gemm(false, true, B, GH, H, hPrev, H, UT, H, 1, M, GH); // M = h_{t-1} U + b_rec
      else gemm(false, false, B, GH, H, hPrev, H, w.U, GH, 1, M, GH);
      if (fastStep?.(B, H, a, M, hPrev, Mh, h)) return;
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const z = s(a[r0 + cz + j] + M[r0 + cz + j]);
          const r = s(a[r0 + cr + j] + M[r0 + cr + j]);
          const mh = M[r0 + ch + j];
          const hh = Math.tanh(a[r0 + ch + j] + r * mh);
          Mh[k] = mh;
          a[r0 + cz + j] = z;
          a[r0 + cr + j] = r;
          a[r0 + ch + j] = hh;
          h[k] = z * hPrev[k] + (1 - z) * hh;
        }
      }
    },

    backward(w: CellWeights, cache: GruResetAfterCache, { t, B, prev: [hPrev], dNext: [dh], dP, dPrev: [dhPrev], UT }: BackArgs): void {
      const a = at(cache.gates, t, B * GH);
      const Mh = at(cache.Mh, t, B * H);
      const dM = at(cache.dM, t, B * GH); // [B, 3H] dLoss/dM
      if (!fastBack?.(B, H, a, Mh, hPrev, dh, dP, dM, dhPrev)) for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const z = a[r0 + cz + j];
          const r = a[r0 + cr + j];
          const hh = a[r0 + ch + j];
          // h = z h_{t-1} + (1 - z) hh
          const daz = dh[k] * (hPrev[k] - hh) * ds(z);
          const dah = dh[k] * (1 - z) * (dCand ? dCand(hh) : 1 - hh * hh); // through hh = tanh(a_h + r M_h)
          dhPrev[k] = dh[k] * z;
          const dar = dah * Mh[k] * ds(r);
          dP[r0 + cz + j] = daz;
          dP[r0 + cr + j] = dar;
          dP[r0 + ch + j] = dah;
          dM[r0 + cz + j] = daz;
          dM[r0 + cr + j] = dar;
          dM[r0 + ch + j] = dah * r;
        }
      }
      // M = h_{t-1} U + b_rec
      timesUTransposed(gemm, B, H, GH, 0, GH, dM, w.U, UT, 1, dhPrev); // dhPrev += dM U^T
    },

    weightGrads(cache: GruResetAfterCache, { T, B, hPrev }: AllStepsArgs, g: CellGrads): void {
      gemm(true, false, H, GH, T * B, hPrev, H, cache.dM, GH, 1, g.dU, GH); // dU += sum_t h_{t-1}^T dM_t
      if (!fast.addColumnSums?.(T * B, GH, cache.dM, GH, g.dbRec!)) addColumnSums(T * B, GH, cache.dM, GH, g.dbRec!); // db_rec += sum_t of dM_t's rows
    },

    kinkPattern(cache: GruResetAfterCache, _hOut: Arr, T: number, B: number): Uint8Array | null {
      if (recurrentActivation !== 'hardSigmoid') return null;
      return gateRegions(cache.gates, T * B, GH, [[cz, cr + H]]); // z and r
    },
  };
}
