/**
 * What every engine kind of the registry (./registry.ts) is: how its names read, where its
 * implementation lives, and how it opens a provider, one engine ready to open models on it. Each
 * kind is one file of this folder (scratch.ts, tfjs.ts, browser.ts, pytorch.ts, process.ts,
 * module.ts) exporting an EngineKind; the registry lists them.
 */
import type { BackendRequest } from '../../tfjs/backend.js';
import type { Engine } from '../engine.js';
import type { OptimizerSpec } from '../optimizer.js';
import type { NamedParams } from '../params.js';
import type { KernelChoice } from '../run-options.js';
import type { Seq2SeqEngine } from '../seq2seq/engine.js';
import type { Seq2SeqSpec } from '../seq2seq/spec.js';
import type { ModelSpec } from '../spec.js';
import type { EngineDType, Supports } from '../supports.js';

export type { BackendRequest } from '../../tfjs/backend.js';

/** An engine as a name says it: its kind and what the kind needs to open it. */
export interface EngineRefBase {
  readonly kind: string;
}

export interface ProviderOptions {
  kernels?: KernelChoice;
  /** The BLAS library of the blas kernels (--blas PATH; default RNNLAB_BLAS, else the usual places). */
  blas?: string;
  /** Threads of the scratch kernels and of PyTorch (default: the cores, at most 2). */
  threads?: number;
  python?: string;
  timeoutMs?: number;
  onProgress?: (what: string) => void;
  /** The browser of the browser engines (--browser; default RNNLAB_BROWSER, then chromium on PATH). */
  browser?: string;
  /** webgl engines: a smaller texture limit than the GPU's (a phone's is often 4096). */
  webglMaxTextureSize?: number;
}

export interface OpenModel {
  params: NamedParams;
  optimizer: OptimizerSpec;
  seed?: number;
}

/** One engine, ready to open models. */
export interface EngineProvider {
  readonly ref: EngineRefBase;
  /** The name rows are labelled with: scratch, tfjs-wasm, pytorch-f64, numpy-rnn, ... */
  name: string;
  readonly dtype: EngineDType;
  readonly threads: number;
  /** What it runs on: dtype, kernels, backend, versions, BLAS, threads. */
  readonly detail: string;
  readonly supports: Required<Supports>;
  readonly notes: string[];
  /** tfjs: the backend it runs on, the tfjs version, and its live tensor count (for the memory checks). */
  readonly tfjs?: { backend: string; version: string; numTensors(): number | Promise<number> };
  /** Why this engine cannot run here at all (a browser without WebGPU): commands skip it with this reason. */
  readonly unavailable?: string;
  /** How its step times are to be read (printed under bench's header). */
  readonly timing?: string;
  open(spec: ModelSpec, m: OpenModel): Promise<Engine>;
  close(): Promise<void>;
}

/** The options of an encoder-decoder engine (src/seq2seq/). */
export interface Seq2SeqOpen {
  params?: NamedParams;
  seed?: number;
  optimizer: OptimizerSpec;
  kernels?: KernelChoice;
  blas?: string;
  threads?: number;
  backend?: BackendRequest;
  /** false: forward passes and gradients only (no optimizer step), so an engine without this optimizer may run. Default true. */
  training?: boolean;
  /** The Python of the pytorch engines (--python). */
  python?: string;
  /** Browser engines: the browser (--browser). */
  browser?: string;
  /** How long an engine of your own or a browser page may take to answer (--engine-timeout). */
  timeoutMs?: number;
  onProgress?: (what: string) => void;
}

/** An encoder-decoder engine, with what it holds released by `close` (scratch's kernel threads). */
export interface OpenSeq2Seq {
  engine: Seq2SeqEngine;
  detail: string;
  close(): Promise<void>;
}

/**
 * One kind of engine. The registry parses a name by asking each kind in turn, and opens a ref by
 * its kind; nothing else in rnnlab constructs an engine (test/architecture.test.ts).
 */
export interface EngineKind<R extends EngineRefBase = EngineRefBase> {
  readonly kind: R['kind'];
  /** Its engine names, for help and errors (a module path or "cmd:" are no names). */
  readonly names: readonly string[];
  /** The ref of an engine name, or null when the name is not this kind's. */
  parse(name: string, backend: BackendRequest): R | null;
  /**
   * Where its implementation lives outside src/engines/ (folders end in "/"): only the registry's
   * files import these, and engine homes never import each other.
   */
  readonly homes: readonly string[];
  /** Files outside src/engines/ that construct this kind's engines themselves (the browser page, which opens the twin inside Chromium on the registry's request). */
  readonly builtIn?: readonly string[];
  open(ref: R, o: ProviderOptions & { threads: number }): Promise<EngineProvider>;
  /** The encoder-decoder on this engine (scratch, tfjs, pytorch, and engines of your own that claim it: docs/engines.md). */
  openSeq2Seq?(ref: R, spec: Seq2SeqSpec, o: Seq2SeqOpen): Promise<OpenSeq2Seq>;
}
