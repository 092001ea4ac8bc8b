/**
 * The time loop and backpropagation through time, written once for every cell, and stacking.
 *
 * Layout inside the engine is time-major: a [T, B, n] buffer holds step t at rows t*B .. t*B+B-1,
 * so a step is one contiguous [B, n] block and a whole layer's input is one [T*B, n] matrix.
 *
 * Per layer l (G gates, H units, S = the cell's carry: 1 buffer (h) or 2 (h, c)):
 *   P          [T, B, G*H]  input projection x_t W + b for all steps (one matrix product, or a row
 *                           gather of W for token input)
 *   carry[s]   [T+1, B, H]  carry[s][0] = initial state, carry[s][t+1] = after step t; carry[0]
 *                           is h, and the layer's output is carry[0][1..T]
 *   dHs        [T, B, H]    gradient arriving at each h_t; after backward, the total gradient of h_t
 * A masked step (mask[b, t] = 0) keeps every carry buffer of row b unchanged; its gradient passes
 * straight through to step t-1.
 */
import type { Alloc, Cell, CellGrads, CellWeights } from './cells/cell.js';
import { at } from './cells/cell.js';
import { type Arr, type FastKernels, type Gemm, addColumnSums, gatherRows, scatterAddRows } from './kernels.js';

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
  /** The carry through time, S buffers of [T+1, B, H]; carry[0] is h. */
  carry: Arr[];
  cache: unknown;
  dP: Arr;
  dHs: Arr;
  /** S buffers of [B, H]: the gradient of the carry flowing from step t+1 to step t (after backward: of the initial state). */
  dNext: Arr[];
  /** Its double buffer. */
  dTmp: Arr[];
  /** [B, H] each: one step's carry gradient with masked rows zeroed. */
  dMasked: Arr[];
  /** [G*H, H]: U transposed for the forward pass, where that is faster (`transposedRecurrent`), else null. */
  UT: Arr | null;
  /** UT when the last forward pass filled it with this layer's U (null: it did not). */
  UTpass: Arr | null;
}

/**
 * Whether a forward pass over T steps should multiply h_{t-1} by U transposed (made
 * once per pass, kernel sets with a fast `transpose` only). The 4 x 8 block of h U walks down the
 * rows of U, G*H apart; when G*H is a multiple of 1024 floats (lstm H = 256, 512) those rows share
 * one L1 set, and at a small batch each is a miss (the gemm packs U per call at batch >= 16 for
 * that reason, which costs too). Rows of U^T are contiguous.
 * Measured (WebAssembly, one thread, engines alternating in one process): lstm H=256 training
 * steps 1.13-1.27x faster at B=1, 1.0-1.03x at B=32 (seq 50), 1.03-1.05x for the character model
 * (tokens, seq 100); lstm H=512 B=8 1.23x. Where G*H is not a multiple of 1024 the products alone
 * were faster at batch 1 but whole steps were not (lstm H=128 B=1 0.73-0.9x): left alone. Below
 * 8 steps the transpose would cost more than it saves.
 */
export function transposedRecurrent(T: number, GH: number): boolean {
  return T >= 8 && GH % 1024 === 0;
}

/**
 * A stack of recurrent layers of one cell, the unit the time loop runs: the cell, the gemm of its
 * kernel set, and each layer's weights, gradients and input width. A bidirectional model has two
 * (the forward direction's and the backward one's, same cell, own weights).
 */
export interface Stack {
  cell: Cell<unknown>;
  gemm: Gemm;
  /**
   * The kernel set's optional routines beyond gemm (FastKernels: WebAssembly's y += x, token-row
   * gathers, column sums, a transposed U, ...), where they take the buffers; absent ones (and a
   * routine that answers false) run as the TypeScript loops here.
   */
  fast?: FastKernels;
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
  const each = (n: number): Arr[] => Array.from({ length: cell.carry }, () => alloc(n));
  return {
    B,
    T,
    layers: stack.layers.map(({ inSize }) => ({
      inSize,
      P: alloc(T * B * GH),
      carry: each((T + 1) * BH),
      cache: cell.newCache(T, B, alloc),
      dP: alloc(T * B * GH),
      dHs: alloc(T * BH),
      dNext: each(BH),
      dTmp: each(BH),
      dMasked: each(BH),
      UT: stack.fast?.transpose && transposedRecurrent(T, GH) ? alloc(GH * H) : null,
      UTpass: null,
    })),
  };
}

