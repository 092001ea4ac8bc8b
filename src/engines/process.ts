/**
 * An engine in another process, speaking the protocol of docs/engines.md: JSON lines on its
 * stdin/stdout, one answer per request, in order. `EngineProcess` owns the child (start, hello,
 * requests with a timeout, the tail of its stderr for messages, shutdown); `ProcessEngine` is one
 * model on it behind the Engine interface. Whatever goes wrong (not found, exits, garbage on
 * stdout, wrong answers, a hang) is one EngineError naming the engine and the end of its stderr,
 * and the child is killed. No child outlives rnnlab: they are killed on exit, Ctrl-C and SIGTERM.
 */
import type { ChildProcess } from 'node:child_process';
import type { Batch, Engine, GradRequest, LossAndGrads, State, StepResult } from '../engine.js';
import { validateBatch } from '../engine.js';
import { carries } from '../cells.js';
import { EngineError, InputError, UnsupportedError } from '../errors.js';
import type { OptimizerSpec } from '../optimizer.js';
import { type NamedParams, paramLayout } from '../params.js';
import { type ModelSpec, specToJSON } from '../spec.js';
import { type EngineDType, type Supports, parseSupports } from '../supports.js';
import type { FloatArray } from '../tensor.js';
import { VERSION } from '../version.js';
import { handleSignals } from '../io/interrupt.js';
import { endGroup, signalGroup, spawnGroup } from '../io/processes.js';
import { initSeq2SeqParams } from '../seq2seq/params.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, seq2seqLayout, seq2seqToJSON } from '../seq2seq/spec.js';
import { type WireTensor, decodeNamed, decodeState, decodeTensor, encodeArray, encodeBatch, encodeSeq2SeqBatch, encodeTensors, floats } from './wire.js';
import { assertCanStep, assertClaimed, assertOptimizerState, expectedNames, paramsToSend } from './claims.js';
import type { EngineKind, EngineProvider, EngineRefBase, OpenSeq2Seq, Seq2SeqOpen } from './provider.js';
import { CheckedSeq2Seq, type RawSeq2Seq, refuseSeq2Seq } from './seq2seq-edge.js';

export const PROTOCOL_VERSION = 1;
/** The handshake's deadline unless --engine-timeout (or RNNLAB_ENGINE_TIMEOUT) gives one. */
export const HELLO_TIMEOUT_MS = 60_000;
/** The longest deadline a timer can hold (2^31 - 1 ms, about 24.8 days), in whole seconds. */
export const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/** RNNLAB_ENGINE_TIMEOUT in ms, or undefined when it is not set. */
export function envTimeoutMs(): number | undefined {
  const env = process.env.RNNLAB_ENGINE_TIMEOUT;
  if (env === undefined || env === '') return undefined;
  const s = Number(env);
  if (!(Number.isFinite(s) && s > 0 && s <= MAX_TIMEOUT_S)) throw new InputError(`RNNLAB_ENGINE_TIMEOUT must be a number of seconds > 0 and <= ${MAX_TIMEOUT_S} (got ${JSON.stringify(env)})`);
  return s * 1000;
}

/** --engine-timeout, else RNNLAB_ENGINE_TIMEOUT, else 120 s. */
export function defaultTimeoutMs(): number {
  return envTimeoutMs() ?? 120_000;
}

/** A deadline in ms that a timer can hold; anything else is refused (Node would fire it at once). */
export function checkTimeoutMs(ms: number): number {
  if (!(Number.isFinite(ms) && ms > 0 && ms <= MAX_TIMEOUT_S * 1000)) throw new InputError(`--engine-timeout must be a number of seconds > 0 and <= ${MAX_TIMEOUT_S} (got ${ms / 1000})`);
  return ms;
}

/** Splits a command line on spaces, honouring "double" and 'single' quotes. */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (const ch of cmd) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (cur || has) out.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (quote) throw new InputError(`engine command ${JSON.stringify(cmd)}: unclosed ${quote} quote`);
  if (cur || has) out.push(cur);
  if (out.length === 0) throw new InputError('engine command is empty (write --engines "cmd:python3 my_engine.py")');
  return out;
}

