/**
 * The browser side of the tfjs-webgl, tfjs-webgpu and tfjs-webgl-f16 engines; src/engines/browser.ts
 * is the Node side. This module runs in a headless Chromium page: the page loads tfjs's own bundles
 * first (the global `tf`; webgpu's bundle registers its backend into it), then this module and the
 * tfjs twin it imports (engine.ts, model.ts, weights.ts, keras.ts: the very code the Node engines
 * run, compiled, served from the package's dist/). Nothing here imports Node.
 *
 * One RPC: `rnnlab.call(method, args)` opens the twin (`open`: TfjsEngine; `openSeq2Seq`: the
 * encoder-decoder twin, tfjs/seq2seq.ts; `openKeras`: the model of `check --model`) and forwards any Engine method to an open engine by id, so whatever the tfjs
 * twin runs in Node runs here, through this one door. Every answer is `{ value }` or `{ error }`,
 * never a thrown exception: the Node side turns the error into one line naming the engine. A lost
 * GPU context (webgl) or device (webgpu), and an uncaptured WebGPU error (a buffer over the
 * device's limits), fail every call from then on.
 */
import type { Engine } from '../src/engine.js';
import { InputError, UnsupportedError } from '../src/errors.js';
import type { ImportedModel } from '../src/import/keras.js';
import type { OptimizerSpec } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import type { ModelSpec } from '../src/spec.js';
import type { Seq2SeqEngine } from '../src/seq2seq/engine.js';
import type { Seq2SeqSpec } from '../src/seq2seq/spec.js';
import type { LoadedTf, Tf } from './backend.js';
import { TfjsEngine } from './engine.js';

/** What the Node side asks the page to start. */
export interface PageInit {
  backend: 'webgl' | 'webgpu';
  /** webgl with WEBGL_FORCE_F16_TEXTURES: every texture half floats, as on a phone without float32 render targets. */
  f16: boolean;
  engineName: string;
  /** webgl: a smaller texture limit than the GPU's (WEBGL_MAX_TEXTURE_SIZE), as on a phone. */
  maxTextureSize?: number;
}

export type PageInfo =
  | { ok: true; tfjs: string; renderer: string; limits: { maxTextureSize?: number; maxBufferBytes?: number }; userAgent: string }
  | { ok: false; reason: string };

/** What the page module puts on globalThis for the Node side's calls. */
export interface PageGlobal {
  rnnlab: { init: typeof init; call: typeof call };
}

export type PageAnswer = { value: unknown } | { error: { kind: 'input' | 'unsupported' | 'lost' | 'error'; message: string; what?: string } };

// The few browser objects used here (the project compiles without the DOM library).
interface Gl {
  canvas: { addEventListener(type: string, f: (e: { statusMessage?: string }) => void): void };
  getExtension(name: string): unknown;
  getParameter(p: number): unknown;
  RENDERER: number;
}
interface GpuDevice {
  lost: Promise<{ message: string; reason?: string }>;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  addEventListener(type: 'uncapturederror', f: (e: { error: { message: string } }) => void): void;
}
interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface Browser {
  tf?: Tf;
  navigator: { userAgent: string; gpu?: { requestAdapter(): Promise<{ info?: GpuAdapterInfo } | null> } };
  document: { createElement(tag: 'canvas'): { getContext(kind: string): Gl | null; addEventListener(type: string, f: (e: { statusMessage?: string }) => void): void } };
  console: { warn(...a: unknown[]): void; error(...a: unknown[]): void };
}

const g = globalThis as unknown as Browser;
let loaded: LoadedTf | null = null;
/** Why the GPU can no longer be trusted (context or device lost, an uncaptured WebGPU error). */
let broken: { kind: 'lost' | 'error'; message: string } | null = null;
/** Read through a function: the listeners set it between awaits, which the compiler's narrowing does not see. */
const brokenNow = (): typeof broken => broken;
const engines = new Map<number, Engine | Seq2SeqEngine>();
let nextId = 1;

/** Starts tfjs on the backend asked for; says why not when the browser cannot give it (with the browser's own words). */
export async function init(o: PageInit): Promise<PageInfo> {
  const tf = g.tf;
  if (!tf) return { ok: false, reason: "tfjs's bundle did not load in the page" };
  tf.enableProdMode();
  if (o.f16) tf.env().set('WEBGL_FORCE_F16_TEXTURES', true);
  if (o.maxTextureSize) tf.env().set('WEBGL_MAX_TEXTURE_SIZE', o.maxTextureSize);
  const said: string[] = [];
  const unavailable = o.backend === 'webgl' ? webgl2Missing() : await webgpuMissing();
  if (unavailable) return { ok: false, reason: unavailable };
  // tfjs reports a failed backend on the console: keep its words for the reason
  const { warn, error } = g.console;
  g.console.warn = g.console.error = (...a: unknown[]) => said.push(a.map(String).join(' ').split('\n')[0]);
  let ok = false;
  try {
    ok = await tf.setBackend(o.backend);
  } catch (e) {
    said.push(String((e as Error)?.message ?? e).split('\n')[0]);
  } finally {
    g.console.warn = warn;
    g.console.error = error;
  }
  if (!ok) return { ok: false, reason: `tfjs could not start its ${o.backend} backend${said.length ? ` (${said.join('; ')})` : ''}` };
  loaded = { tf, backend: o.backend, engineName: o.engineName, skipped: {}, version: tf.version.tfjs };
  const gpu = await watchGpu(tf, o.backend);
  return { ok: true, tfjs: tf.version.tfjs, renderer: gpu.renderer, limits: gpu.limits, userAgent: g.navigator.userAgent };
}