/** Layer input for layer 0: dense time-major [T, B, in], or token ids time-major [T*B]. */
export type LayerInput = { dense: Arr } | { tokens: Int32Array };

/** The views of step t of each carry buffer, written into `out` (no allocation of the array). */
function stepViews(carry: Arr[], t: number, n: number, out: Arr[]): Arr[] {
  for (let s = 0; s < carry.length; s++) out[s] = at(carry[s], t, n);
  return out;
}

/**
 * Runs all layers forward through time. `initial[s][l]` ([B, H]) is the initial carry buffer s of
 * layer l (zeros when it or the list is null): [h0] or [h0, c0]. `mask` is time-major [T*B] or null.
 */
export function forwardSequence(
  stack: Stack,
  buf: SequenceBuffers,
  input: LayerInput,
  mask: Uint8Array | null,
  initial: readonly ((Arr | null)[] | null | undefined)[] | null,
): void {
  const BH = buf.B * stack.H;
  for (let l = 0; l < stack.layers.length; l++) {
    const X: LayerInput = l === 0 ? input : { dense: buf.layers[l - 1].carry[0].subarray(BH) };
    forwardLayer(stack, l, buf, X, mask, initial ? initial.map((perLayer) => perLayer?.[l] ?? null) : null);
  }
}

/**
 * One layer forward through time over its input X ([T*B, in] time-major, or token ids [T*B] for
 * layer 0), from the initial carry `init` (zeros where null). Leaves h (and c) of every step in
 * buf.layers[l].carry.
 */
