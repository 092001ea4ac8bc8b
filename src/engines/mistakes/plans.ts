/**
 * How each mistake is planted into the scratch engine: a Plan says what changes around the
 * engine's own pieces (its cells, time loop, head and loss): the parameters it reads, the
 * gradients it reports, the batch it sees, a wrapper around its cell's backward, the derivatives
 * its cell uses, the loss's row weights. engine.ts runs a plan.
 */
import type { Cell, CellDerivatives } from '../../../scratch/cells/cell.js';
import { at } from '../../../scratch/cells/cell.js';
import type { LstmCache } from '../../../scratch/cells/lstm.js';
import type { LossRows } from '../../../scratch/head.js';
import type { Arr } from '../../../scratch/kernels.js';
import type { Batch } from '../../engine.js';
import { type NamedParams, paramLayout } from '../../params.js';
import { carries, gateCount } from '../../cells.js';
import type { ModelSpec } from '../../spec.js';
import type { FloatArray } from '../../tensor.js';
import { biasNames } from '../claims.js';
import { type Mistake, gateNames } from './mistake.js';

/** What a planted engine knows of the call under way: the batch as it was given. */
export interface PlanContext {
  batch: Batch;
}

export interface Plan {
  /** The model the engine runs (gru-reset-position: the other reset position). */
  spec?: ModelSpec;
  /** The parameters the engine reads, from the canonical ones. */
  paramsIn?: (p: NamedParams) => NamedParams;
  /** The gradients it reports, from the ones it computed (for paramsIn: its adjoint). */
  gradsOut?: (g: NamedParams) => NamedParams;
  /** The loss's weights times this: the loss, every gradient and dh scale with it. */
  scale?: number;
  /** The loss reported times this (after `scale`). */
  lossFactor?: number;
  /** The batch it computes on. */
  batchIn?: (b: Batch) => Batch;
  /** The batch's rows are repeated this many times (each copy a block of B rows); results are folded back. */
  replicas?: (b: Batch) => number;
  /** A wrapper around the right cell. */
  cell?: (good: Cell<unknown>, ctx: PlanContext) => Cell<unknown>;
  derivatives?: CellDerivatives;
  /** Changes the loss's row weights (time-major rows r = t*B + b of the batch it computes on). */
  lossWeights?: (rows: LossRows, B: number, T: number, ctx: PlanContext) => void;
}

/** A plan that only rewrites gradients and scales: its result follows from the right one without running anything. */
export function derivable(p: Plan): boolean {
  return !p.spec && !p.paramsIn && !p.batchIn && !p.replicas && !p.cell && !p.derivatives && !p.lossWeights;
}

// ---- gate blocks of the layers' tensors (kernel [in, G*H], recurrentKernel [H, G*H], bias [G*H] or [2, G*H]) ----

type BlockOp = (d: FloatArray, GH: number, H: number, info: { kind: string; name: string }) => void;

/** A copy of p with `op` applied in place to every layer tensor of the kinds given. */
function mapLayers(spec: ModelSpec, p: NamedParams, kinds: readonly string[], op: BlockOp): NamedParams {
  const H = spec.hiddenSize;
  const GH = gateCount(spec.cell) * H;
  const out: NamedParams = { ...p };
  for (const info of paramLayout(spec)) {
    if (info.layer < 0 || !kinds.includes(info.kind)) continue;
    const t = p[info.name];
    const d = t.data.slice() as FloatArray;
    op(d, GH, H, info);
    out[info.name] = { ...t, data: d };
  }
  return out;
}

const LAYER_KINDS = ['kernel', 'recurrentKernel', 'bias'] as const;

function swapBlocks(d: FloatArray, GH: number, H: number, a: number, b: number): void {
  for (let r = 0; r < d.length / GH; r++) {
    for (let j = 0; j < H; j++) {
      const x = d[r * GH + a * H + j];
      d[r * GH + a * H + j] = d[r * GH + b * H + j];
      d[r * GH + b * H + j] = x;
    }
  }
}

function scaleBlock(d: FloatArray, GH: number, H: number, g: number, s: number, rows?: number[]): void {
  for (let r = 0; r < d.length / GH; r++) {
    if (rows && !rows.includes(r)) continue;
    for (let j = 0; j < H; j++) d[r * GH + g * H + j] *= s;
  }
}

/** Each gate's H x H block of U transposed: U'[i, g*H + j] = U[j, g*H + i]. */
function transposeBlocks(d: FloatArray, GH: number, H: number): void {
  const src = d.slice();
  for (let g = 0; g < GH / H; g++) for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) d[i * GH + g * H + j] = src[j * GH + g * H + i];
}

// ---- wrappers around the right cell ----

