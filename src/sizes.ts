/**
 * How big a model is before anything is allocated: parameters by arithmetic (not by listing
 * 10^8 layers), and the bytes a training or checking run needs, so that `--hidden 100000` or
 * `--layers 100000000` is refused with one line saying how many parameters and bytes it would
 * take, instead of hanging while the memory fills.
 */
import { totalmem } from 'node:os';
import { InputError } from './errors.js';
import { paramCount } from './params.js';
import { type ModelSpec, gateCount } from './spec.js';

/** Bytes as people read them: "512 bytes", "1.5 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export interface Workload {
  /** Sequences per batch and steps per sequence. */
  batch: number;
  seq: number;
  /** Engines that hold a copy of the model at once (each with its own state and activations). */
  engines: number;
  /** 4 (float32) or 8 (float64); the largest of the engines'. */
  bytesPerFloat: number;
}

/**
 * Bytes one training step needs, roughly and on the low side: per engine the weights, their
 * gradients and two optimizer slots (4 P floats), the activations BPTT keeps for every step and
 * layer (gates, hidden and cell state: (G + 3) H per position), the inputs and the logits with
 * their gradient.
 */
export function trainingBytes(spec: ModelSpec, w: Workload): number {
  const P = paramCount(spec);
  const G = gateCount(spec.cell);
  const positions = w.batch * w.seq;
  const acts = positions * spec.layers * (G + 3) * spec.hiddenSize;
  const inputs = spec.input === 'tokens' ? positions : positions * spec.inputSize;
  const outputs = 2 * (spec.returnSequences ? positions : w.batch) * spec.outputSize;
  return w.engines * w.bytesPerFloat * (4 * P + acts + inputs + outputs);
}

/** The share of the machine's memory a run may plan to use. */
const MEMORY_SHARE = 0.75;
/** Parameters of one tensor are one typed array; V8's limit is near 2^32 elements, we stay under 2^31. */
const MAX_TENSOR = 2 ** 31 - 1;

/** Refuses a model (and workload) that cannot fit, naming its parameters and bytes. */
export function assertFits(spec: ModelSpec, w: Workload, memory = totalmem()): void {
  const P = paramCount(spec);
  const G = gateCount(spec.cell);
  const H = spec.hiddenSize;
  // the tensors as paramLayout has them: an embedding [V, E] replaces the one-hot rows, so the first kernel reads E features
  const dirs = spec.bidirectional && spec.merge === 'concat' ? 2 : 1;
  const firstIn = spec.embedding > 0 ? spec.embedding : spec.inputSize;
  const largest = Math.max(firstIn * G * H, spec.embedding > 0 ? spec.inputSize * spec.embedding : 0, spec.layers > 1 ? dirs * H * G * H : 0, H * G * H, dirs * H * spec.outputSize);
  const bytes = trainingBytes(spec, w);
  const about = `${P.toLocaleString('en-US')} parameters; at batch ${w.batch} x ${w.seq} steps${w.engines > 1 ? ` in ${w.engines} engines` : ''} it needs about ${formatBytes(bytes)}`;
  if (largest > MAX_TENSOR) {
    throw new InputError(`the model is too large: one weight matrix has ${largest.toLocaleString('en-US')} elements, more than the ${MAX_TENSOR.toLocaleString('en-US')} one array can hold (${about}); use a smaller --hidden, vocabulary or --output`);
  }
  if (bytes > memory * MEMORY_SHARE) {
    throw new InputError(`the model does not fit: ${about}, more than ${Math.round(MEMORY_SHARE * 100)}% of this machine's ${formatBytes(memory)}; use a smaller --hidden, --layers, --batch or sequence length`);
  }
}
