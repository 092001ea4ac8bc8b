/**
 * The time loop and backpropagation through time, written once for every cell, and stacking.
 *
 * Layout inside the engine is time-major: a [T, B, n] buffer holds step t at rows t*B .. t*B+B-1,
 * so a step is one contiguous [B, n] block and a whole layer's input is one [T*B, n] matrix.
 *
 * Per layer l (G gates, H units):
 *   P   [T, B, G*H]  input projection x_t W + b for all steps (one matrix product, or a row gather
 *                    of W for token input)
 *   hs  [T+1, B, H]  hs[0] = initial h, hs[t+1] = h after step t (the layer's output is hs[1..T])
 *   cs  [T+1, B, H]  the same for c (lstm)
 *   dHs [T, B, H]    gradient arriving at each h_t; after backward, the total gradient of h_t
 * A masked step (mask[b, t] = 0) keeps h and c of row b unchanged; its gradient passes straight
 * through to step t-1.
 */
import type { Alloc, Cell, CellGrads, CellWeights } from './cells/cell.js';
import { at } from './cells/cell.js';
import { type Arr, type Gemm, addColumnSums, gatherRows, scatterAddRows } from './kernels.js';

export interface LayerWeights extends CellWeights {
  W: Arr; // [in, G*H]
  /** [G*H] the bias added to the input projection (row 0 of a reset-after gru's bias). */
  bIn: Arr;
}

export interface LayerGrads extends CellGrads {
  dW: Arr;
  dbIn: Arr;
}

export interface LayerBuffers {
  inSize: number;
  P: Arr;
  hs: Arr;
  cs: Arr | null;
  cache: unknown;
  dP: Arr;
  dHs: Arr;
  /** [B, H] gradient carried from step t+1 to step t, and its double buffer. */
  dhNext: Arr;
  dhTmp: Arr;
  dcNext: Arr | null;
  dcTmp: Arr | null;
  /** [B, H] dh of one step with masked rows zeroed. */
  dhMasked: Arr;
  dcMasked: Arr | null;
}

export interface Stack {
  cell: Cell<unknown>;
  gemm: Gemm;
  H: number;
  layers: { w: LayerWeights; g: LayerGrads; inSize: number }[];
}

export interface SequenceBuffers {
  B: number;
  T: number;
  layers: LayerBuffers[];
}

export function newSequenceBuffers(stack: Stack, B: number, T: number, alloc: Alloc): SequenceBuffers {
  const { cell, H } = stack;
  const GH = cell.G * H;
  const BH = B * H;
  return {
    B,
    T,
    layers: stack.layers.map(({ inSize }) => ({
      inSize,
      P: alloc(T * B * GH),
      hs: alloc((T + 1) * BH),
      cs: cell.hasC ? alloc((T + 1) * BH) : null,
      cache: cell.newCache(T, B, alloc),
      dP: alloc(T * B * GH),
      dHs: alloc(T * BH),
      dhNext: alloc(BH),
      dhTmp: alloc(BH),
      dcNext: cell.hasC ? alloc(BH) : null,
      dcTmp: cell.hasC ? alloc(BH) : null,
      dhMasked: alloc(BH),
      dcMasked: cell.hasC ? alloc(BH) : null,
    })),
  };
}

/** Layer input for layer 0: dense time-major [T, B, in], or token ids time-major [T*B]. */
export type LayerInput = { dense: Arr } | { tokens: Int32Array };

/**
 * Runs all layers forward through time. `h0[l]`, `c0[l]` ([B, H]) are the initial state (zeros
 * when null). `mask` is time-major [T*B] or null.
 */
export function forwardSequence(
  stack: Stack,
  buf: SequenceBuffers,
  input: LayerInput,
  mask: Uint8Array | null,
  h0: (Arr | null)[] | null,
  c0: (Arr | null)[] | null,
): void {
  const { cell, H, gemm } = stack;
  const { B, T } = buf;
  const GH = cell.G * H;
  const BH = B * H;
  for (let l = 0; l < stack.layers.length; l++) {
    const { w, inSize } = stack.layers[l];
    const L = buf.layers[l];
    // Input projection for all steps at once: P = X W + b  [T*B, G*H]
    if (l === 0 && 'tokens' in input) {
      gatherRows(T * B, GH, input.tokens, w.W, w.bIn, L.P);
    } else {
      const X = l === 0 ? (input as { dense: Arr }).dense : buf.layers[l - 1].hs.subarray(BH); // [T*B, in]
      for (let r = 0; r < T * B; r++) L.P.set(w.bIn, r * GH);
      gemm(false, false, T * B, GH, inSize, X, inSize, w.W, GH, 1, L.P, GH);
    }
    setInitial(L.hs, h0?.[l] ?? null, BH);
    if (L.cs) setInitial(L.cs, c0?.[l] ?? null, BH);
    // The time loop
    for (let t = 0; t < T; t++) {
      const hPrev = at(L.hs, t, BH);
      const h = at(L.hs, t + 1, BH);
      const cPrev = L.cs ? at(L.cs, t, BH) : null;
      const c = L.cs ? at(L.cs, t + 1, BH) : null;
      cell.forward(w, L.cache, { t, B, P: at(L.P, t, B * GH), hPrev, cPrev, h, c });
      if (mask) {
        for (let b = 0; b < B; b++) {
          if (mask[t * B + b]) continue;
          h.set(hPrev.subarray(b * H, (b + 1) * H), b * H); // a masked step keeps the state
          if (c && cPrev) c.set(cPrev.subarray(b * H, (b + 1) * H), b * H);
        }
      }
    }
  }
}

