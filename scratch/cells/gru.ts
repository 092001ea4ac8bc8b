/**
 * GRU (gate order z, r, h in the fused matrices), two variants:
 *   z = s(x W_z + b_z + h_{t-1} U_z)        r = s(x W_r + b_r + h_{t-1} U_r)
 *   reset-before (tfjs):  hh = tanh(x W_h + b_h + (r * h_{t-1}) U_h)
 *   reset-after (PyTorch, Keras 2; bias [2, 3H] = input row, recurrent row):
 *     R = h_{t-1} U + b_rec;  z, r use R_z, R_r;  hh = tanh(x W_h + b_ih_h + r * R_h)
 *   h_t = z * h_{t-1} + (1 - z) * hh
 * Cache per step: z, r, hh [B, 3H]; and r*h_{t-1} (reset-before) or R_h (reset-after) [B, H].
 */
import { type Arr, type Gemm, gemm as jsGemm } from '../kernels.js';
import { type Alloc, type BackArgs, type Cell, type CellGrads, type CellWeights, type GateActivation, type StepArgs, at, gateFn, gateGradFn, gateRegions } from './cell.js';

export interface GruCache {
  gates: Arr; // [T, B, 3H] z, r, hh after activation
  aux: Arr; // [T, B, H] r * h_{t-1} (reset-before) or R_h = h_{t-1} U_h + b_rec_h (reset-after)
  rec: Arr; // [B, 3H] scratch: recurrent pre-activations (forward) / their gradients (backward)
  dAux: Arr; // [B, H] scratch
}

