/**
 * The scratch engine with a plan (plans.ts) around it: one mistake planted, behind the Engine
 * interface. It keeps the canonical parameters and its own optimizer, so that a training step
 * applies the very gradients it reports (whatever the plan does to them), as the engine of someone
 * who made that mistake would.
 */
import { ScratchEngine, makeCell } from '../../../scratch/engine.js';
import type { Arr, Kernels } from '../../../scratch/kernels.js';
import { Optimizer, clipGradients } from '../../../scratch/optim.js';
import type { Batch, Engine, GradRequest, LossAndGrads, State } from '../../engine.js';
import type { OptimizerSpec } from '../../optimizer.js';
import { type NamedParams, castParams, paramLayout } from '../../params.js';
import type { ModelSpec } from '../../spec.js';
import type { FloatArray } from '../../tensor.js';
import { type Plan, type PlanContext, derivable } from './plans.js';

export interface PlantedOptions {
  dtype: 'float32' | 'float64';
  params: NamedParams;
  optimizer: OptimizerSpec;
  kernels?: Kernels;
  name?: string;
}

/** What a forward and a gradient of the right engine gave, to derive a derivable plan's result from. */
export interface RightResult {
  output: FloatArray;
  loss: number;
  grads: NamedParams;
  dh?: FloatArray[];
}

const scaled = (a: FloatArray, s: number): FloatArray => (s === 1 ? a : (a.map((x) => x * s) as FloatArray));

/** The result of a derivable plan (plans.ts `derivable`) from the right engine's, without running anything. */
export function deriveResult(plan: Plan, right: RightResult): RightResult {
  const s = plan.scale ?? 1;
  const grads = Object.fromEntries(Object.entries(right.grads).map(([k, t]) => [k, { ...t, data: scaled(t.data as FloatArray, s) }]));
  return {
    output: right.output,
    loss: right.loss * s * (plan.lossFactor ?? 1),
    grads: plan.gradsOut ? plan.gradsOut(grads) : grads,
    ...(right.dh ? { dh: right.dh.map((d) => scaled(d, s)) } : {}),
  };
}

export { derivable };

export class PlantedEngine implements Engine {
  readonly name: string;
  readonly dtype: 'float32' | 'float64';
  private readonly inner: ScratchEngine;
  private readonly params: Record<string, Arr> = {};
  private readonly optimizer: Optimizer;
  private readonly layout: { name: string; shape: number[]; size: number }[];
  private readonly ctx: PlanContext = { batch: { batchSize: 1, seqLen: 1, x: new Float64Array(0) } };
  private dirty = true;

  constructor(
    readonly spec: ModelSpec,
    o: PlantedOptions,
    private readonly plan: Plan,
  ) {
    this.dtype = o.dtype;
    this.name = o.name ?? (o.dtype === 'float64' ? 'scratch-f64' : 'scratch');
    const innerSpec = plan.spec ?? spec;
    const kernels = o.kernels;
    const scale = plan.scale;
    const weights = plan.lossWeights;
    this.inner = new ScratchEngine(innerSpec, {
      dtype: o.dtype,
      kernels,
      params: this.innerParams(o.params),
      optimizer: o.optimizer,
      cell: plan.cell || plan.derivatives ? (plan.cell ?? ((c) => c))(makeCell(innerSpec, kernels, plan.derivatives), this.ctx) : undefined,
      lossWeights:
        weights || scale !== undefined
          ? (rows, B, T) => {
              weights?.(rows, B, T, this.ctx);
              if (scale !== undefined) for (let r = 0; r < rows.N; r++) rows.weight[r] *= scale;
            }
          : undefined,
    });
    const alloc = (n: number): Arr => this.inner.kernels.alloc(n);
    this.layout = paramLayout(spec).map((p) => ({ name: p.name, shape: p.shape, size: p.shape.reduce((a, b) => a * b, 1) }));
    for (const p of this.layout) this.params[p.name] = alloc(p.size);
    this.setParams(o.params);
    this.optimizer = new Optimizer(o.optimizer, this.layout, alloc, this.inner.kernels);
  }

  private innerParams(p: NamedParams): NamedParams {
    const c = castParams(p, this.dtype === 'float64' ? 'F64' : 'F32');
    return this.plan.paramsIn ? this.plan.paramsIn(c) : c;
  }

