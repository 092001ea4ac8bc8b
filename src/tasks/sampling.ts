/**
 * Sampling from a language model: softmax(logits / temperature), or the argmax at temperature 0.
 * The prime is fed in one forward pass; then one token at a time with the state carried.
 */
import type { Engine, State } from '../engine.js';
import type { Rng } from '../rng.js';
import type { FloatArray } from '../tensor.js';

/** Draws an id from logits[off .. off+V); temperature 0 = greedy. */
export function sampleLogits(logits: FloatArray, off: number, V: number, temperature: number, rng: Rng): number {
  let best = 0;
  for (let j = 1; j < V; j++) if (logits[off + j] > logits[off + best]) best = j;
  if (temperature === 0) return best;
  const max = logits[off + best];
  let sum = 0;
  const p = new Float64Array(V);
  for (let j = 0; j < V; j++) {
    p[j] = Math.exp((logits[off + j] - max) / temperature);
    sum += p[j];
  }
  let u = rng.float() * sum;
  for (let j = 0; j < V; j++) {
    u -= p[j];
    if (u < 0) return j;
  }
  return best;
}

/** Continues `prime` (ids) by `length` tokens; returns the new ids only. `onToken(i)` after each (for progress). */
export async function generateIds(engine: Engine, prime: Int32Array, length: number, temperature: number, rng: Rng, onToken?: (done: number) => void): Promise<Int32Array> {
  const V = engine.spec.outputSize;
  const out = new Int32Array(length);
  if (length === 0) return out;
  let { output, finalState } = await engine.forward({ batchSize: 1, seqLen: prime.length, x: prime });
  let state: State = finalState;
  let off = (prime.length - 1) * V;
  for (let i = 0; i < length; i++) {
    const id = sampleLogits(output, off, V, temperature, rng);
    out[i] = id;
    onToken?.(i + 1);
    if (i === length - 1) break;
    ({ output, finalState } = await engine.forward({ batchSize: 1, seqLen: 1, x: Int32Array.of(id), initialState: state }));
    state = finalState;
    off = 0;
  }
  return out;
}
