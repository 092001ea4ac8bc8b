/**
 * TensorFlow.js where its users run it: the engines tfjs-webgl, tfjs-webgpu and tfjs-webgl-f16 run
 * the tfjs twin (tfjs/engine.ts, and tfjs/keras.ts for `check --model`) inside a headless Chromium
 * page driven by playwright-core. This is the Node side: it finds the browser, launches it once per
 * rnnlab process, serves each page from memory (playwright's request routing; no socket is opened,
 * and any request for another origin is aborted), and implements Engine by calling the page's one
 * RPC (tfjs/page.ts). Typed arrays travel as they are (playwright serializes them).
 *
 * The page gets only the package's own files: tfjs's browser bundles from node_modules
 * (@tensorflow/tfjs's dist/tf.min.js, @tensorflow/tfjs-backend-webgpu's for webgpu) and the
 * compiled modules of dist/tfjs and dist/src that tfjs/page.js imports.
 *
 * Faults: a call the page does not answer within the engine timeout (--engine-timeout, default
 * 120 s: a hung page), a crashed page, a lost GPU context or device, a browser that exits: one
 * line naming the engine and what happened (EngineError, exit 2), and the browser is closed. The
 * browser is closed on every exit path: by close() (commands, src/cli.ts's closeAllBrowsers), and
 * on Ctrl-C, SIGTERM and any process exit by playwright's own exit handler, which kills the
 * browser's process group (it runs in one of its own) and removes its fresh profile directory.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join, normalize, sep } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import type { PageAnswer, PageGlobal, PageInfo, PageInit } from '../../tfjs/page.js';
import type { Batch, Engine, GradRequest, LossAndGrads, State, StepResult } from '../engine.js';
import { validateBatch } from '../engine.js';
import { EngineError, InputError, UnsupportedError } from '../errors.js';
import type { ImportedModel } from '../import/keras.js';
import { handleSignals } from '../io/interrupt.js';
import type { OptimizerSpec } from '../optimizer.js';
import { type NamedParams, paramLayout } from '../params.js';
import { gateCount } from '../cells.js';
import type { ModelSpec } from '../spec.js';
import { FULL_SUPPORT } from '../supports.js';
import type { FloatArray } from '../tensor.js';
import { projectRoot } from '../version.js';
import type { EngineKind, EngineProvider, OpenSeq2Seq, ProviderOptions, Seq2SeqOpen } from './provider.js';
import { type Seq2SeqEngine, type Seq2SeqForward, type Seq2SeqGrads, validateSeq2SeqBatch, validateSeq2SeqSources } from '../seq2seq/engine.js';
import { type DecoderState, type DecoderStepOut, type Seq2SeqSources, validateDecoderState } from '../seq2seq/state.js';
import type { Seq2SeqBatch, Seq2SeqSpec } from '../seq2seq/spec.js';

export type BrowserBackend = 'webgl' | 'webgpu' | 'webgl-f16';
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ['webgl', 'webgpu', 'webgl-f16'];

/** The tfjs twin in a headless Chromium page: tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16. */
export interface BrowserRef {
  kind: 'browser';
  backend: BrowserBackend;
}

/** The Keras model of `check --model` in a page (the keras kind of ./tfjs.ts opens it here). */
export interface KerasInBrowserRef {
  kind: 'keras';
  model: ImportedModel;
  browser: BrowserBackend;
}

export const browserKind: EngineKind<BrowserRef> = {
  kind: 'browser',
  names: BROWSER_BACKENDS.map((b) => `tfjs-${b}`),
  parse: (name) => (name.startsWith('tfjs-') && (BROWSER_BACKENDS as readonly string[]).includes(name.slice(5)) ? { kind: 'browser', backend: name.slice(5) as BrowserBackend } : null),
  homes: ['tfjs/'],
  // the page opens the twin itself, on this file's request
  builtIn: ['tfjs/page.ts'],
  open: (ref, o) => openBrowserProvider(ref, o, FULL_SUPPORT),
  openSeq2Seq: (ref, spec, o) => openBrowserSeq2Seq(ref, spec, o),
};