export function gruCell(H: number, recurrentActivation: GateActivation, resetAfter: boolean, gemm: Gemm = jsGemm): Cell<GruCache> {
  const G = 3;
  const GH = G * H;
  const s = gateFn(recurrentActivation);
  const ds = gateGradFn(recurrentActivation);
  const Z = 0;
  const R = H;
  const HH = 2 * H;
  return {
    G,
    hasC: false,
    newCache: (T: number, B: number, alloc: Alloc): GruCache => ({
      gates: alloc(T * B * GH),
      aux: alloc(T * B * H),
      rec: alloc(B * GH),
      dAux: alloc(B * H),
    }),

    forward(w: CellWeights, cache: GruCache, { t, B, P, hPrev, h }: StepArgs): void {
      const a = at(cache.gates, t, B * GH); // [B, 3H] pre-activations, then gates
      const aux = at(cache.aux, t, B * H); // [B, H]
      a.set(P);
      if (resetAfter) {
        const rec = cache.rec; // [B, 3H] = h_{t-1} U + b_rec
        for (let b = 0; b < B; b++) rec.set(w.bRec!, b * GH);
        gemm(false, false, B, GH, H, hPrev, H, w.U, GH, 1, rec, GH);
        for (let b = 0; b < B; b++) {
          const r0 = b * GH;
          for (let j = 0; j < H; j++) {
            const z = s(a[r0 + Z + j] + rec[r0 + Z + j]);
            const r = s(a[r0 + R + j] + rec[r0 + R + j]);
            const k = b * H + j;
            const Rh = rec[r0 + HH + j];
            aux[k] = Rh;
            const hh = Math.tanh(a[r0 + HH + j] + r * Rh);
            a[r0 + Z + j] = z;
            a[r0 + R + j] = r;
            a[r0 + HH + j] = hh;
            h[k] = z * hPrev[k] + (1 - z) * hh;
          }
        }
        return;
      }
      // reset-before: z and r first, then the candidate from (r * h_{t-1}) U_h
      gemm(false, false, B, 2 * H, H, hPrev, H, w.U, GH, 1, a, GH); // [z r] += h_{t-1} U_zr
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const z = s(a[r0 + Z + j]);
          const r = s(a[r0 + R + j]);
          a[r0 + Z + j] = z;
          a[r0 + R + j] = r;
          aux[b * H + j] = r * hPrev[b * H + j];
        }
      }
      gemm(false, false, B, H, H, aux, H, w.U.subarray(HH), GH, 1, a.subarray(HH), GH); // a_h += (r h) U_h
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const hh = Math.tanh(a[r0 + HH + j]);
          a[r0 + HH + j] = hh;
          const z = a[r0 + Z + j];
          h[k] = z * hPrev[k] + (1 - z) * hh;
        }
      }
    },

    backward(w: CellWeights, cache: GruCache, { t, B, hPrev, dh, dP, dhPrev }: BackArgs, g: CellGrads): void {
      const a = at(cache.gates, t, B * GH);
      const aux = at(cache.aux, t, B * H);
      if (resetAfter) {
        const dRec = cache.rec; // [B, 3H] dLoss/dR
        for (let b = 0; b < B; b++) {
          const r0 = b * GH;
          for (let j = 0; j < H; j++) {
            const k = b * H + j;
            const z = a[r0 + Z + j];
            const r = a[r0 + R + j];
            const hh = a[r0 + HH + j];
            // h = z h_{t-1} + (1 - z) hh
            const dz = dh[k] * (hPrev[k] - hh);
            const dah = dh[k] * (1 - z) * (1 - hh * hh); // through hh = tanh(a_h)
            dhPrev[k] = dh[k] * z;
            // a_h = x W_h + b_h + r * R_h
            const dr = dah * aux[k];
            const daz = dz * ds(z);
            const dar = dr * ds(r);
            dP[r0 + Z + j] = daz;
            dP[r0 + R + j] = dar;
            dP[r0 + HH + j] = dah;
            dRec[r0 + Z + j] = daz;
            dRec[r0 + R + j] = dar;
            dRec[r0 + HH + j] = dah * r;
          }
        }
        gemm(false, true, B, H, GH, dRec, GH, w.U, GH, 1, dhPrev, H); // dhPrev += dR U^T
        gemm(true, false, H, GH, B, hPrev, H, dRec, GH, 1, g.dU, GH); // dU += h_{t-1}^T dR
        const db = g.dbRec!;
        for (let b = 0; b < B; b++) for (let q = 0; q < GH; q++) db[q] += dRec[b * GH + q];
        return;
      }
      const dRh = cache.dAux; // [B, H] dLoss/d(r * h_{t-1})
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const z = a[r0 + Z + j];
          const hh = a[r0 + HH + j];
          dP[r0 + Z + j] = dh[k] * (hPrev[k] - hh) * ds(z);
          dP[r0 + HH + j] = dh[k] * (1 - z) * (1 - hh * hh);
          dhPrev[k] = dh[k] * z;
        }
      }
      const dAh = dP.subarray(HH); // [B, H] with row stride 3H
      gemm(false, true, B, H, H, dAh, GH, w.U.subarray(HH), GH, 0, dRh, H); // d(r h) = da_h U_h^T
      gemm(true, false, H, H, B, aux, H, dAh, GH, 1, g.dU.subarray(HH), GH); // dU_h += (r h)^T da_h
      for (let b = 0; b < B; b++) {
        const r0 = b * GH;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const r = a[r0 + R + j];
          dP[r0 + R + j] = dRh[k] * hPrev[k] * ds(r);
          dhPrev[k] += dRh[k] * r;
        }
      }
      gemm(false, true, B, H, 2 * H, dP, GH, w.U, GH, 1, dhPrev, H); // dhPrev += [dz dr] U_zr^T
      gemm(true, false, H, 2 * H, B, hPrev, H, dP, GH, 1, g.dU, GH); // dU_zr += h_{t-1}^T [dz dr]
    },

    kinkPattern(cache: GruCache, _hOut: Arr, T: number, B: number): Uint8Array | null {
      if (recurrentActivation !== 'hardSigmoid') return null;
      return gateRegions(cache.gates, T * B, GH, [[Z, R + H]]); // z and r
    },
  };
}
