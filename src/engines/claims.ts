/**
 * What an engine of your own is sent is what its handshake claims, and nothing else (docs/engines.md,
 * "The handshake's supports"). Module and process engines call these at their edge:
 * - a batch field, gradient or op the engine did not claim is never sent: the commands adapt
 *   first (or refuse before the first step), so reaching one of these checks is a bug in rnnlab,
 *   reported as such rather than sent and silently answered wrongly;
 * - an engine that claims `biases: false` is sent no bias tensors, and may leave them out of its
 *   answers (they are zeros).
 */
import type { Batch, GradRequest } from '../engine.js';
import { type NamedParams, paramLayout } from '../params.js';
import type { ModelSpec } from '../spec.js';
import type { Supports } from '../supports.js';

/** The canonical names of every bias (layer biases and the head's). */
export function biasNames(spec: ModelSpec): string[] {
  return paramLayout(spec)
    .filter((p) => p.kind === 'bias' || p.kind === 'headBias')
    .map((p) => p.name);
}

function unclaimed(engine: string, what: string, field: string): Error {
  return new Error(`rnnlab would send ${engine} ${what}, which its handshake does not claim (supports.${field}): a bug in rnnlab`);
}

/** Throws (a bug in rnnlab) when a request would carry what the engine did not claim. */
export function assertClaimed(engine: string, s: Required<Supports>, b: Batch, want: GradRequest = {}): void {
  if (b.mask && !s.mask) throw unclaimed(engine, 'a mask', 'mask');
  if (b.initialState && !s.carriedState) throw unclaimed(engine, 'an initial state', 'carriedState');
  if (want.inputGrad && !s.inputGrad) throw unclaimed(engine, 'a request for input gradients', 'inputGrad');
  if (want.stateGrads && !s.stateGrads) throw unclaimed(engine, 'a request for per-step gradients', 'stateGrads');
}

export function assertCanStep(engine: string, s: Required<Supports>): void {
  if (s.optimizers.length === 0) throw unclaimed(engine, 'an optimizer step', 'optimizers');
}

export function assertOptimizerState(engine: string, s: Required<Supports>): void {
  if (!s.optimizerState) throw unclaimed(engine, 'an optimizer-state request', 'optimizerState');
}

/** The parameters (or optimizer state) as an engine without biases gets them: every bias, and every optimizer slot of one, left out. */
export function paramsToSend(spec: ModelSpec, s: Required<Supports>, p: NamedParams): NamedParams {
  if (s.biases) return p;
  const drop = biasNames(spec);
  return Object.fromEntries(Object.entries(p).filter(([k]) => !drop.some((b) => k === b || k.endsWith(`.${b}`))));
}

/** The names an answer must hold: every parameter, or without biases every one but the biases. */
export function expectedNames(spec: ModelSpec, s: Required<Supports>): { required: Set<string>; optional: Set<string> } {
  const all = paramLayout(spec).map((p) => p.name);
  if (s.biases) return { required: new Set(all), optional: new Set() };
  const b = new Set(biasNames(spec));
  return { required: new Set(all.filter((n) => !b.has(n))), optional: b };
}