/**
 * The provider of a browser engine: tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16, and the Keras model
 * of `check --model` on those backends. One page per provider, in the one browser of the process;
 * the page says what it runs on (the browser, tfjs's backend, the GPU's renderer string) or why the
 * browser cannot give that backend.
 */
export async function openBrowserProvider(ref: BrowserRef | KerasInBrowserRef, o: ProviderOptions, kerasSupports: EngineProvider['supports']): Promise<EngineProvider> {
  const backend = ref.kind === 'browser' ? ref.backend : ref.browser;
  const f16 = backend === 'webgl-f16';
  const tfBackend = backend === 'webgpu' ? 'webgpu' : 'webgl';
  const name = ref.kind === 'keras' ? `keras-model-${backend}` : `tfjs-${backend}`;
  const session = await BrowserSession.get(findBrowser(o.browser), o.onProgress);
  const bp = await session.openPage({ backend: tfBackend, f16, engineName: name, ...(o.webglMaxTextureSize ? { maxTextureSize: o.webglMaxTextureSize } : {}) }, o.onProgress);
  const info = bp.info;
  const runsOn = info.ok
    ? `float32${f16 ? ' arithmetic on half-float textures (WEBGL_FORCE_F16_TEXTURES, as a phone without float32 render targets)' : ''}; ${session.version}, tfjs ${info.tfjs} backend ${tfBackend}, renderer ${info.renderer}`
    : `${session.version}: ${info.reason}`;
  const swiftShader = info.ok && /swiftshader/i.test(info.renderer);
  const notes: string[] = [];
  const detail = ref.kind === 'keras' ? `${ref.model.source.path} through tf.loadLayersModel; ${runsOn}` : runsOn;
  return {
    ref,
    name,
    dtype: 'float32',
    threads: 1,
    detail,
    supports: ref.kind === 'keras' ? kerasSupports : { ...FULL_SUPPORT, dtypes: ['float32'], stepDecoding: false },
    notes,
    ...(info.ok ? {} : { unavailable: info.reason }),
    timing:
      'a step is timed from Node: the batch to the page, the step, and the loss and final state read back from the GPU' +
      (swiftShader ? '; SwiftShader is a CPU emulation of a GPU, so these are not a GPU\'s times' : ''),
    ...(info.ok ? { tfjs: { backend: backend, version: info.tfjs, numTensors: () => bp.call<number>('numTensors', {}, o.timeoutMs) } } : {}),
    open: async (spec, m) => {
      const r = await BrowserEngine.open(bp, {
        name,
        spec,
        detail,
        dtype: f16 ? 'float16' : 'float32',
        params: m.params,
        optimizer: m.optimizer,
        ...(ref.kind === 'keras' ? { keras: ref.model } : {}),
        timeoutMs: o.timeoutMs,
      });
      for (const n of r.notes) if (!notes.includes(n)) notes.push(n);
      return r.engine;
    },
    close: () => bp.close(),
  };
}

/** The default of --engine-timeout: how long one call may take before the page counts as hung. */
export const PAGE_TIMEOUT_MS = 120_000;

const INSTALL = 'install it with apt-get install chromium (Debian, Ubuntu), or name a Chromium or Chrome with --browser PATH or RNNLAB_BROWSER';

/**
 * The browser: --browser PATH, else RNNLAB_BROWSER, else the first of chromium, chromium-browser
 * and google-chrome on PATH. None: one line saying how to install one.
 */
export function findBrowser(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = explicit ?? (env.RNNLAB_BROWSER || undefined);
  if (given) {
    const where = explicit ? '--browser' : 'RNNLAB_BROWSER';
    if (!isExecutable(given)) throw new InputError(`${where} ${given}: no such executable file; ${INSTALL}`);
    return given;
  }
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
      const p = join(dir, name);
      if (isExecutable(p)) return p;
    }
  }
  throw new InputError(`the browser engines (tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16) need Chromium or Chrome, and none was found (looked for chromium, chromium-browser, google-chrome on PATH); ${INSTALL}`);
}