/** null when the page can make a WebGL 2 context, else the browser's reason. */
function webgl2Missing(): string | null {
  const canvas = g.document.createElement('canvas');
  let why = '';
  canvas.addEventListener('webglcontextcreationerror', (e) => (why = e.statusMessage ?? ''));
  if (canvas.getContext('webgl2')) return null;
  return `no WebGL 2 context${why ? `: the browser says "${why}"` : ''}`;
}

/** null when the browser gives a WebGPU adapter, else its reason. */
async function webgpuMissing(): Promise<string | null> {
  const gpu = g.navigator.gpu;
  if (!gpu) return 'no WebGPU in this browser (navigator.gpu is missing; Chromium on Linux needs --enable-unsafe-webgpu, which rnnlab passes)';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? null : 'no WebGPU adapter: navigator.gpu.requestAdapter() found none (the browser says "No available adapters.")';
  } catch (e) {
    return `no WebGPU adapter: ${String((e as Error)?.message ?? e)}`;
  }
}

/** The renderer and its limits, and listeners that mark the GPU broken when its context or device is lost. */
async function watchGpu(tf: Tf, backend: 'webgl' | 'webgpu'): Promise<{ renderer: string; limits: { maxTextureSize?: number; maxBufferBytes?: number } }> {
  const b = tf.backend() as unknown as { gpgpu?: { gl: Gl }; device?: GpuDevice; adapterInfo?: GpuAdapterInfo };
  if (backend === 'webgl') {
    const gl = b.gpgpu!.gl;
    gl.canvas.addEventListener('webglcontextlost', () => (broken = { kind: 'lost', message: 'the WebGL context was lost (webglcontextlost)' }));
    const info = gl.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    return { renderer, limits: { maxTextureSize: tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE') } };
  }
  const device = b.device!;
  void device.lost.then((i) => (broken = { kind: 'lost', message: `the WebGPU device was lost (${i.reason ?? 'unknown'}: ${i.message})` }));
  device.addEventListener('uncapturederror', (e) => (broken ??= { kind: 'error', message: `WebGPU error: ${e.error.message.split('\n')[0]}` }));
  const adapter = (await g.navigator.gpu!.requestAdapter())?.info ?? b.adapterInfo ?? {};
  const renderer = adapter.description || [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(' ') || 'unknown adapter';
  return { renderer, limits: { maxBufferBytes: Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) } };
}

/** The one RPC of the Node side. */
export async function call(method: string, args: Record<string, unknown>): Promise<PageAnswer> {
  try {
    if (!loaded) throw new Error('the page has no tfjs backend (init failed)');
    const before = brokenNow();
    if (before) return { error: { kind: before.kind, message: before.message } };
    const value = await dispatch(loaded, method, args);
    // a result computed while the GPU went away is not to be trusted
    const after = brokenNow();
    if (after) return { error: { kind: after.kind, message: after.message } };
    return { value };
  } catch (e) {
    const message = String((e as Error)?.message ?? e).split('\n')[0];
    if (e instanceof UnsupportedError) return { error: { kind: 'unsupported', message, what: e.what } };
    if (e instanceof InputError) return { error: { kind: 'input', message } };
    const b = brokenNow();
    if (b) return { error: { kind: b.kind, message: `${b.message} (${message})` } };
    return { error: { kind: 'error', message } };
  }
}

/** Engine methods the Node side may call on an open engine (and nothing else). */
const METHODS = new Set(['getParams', 'setParams', 'forward', 'lossAndGrads', 'step', 'optimizerState', 'setOptimizerState', 'encode', 'decodeStep']);

async function dispatch(l: LoadedTf, method: string, a: Record<string, unknown>): Promise<unknown> {
  switch (method) {
    case 'open': {
      const e = new TfjsEngine(l, a.spec as ModelSpec, { params: a.params as NamedParams, optimizer: a.optimizer as OptimizerSpec });
      return { id: remember(e), notes: e.notes };
    }
    case 'openSeq2Seq': {
      const { createTfjsSeq2SeqEngine } = await import('./seq2seq.js');
      const e = await createTfjsSeq2SeqEngine(l, a.spec as Seq2SeqSpec, { params: a.params as NamedParams | undefined, seed: a.seed as number | undefined, optimizer: a.optimizer as OptimizerSpec });
      return { id: remember(e) };
    }
    case 'openKeras': {
      const { KerasModelEngine } = await import('./keras.js');
      const m = a.model as Omit<ImportedModel, 'artifacts'> & { artifacts: Omit<ImportedModel['artifacts'], 'weightData'> & { weightData: Uint8Array } };
      const bytes = m.artifacts.weightData;
      const model: ImportedModel = { ...m, artifacts: { ...m.artifacts, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer } };
      const e = await KerasModelEngine.load(l, model, a.params as NamedParams);
      return { id: remember(e), frozen: e.frozen };
    }
    case 'numTensors':
      return l.tf.memory().numTensors;
    case 'dispose': {
      const e = engines.get(a.id as number);
      engines.delete(a.id as number);
      await e?.dispose();
      return null;
    }
  }
  if (!METHODS.has(method)) throw new Error(`unknown method ${method}`);
  const e = engines.get(a.id as number);
  if (!e) throw new Error(`no open engine ${a.id}`);
  const f = (e as unknown as Record<string, (...x: unknown[]) => unknown>)[method];
  return f.apply(e, (a.args as unknown[]) ?? []);
}

function remember(e: Engine | Seq2SeqEngine): number {
  const id = nextId++;
  engines.set(id, e);
  return id;
}

(globalThis as unknown as PageGlobal).rnnlab = { init, call };
