/**
 * Gradient check: central finite differences on the float64 scratch engine against its analytic
 * gradients, for every parameter, the input (dense) and the carried initial state.
 *   numeric_i = (L(theta_i + eps) - L(theta_i - eps)) / (2 eps),  eps = 1e-5
 * Elements whose perturbation moves some activation across a kink (relu at 0, hardSigmoid at
 * +-2.5) are skipped and counted: there the loss is not differentiable and the difference quotient
 * means nothing.
 */
import type { Batch } from '../src/engine.js';
import { type Cell, type Kernels, finiteDifferenceEngine, seq2seqFiniteDifferenceEngine } from '../src/engines/registry.js';
import { randomBatch } from '../src/data/synthetic.js';
import { randomTestParams } from '../src/params.js';
import type { ModelSpec } from '../src/spec.js';
import { carries, hasKinks } from '../src/cells.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams } from '../src/seq2seq/params.js';
import type { Seq2SeqSpec } from '../src/seq2seq/spec.js';
import { TOLERANCES, compareArrays, within } from '../src/tolerance.js';

export interface GradcheckOptions {
  batch?: number;
  seq?: number;
  seed?: number;
  /** Random right-padded mask. */
  mask?: boolean;
  /** Random carried initial state (its gradient is checked too). */
  initialState?: boolean;
  eps?: number;
  /** Kernels uniform in +-kernelScale, biases in +-0.6 kernelScale (default 0.5 / 0.3). */
  kernelScale?: number;
  /** A cell of your own to check (see ScratchOptions.cell). */
  cell?: Cell<unknown>;
  /** The float64 kernel set (default: the TypeScript kernels; float64Kernels gives the BLAS's products). */
  kernels?: Kernels;
}

export interface GradcheckRow {
  name: string;
  shape: number[];
  checked: number;
  skipped: number;
  maxAbsError: number;
  maxRelError: number;
  /** max |numeric gradient| */
  scale: number;
  pass: boolean;
}

export interface GradcheckReport {
  engine: 'scratch-f64';
  /** Its kernel set, described (describeKernels). */
  kernels: string;
  spec: ModelSpec;
  batch: number;
  seq: number;
  seed: number;
  eps: number;
  limit: number;
  maxRelError: number;
  skipped: number;
  pass: boolean;
  params: GradcheckRow[];
}

export function gradcheck(spec: ModelSpec, opts: GradcheckOptions = {}): GradcheckReport {
  const B = opts.batch ?? 3;
  const T = opts.seq ?? 5;
  const seed = opts.seed ?? 1;
  const eps = opts.eps ?? 1e-5;
  const engine = finiteDifferenceEngine(spec, { params: randomTestParams(spec, seed, 'F64', opts.kernelScale ?? 0.5, 0.6 * (opts.kernelScale ?? 0.5)), cell: opts.cell, kernels: opts.kernels });
  const batch = randomBatch(spec, B, T, seed + 1, { dtype: 'F64', mask: opts.mask, initialState: opts.initialState });
  const analytic = engine.lossAndGrads(batch, { inputGrad: spec.input === 'dense', stateGrads: !!opts.initialState });
  engine.loss(batch);
  const base = engine.kinkPattern(batch);
  const sameSide = (): boolean => {
    const p = engine.kinkPattern(batch);
    if (!p || !base) return true;
    for (let i = 0; i < p.length; i++) if (p[i] !== base[i]) return false;
    return true;
  };

  /** Finite differences of the loss with respect to every element of `buf`. */
  const differences = (buf: Float64Array | Float32Array, b: Batch): { numeric: Float64Array; skip: Uint8Array } => {
    const numeric = new Float64Array(buf.length);
    const skip = new Uint8Array(buf.length);
    for (let i = 0; i < buf.length; i++) {
      const orig = buf[i];
      buf[i] = orig + eps;
      const lp = engine.loss(b);
      const okP = sameSide();
      buf[i] = orig - eps;
      const lm = engine.loss(b);
      const okM = sameSide();
      buf[i] = orig;
      numeric[i] = (lp - lm) / (2 * eps);
      if (!okP || !okM) skip[i] = 1;
    }
    return { numeric, skip };
  };

  const rows: GradcheckRow[] = [];
  const row = (name: string, shape: number[], a: ArrayLike<number>, d: { numeric: Float64Array; skip: Uint8Array }): void => {
    const cmp = compareArrays(a, d.numeric, d.skip);
    const skipped = d.skip.reduce((n, v) => n + v, 0);
    rows.push({
      name,
      shape,
      checked: a.length - skipped,
      skipped,
      maxAbsError: cmp.maxAbsError,
      maxRelError: cmp.maxRelError,
      scale: cmp.refScale,
      pass: within(cmp.maxRelError, TOLERANCES.gradcheck.limit),
    });
  };

  for (const [name, g] of Object.entries(analytic.grads)) {
    row(name, g.shape, g.data, differences(engine.paramBuffer(name) as Float64Array, batch));
  }
  if (spec.input === 'dense' && analytic.dx) {
    row('input x', [B, T, spec.inputSize], analytic.dx, differences(batch.x as Float64Array, batch));
  }
  if (opts.initialState && analytic.dState && batch.initialState) {
    for (let l = 0; l < spec.layers; l++) {
      for (const k of carries(spec)) row(`initial ${k}.${l}`, [B, spec.hiddenSize], analytic.dState[k]![l], differences(batch.initialState[k]![l], batch));
    }
  }
  const maxRelError = rows.reduce((m, r) => (r.maxRelError > m || Number.isNaN(r.maxRelError) ? r.maxRelError : m), 0);
  return {
    engine: 'scratch-f64',
    kernels: engine.kernelsAbout,
    spec,
    batch: B,
    seq: T,
    seed,
    eps,
    limit: TOLERANCES.gradcheck.limit,
    maxRelError,
    skipped: rows.reduce((n, r) => n + r.skipped, 0),
    pass: rows.every((r) => r.pass),
    params: rows,
  };
}