function isExecutable(p: string): boolean {
  try {
    return statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Chromium's flags: headless (playwright adds --headless and a fresh --user-data-dir), no sandbox
 * (rnnlab may run as root, as CI does; the page loads only the package's files), WebGPU on Linux
 * (--enable-unsafe-webgpu with Vulkan: the GPU's adapter, else SwiftShader's), and nothing that
 * reaches the network by itself. WebGL runs on the GPU, else on SwiftShader; no flag forces either.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-default-apps',
  '--disable-extensions',
];

const ORIGIN = 'http://127.0.0.1';

/** One Chromium per executable for the whole rnnlab process; each engine gets a page of its own. */
export class BrowserSession {
  /** Why the browser is gone (it exited, or rnnlab closed it after a fault), or null while it runs. */
  gone: string | null = null;
  private closing: Promise<void> | null = null;
  /** Open pages: the browser closes with the last one (a library caller's process can then end). */
  private readonly pages = new Set<Page>();

  private constructor(
    readonly executable: string,
    private readonly browser: Browser,
  ) {
    browser.on('disconnected', () => {
      this.gone ??= 'the browser exited';
      sessions.delete(executable);
    });
  }

  /** "Chromium 156.0.8078.129" */
  get version(): string {
    return `${/chrome/i.test(this.executable) && !/chromium/i.test(this.executable) ? 'Chrome' : 'Chromium'} ${this.browser.version()}`;
  }

  static async get(executable: string, onProgress?: (what: string) => void): Promise<BrowserSession> {
    let s = sessions.get(executable);
    if (!s) {
      s = BrowserSession.launch(executable, onProgress);
      sessions.set(executable, s);
      s.catch(() => sessions.delete(executable));
    }
    return s;
  }

  private static async launch(executable: string, onProgress?: (what: string) => void): Promise<BrowserSession> {
    // without the handlers a signal would end Node without its 'exit' handlers, and the browser (in a process group of its own) would outlive rnnlab
    handleSignals();
    onProgress?.(`starting ${executable}`);
    let chromium: typeof import('playwright-core').chromium;
    try {
      ({ chromium } = await import('playwright-core'));
    } catch {
      throw new InputError('the browser engines need the npm package playwright-core, which is missing from this installation of rnnlab (npm install playwright-core)');
    }
    // Chromium's own temporary files go to a directory of rnnlab's, removed when rnnlab exits (a killed browser cannot remove them itself)
    const tmp = mkdtempSync(join(tmpdir(), 'rnnlab-chromium-'));
    const removeTmp = (): void => rmSync(tmp, { recursive: true, force: true });
    try {
      const browser = await chromium.launch({
        executablePath: executable,
        headless: true,
        args: CHROMIUM_ARGS,
        env: { ...process.env, TMPDIR: tmp },
        // rnnlab's own handlers (src/io/interrupt.ts) decide what a signal does; the exit handler of playwright still kills the browser
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: 60_000,
      });
      const session = new BrowserSession(executable, browser);
      browser.on('disconnected', removeTmp);
      // after playwright's own exit handler (registered by the launch), which kills the browser first
      process.once('exit', removeTmp);
      return session;
    } catch (e) {
      removeTmp();
      throw new InputError(`${executable} did not start as a headless browser: ${firstLine(e)}`);
    }
  }

  /** A fresh page with tfjs started on one backend, served from memory. */
  async openPage(init: PageInit, onProgress?: (what: string) => void): Promise<BrowserPage> {
    if (this.gone) throw new InputError(`${init.engineName}: ${this.gone}`);
    const page = await this.browser.newPage();
    this.pages.add(page);
    const bp = new BrowserPage(this, page, init.engineName);
    try {
      await page.route('**/*', (route) => serve(route, init.backend === 'webgpu'));
      onProgress?.(`loading tfjs into a ${init.backend} page`);
      await page.goto(`${ORIGIN}/`, { timeout: 60_000 });
      // an expression, not a function: a function's source could be rewritten by a test runner's module transform
      bp.info = await bp.withTimeout('init', page.evaluate(`import('/dist/tfjs/page.js').then((m) => m.init(${JSON.stringify(init)}))`) as Promise<PageInfo>, PAGE_TIMEOUT_MS);
      return bp;
    } catch (e) {
      await bp.close();
      throw e instanceof InputError ? e : new EngineError(init.engineName, `the page did not start: ${firstLine(e)}`);
    }
  }

  /** A page closed: the browser closes with its last page. */
  async release(page: Page): Promise<void> {
    this.pages.delete(page);
    if (this.pages.size === 0) await this.close();
  }

  /** Runs a script in every open page (the fault tests lose a context or hang a page with it). */
  async evaluateInPages(expression: string): Promise<void> {
    for (const p of this.pages) await p.evaluate(expression);
  }

  /** Closes the browser (every page with it); safe to call again. */
  close(why = 'the browser was closed'): Promise<void> {
    this.gone ??= why;
    sessions.delete(this.executable);
    this.closing ??= Promise.race([this.browser.close().catch(() => {}), new Promise<void>((r) => setTimeout(r, 10_000).unref())]);
    return this.closing;
  }
}

const sessions = new Map<string, Promise<BrowserSession>>();

/** Closes every browser rnnlab started (src/cli.ts, however a command ended). */
export async function closeAllBrowsers(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) await s.then((x) => x.close(), () => {});
}

// ---- serving the page from memory ----

const require = createRequire(import.meta.url);

/** The page: tfjs's bundles as classic scripts (the global tf), then tfjs/page.js is imported by init. */
function html(webgpu: boolean): string {
  return `<!doctype html><meta charset="utf-8"><title>rnnlab</title><script src="/lib/tf.min.js"></script>${webgpu ? '<script src="/lib/tf-backend-webgpu.min.js"></script>' : ''}`;
}

const LIBS: Record<string, string> = {
  '/lib/tf.min.js': '@tensorflow/tfjs/dist/tf.min.js',
  '/lib/tf-backend-webgpu.min.js': '@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
};

/** The file a page URL names: one of the two bundles, or a compiled module under dist/src or dist/tfjs; anything else is null. */
export function pageFile(pathname: string): string | null {
  if (LIBS[pathname]) return require.resolve(LIBS[pathname]);
  if (!/^\/dist\/(src|tfjs)\/[\w/.-]+\.js$/.test(pathname) || pathname.includes('..')) return null;
  const root = join(projectRoot(), 'dist');
  const file = normalize(join(projectRoot(), pathname));
  return file.startsWith(root + sep) && existsSync(file) ? file : null;
}

async function serve(route: Route, webgpu: boolean): Promise<void> {
  const url = new URL(route.request().url());
  if (url.origin !== ORIGIN) return route.abort('blockedbyclient'); // nothing from outside
  if (url.pathname === '/') return route.fulfill({ contentType: 'text/html', body: html(webgpu) });
  const file = pageFile(url.pathname);
  if (!file) return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not a file of rnnlab' });
  return route.fulfill({ contentType: 'text/javascript', body: await readFile(file) });
}

// ---- one page, its RPC and its faults ----

export class BrowserPage {
  info: PageInfo = { ok: false, reason: 'not started' };
  /** Why the page can no longer answer (it crashed). */
  private crashed: string | null = null;

  constructor(
    readonly session: BrowserSession,
    readonly page: Page,
    readonly engineName: string,
  ) {
    page.on('crash', () => (this.crashed = 'the page crashed'));
    // what tfjs says on the page's console, for whoever debugs a browser engine
    if (process.env.RNNLAB_DEBUG) page.on('console', (m) => process.stderr.write(`[${engineName} console.${m.type()}] ${m.text()}\n`));
  }

  /** One RPC: the page's answer, or one line naming the engine and what happened (the browser closed on a fault). */
  async call<T>(method: string, args: Record<string, unknown>, timeoutMs = PAGE_TIMEOUT_MS): Promise<T> {
    this.assertAlive();
    const rpc = ([m, a]: readonly [string, Record<string, unknown>]): Promise<PageAnswer> => (globalThis as unknown as PageGlobal).rnnlab.call(m, a);
    const answer = await this.withTimeout(method, this.page.evaluate(rpc, [method, args] as const), timeoutMs);
    const a = answer as PageAnswer;
    if ('value' in a) return a.value as T;
    const { kind, message, what } = a.error;
    if (kind === 'unsupported') throw new UnsupportedError(this.engineName, what ?? message);
    if (kind === 'input') throw new InputError(message);
    if (kind === 'lost') await this.session.close(`closed after ${this.engineName} lost its GPU`);
    throw new EngineError(this.engineName, kind === 'lost' ? `${message} during ${method}; the browser was closed` : message);
  }

  /** The page's answer within the timeout; a hang, a crash or an exit becomes one line, and the browser is closed. */
  async withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)));
    try {
      const r = await Promise.race([p, hang]);
      if (r === 'hang') {
        await this.session.close(`closed after ${this.engineName} hung`);
        throw new EngineError(this.engineName, `the page did not answer ${what} within ${ms / 1000} s (hung); the browser was closed (--engine-timeout sets the limit)`);
      }
      return r as T;
    } catch (e) {
      if (e instanceof EngineError || e instanceof InputError) throw e;
      // the page's crash event and the browser's disconnect may arrive just after the call fails
      await new Promise((r) => setTimeout(r, 200));
      const why = this.crashed ?? this.session.gone;
      await this.session.close(`closed after ${this.engineName} failed`);
      throw new EngineError(this.engineName, `${why ?? firstLine(e)} (during ${what}); the browser was closed`);
    } finally {
      clearTimeout(timer);
    }
  }

  private assertAlive(): void {
    const why = this.crashed ?? this.session.gone;
    if (why) throw new EngineError(this.engineName, `${why}; it cannot answer`);
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.session.gone) await this.page.close().catch(() => {});
    await this.session.release(this.page);
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .replace(/^page\.evaluate: /, '')
    .split('\n')[0]
    .slice(0, 300);
}

