/**
 * Sampling from a language model: softmax(logits / temperature), or the argmax at temperature 0.
 * The prime is fed in one forward pass; then one token at a time with the state carried, or, for
 * an engine without a carried state (supports.carriedState), by running the whole text so far
 * again for every new token (the same predictions, more work).
 */
import type { Engine, State } from '../engine.js';
import { claims } from '../supports.js';
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

/** What a text model's samples and validation do for an engine without a carried state. */
export const NO_CARRIED_STATE = 'it has no carried state (carriedState): its samples run the whole text so far again for every new token, and its validation reads each stream in one pass';

/** Continues `prime` (ids) by `length` tokens; returns the new ids only. `onToken(i)` after each (for progress). */
export async function generateIds(engine: Engine, prime: Int32Array, length: number, temperature: number, rng: Rng, onToken?: (done: number) => void): Promise<Int32Array> {
  const V = engine.spec.outputSize;
  const out = new Int32Array(length);
  if (length === 0) return out;
  const carried = claims(engine).carriedState;
  const text = new Int32Array(prime.length + length);
  text.set(prime);
  let { output, finalState } = await engine.forward({ batchSize: 1, seqLen: prime.length, x: prime });
  let state: State = finalState;
  let off = (prime.length - 1) * V;
  for (let i = 0; i < length; i++) {
    const id = sampleLogits(output, off, V, temperature, rng);
    out[i] = id;
    text[prime.length + i] = id;
    onToken?.(i + 1);
    if (i === length - 1) break;
    if (carried) {
      ({ output, finalState } = await engine.forward({ batchSize: 1, seqLen: 1, x: Int32Array.of(id), initialState: state }));
      state = finalState;
      off = 0;
    } else {
      const n = prime.length + i + 1;
      ({ output } = await engine.forward({ batchSize: 1, seqLen: n, x: text.slice(0, n) }));
      off = (n - 1) * V;
    }
  }
  return out;
}