/** The right cell, with `after` run after its backward (to change what it passes back). */
function afterBackward(good: Cell<unknown>, after: (cache: unknown, a: Parameters<Cell<unknown>['backward']>[2]) => void): Cell<unknown> {
  return {
    ...good,
    backward(w, cache, a, g) {
      good.backward(w, cache, a, g);
      after(cache, a);
    },
  };
}

const zeroRows = (bufs: readonly Arr[], from: number, to: number): void => {
  for (const d of bufs) d.fill(0, from, to);
};

// ---- derivatives written from the activation's output y ----

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

const TANH_GRADS: Record<string, (y: number) => number> = {
  'one-minus-y': (y) => 1 - y,
  'tanh-of-y': (y) => 1 - Math.tanh(y) ** 2,
  'at-preactivation': (y) => 1 - Math.atanh(y) ** 2,
};

const SIGMOID_GRADS: Record<string, (y: number) => number> = {
  'at-preactivation': (y) => {
    const a = Math.log(y / (1 - y));
    return a * (1 - a);
  },
  'sigmoid-of-y': (y) => sigmoid(y) * (1 - sigmoid(y)),
};

/** The plan that plants `m` (already checked and filled by withDefaults). */
export function planFor(spec: ModelSpec, m: Mistake): Plan {
  const H = spec.hiddenSize;
  const gates = gateNames(spec);
  switch (m.id) {
    case 'cell-state-skips-forget-gate':
      // dc_{t-1} = dc_t (total), not dc_t * f
      return {
        cell: (good) =>
          afterBackward(good, (cache, a) => {
            const c = cache as LstmCache;
            const GH = 4 * H;
            const z = at(c.gates, a.t, a.B * GH);
            const tc = at(c.tanhC, a.t, a.B * H);
            const [dh, dc] = a.dNext;
            const dcPrev = a.dPrev[1];
            for (let b = 0; b < a.B; b++) {
              for (let j = 0; j < H; j++) {
                const k = b * H + j;
                const th = tc[k];
                dcPrev[k] = dc[k] + dh[k] * z[b * GH + 3 * H + j] * (1 - th * th);
              }
            }
          }),
      };
    case 'no-recurrent-gradient':
      return { cell: (good) => afterBackward(good, (_c, a) => a.dPrev[0].fill(0)) };
    case 'truncated-bptt':
      return m.cutAt !== undefined ? cutAt(m.cutAt) : window(m.k!);
    case 'gate-bias-gradient-dropped': {
      const g = gates.indexOf(m.gate!);
      const rows = m.biasRow === 'input' ? [0] : m.biasRow === 'recurrent' ? [1] : undefined;
      return { gradsOut: (p) => mapLayers(spec, p, ['bias'], (d, GH) => scaleBlock(d, GH, H, g, 0, rows)) };
    }
    case 'gates-swapped': {
      const [a, b] = m.gates!.map((x) => gates.indexOf(x));
      const swap = (p: NamedParams): NamedParams => mapLayers(spec, p, LAYER_KINDS, (d, GH) => swapBlocks(d, GH, H, a, b));
      return m.pass === 'forward' ? { paramsIn: swap, gradsOut: swap } : { gradsOut: swap };
    }
    case 'tanh-derivative': {
      const f = TANH_GRADS[m.form!];
      const cand = m.at !== 'cell-output';
      const out = carries(spec).includes('c') && m.at !== 'candidate';
      return { derivatives: { ...(cand ? { candidateGrad: f } : {}), ...(out ? { cellOutGrad: f } : {}) } };
    }
    case 'sigmoid-derivative-at-preactivation':
      return { derivatives: { gateGrad: SIGMOID_GRADS[m.form!] } };
    case 'hard-sigmoid-definition':
      // PyTorch's hardsigmoid: clip(x / 6 + 1/2, 0, 1), slope 1/6 inside
      return { derivatives: { gate: (x) => Math.min(1, Math.max(0, x / 6 + 0.5)), gateGrad: (y) => (y > 0 && y < 1 ? 1 / 6 : 0) } };
    case 'loss-scale':
      return m.scaled === 'loss' ? { lossFactor: m.c! } : { scale: m.c!, lossFactor: m.scaled === 'gradients' ? 1 / m.c! : 1 };
    case 'gru-update-convention': {
      // h = (1 - z) h_prev + z h~ is the right gru with z's pre-activation negated: 1 - s(a) = s(-a) for sigmoid and hardSigmoid
      const neg = (p: NamedParams): NamedParams => mapLayers(spec, p, LAYER_KINDS, (d, GH) => scaleBlock(d, GH, H, 0, -1));
      return { paramsIn: neg, gradsOut: neg };
    }
    case 'gru-reset-position':
      return resetPosition(spec, m.bias);
    case 'weights-transposed': {
      const tr = (p: NamedParams): NamedParams => mapLayers(spec, p, ['recurrentKernel'], (d, GH) => transposeBlocks(d, GH, H));
      return { paramsIn: tr, gradsOut: tr };
    }
    case 'initial-state-ignored':
      return { batchIn: (b) => ({ ...b, initialState: undefined }) };
    case 'mask-ignored':
      return m.loss === 'masked' && spec.returnSequences
        ? { batchIn: (b) => ({ ...b, mask: undefined }), lossWeights: (rows, B, T, ctx) => maskedWeights(spec, rows, B, T, ctx.batch.mask!) }
        : { batchIn: (b) => ({ ...b, mask: undefined }) };
    case 'head-last-step-only':
      return {
        lossWeights: (rows, B, T) => {
          for (let r = 0; r < rows.N; r++) rows.weight[r] = Math.floor(r / B) === T - 1 && rows.weight[r] !== 0 ? 1 / B : 0;
        },
      };
    case 'recurrent-weight-gradient-time-offset':
      return { cell: (good) => ({ ...good, weightGrads: (cache, a, g) => good.weightGrads(cache, { ...a, hPrev: a.h! }, g) }) };
  }
}