export interface Seq2SeqGradcheckReport {
  engine: 'scratch-f64';
  kernels: string;
  spec: Seq2SeqSpec;
  batch: number;
  srcLen: number;
  tgtLen: number;
  seed: number;
  masked: boolean;
  eps: number;
  limit: number;
  maxRelError: number;
  pass: boolean;
  params: GradcheckRow[];
}

/**
 * The same check for an encoder-decoder model (scratch/seq2seq.ts): every parameter, the attention
 * matrices by name among them. Activations with kinks (relu, hardSigmoid) are refused here: a
 * difference quotient across a kink says nothing.
 */
export function gradcheckSeq2Seq(spec: Seq2SeqSpec, opts: { batch?: number; srcLen?: number; tgtLen?: number; seed?: number; mask?: boolean; eps?: number; kernels?: Kernels } = {}): Seq2SeqGradcheckReport {
  if (hasKinks(spec)) {
    throw new Error('gradcheckSeq2Seq checks smooth activations only (tanh, sigmoid)');
  }
  const B = opts.batch ?? 3;
  const S = opts.srcLen ?? 5;
  const T = opts.tgtLen ?? 4;
  const seed = opts.seed ?? 1;
  const eps = opts.eps ?? 1e-5;
  const engine = seq2seqFiniteDifferenceEngine(spec, { params: randomSeq2SeqParams(spec, seed, 'F64'), kernels: opts.kernels });
  const batch = randomSeq2SeqBatch(spec, B, S, T, seed + 1, { mask: opts.mask });
  const analytic = engine.lossAndGrads(batch);
  const rows: GradcheckRow[] = [];
  for (const [name, g] of Object.entries(analytic.grads)) {
    const buf = engine.paramBuffer(name);
    const numeric = new Float64Array(buf.length);
    for (let i = 0; i < buf.length; i++) {
      const orig = buf[i];
      buf[i] = orig + eps;
      const lp = engine.loss(batch);
      buf[i] = orig - eps;
      const lm = engine.loss(batch);
      buf[i] = orig;
      numeric[i] = (lp - lm) / (2 * eps);
    }
    const cmp = compareArrays(g.data, numeric);
    rows.push({ name, shape: g.shape, checked: buf.length, skipped: 0, maxAbsError: cmp.maxAbsError, maxRelError: cmp.maxRelError, scale: cmp.refScale, pass: within(cmp.maxRelError, TOLERANCES.gradcheck.limit) });
  }
  const maxRelError = rows.reduce((m, r) => (r.maxRelError > m || Number.isNaN(r.maxRelError) ? r.maxRelError : m), 0);
  return { engine: 'scratch-f64', kernels: engine.kernelsAbout, spec, batch: B, srcLen: S, tgtLen: T, seed, masked: !!opts.mask, eps, limit: TOLERANCES.gradcheck.limit, maxRelError, pass: rows.every((r) => r.pass), params: rows };
}
