/**
 * GRU, reset gate before the recurrent product (tfjs, Keras 1; gate order z, r, h in the fused
 * matrices, U = [U_z U_r U_h] [H, 3H]):
 *   z  = s(x W_z + b_z + h_{t-1} U_z)
 *   r  = s(x W_r + b_r + h_{t-1} U_r)
 *   hh = tanh(x W_h + b_h + (r * h_{t-1}) U_h)
 *   h_t = z * h_{t-1} + (1 - z) * hh
 * The reset-after variant (PyTorch, Keras 2) is its own cell in gru-reset-after.ts.
 * Cache per step: z, r, hh [B, 3H] and r * h_{t-1} [B, H].
 */
import { type Arr, type FastKernels, type Gemm, gemm as jsGemm } from '../kernels.js';
import { type AllStepsArgs, type Alloc, type BackArgs, type Cell, type CellDerivatives, type CellGrads, type CellWeights, type GateActivation, type StepArgs, at, gateFn, gateGradFn, gateRegions, timesUTransposed } from './cell.js';

export interface GruCache {
  gates: Arr; // [T, B, 3H] z, r, hh after activation
  rh: Arr; // [T, B, H] r * h_{t-1}
  dRh: Arr; // [B, H] scratch: dLoss/d(r * h_{t-1})
}

/** `fast`: a kernel set's element-wise routines (used for sigmoid gates when they take the buffers). `d`: a planted mistake's derivatives. */
export function gruCell(H: number, recurrentActivation: GateActivation, gemm: Gemm = jsGemm, fast: FastKernels = {}, d?: CellDerivatives): Cell<GruCache> {
  const GH = 3 * H;
  const s = d?.gate ?? gateFn(recurrentActivation);
  const ds = d?.gateGrad ?? gateGradFn(recurrentActivation);
  const dCand = d?.candidateGrad;
  // column offsets of each gate inside a row of 3H
  const cz = 0;
  const cr = H;
  const ch = 2 * H;
  const Uzr = (w: CellWeights): Arr => w.U; // [H, 2H] of row stride 3H: the z and r columns
  const Uh = (w: CellWeights): Arr => w.U.subarray(ch); // [H, H] of row stride 3H
  const sig = recurrentActivation === 'sigmoid' && !d;
  const fastZR = sig ? fast.gruForwardZR?.bind(fast) : undefined;
  const fastH = sig ? fast.gruForwardH?.bind(fast) : undefined;
  const fastBackZH = sig ? fast.gruBackwardZH?.bind(fast) : undefined;
  const fastBackR = sig ? fast.gruBackwardR?.bind(fast) : undefined;
  return {
    G: 3,
    carry: 1,
    newCache: (T: number, B: number, alloc: Alloc): GruCache => ({ gates: alloc(T * B * GH), rh: alloc(T * B * H), dRh: alloc(B * H) }),

    forward(w: CellWeights, cache: GruCache, { t, B, P, prev: [hPrev], next: [h], UT }: StepArgs): void {
      const a = at(cache.gates, t, B * GH); // [B, 3H] pre-activations, then gates
      const rh = at(cache.rh, t, B * H);
      a.set(P);
      if (UT) gemm(false, true, B, 2 * H, H, hPrev, H, UT, H, 1, a, GH); // [a_z a_r] += h_{t-1} U_zr (rows 0 .. 2H-1 of UT)
      else gemm(false, false, B, 2 * H, H, hPrev, H, Uzr(w), GH, 1, a, GH);
      if (!fastZR?.(B, H, a, hPrev, rh)) for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const r = s(a[r0 + cr + j]);
          a[r0 + cz + j] = s(a[r0 + cz + j]);
          a[r0 + cr + j] = r;
          rh[b * H + j] = r * hPrev[b * H + j];
        }
      }
      if (UT) gemm(false, true, B, H, H, rh, H, UT.subarray(ch * H), H, 1, a.subarray(ch), GH); // a_h += (r h_{t-1}) U_h (rows 2H .. 3H-1)
      else gemm(false, false, B, H, H, rh, H, Uh(w), GH, 1, a.subarray(ch), GH);
      if (fastH?.(B, H, a, hPrev, h)) return;
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const hh = Math.tanh(a[r0 + ch + j]);
          a[r0 + ch + j] = hh;
          const z = a[r0 + cz + j];
          h[k] = z * hPrev[k] + (1 - z) * hh;
        }
      }
    },

    backward(w: CellWeights, cache: GruCache, { t, B, prev: [hPrev], dNext: [dh], dP, dPrev: [dhPrev], UT }: BackArgs): void {
      const a = at(cache.gates, t, B * GH);
      const dRh = cache.dRh;
      // h = z h_{t-1} + (1 - z) hh,  hh = tanh(a_h)
      if (!fastBackZH?.(B, H, a, hPrev, dh, dP, dhPrev)) for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const z = a[r0 + cz + j];
          const hh = a[r0 + ch + j];
          dP[r0 + cz + j] = dh[k] * (hPrev[k] - hh) * ds(z);
          dP[r0 + ch + j] = dh[k] * (1 - z) * (dCand ? dCand(hh) : 1 - hh * hh);
          dhPrev[k] = dh[k] * z;
        }
      }
      // a_h = x W_h + b_h + (r h_{t-1}) U_h
      const dAh = dP.subarray(ch); // [B, H] of row stride 3H
      timesUTransposed(gemm, B, H, GH, ch, H, dAh, w.U, UT, 0, dRh); // d(r h) = da_h U_h^T
      if (!fastBackR?.(B, H, a, hPrev, dRh, dP, dhPrev)) for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const r = a[r0 + cr + j];
          dP[r0 + cr + j] = dRh[k] * hPrev[k] * ds(r);
          dhPrev[k] += dRh[k] * r;
        }
      }
      // [a_z a_r] = ... + h_{t-1} U_zr
      timesUTransposed(gemm, B, H, GH, 0, 2 * H, dP, w.U, UT, 1, dhPrev); // dhPrev += [da_z da_r] U_zr^T
    },

    weightGrads(cache: GruCache, { T, B, hPrev, dP }: AllStepsArgs, g: CellGrads): void {
      gemm(true, false, H, H, T * B, cache.rh, H, dP.subarray(ch), GH, 1, g.dU.subarray(ch), GH); // dU_h += sum_t (r h_{t-1})^T da_h
      gemm(true, false, H, 2 * H, T * B, hPrev, H, dP, GH, 1, g.dU, GH); // dU_zr += sum_t h_{t-1}^T [da_z da_r]
    },

    kinkPattern(cache: GruCache, _hOut: Arr, T: number, B: number): Uint8Array | null {
      if (recurrentActivation !== 'hardSigmoid') return null;
      return gateRegions(cache.gates, T * B, GH, [[cz, cr + H]]); // z and r
    },
  };
}