  getParams(): NamedParams {
    const dtype = this.dtype === 'float64' ? 'F64' : 'F32';
    return Object.fromEntries(this.layout.map((p) => [p.name, { dtype, shape: [...p.shape], data: this.params[p.name].slice() }]));
  }

  setParams(p: NamedParams): void {
    for (const { name } of this.layout) this.params[name].set(p[name].data as ArrayLike<number>);
    this.dirty = true;
  }

  private sync(b: Batch): { batch: Batch; R: number } {
    if (this.dirty) {
      this.inner.setParams(this.innerParams(this.getParams()));
      this.dirty = false;
    }
    this.ctx.batch = b;
    const R = this.plan.replicas?.(b) ?? 1;
    const given = this.plan.batchIn ? this.plan.batchIn(b) : b;
    return { batch: R > 1 ? replicate(given, R) : given, R };
  }

  forward(b: Batch): { output: FloatArray; finalState: State } {
    this.sync(b);
    // the copies of a repeated batch run the same forward pass: one is enough
    return this.inner.forward(this.plan.batchIn ? this.plan.batchIn(b) : b);
  }

  lossAndGrads(b: Batch, want: GradRequest = {}): LossAndGrads {
    const { batch, R } = this.sync(b);
    const r = this.inner.lossAndGrads(batch, want);
    const out: LossAndGrads = {
      loss: r.loss * (this.plan.lossFactor ?? 1),
      grads: this.plan.gradsOut ? this.plan.gradsOut(r.grads) : r.grads,
      finalState: firstState(r.finalState, R),
    };
    if (r.dx) out.dx = folded(r.dx, R);
    if (r.dh) out.dh = r.dh.map((d) => folded(d, R));
    if (r.dState) out.dState = { h: r.dState.h.map((d) => folded(d, R)), ...(r.dState.c ? { c: r.dState.c.map((d) => folded(d, R)) } : {}) };
    return out;
  }

  step(b: Batch): { loss: number; finalState: State } {
    const r = this.lossAndGrads(b);
    const grads: Record<string, Arr> = {};
    for (const { name } of this.layout) grads[name] = r.grads[name].data as Arr;
    const o = this.optimizer.spec;
    if (o.clipValue !== undefined || o.clipNorm !== undefined) clipGradients(Object.values(grads), o.clipValue, o.clipNorm);
    this.optimizer.apply(this.params, grads);
    this.dirty = true;
    return { loss: r.loss, finalState: r.finalState };
  }

  async optimizerState(): Promise<NamedParams> {
    return this.optimizer.getState(this.dtype === 'float64' ? 'F64' : 'F32');
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    this.optimizer.setState(s);
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/** The batch's rows repeated R times, one block of B rows after another. */
function replicate(b: Batch, R: number): Batch {
  const rep = <A extends Float32Array | Float64Array | Int32Array | Uint8Array>(a: A): A => {
    const out = new (a.constructor as new (n: number) => A)(a.length * R);
    for (let r = 0; r < R; r++) out.set(a, r * a.length);
    return out;
  };
  const st = b.initialState;
  return {
    batchSize: b.batchSize * R,
    seqLen: b.seqLen,
    x: rep(b.x),
    ...(b.y ? { y: rep(b.y) } : {}),
    ...(b.mask ? { mask: rep(b.mask) } : {}),
    ...(st ? { initialState: { h: st.h.map(rep), ...(st.c ? { c: st.c.map(rep) } : {}) } } : {}),
  };
}

/** The first of R equal blocks (a batch-major result of the repeated batch: the first copy's rows). */
function first(a: FloatArray, R: number): FloatArray {
  return R === 1 ? a : (a.slice(0, a.length / R) as FloatArray);
}

function firstState(s: State, R: number): State {
  return R === 1 ? s : { h: s.h.map((h) => first(h, R)), ...(s.c ? { c: s.c.map((c) => first(c, R)) } : {}) };
}

/** The sum of R blocks (the copies' gradients add up). */
function folded(a: FloatArray, R: number): FloatArray {
  if (R === 1) return a;
  const n = a.length / R;
  const out = a.slice(0, n) as FloatArray;
  for (let r = 1; r < R; r++) for (let i = 0; i < n; i++) out[i] += a[r * n + i];
  return out;
}
