/**
 * Loads TensorFlow.js on the best backend, or the one asked for:
 *   auto = node (if @tensorflow/tfjs-node loads; any load error counts as unavailable) > wasm > cpu.
 * tfjs is imported only here, and only when a command needs it (it costs ~0.5 s of start-up).
 * In Node the wasm backend runs on one thread (its SIMD build, no worker threads).
 */
import { InputError } from '../src/errors.js';

export type Tf = typeof import('@tensorflow/tfjs');
/** The backends of Node, and the browser's (webgl, webgpu: tfjs/page.ts, in a Chromium page). */
export type BackendName = 'node' | 'wasm' | 'cpu' | 'webgl' | 'webgpu';
export type BackendRequest = 'auto' | 'node' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendRequest[] = ['auto', 'node', 'wasm', 'cpu'];

/** tfjs's own name of each backend. */
const TF_NAME: Record<BackendName, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu', webgl: 'webgl', webgpu: 'webgpu' };

export interface LoadedTf {
  tf: Tf;
  backend: BackendName;
  /** Engine name: "tfjs-node", "tfjs-wasm" or "tfjs-cpu". */
  engineName: string;
  /** Why a backend that `auto` skipped was unavailable. */
  skipped: Partial<Record<BackendName, string>>;
  version: string;
}

let tfModule: Tf | null = null;
let nodeStatus: { ok: true } | { ok: false; why: string } | null = null;
const initialised = new Set<BackendName>();

async function loadCore(): Promise<Tf> {
  if (tfModule) return tfModule;
  // Try tfjs-node first: when it loads it must be the tf instance everything uses.
  if (nodeStatus === null) {
    try {
      const mod = '@tensorflow/tfjs-node';
      tfModule = (await import(mod)) as Tf;
      nodeStatus = { ok: true };
    } catch (e) {
      nodeStatus = { ok: false, why: firstLine(e) };
    }
  }
  if (!tfModule) tfModule = await import('@tensorflow/tfjs');
  // Production mode: no debug checks, and no console advertisement for tfjs-node on the cpu backend.
  tfModule.enableProdMode();
  return tfModule;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if ((e as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(msg)) return 'not installed';
  return msg.split('\n')[0].slice(0, 200);
}

async function init(tf: Tf, b: BackendName): Promise<string | null> {
  if (initialised.has(b)) return null;
  if (b === 'node') {
    if (!nodeStatus?.ok) return `@tensorflow/tfjs-node is unavailable (${nodeStatus && !nodeStatus.ok ? nodeStatus.why : 'not loaded'})`;
  }
  if (b === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
    } catch (e) {
      return `@tensorflow/tfjs-backend-wasm did not load (${firstLine(e)})`;
    }
  }
  let ok = false;
  try {
    ok = await tf.setBackend(TF_NAME[b]);
  } catch (e) {
    return `the ${b} backend failed to start (${firstLine(e)})`;
  }
  if (!ok) return `the ${b} backend failed to start`;
  initialised.add(b);
  return null;
}

/** Loads tfjs and makes `request` (resolved for auto) the active backend. */
export async function loadTf(request: BackendRequest = 'auto'): Promise<LoadedTf> {
  if (!BACKENDS.includes(request)) throw new InputError(`unknown backend "${request}" (choose ${BACKENDS.join(', ')})`);
  const tf = await loadCore();
  const skipped: Partial<Record<BackendName, string>> = {};
  const order: BackendName[] = request === 'auto' ? ['node', 'wasm', 'cpu'] : [request];
  for (const b of order) {
    const why = await init(tf, b);
    if (why === null) {
      await tf.setBackend(TF_NAME[b]);
      return { tf, backend: b, engineName: `tfjs-${b}`, skipped, version: tf.version.tfjs };
    }
    if (request !== 'auto') throw new InputError(`backend ${b} is not available: ${why}`);
    skipped[b] = why;
  }
  throw new InputError(`no TensorFlow.js backend could start: ${Object.values(skipped).join('; ')}`);
}

/** Makes `b` the active backend again (synchronous once it was initialised by loadTf). */
export function activate(tf: Tf, b: BackendName): void {
  if (tf.getBackend() !== TF_NAME[b]) void tf.setBackend(TF_NAME[b]);
}

/** A one-line description for command output. */
export function describeBackend(l: LoadedTf): string {
  const notes = Object.entries(l.skipped).map(([b, why]) => `${b}: ${why}`);
  return `tfjs ${l.version}, backend ${l.backend}${l.backend === 'wasm' ? ' (1 thread)' : ''}${notes.length ? ` (skipped ${notes.join('; ')})` : ''}`;
}
