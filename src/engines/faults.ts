/**
 * Planted bugs, to see what `check` reports for them: the scratch engine with a known mistake.
 * Built by the engine factory (src/engines/index.ts) for a scratch engine reference with `fault`.
 */
import { ScratchEngine, makeCell } from '../../scratch/engine.js';
import type { Cell } from '../../scratch/cells/cell.js';
import type { Kernels } from '../../scratch/kernels.js';
import type { Batch, Engine, GradRequest, LossAndGrads, State } from '../engine.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import { type ModelSpec, gateCount } from '../spec.js';
import type { FloatArray } from '../tensor.js';

export const FAULTS = ['swap-gates', 'drop-bptt'] as const;
export type Fault = (typeof FAULTS)[number];

/** The scratch engine with its recurrent kernel's first two gates read in swapped order. */
class SwappedGatesEngine implements Engine {
  readonly name: string;
  readonly spec: ModelSpec;
  constructor(private readonly inner: ScratchEngine) {
    this.name = inner.name;
    this.spec = inner.spec;
  }
  private swap(p: NamedParams): NamedParams {
    const H = this.spec.hiddenSize;
    const GH = gateCount(this.spec.cell) * H;
    const out: NamedParams = { ...p };
    const t = p['layers.0.recurrentKernel'];
    const d = t.data.slice() as FloatArray;
    for (let r = 0; r < d.length / GH; r++) {
      for (let j = 0; j < H; j++) {
        const a = d[r * GH + j];
        d[r * GH + j] = d[r * GH + H + j];
        d[r * GH + H + j] = a;
      }
    }
    out['layers.0.recurrentKernel'] = { ...t, data: d };
    return out;
  }
  getParams(): NamedParams {
    return this.swap(this.inner.getParams());
  }
  setParams(p: NamedParams): void {
    this.inner.setParams(this.swap(p));
  }
  forward(b: Batch): { output: FloatArray; finalState: State } {
    return this.inner.forward(b);
  }
  lossAndGrads(b: Batch, want?: GradRequest): LossAndGrads {
    const r = this.inner.lossAndGrads(b, want);
    return { ...r, grads: this.swap(r.grads) };
  }
  step(b: Batch): { loss: number; finalState: State } {
    return this.inner.step(b);
  }
  optimizerState(): Promise<NamedParams> {
    return this.inner.optimizerState();
  }
  setOptimizerState(s: NamedParams): Promise<void> {
    return this.inner.setOptimizerState(s);
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** The float32 scratch engine with the planted bug. */
export function faultyScratch(spec: ModelSpec, params: NamedParams, optimizer: OptimizerSpec, kernels: Kernels, fault: Fault): Engine {
  if (fault === 'swap-gates') {
    if (spec.cell === 'rnn') throw new InputError('--fault swap-gates needs a cell with gates (lstm or gru)');
    const e = new SwappedGatesEngine(new ScratchEngine(spec, { params, optimizer, kernels }));
    e.setParams(params);
    return e;
  }
  // drop-bptt: the backward pass forgets the gradient flowing from step t to step t-1 through h
  const good = makeCell(spec, kernels);
  const broken: Cell<unknown> = {
    ...good,
    backward(w, cache, a, g) {
      good.backward(w, cache, a, g);
      a.dPrev[0].fill(0);
    },
  };
  return new ScratchEngine(spec, { params, optimizer, cell: broken, kernels });
}