// ---- the engine: Engine by RPC ----

export interface BrowserLimits {
  maxTextureSize?: number;
  maxBufferBytes?: number;
}

/** The largest tensor a model (and a batch of B x T) puts on the GPU, with its name and shape. */
export function largestTensor(spec: ModelSpec, B = 1, T = 1): { what: string; shape: number[]; size: number } {
  const all: { what: string; shape: number[] }[] = paramLayout(spec).map((p) => ({ what: p.name, shape: p.shape }));
  const F = spec.input === 'tokens' ? (spec.embedding > 0 ? spec.embedding : spec.inputSize) : spec.inputSize;
  all.push({ what: spec.input === 'tokens' && !spec.embedding ? 'the one-hot input' : 'the input', shape: [B, T, F] });
  all.push({ what: 'the outputs', shape: spec.returnSequences ? [B, T, spec.outputSize] : [B, spec.outputSize] });
  all.push({ what: 'the gates of one step', shape: [B, gateCount(spec.cell) * spec.hiddenSize] });
  const sized = all.map((t) => ({ ...t, size: t.shape.reduce((a, c) => a * c, 1) }));
  return sized.reduce((a, b) => (b.size > a.size ? b : a));
}

/** Why this model (at B x T) does not fit the backend's texture or buffer limit, or null. */
export function overLimit(spec: ModelSpec, limits: BrowserLimits, B = 1, T = 1): string | null {
  const t = largestTensor(spec, B, T);
  const at = `${t.what} [${t.shape.join(', ')}] holds ${t.size.toLocaleString('en-US')} floats`;
  const tex = limits.maxTextureSize;
  if (tex && t.size > tex * tex) return `${at}, more than webgl's largest texture here (${tex} x ${tex} = ${(tex * tex).toLocaleString('en-US')} values, MAX_TEXTURE_SIZE ${tex})`;
  const buf = limits.maxBufferBytes;
  if (buf && t.size * 4 > buf) return `${at} (${(t.size * 4).toLocaleString('en-US')} bytes), more than webgpu's largest buffer here (${buf.toLocaleString('en-US')} bytes, maxStorageBufferBindingSize)`;
  return null;
}