// ---- every live child, so none outlives rnnlab (src/io/interrupt.ts turns signals into an exit; each
// child runs in its own process group, src/io/processes.ts, so a terminal's Ctrl-C reaches rnnlab
// alone and a training run can checkpoint before its engines are stopped) ----

const live = new Set<EngineProcess>();
let hooked = false;

function track(p: EngineProcess): void {
  live.add(p);
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    handleSignals();
  }
}

function untrack(p: EngineProcess): void {
  live.delete(p);
}

function killAll(): void {
  for (const p of live) p.kill();
}

/** Ends every engine process still running (the CLI calls it when a command ends, however it ends). */
export async function closeAllEngineProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.close()));
}

export interface Hello {
  engine: string;
  version: string;
  runtime: string;
  supports: Required<Supports>;
}

interface Pending {
  id: number;
  op: string;
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class EngineProcess {
  /** The engine's name in messages: the command until the handshake, then the engine's own name. */
  name: string;
  hello!: Hello;
  private readonly child: ChildProcess;
  /** The pieces of the line not yet ended. */
  private pieces: string[] = [];
  private pending: Pending | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private stderrTail = '';
  private failure: EngineError | null = null;
  private closing = false;
  private exited = false;

  private constructor(
    readonly command: string,
    private readonly timeoutMs: number,
    env?: Record<string, string>,
  ) {
    this.name = command;
    const argv = splitCommand(command);
    this.child = spawnGroup(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    track(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (s: string) => this.onStdout(s));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-4000);
    });
    this.child.stdin!.on('error', () => {}); // a child that died: reported by 'exit'
    this.child.on('error', (e: NodeJS.ErrnoException) => {
      this.exited = true;
      this.fail(e.code === 'ENOENT' ? `command not found: ${argv[0]}` : `could not start ${argv[0]}: ${e.message}`);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      untrack(this);
      // what it started (a server in the background holding its stdout) ends with it
      endGroup(this.child);
      // let the last stderr arrive before saying what it was
      setImmediate(() => {
        if (!this.closing) this.fail(`exited${signal ? ` on ${signal}` : ` with code ${code}`}${this.pending ? ` while answering "${this.pending.op}"` : ''}`);
      });
    });
  }

  /** Starts the command and does the handshake. */
  static async start(command: string, o: { timeoutMs?: number; env?: Record<string, string>; name?: string } = {}): Promise<EngineProcess> {
    // the handshake has its own deadline (60 s) unless one was given, which then holds for it too
    const given = o.timeoutMs !== undefined ? checkTimeoutMs(o.timeoutMs) : envTimeoutMs();
    const p = new EngineProcess(command, given ?? defaultTimeoutMs(), o.env);
    if (o.name) p.name = o.name;
    try {
      const a = await p.request('hello', { protocol: PROTOCOL_VERSION, rnnlab: VERSION }, given ?? HELLO_TIMEOUT_MS);
      if (a.protocol !== PROTOCOL_VERSION) throw p.error(`speaks protocol ${JSON.stringify(a.protocol)}; rnnlab speaks ${PROTOCOL_VERSION}`);
      const engine = typeof a.engine === 'string' && /^[\w.+-]{1,40}$/.test(a.engine) ? a.engine : null;
      if (!engine) throw p.error(`hello: "engine" must be a short name of letters, digits, . _ + - (got ${JSON.stringify(a.engine)})`);
      let supports: Required<Supports>;
      try {
        supports = parseSupports(a.supports, 'hello');
      } catch (e) {
        throw p.error((e as Error).message);
      }
      p.hello = { engine, version: String(a.version ?? ''), runtime: String(a.runtime ?? ''), supports };
      if (!o.name) p.name = engine;
      return p;
    } catch (e) {
      p.kill();
      throw e;
    }
  }

  /** One request; requests are sent one at a time, in order. */
  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    const run = (): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        const id = this.nextId++;
        const timer = setTimeout(() => this.fail(`did not answer "${op}" within ${timeoutMs / 1000} s (raise --engine-timeout or RNNLAB_ENGINE_TIMEOUT)`), timeoutMs);
        this.pending = { id, op, resolve, reject, timer };
        this.child.stdin!.write(JSON.stringify({ id, op, ...fields }) + '\n');
      });
    const r = this.chain.then(run, run);
    this.chain = r.catch(() => {});
    return r;
  }

  /** An EngineError naming this engine, with the end of its stderr. */
  error(message: string): EngineError {
    const tail = this.stderrTail
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-3)
      .join(' | ');
    return new EngineError(this.name, `${message}${tail ? `; its stderr ends: ${tail.slice(-600)}` : ' (nothing on its stderr)'}`);
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = this.error(message);
    this.kill();
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending.reject(this.failure);
      this.pending = null;
    }
  }

  private onStdout(s: string): void {
    // A long answer (a forward's outputs: megabytes) arrives in 64 KiB pieces: keep the pieces
    // and look for the end of the line in the new piece only, instead of rescanning (and
    // re-flattening) everything received so far at every piece.
    let nl = s.indexOf('\n');
    if (nl < 0) {
      this.pieces.push(s);
      return;
    }
    let rest = s;
    while (nl >= 0) {
      this.pieces.push(rest.slice(0, nl));
      const line = this.pieces.join('').trim();
      this.pieces = [];
      rest = rest.slice(nl + 1);
      if (line) this.onLine(line);
      nl = rest.indexOf('\n');
    }
    if (rest) this.pieces.push(rest);
  }

  private onLine(line: string): void {
    if (this.failure) return;
    let a: Record<string, unknown>;
    try {
      a = JSON.parse(line);
      if (!a || typeof a !== 'object' || Array.isArray(a)) throw new Error('not an object');
    } catch {
      this.fail(`printed to stdout what is not protocol: ${JSON.stringify(line.slice(0, 80))} (people's output belongs on stderr)`);
      return;
    }
    const p = this.pending;
    if (!p) {
      this.fail(`answered when nothing was asked: ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    if (a.id !== p.id) {
      this.fail(`answered id ${JSON.stringify(a.id)} to request ${p.id} ("${p.op}")`);
      return;
    }
    clearTimeout(p.timer);
    this.pending = null;
    if (a.ok === true) p.resolve(a);
    else if (typeof a.unsupported === 'string') p.reject(new UnsupportedError(this.name, a.unsupported));
    else if (typeof a.error === 'string') p.reject(this.error(`failed in "${p.op}": ${a.error.split('\n')[0]}`));
    else p.reject(this.error(`answered "${p.op}" with neither "ok": true, "error" nor "unsupported"`));
  }

  /** Kills it and everything it started (its process group). */
  kill(): void {
    signalGroup(this.child, 'SIGKILL');
    untrack(this);
  }

  /** Asks it to shut down; kills it if it has not exited within 2 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.closing = true;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    if (!this.failure) {
      try {
        this.child.stdin!.write(JSON.stringify({ id: this.nextId++, op: 'shutdown' }) + '\n');
        this.child.stdin!.end();
      } catch {
        /* already gone */
      }
    }
    const timer = setTimeout(() => this.kill(), 2000);
    await gone;
    clearTimeout(timer);
    endGroup(this.child);
    untrack(this);
  }
}

export interface OpenOptions {
  params: NamedParams;
  optimizer: OptimizerSpec;
  dtype: EngineDType;
  threads: number;
  seed?: number;
}

/** One model on an engine process. */
export class ProcessEngine implements Engine {
  readonly name: string;
  readonly detail: string;
  readonly supports: Required<Supports>;
  private readonly H: number;

  private constructor(
    private readonly proc: EngineProcess,
    readonly spec: ModelSpec,
    readonly dtype: EngineDType,
    detail: string,
    name?: string,
  ) {
    this.name = name ?? proc.name;
    this.detail = detail;
    this.supports = proc.hello.supports;
    this.H = spec.hiddenSize;
  }

  /** Sends `init`: the model, its weights and optimizer replace whatever the process held. */
  static async open(proc: EngineProcess, spec: ModelSpec, o: OpenOptions & { name?: string }): Promise<ProcessEngine> {
    const a = await proc.request('init', {
      spec: specToJSON(spec),
      dtype: o.dtype,
      optimizer: o.optimizer,
      params: encodeTensors(paramsToSend(spec, proc.hello.supports, o.params), o.dtype),
      threads: o.threads,
      seed: o.seed ?? 0,
    });
    const own = typeof a.detail === 'string' && a.detail ? a.detail : `${o.dtype}`;
    const runtime = proc.hello.runtime ? `; ${proc.hello.runtime}` : '';
    return new ProcessEngine(proc, spec, o.dtype, `${own}${runtime}`, o.name);
  }

  private bad(op: string, e: unknown): never {
    if (e instanceof EngineError || e instanceof UnsupportedError) throw e;
    throw this.proc.error(`answered "${op}" wrongly: ${(e as Error).message}`);
  }

  private batch(b: Batch): Record<string, unknown> {
    const s = this.spec;
    return encodeBatch(b, s.inputSize, s.input === 'tokens', s.outputSize, s.returnSequences, this.H, this.dtype);
  }

  /** Named parameters (or gradients) from an answer; an engine without biases may leave them out (zeros). */
  private params(v: unknown, what: string): NamedParams {
    const t = decodeNamed(v, what);
    const layout = paramLayout(this.spec);
    const { required, optional } = expectedNames(this.spec, this.supports);
    const missing = [...required].filter((n) => !t[n]);
    const extra = Object.keys(t).filter((k) => !required.has(k) && !optional.has(k));
    if (missing.length || extra.length) {
      throw new Error(`${what}: ${[missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}`);
    }
    const out: NamedParams = {};
    for (const p of layout) {
      const size = p.shape.reduce((a, b) => a * b, 1);
      const given = (v as Record<string, unknown>)[p.name];
      const data = given === undefined ? (this.dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)) : floats(decodeTensor(given, `${what}["${p.name}"]`, p.shape), this.dtype);
      out[p.name] = { dtype: this.dtype === 'float64' ? 'F64' : 'F32', shape: p.shape, data };
    }
    return out;
  }

  private state(v: unknown, what: string, B: number): State {
    return decodeState(v, what, this.spec.layers, B, this.H, carries(this.spec), this.dtype);
  }

  private outputShape(b: Batch): number[] {
    return this.spec.returnSequences ? [b.batchSize, b.seqLen, this.spec.outputSize] : [b.batchSize, this.spec.outputSize];
  }

  async getParams(): Promise<NamedParams> {
    const a = await this.proc.request('get_params');
    try {
      return this.params(a.params, 'params');
    } catch (e) {
      this.bad('get_params', e);
    }
  }

  async setParams(p: NamedParams): Promise<void> {
    await this.proc.request('set_params', { params: encodeTensors(paramsToSend(this.spec, this.supports, p), this.dtype) });
  }

  async forward(b: Batch): Promise<{ output: FloatArray; finalState: State; ms?: number }> {
    validateBatch(this.spec, b, false);
    assertClaimed(this.name, this.supports, b);
    const a = await this.proc.request('forward', { batch: this.batch({ ...b, y: undefined }) });
    try {
      return {
        output: floats(decodeTensor(a.output, 'output', this.outputShape(b)), this.dtype),
        finalState: this.state(a.final_state, 'final_state', b.batchSize),
        ...msOf(a),
      };
    } catch (e) {
      this.bad('forward', e);
    }
  }

  async lossAndGrads(b: Batch, want: GradRequest = {}): Promise<LossAndGrads> {
    validateBatch(this.spec, b, true);
    assertClaimed(this.name, this.supports, b, want);
    const a = await this.proc.request('loss_and_grads', { batch: this.batch(b), input_grad: !!want.inputGrad, state_grads: !!want.stateGrads });
    try {
      const { batchSize: B, seqLen: T } = b;
      const out: LossAndGrads = { loss: lossOf(a.loss), grads: this.params(a.grads, 'grads'), finalState: this.state(a.final_state, 'final_state', B) };
      if (want.inputGrad) out.dx = floats(decodeTensor(a.dx, 'dx', [B, T, this.spec.inputSize]), this.dtype);
      if (want.stateGrads) {
        if (!Array.isArray(a.dh) || a.dh.length !== this.spec.layers) throw new Error(`dh must hold ${this.spec.layers} tensor(s) [${B}, ${T}, ${this.H}]`);
        out.dh = a.dh.map((t, l) => floats(decodeTensor(t, `dh[${l}]`, [B, T, this.H]), this.dtype));
        out.dState = this.state(a.d_state, 'd_state', B);
      }
      return out;
    } catch (e) {
      this.bad('loss_and_grads', e);
    }
  }

  async step(b: Batch): Promise<StepResult> {
    validateBatch(this.spec, b, true);
    assertClaimed(this.name, this.supports, b);
    assertCanStep(this.name, this.supports);
    const a = await this.proc.request('step', { batch: this.batch(b) });
    try {
      return { loss: lossOf(a.loss), finalState: this.state(a.final_state, 'final_state', b.batchSize), ...msOf(a) };
    } catch (e) {
      this.bad('step', e);
    }
  }

  async optimizerState(): Promise<NamedParams> {
    assertOptimizerState(this.name, this.supports);
    const a = await this.proc.request('get_optimizer_state');
    try {
      return decodeNamed(a.state, 'state');
    } catch (e) {
      this.bad('get_optimizer_state', e);
    }
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    assertOptimizerState(this.name, this.supports);
    await this.proc.request('set_optimizer_state', { state: encodeTensors(paramsToSend(this.spec, this.supports, s), this.dtype) });
  }

  dispose(): void {
    // the model lives as long as its process; the provider closes the process
  }
}

function lossOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === null || v === 'NaN') return NaN; // JSON has no NaN; Python's json writes NaN, which JSON.parse rejects, so engines may send null
  throw new Error(`loss must be a number (got ${JSON.stringify(v)})`);
}

function msOf(a: Record<string, unknown>): { ms?: number } {
  return typeof a.ms === 'number' && Number.isFinite(a.ms) && a.ms >= 0 ? { ms: a.ms } : {};
}

/** Any command that speaks the engine protocol (docs/engines.md), out of process: "cmd:python3 my_lstm.py". */
export interface CmdRef {
  kind: 'cmd';
  command: string;
}

export const processKind: EngineKind<CmdRef> = {
  kind: 'cmd',
  names: [],
  parse: (name) => {
    if (!name.startsWith('cmd:')) return null;
    const command = name.slice(4).trim();
    if (!command) throw new InputError('engine "cmd:" needs a command, e.g. --engines "cmd:python3 my_lstm.py"');
    return { kind: 'cmd', command };
  },
  // the protocol's Python side for engines of your own (and what the PyTorch adapter stands on)
  homes: ['python/rnnlab_engine.py', 'python/rnnlab_safetensors.py'],
  open: async (ref, o) => {
    o.onProgress?.(`starting ${ref.command}`);
    const proc = await EngineProcess.start(ref.command, { timeoutMs: o.timeoutMs });
    return processProvider(ref, proc, proc.name, proc.hello.supports.dtypes[0], o.threads);
  },
  openSeq2Seq: async (ref, spec, o) => {
    const proc = await EngineProcess.start(ref.command, { timeoutMs: o.timeoutMs });
    return openProcessSeq2Seq(proc, proc.name, proc.hello.supports.dtypes[0], spec, o);
  },
};

/**
 * An encoder-decoder on an engine process (docs/engines.md, "Encoder-decoder models"): refused in
 * one line before `init` when the handshake does not claim it, then `init` with `model: "seq2seq"`;
 * the answers are checked by CheckedSeq2Seq. The process ends with `close` (or at once on a refusal).
 */
export async function openProcessSeq2Seq(proc: EngineProcess, name: string, dtype: EngineDType, spec: Seq2SeqSpec, o: Seq2SeqOpen): Promise<OpenSeq2Seq> {
  try {
    const s = proc.hello.supports;
    refuseSeq2Seq(name, s, spec, o);
    const params = o.params ?? initSeq2SeqParams(spec, o.seed ?? 0, dtype === 'float64' ? 'F64' : 'F32');
    const threads = o.threads ?? 1;
    const a = await proc.request('init', { model: 'seq2seq', spec: seq2seqToJSON(spec), dtype, optimizer: o.optimizer, params: encodeTensors(params, dtype), threads, seed: o.seed ?? 0 });
    const own = typeof a.detail === 'string' && a.detail ? a.detail : dtype;
    const detail = `${own}${proc.hello.runtime ? `; ${proc.hello.runtime}` : ''}`;
    const engine = new CheckedSeq2Seq(wireSeq2Seq(proc, spec, dtype, s.stepDecoding), { name, detail, spec, dtype, supports: s });
    return { engine, detail, close: () => proc.close() };
  } catch (e) {
    await proc.close();
    throw e;
  }
}

/** The encoder-decoder requests on the wire, their answers decoded (tensors, shapes, names) for CheckedSeq2Seq to check; `encode` and `decode_step` only when claimed. */
function wireSeq2Seq(proc: EngineProcess, spec: Seq2SeqSpec, dtype: EngineDType, stepDecoding: boolean): RawSeq2Seq {
  const ask = async <T>(op: string, fields: Record<string, unknown>, read: (a: Record<string, unknown>) => T): Promise<T> => {
    const a = await proc.request(op, fields);
    try {
      return read(a);
    } catch (e) {
      throw proc.error(`answered "${op}" wrongly: ${(e as Error).message}`);
    }
  };
  const shapes = new Map(seq2seqLayout(spec).map((p) => [p.name, p.shape]));
  const named = (v: unknown, what: string): Record<string, { data: FloatArray }> => {
    const t = decodeNamed(v, what);
    return Object.fromEntries(Object.entries(t).map(([k, x]) => [k, { data: floats(shapes.has(k) ? decodeTensor((v as Record<string, unknown>)[k], `${what}["${k}"]`, shapes.get(k)) : x, dtype) }]));
  };
  const D = decoderSize(spec);
  const perLayer = (v: unknown, what: string, shape: number[]): FloatArray[] | undefined => (Array.isArray(v) ? v.map((t, l) => floats(decodeTensor(t, `${what}[${l}]`, shape), dtype)) : undefined);
  return {
    getParams: () => ask('get_params', {}, (a) => named(a.params, 'params')),
    setParams: async (p) => {
      await proc.request('set_params', { params: encodeTensors(p, dtype) });
    },
    forward: (b: Seq2SeqBatch) =>
      ask('forward', { batch: encodeSeq2SeqBatch(b, false) }, (a) => ({
        logits: floats(decodeTensor(a.output, 'output', [b.batchSize, b.tgtLen, spec.tgtVocab]), dtype),
        attention: a.attention === undefined ? undefined : floats(decodeTensor(a.attention, 'attention', [b.batchSize, b.tgtLen, b.srcLen]), dtype),
      })),
    lossAndGrads: (b, want) =>
      ask('loss_and_grads', { batch: encodeSeq2SeqBatch(b, true), state_grads: want.stepGrads }, (a) => ({
        loss: a.loss,
        grads: named(a.grads, 'grads'),
        ...(want.stepGrads ? { dhEncoder: perLayer(a.dh_encoder, 'dh_encoder', [b.batchSize, b.srcLen, D]), dhDecoder: perLayer(a.dh_decoder, 'dh_decoder', [b.batchSize, b.tgtLen, D]) } : {}),
      })),
    step: (b) => ask('step', { batch: encodeSeq2SeqBatch(b, true) }, (a) => ({ loss: a.loss })),
    ...(stepDecoding ? wireStepper(ask, spec, dtype) : {}),
    optimizerState: () => ask('get_optimizer_state', {}, (a) => decodeNamed(a.state, 'state')),
    setOptimizerState: async (st) => {
      await proc.request('set_optimizer_state', { state: encodeTensors(st, dtype) });
    },
  };
}

/**
 * Step-wise decoding on the wire (docs/engines.md, "Step-wise decoding"): the engine keeps the
 * encoder's outputs of its last `encode` (they never change while a chunk decodes), so a step
 * carries only the carry h.{l} and c.{l}, the tokens and `rows` (which row of that encode's batch
 * each row continues). A state from an earlier encode is refused here: its outputs were replaced.
 * Names and shapes are checked as they are decoded; CheckedSeq2Seq checks presence and values.
 */
function wireStepper(ask: <T>(op: string, fields: Record<string, unknown>, read: (a: Record<string, unknown>) => T) => Promise<T>, spec: Seq2SeqSpec, dtype: EngineDType): Required<Pick<RawSeq2Seq, 'encode' | 'decodeStep'>> & { keepsSources: true } {
  const D = decoderSize(spec);
  const L = spec.layers;
  let encodings = 0;
  /** h.{l} and c.{l} of a named state, as arrays. */
  const carry = (v: unknown, B: number) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('state is not an object of named tensors');
    const raw = v as Record<string, unknown>;
    const names = new Set(Array.from({ length: L }, (_, l) => [`h.${l}`, `c.${l}`]).flat());
    const extra = Object.keys(raw).filter((k) => !names.has(k));
    if (extra.length) throw new Error(`state holds unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')} (only h.{l} and c.{l})`);
    const layers = (c: string): (FloatArray | undefined)[] | undefined =>
      raw[`${c}.0`] === undefined ? undefined : Array.from({ length: L }, (_, l) => (raw[`${c}.${l}`] === undefined ? undefined : floats(decodeTensor(raw[`${c}.${l}`], `state["${c}.${l}"]`, [B, D]), dtype)));
    return { h: layers('h'), c: layers('c') };
  };
  return {
    keepsSources: true,
    encode: async (src) => {
      const { batchSize: B, srcLen: S } = src;
      const encoding = ++encodings;
      const r = await ask('encode', { batch: { src: encodeArray(src.src, [B, S]), src_mask: encodeArray(src.srcMask, [B, S]) } }, (a) => carry(a.state, B));
      return { ...r, kept: { encoding, rows: Int32Array.from({ length: B }, (_, i) => i) } };
    },
    decodeStep: (st, tokens) => {
      const B = st.batchSize;
      if (st.kept!.encoding !== encodings) throw new InputError('decoder state: its encoder outputs were replaced by a later encode on this engine (a process keeps only its last; decode one chunk at a time)');
      const state: Record<string, WireTensor> = {};
      st.h.forEach((h, l) => (state[`h.${l}`] = encodeArray(h, [B, D], dtype)));
      st.c?.forEach((c, l) => (state[`c.${l}`] = encodeArray(c, [B, D], dtype)));
      return ask('decode_step', { rows: encodeArray(st.kept!.rows, [B]), state, tokens: encodeArray(tokens, [B]) }, (a) => ({
        logits: floats(decodeTensor(a.logits, 'logits', [B, spec.tgtVocab]), dtype),
        attention: a.attention === undefined ? undefined : floats(decodeTensor(a.attention, 'attention', [B, st.srcLen]), dtype),
        state: carry(a.state, B),
      }));
    },
  };
}

/** The provider of an engine process (a command of your own, PyTorch): one process, one model after another. */
export function processProvider(ref: EngineRefBase, proc: EngineProcess, name: string, dtype: EngineDType, threads: number): EngineProvider {
  const h = proc.hello;
  return {
    ref,
    name,
    dtype,
    threads,
    detail: `${dtype}, ${threads} thread${threads > 1 ? 's' : ''}${h.runtime ? `; ${h.runtime}` : ''}`,
    supports: h.supports,
    notes: [],
    open: (spec, m) => ProcessEngine.open(proc, spec, { ...m, dtype, threads, name }),
    close: () => proc.close(),
  };
}