function setInitial(seq: Arr, init: Arr | null, n: number): void {
  if (init) seq.set(init.subarray(0, n), 0);
  else seq.fill(0, 0, n);
}

/**
 * Backpropagation through time over all layers, top to bottom. Before the call, the top layer's
 * dHs holds dLoss/dh_t from the head (zeros where no output is read). Accumulates (+=) into each
 * layer's grads. Afterwards: each layer's dHs holds the total gradient of every h_t, dhNext / dcNext
 * the gradient of the initial state, and `dX` (if given, [T*B, in] time-major) the input gradient.
 */
export function backwardSequence(
  stack: Stack,
  buf: SequenceBuffers,
  input: LayerInput,
  mask: Uint8Array | null,
  dX: Arr | null,
): void {
  const { cell, H, gemm } = stack;
  const { B, T } = buf;
  const GH = cell.G * H;
  const BH = B * H;
  for (let l = stack.layers.length - 1; l >= 0; l--) {
    const { w, g, inSize } = stack.layers[l];
    const L = buf.layers[l];
    let dhNext = L.dhNext.fill(0); // nothing flows back from after the last step
    let dhOut = L.dhTmp;
    let dcNext = L.dcNext ? L.dcNext.fill(0) : null;
    let dcOut = L.dcTmp;
    for (let t = T - 1; t >= 0; t--) {
      const dhT = at(L.dHs, t, BH);
      for (let i = 0; i < BH; i++) dhT[i] += dhNext[i]; // total gradient of h_t
      let dh = dhT;
      let dc = dcNext;
      if (mask) {
        // Masked rows: the cell did not act, so its backward sees zero; the gradient passes through.
        dh = L.dhMasked;
        dh.set(dhT);
        if (dc) {
          L.dcMasked!.set(dc);
          dc = L.dcMasked;
        }
        for (let b = 0; b < B; b++) {
          if (mask[t * B + b]) continue;
          dh.fill(0, b * H, (b + 1) * H);
          if (dc) dc.fill(0, b * H, (b + 1) * H);
        }
      }
      cell.backward(
        w,
        L.cache,
        {
          t,
          B,
          P: at(L.P, t, B * GH),
          hPrev: at(L.hs, t, BH),
          h: at(L.hs, t + 1, BH),
          cPrev: L.cs ? at(L.cs, t, BH) : null,
          c: L.cs ? at(L.cs, t + 1, BH) : null,
          dh,
          dc,
          dP: at(L.dP, t, B * GH),
          dhPrev: dhOut,
          dcPrev: dcOut,
        },
        g,
      );
      if (mask) {
        for (let b = 0; b < B; b++) {
          if (mask[t * B + b]) continue;
          for (let j = b * H; j < (b + 1) * H; j++) {
            dhOut[j] += dhT[j];
            if (dcOut) dcOut[j] += dcNext![j];
          }
        }
      }
      [dhNext, dhOut] = [dhOut, dhNext];
      if (dcOut) [dcNext, dcOut] = [dcOut, dcNext!];
    }
    // Leave the initial-state gradient in dhNext / dcNext whichever buffer it ended in.
    if (dhNext !== L.dhNext) L.dhNext.set(dhNext);
    if (dcNext && L.dcNext && dcNext !== L.dcNext) L.dcNext.set(dcNext);

    // The input side, for all steps at once: dW += X^T dP, db += sum dP, dX = dP W^T
    addColumnSums(T * B, GH, L.dP, GH, g.dbIn);
    if (l === 0 && 'tokens' in input) {
      scatterAddRows(T * B, GH, input.tokens, L.dP, g.dW);
    } else {
      const X = l === 0 ? (input as { dense: Arr }).dense : buf.layers[l - 1].hs.subarray(BH);
      gemm(true, false, inSize, GH, T * B, X, inSize, L.dP, GH, 1, g.dW, GH);
      const target = l === 0 ? dX : buf.layers[l - 1].dHs;
      if (target) gemm(false, true, T * B, inSize, GH, L.dP, GH, w.W, GH, 0, target, inSize);
    }
  }
}