/** The tfjs twin in a page, behind Engine. */
export class BrowserEngine implements Engine {
  private constructor(
    readonly name: string,
    readonly spec: ModelSpec,
    readonly detail: string,
    readonly dtype: 'float32' | 'float16',
    private readonly bp: BrowserPage,
    private readonly id: number,
    private readonly limits: BrowserLimits,
    private readonly timeoutMs: number,
  ) {}

  /** Opens the tfjs twin (or, with `keras`, the loaded Keras model) in the page. */
  static async open(
    bp: BrowserPage,
    o: { name: string; spec: ModelSpec; detail: string; dtype: 'float32' | 'float16'; params: NamedParams; optimizer: OptimizerSpec; keras?: ImportedModel; timeoutMs?: number },
  ): Promise<{ engine: BrowserEngine; notes: string[] }> {
    const info = bp.info;
    if (!info.ok) throw new UnsupportedError(o.name, info.reason);
    const why = overLimit(o.spec, info.limits);
    if (why) throw new EngineError(o.name, `the model is too large for this GPU: ${why}`);
    const timeout = o.timeoutMs ?? PAGE_TIMEOUT_MS;
    const r = o.keras
      ? await bp.call<{ id: number; frozen: string[] }>('openKeras', { model: kerasForPage(o.keras), params: o.params }, timeout)
      : await bp.call<{ id: number; notes: string[] }>('open', { spec: o.spec, params: o.params, optimizer: o.optimizer }, timeout);
    return { engine: new BrowserEngine(o.name, o.spec, o.detail, o.dtype, bp, r.id, info.limits, timeout), notes: 'notes' in r ? r.notes : [] };
  }