/** Nothing passes from step s back to step s - 1 (h and c). */
function cutAt(s: number): Plan {
  return { cell: (good) => afterBackward(good, (_c, a) => (a.t === s ? zeroRows(a.dPrev, 0, a.dPrev[0].length) : undefined)) };
}

/**
 * Each output's gradient goes back at most k steps (bptt_truncate = k): the batch is repeated T
 * times, copy j carries the loss of output j only, and its gradient is cut when it passes from
 * step j - k to step j - k - 1. The copies' gradients add up to the truncated one.
 */
function window(k: number): Plan {
  return {
    replicas: (b) => b.seqLen,
    cell: (good, ctx) =>
      afterBackward(good, (_c, a) => {
        const j = a.t + k; // the copy whose window ends at this step
        const n = (a.dPrev[0].length / a.B) * ctx.batch.batchSize; // elements of one copy's rows
        if (j < ctx.batch.seqLen) zeroRows(a.dPrev, j * n, (j + 1) * n);
      }),
    lossWeights: (rows, Bx, _T, ctx) => {
      const B = ctx.batch.batchSize;
      const R = Bx / B;
      for (let r = 0; r < rows.N; r++) {
        const t = Math.floor(r / Bx);
        const copy = Math.floor((r % Bx) / B);
        rows.weight[r] = copy === t ? rows.weight[r] * R : 0;
      }
    },
  };
}

/** Loss weights as the mask says, for a batch that runs without it (mask-ignored in the recurrence only). */
function maskedWeights(spec: ModelSpec, rows: LossRows, B: number, T: number, mask: Uint8Array): void {
  let valid = 0;
  for (let r = 0; r < rows.N; r++) if (mask[(r % B) * T + Math.floor(r / B)]) valid++;
  const w = spec.lossReduction === 'mean' ? 1 / Math.max(1, valid) : 1 / B;
  for (let r = 0; r < rows.N; r++) rows.weight[r] = mask[(r % B) * T + Math.floor(r / B)] ? w : 0;
}

/**
 * The other reset position. Reset-after asked, reset-before computed: the bias has one row there,
 * the two rows added (`summed`) or the input row alone (`input-row`, the recurrent row ignored);
 * reset-before asked, reset-after computed: the bias is the input row, the recurrent row zero.
 */
function resetPosition(spec: ModelSpec, bias: Mistake['bias']): Plan {
  const other: ModelSpec = { ...spec, gruResetAfter: !spec.gruResetAfter };
  const GH = 3 * spec.hiddenSize;
  const names = biasNames(spec).filter((n) => n.startsWith('layers.'));
  const mapBias = (p: NamedParams, f: (d: FloatArray) => FloatArray, shape: number[]): NamedParams => {
    const out = { ...p };
    for (const n of names) out[n] = { ...p[n], shape, data: f(p[n].data as FloatArray) };
    return out;
  };
  const make = (d: FloatArray, n: number): FloatArray => (d instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
  if (spec.gruResetAfter) {
    return {
      spec: other,
      paramsIn: (p) =>
        mapBias(p, (d) => {
          const o = make(d, GH);
          for (let i = 0; i < GH; i++) o[i] = bias === 'summed' ? d[i] + d[GH + i] : d[i];
          return o;
        }, [GH]),
      gradsOut: (g) =>
        mapBias(g, (d) => {
          const o = make(d, 2 * GH);
          o.set(d);
          if (bias === 'summed') o.set(d, GH);
          return o;
        }, [2, GH]),
    };
  }
  return {
    spec: other,
    paramsIn: (p) =>
      mapBias(p, (d) => {
        const o = make(d, 2 * GH);
        o.set(d);
        return o;
      }, [2, GH]),
    gradsOut: (g) => mapBias(g, (d) => d.slice(0, GH) as FloatArray, [GH]),
  };
}
