/**
 * OptimizerSpec: one description of an optimizer and its clipping, read by both engines.
 * Formulas (tfjs-core 4.22; epsilon 1e-7 as tfjs's float32 backends use):
 *   sgd       p -= lr g
 *   momentum  v = mu v + g;  p -= lr v                                  (mu 0.9)
 *   adam      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr m_hat / (sqrt(v_hat) + eps)
 *   rmsprop   ms = rho ms + (1-rho) g^2;  mom = mu mom + lr g / sqrt(ms + eps);  p -= mom   (rho 0.9)
 *   adagrad   acc += g^2;  p -= lr g / sqrt(acc + eps)                  (acc starts at 0.1)
 * Clipping (tfjs has none; applied before the optimizer in both engines): each element to
 * [-clipValue, clipValue], then the global norm over all parameters to clipNorm.
 */
import { InputError } from './errors.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerSpec {
  name: OptimizerName;
  lr: number;
  /** momentum: mu (default 0.9); rmsprop: optional momentum (default 0). */
  momentum: number;
  beta1: number;
  beta2: number;
  /** rmsprop decay. */
  rho: number;
  epsilon: number;
  /** adagrad; 0 gives the classic form. */
  initialAccumulatorValue: number;
  clipValue?: number;
  clipNorm?: number;
}

export const DEFAULT_LR: Record<OptimizerName, number> = {
  sgd: 0.01,
  momentum: 0.01,
  adam: 0.001,
  rmsprop: 0.001,
  adagrad: 0.01,
};

export const TFJS_EPSILON = 1e-7;

export function optimizerSpec(name: string, overrides: Partial<Omit<OptimizerSpec, 'name'>> = {}): OptimizerSpec {
  if (!(OPTIMIZERS as readonly string[]).includes(name)) {
    throw new InputError(`unknown optimizer "${name}" (choose ${OPTIMIZERS.join(', ')})`);
  }
  const n = name as OptimizerName;
  const spec: OptimizerSpec = {
    name: n,
    lr: DEFAULT_LR[n],
    momentum: n === 'momentum' ? 0.9 : 0,
    beta1: 0.9,
    beta2: 0.999,
    rho: 0.9,
    epsilon: TFJS_EPSILON,
    initialAccumulatorValue: 0.1,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (spec as unknown as Record<string, unknown>)[k] = v;
  }
  const positive = (k: keyof OptimizerSpec, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new InputError(`optimizer: ${k} must be a number > 0 (got ${v})`);
  };
  positive('lr', spec.lr);
  positive('epsilon', spec.epsilon);
  positive('clipValue', spec.clipValue);
  positive('clipNorm', spec.clipNorm);
  for (const k of ['momentum', 'beta1', 'beta2', 'rho'] as const) {
    if (!(spec[k] >= 0 && spec[k] < 1)) throw new InputError(`optimizer: ${k} must be in [0, 1) (got ${spec[k]})`);
  }
  if (!(spec.initialAccumulatorValue >= 0)) {
    throw new InputError(`optimizer: initialAccumulatorValue must be >= 0 (got ${spec.initialAccumulatorValue})`);
  }
  return spec;
}

/** Optimizer slots per parameter, in the order the state is stored. */
export function optimizerSlots(name: OptimizerName): string[] {
  switch (name) {
    case 'sgd':
      return [];
    case 'momentum':
      return ['v'];
    case 'adam':
      return ['m', 'v'];
    case 'rmsprop':
      return ['ms', 'mom'];
    case 'adagrad':
      return ['acc'];
  }
}

export function describeOptimizer(o: OptimizerSpec): string {
  const extra: string[] = [`lr ${o.lr}`];
  if (o.name === 'momentum' || (o.name === 'rmsprop' && o.momentum > 0)) extra.push(`momentum ${o.momentum}`);
  if (o.name === 'adagrad') extra.push(`acc0 ${o.initialAccumulatorValue}`);
  if (o.epsilon !== TFJS_EPSILON && o.name !== 'sgd' && o.name !== 'momentum') extra.push(`eps ${o.epsilon}`);
  if (o.clipValue !== undefined) extra.push(`clip value ${o.clipValue}`);
  if (o.clipNorm !== undefined) extra.push(`clip norm ${o.clipNorm}`);
  return `${o.name} (${extra.join(', ')})`;
}