  private call<T>(method: string, args: unknown[] = []): Promise<T> {
    return this.bp.call<T>(method, { id: this.id, args }, this.timeoutMs);
  }

  /** The batch checked here (one clear line, as every engine), and against the GPU's limits. */
  private accept(b: Batch, targets: boolean): void {
    validateBatch(this.spec, b, targets);
    const why = overLimit(this.spec, this.limits, b.batchSize, b.seqLen);
    if (why) throw new EngineError(this.name, `the batch is too large for this GPU: ${why}`);
  }

  getParams(): Promise<NamedParams> {
    return this.call('getParams');
  }
  setParams(p: NamedParams): Promise<void> {
    return this.call('setParams', [p]);
  }
  forward(b: Batch): Promise<{ output: FloatArray; finalState: State }> {
    this.accept(b, false);
    return this.call('forward', [b]);
  }
  lossAndGrads(b: Batch, want?: GradRequest): Promise<LossAndGrads> {
    this.accept(b, true);
    return this.call('lossAndGrads', [b, want ?? {}]);
  }
  step(b: Batch): Promise<StepResult> {
    this.accept(b, true);
    return this.call('step', [b]);
  }
  optimizerState(): Promise<NamedParams> {
    return this.call('optimizerState');
  }
  setOptimizerState(s: NamedParams): Promise<void> {
    return this.call('setOptimizerState', [s]);
  }
  /** Live tensors in the page (tf.memory().numTensors): every engine of this page's tfjs. */
  numTensors(): Promise<number> {
    return this.bp.call('numTensors', {}, this.timeoutMs);
  }
  async dispose(): Promise<void> {
    if (this.bp.session.gone) return;
    await this.bp.call('dispose', { id: this.id }, this.timeoutMs).catch(() => {});
  }
}

/** An imported Keras model as the page takes it: plain data, its weight bytes as a typed array. */
function kerasForPage(m: ImportedModel): unknown {
  return { ...m, artifacts: { ...m.artifacts, weightData: new Uint8Array(m.artifacts.weightData) } };
}

// ---- the encoder-decoder twin in a page ----

