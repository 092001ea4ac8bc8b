/**
 * Optimizers with tfjs's update formulas (see src/optimizer.ts for the formulas and defaults) and
 * gradient clipping. The arithmetic is done in float64 and stored in the engine's dtype; a float32
 * engine on the WebAssembly kernels runs Adam there, in float32 (as tfjs does).
 */
import { InputError } from '../src/errors.js';
import { type OptimizerSpec, optimizerSlots } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import type { Arr, FastKernels } from './kernels.js';

/**
 * Clips gradients in place: each element to [-clipValue, clipValue], then all of them together
 * to global norm clipNorm (scale = clipNorm / norm when norm > clipNorm). Returns the global norm
 * before norm clipping.
 */
export function clipGradients(grads: Arr[], clipValue?: number, clipNorm?: number): number {
  if (clipValue !== undefined) {
    for (const g of grads) {
      for (let i = 0; i < g.length; i++) {
        if (g[i] > clipValue) g[i] = clipValue;
        else if (g[i] < -clipValue) g[i] = -clipValue;
      }
    }
  }
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (clipNorm !== undefined && norm > clipNorm) {
    const scale = clipNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}

export class Optimizer {
  readonly slots: string[];
  /** slot -> parameter name -> buffer, each shaped like its parameter */
  private state: Record<string, Record<string, Arr>> = {};
  private iterations = 0;

  constructor(
    readonly spec: OptimizerSpec,
    private readonly shapes: { name: string; shape: number[]; size: number }[],
    alloc: (n: number) => Arr,
    /** A kernel set's fast update (Adam), used where it takes the buffers. */
    private readonly fast: FastKernels = {},
  ) {
    this.slots = optimizerSlots(spec.name);
    for (const slot of this.slots) {
      this.state[slot] = {};
      for (const p of shapes) this.state[slot][p.name] = alloc(p.size);
    }
    this.reset();
  }

  reset(): void {
    this.iterations = 0;
    for (const slot of this.slots) {
      const init = slot === 'acc' ? this.spec.initialAccumulatorValue : 0;
      for (const buf of Object.values(this.state[slot])) buf.fill(init);
    }
  }

  /** One update of every parameter from its (already clipped) gradient. */
  apply(params: Record<string, Arr>, grads: Record<string, Arr>): void {
    const o = this.spec;
    const lr = o.lr;
    this.iterations++;
    for (const { name } of this.shapes) {
      const p = params[name];
      const g = grads[name];
      const n = p.length;
      switch (o.name) {
        case 'sgd':
          for (let i = 0; i < n; i++) p[i] -= lr * g[i];
          break;
        case 'momentum': {
          const v = this.state.v[name];
          for (let i = 0; i < n; i++) {
            v[i] = o.momentum * v[i] + g[i];
            p[i] -= lr * v[i];
          }
          break;
        }
        case 'adam': {
          const m = this.state.m[name];
          const v = this.state.v[name];
          const c1 = 1 - o.beta1 ** this.iterations;
          const c2 = 1 - o.beta2 ** this.iterations;
          // the same formula in WebAssembly, in float32 (as tfjs): a few ulps of the update apart
          if (this.fast.adam?.(n, p, g, m, v, o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, lr, c1, c2, o.epsilon)) break;
          for (let i = 0; i < n; i++) {
            m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
            v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
            p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + o.epsilon);
          }
          break;
        }
        case 'rmsprop': {
          const ms = this.state.ms[name];
          const mom = this.state.mom[name];
          for (let i = 0; i < n; i++) {
            ms[i] = o.rho * ms[i] + (1 - o.rho) * g[i] * g[i];
            mom[i] = o.momentum * mom[i] + (lr * g[i]) / Math.sqrt(ms[i] + o.epsilon);
            p[i] -= mom[i];
          }
          break;
        }
        case 'adagrad': {
          const acc = this.state.acc[name];
          for (let i = 0; i < n; i++) {
            acc[i] += g[i] * g[i];
            p[i] -= (lr * g[i]) / Math.sqrt(acc[i] + o.epsilon);
          }
          break;
        }
      }
    }
  }

  /** "<slot>.<param>" tensors plus "iterations" (F64 [1]). */
  getState(dtype: 'F32' | 'F64'): NamedParams {
    const out: NamedParams = { iterations: { dtype: 'F64', shape: [1], data: Float64Array.of(this.iterations) } };
    for (const slot of this.slots) {
      for (const { name, shape } of this.shapes) {
        const buf = this.state[slot][name];
        out[`${slot}.${name}`] = { dtype, shape: [...shape], data: dtype === 'F32' ? Float32Array.from(buf) : Float64Array.from(buf) };
      }
    }
    return out;
  }

  setState(s: NamedParams): void {
    const it = s.iterations;
    if (!it || it.data.length !== 1 || !(Number(it.data[0]) >= 0)) {
      throw new InputError('optimizer state: "iterations" is missing or invalid');
    }
    const expected = new Set(['iterations']);
    for (const slot of this.slots) {
      for (const { name, size } of this.shapes) {
        const key = `${slot}.${name}`;
        expected.add(key);
        const t = s[key];
        if (!t) throw new InputError(`optimizer state: missing ${key} (${this.spec.name} keeps ${this.slots.join(', ')})`);
        if (t.data.length !== size) throw new InputError(`optimizer state: ${key} has ${t.data.length} values, expected ${size}`);
      }
    }
    const extra = Object.keys(s).filter((k) => !expected.has(k));
    if (extra.length) throw new InputError(`optimizer state: unexpected ${extra.join(', ')} for ${this.spec.name}`);
    this.iterations = Number(it.data[0]);
    for (const slot of this.slots) {
      for (const { name } of this.shapes) this.state[slot][name].set(s[`${slot}.${name}`].data as ArrayLike<number>);
    }
  }
}