export function forwardLayer(stack: Stack, l: number, buf: SequenceBuffers, input: LayerInput, mask: Uint8Array | null, init: readonly (Arr | null)[] | null): void {
  const { cell, H, gemm } = stack;
  const { B, T } = buf;
  const GH = cell.G * H;
  const BH = B * H;
  const prev: Arr[] = [];
  const next: Arr[] = [];
  const { w, inSize } = stack.layers[l];
  const L = buf.layers[l];
  // Input projection for all steps at once: P = X W + b  [T*B, G*H]
  if ('tokens' in input) {
    if (!stack.fast?.gatherRows?.(T * B, GH, input.tokens, w.W, w.bIn, L.P)) gatherRows(T * B, GH, input.tokens, w.W, w.bIn, L.P);
  } else {
    for (let r = 0; r < T * B; r++) L.P.set(w.bIn, r * GH);
    gemm(false, false, T * B, GH, inSize, input.dense, inSize, w.W, GH, 1, L.P, GH);
  }
  L.carry.forEach((seq, s) => setInitial(seq, init?.[s] ?? null, BH));
  const UT = L.UT && stack.fast?.transpose?.(H, GH, w.U, GH, L.UT, H) ? L.UT : null;
  L.UTpass = UT;
  // The time loop
  for (let t = 0; t < T; t++) {
    stepViews(L.carry, t, BH, prev);
    stepViews(L.carry, t + 1, BH, next);
    cell.forward(w, L.cache, { t, B, P: at(L.P, t, B * GH), prev, next, UT });
    if (mask) {
      for (let b = 0; b < B; b++) {
        if (mask[t * B + b]) continue;
        for (let s = 0; s < next.length; s++) next[s].set(prev[s].subarray(b * H, (b + 1) * H), b * H); // a masked step keeps the state
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
 * layer's grads. Afterwards: each layer's dHs holds the total gradient of every h_t, dNext the
 * gradient of the initial carry, and `dX` (if given, [T*B, in] time-major) the input gradient.
 */
export function backwardSequence(stack: Stack, buf: SequenceBuffers, input: LayerInput, mask: Uint8Array | null, dX: Arr | null): void {
  const BH = buf.B * stack.H;
  for (let l = stack.layers.length - 1; l >= 0; l--) {
    const X: LayerInput = l === 0 ? input : { dense: buf.layers[l - 1].carry[0].subarray(BH) };
    backwardLayer(stack, l, buf, X, mask, l === 0 ? dX : buf.layers[l - 1].dHs);
  }
}

/**
 * BPTT through one layer: buf.layers[l].dHs holds dLoss/dh_t arriving from above (the head or
 * the next layer); accumulates the layer's parameter gradients, leaves the total gradient of every
 * h_t in dHs and of the initial carry in dNext, and writes dLoss/dX into `dInput` ([T*B, in];
 * token input accumulates into the kernel's rows instead).
 */
export function backwardLayer(
  stack: Stack,
  l: number,
  buf: SequenceBuffers,
  input: LayerInput,
  mask: Uint8Array | null,
  dInput: Arr | null,
  /** The gradient arriving at the final carry ([B, H] per carry buffer; an encoder's final state handed to a decoder), or none. */
  dFinal: readonly Arr[] | null = null,
): void {
  const { cell, H, gemm } = stack;
  const { B, T } = buf;
  const GH = cell.G * H;
  const BH = B * H;
  const S = cell.carry;
  const prev: Arr[] = [];
  const next: Arr[] = [];
  const dCarry: Arr[] = []; // the total gradient of this step's new carry (h_t, c_t)
  const { w, g, inSize } = stack.layers[l];
  const L = buf.layers[l];
  // nothing flows back from after the last step, unless the final state was read (dFinal)
  let dNext = L.dNext.map((d, s) => (dFinal?.[s] ? (d.set(dFinal[s].subarray(0, BH)), d) : d.fill(0)));
  // the forward pass's U^T (the weights do not change between a forward pass and its backward)
  const UT = stack.fast?.transposedBackward ? L.UTpass : null;
  // the gradient of the step's previous carry (h_{t-1}, c_{t-1}), which the cell's backward writes
  let dCarryPrev = L.dTmp.slice();
  for (let t = T - 1; t >= 0; t--) {
    const dhT = at(L.dHs, t, BH);
    if (!stack.fast?.addInto?.(BH, dhT, dNext[0])) for (let i = 0; i < BH; i++) dhT[i] += dNext[0][i]; // total gradient of h_t
    dCarry[0] = dhT;
    for (let s = 1; s < S; s++) dCarry[s] = dNext[s];
    const dCell = mask ? L.dMasked : dCarry;
    if (mask) {
      // Masked rows: the cell did not act, so its backward sees zero; the gradient passes through.
      for (let s = 0; s < S; s++) dCell[s].set(dCarry[s]);
      for (let b = 0; b < B; b++) {
        if (mask[t * B + b]) continue;
        for (let s = 0; s < S; s++) dCell[s].fill(0, b * H, (b + 1) * H);
      }
    }
    cell.backward(
      w,
      L.cache,
      { t, B, P: at(L.P, t, B * GH), prev: stepViews(L.carry, t, BH, prev), next: stepViews(L.carry, t + 1, BH, next), dNext: dCell, dP: at(L.dP, t, B * GH), dPrev: dCarryPrev, UT },
      g,
    );
    if (mask) {
      for (let b = 0; b < B; b++) {
        if (mask[t * B + b]) continue;
        for (let s = 0; s < S; s++) for (let j = b * H; j < (b + 1) * H; j++) dCarryPrev[s][j] += dCarry[s][j];
      }
    }
    [dNext, dCarryPrev] = [dCarryPrev, dNext];
  }
  // Leave the initial-state gradient in L.dNext whichever buffers it ended in.
  for (let s = 0; s < S; s++) if (dNext[s] !== L.dNext[s]) L.dNext[s].set(dNext[s]);

  // The recurrent weights, for all steps at once: dU += sum_t h_{t-1}^T dP_t (cell-specific)
  cell.weightGrads(L.cache, { T, B, hPrev: L.carry[0].subarray(0, T * BH), h: L.carry[0].subarray(BH, (T + 1) * BH), dP: L.dP }, g);

  // The input side, for all steps at once: dW += X^T dP, db += sum dP, dX = dP W^T
  if (!stack.fast?.addColumnSums?.(T * B, GH, L.dP, GH, g.dbIn)) addColumnSums(T * B, GH, L.dP, GH, g.dbIn);
  if ('tokens' in input) {
    if (!stack.fast?.scatterAddRows?.(T * B, GH, input.tokens, L.dP, g.dW)) scatterAddRows(T * B, GH, input.tokens, L.dP, g.dW);
  } else {
    gemm(true, false, inSize, GH, T * B, input.dense, inSize, L.dP, GH, 1, g.dW, GH);
    if (dInput) gemm(false, true, T * B, inSize, GH, L.dP, GH, w.W, GH, 0, dInput, inSize);
  }
}