/**
 * The encoder-decoder twin (tfjs/seq2seq.ts) in a page of its own: the same RPC, the same faults.
 * It steps no decoder state across the RPC (no `encode`/`decodeStep`): decoding reruns the decoder
 * over the prefix, which gives the same tokens (src/seq2seq/decode.ts).
 */
async function openBrowserSeq2Seq(ref: BrowserRef, spec: Seq2SeqSpec, o: Seq2SeqOpen): Promise<OpenSeq2Seq> {
  const f16 = ref.backend === 'webgl-f16';
  const tfBackend = ref.backend === 'webgpu' ? 'webgpu' : 'webgl';
  const name = `tfjs-${ref.backend}`;
  const session = await BrowserSession.get(findBrowser(o.browser), o.onProgress);
  const bp = await session.openPage({ backend: tfBackend, f16, engineName: name }, o.onProgress);
  try {
    const info = bp.info;
    if (!info.ok) throw new UnsupportedError(name, info.reason);
    const timeout = o.timeoutMs ?? PAGE_TIMEOUT_MS;
    const r = await bp.call<{ id: number }>('openSeq2Seq', { spec, params: o.params, seed: o.seed, optimizer: o.optimizer }, timeout);
    const detail = `float32${f16 ? ' arithmetic on half-float textures' : ''}; ${session.version}, tfjs ${info.tfjs} backend ${tfBackend}, renderer ${info.renderer}`;
    const engine = new BrowserSeq2SeqEngine(name, spec, detail, f16 ? 'float16' : 'float32', bp, r.id, timeout);
    return {
      engine,
      detail,
      close: async () => {
        await engine.dispose();
        await bp.close();
      },
    };
  } catch (e) {
    await bp.close();
    throw e;
  }
}

/** Seq2SeqEngine by RPC to the twin in a page; batches are checked here first, as every engine checks them. */
class BrowserSeq2SeqEngine implements Seq2SeqEngine {
  constructor(
    readonly name: string,
    readonly spec: Seq2SeqSpec,
    readonly detail: string,
    readonly dtype: 'float32' | 'float16',
    private readonly bp: BrowserPage,
    private readonly id: number,
    private readonly timeoutMs: number,
  ) {}

  private call<T>(method: string, args: unknown[] = []): Promise<T> {
    return this.bp.call<T>(method, { id: this.id, args }, this.timeoutMs);
  }
  getParams(): Promise<NamedParams> {
    return this.call('getParams');
  }
  setParams(p: NamedParams): Promise<void> {
    return this.call('setParams', [p]);
  }
  forward(b: Seq2SeqBatch): Promise<Seq2SeqForward> {
    validateSeq2SeqBatch(this.spec, b, false);
    return this.call('forward', [b]);
  }
  lossAndGrads(b: Seq2SeqBatch, want?: { stepGrads?: boolean }): Promise<Seq2SeqGrads> {
    validateSeq2SeqBatch(this.spec, b, true);
    return this.call('lossAndGrads', [b, want ?? {}]);
  }
  step(b: Seq2SeqBatch): Promise<{ loss: number }> {
    validateSeq2SeqBatch(this.spec, b, true);
    return this.call('step', [b]);
  }
  optimizerState(): Promise<NamedParams> {
    return this.call('optimizerState');
  }
  setOptimizerState(s: NamedParams): Promise<void> {
    return this.call('setOptimizerState', [s]);
  }
  /** Step-wise decoding by the twin in the page: the state (plain typed arrays) travels with every step. */
  encode(src: Seq2SeqSources): Promise<DecoderState> {
    validateSeq2SeqSources(this.spec, src);
    return this.call('encode', [src]);
  }
  decodeStep(state: DecoderState, tokens: Int32Array): Promise<DecoderStepOut> {
    validateDecoderState(this.spec, state, tokens);
    return this.call('decodeStep', [state, tokens]);
  }
  private disposed = false;
  async dispose(): Promise<void> {
    if (this.disposed || this.bp.session.gone) return;
    this.disposed = true;
    await this.bp.call('dispose', { id: this.id }, this.timeoutMs).catch(() => {});
  }
}
