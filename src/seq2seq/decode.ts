/**
 * Decoding for any Seq2SeqEngine: greedy decoding and beam search, both batched over many sources.
 *
 * An engine with step-wise decoding (encode / decodeStep, src/seq2seq/state.ts: scratch, the tfjs
 * twin, PyTorch and engines of your own that claim stepDecoding, docs/engines.md) runs its encoder
 * once per chunk of sources and its decoder one token at a time from
 * the state it carries; beam search keeps one state per hypothesis (the rows of the state are
 * selected as hypotheses are kept, dropped or duplicated). An engine without them falls back to
 * rerunning `forward` over the whole prefix decoded so far (BOS + the tokens chosen) at every
 * output step and reading the logits of its last position: O(T^2) decoder work instead of O(T),
 * and nothing asked of the engine beyond forward. The decoder is causal, so both compute the same
 * function: the logits and attention row of position t do not change when later tokens are
 * appended (test/seq2seq-step.test.ts: the same outputs, and on the TypeScript and WebAssembly
 * kernels the same bits; state.ts says where the last bits may differ). `wholePrefix: true` asks
 * for the fallback with any engine (the reference the step-wise path is tested against). The attention rows kept for a hypothesis are the ones
 * computed at the step that chose each of its tokens.
 *
 * PAD and BOS are never emitted: a step chooses among EOS and the symbols (ids >= 2); the
 * log-probabilities are still those of the full softmax over the target vocabulary.
 */
import { EngineError, InputError } from '../errors.js';
import { type Pair, type Seq2SeqMetrics, type Seq2SeqVocabs, encodePairs, metrics } from './data.js';
import type { Seq2SeqEngine } from './engine.js';
import { BOS, EOS, type Seq2SeqBatch } from './spec.js';
import { type DecoderState, checkStepOut, isIdentity, selectStateRows } from './state.js';

export interface DecodeOptions {
  /** The most tokens emitted per source, EOS included (default 64); an output cut there has ended = false. */
  maxLen?: number;
  /** Beam width K (default 1 = greedy). */
  beam?: number;
  /**
   * Length normalisation of the beam's final ranking: score = logProb / steps^alpha, steps = the
   * tokens emitted including EOS. Default 0: the plain total log-probability (which favours short
   * outputs); about 0.6..1 favours longer ones. Greedy ignores it.
   */
  alpha?: number;
  /** Rows per forward call (default 64); beam search takes floor(batchSize / K) sources at a time. */
  batchSize?: number;
  /** Rerun forward over the whole prefix at every step even when the engine can step (the reference of the step-wise path). */
  wholePrefix?: boolean;
}

export interface Decoded {
  /** The output ids, without BOS and without EOS. */
  ids: number[];
  /** True when the output ended with EOS; false when it was cut at maxLen. */
  ended: boolean;
  /** Sum of the log-probabilities of every emitted token (the EOS included). */
  logProb: number;
  /** logProb / steps^alpha, the beam's ranking (= logProb for greedy and alpha 0). */
  score: number;
  /** Rows emitted: ids.length + (ended ? 1 : 0). */
  steps: number;
  /** The source's own length S (no padding). */
  srcLen: number;
  /** [steps, srcLen] the attention over the source of each emitted token (the EOS's row last); null without attention. */
  attention: Float64Array | null;
}

interface Opts {
  maxLen: number;
  beam: number;
  alpha: number;
  batchSize: number;
  wholePrefix: boolean;
}

function options(o: DecodeOptions): Opts {
  const int = (v: number | undefined, dflt: number, min: number, max: number, what: string): number => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < min || x > max) throw new InputError(`${what} must be an integer from ${min} to ${max} (got ${x})`);
    return x;
  };
  const alpha = o.alpha ?? 0;
  if (!Number.isFinite(alpha) || alpha < 0) throw new InputError(`the length penalty alpha must be a number >= 0 (got ${alpha})`);
  return {
    maxLen: int(o.maxLen, 64, 1, 10_000, 'the decoding length (--max-len)'),
    beam: int(o.beam, 1, 1, 1000, 'the beam width (--beam)'),
    alpha,
    batchSize: int(o.batchSize, 64, 1, 1 << 20, 'the decoding batch size'),
    wholePrefix: !!o.wholePrefix,
  };
}

function checkSources(sources: readonly Int32Array[]): void {
  sources.forEach((s, i) => {
    if (!(s instanceof Int32Array) || s.length === 0) throw new InputError(`source ${i + 1}: empty (every source needs at least one token)`);
  });
}

/**
 * One row of a decoding step: it extends row `parent` of the previous step by `token` (at the first
 * step of a chunk: `parent` is the source's index in the chunk and `token` is BOS).
 */
interface Extend {
  parent: number;
  token: number;
}

interface StepOut {
  /** [V] log-softmax of the last position's logits (float64). */
  logp: Float64Array;
  /** [srcLen] the last position's attention over the source's own tokens, or null. */
  att: Float64Array | null;
}

/**
 * The next-token distributions of a chunk of sources, step by step; sources right-padded to S (the
 * longest of the chunk, the same at every step, so a source's rows always see the same padding).
 */
interface Session {
  next(rows: readonly Extend[]): Promise<StepOut[]>;
}

function padSources(chunk: readonly Int32Array[], S: number): { src: Int32Array; srcMask: Uint8Array } {
  const src = new Int32Array(chunk.length * S); // [B, S]
  const srcMask = new Uint8Array(chunk.length * S);
  chunk.forEach((s, b) => {
    src.set(s, b * S);
    srcMask.fill(1, b * S, b * S + s.length);
  });
  return { src, srcMask };
}

/** The fallback: forward over BOS + each row's whole prefix at every step (any engine). */
function wholePrefixSession(engine: Seq2SeqEngine, chunk: readonly Int32Array[], S: number): Session {
  let prev: { source: number; prefix: number[] }[] | null = null;
  const V = engine.spec.tgtVocab;
  return {
    async next(ext) {
      const rows = ext.map((e) => (prev ? { source: prev[e.parent].source, prefix: [...prev[e.parent].prefix, e.token] } : { source: e.parent, prefix: [] }));
      prev = rows;
      const B = rows.length;
      const T = rows[0].prefix.length + 1;
      const { src, srcMask } = padSources(rows.map((r) => chunk[r.source]), S);
      const tgtIn = new Int32Array(B * T); // [B, T]
      rows.forEach((r, b) => {
        tgtIn[b * T] = BOS;
        for (let t = 0; t < r.prefix.length; t++) tgtIn[b * T + 1 + t] = r.prefix[t];
      });
      const batch: Seq2SeqBatch = { batchSize: B, srcLen: S, tgtLen: T, src, srcMask, tgtIn, tgtOut: new Int32Array(B * T), tgtMask: new Uint8Array(B * T).fill(1) };
      const { logits, attention } = await engine.forward(batch); // logits [B, T, V], attention [B, T, S]
      if (logits.length !== B * T * V) throw new EngineError(engine.name, `forward returned ${logits.length} logits for a [${B}, ${T}, ${V}] batch`);
      if (attention && attention.length !== B * T * S) throw new EngineError(engine.name, `forward returned ${attention.length} attention weights for a [${B}, ${T}, ${S}] batch`);
      return rows.map((r, b) => {
        const at = (b * T + T - 1) * S;
        return { logp: logSoftmax(logits, (b * T + T - 1) * V, V), att: attention ? Float64Array.from(attention.subarray(at, at + chunk[r.source].length)) : null };
      });
    },
  };
}

/** Step-wise: the encoder once for the chunk, then one decoder step per call from the selected rows' states. */
function steppingSession(engine: Seq2SeqEngine & Required<Pick<Seq2SeqEngine, 'encode' | 'decodeStep'>>, chunk: readonly Int32Array[], S: number): Session {
  let prev: { state: DecoderState; sources: number[] } | null = null;
  const V = engine.spec.tgtVocab;
  return {
    async next(ext) {
      const parents = ext.map((e) => e.parent);
      let state: DecoderState;
      let sources: number[];
      if (!prev) {
        const { src, srcMask } = padSources(chunk, S);
        const encoded = await engine.encode({ batchSize: chunk.length, srcLen: S, src, srcMask });
        state = isIdentity(parents, chunk.length) ? encoded : selectStateRows(encoded, parents);
        sources = parents;
      } else {
        state = isIdentity(parents, prev.state.batchSize) ? prev.state : selectStateRows(prev.state, parents);
        sources = parents.map((p) => prev!.sources[p]);
      }
      const B = ext.length;
      const out = await engine.decodeStep(state, Int32Array.from(ext, (e) => e.token));
      checkStepOut(engine.name, engine.spec, B, S, out);
      prev = { state: out.state, sources };
      return sources.map((source, b) => ({ logp: logSoftmax(out.logits, b * V, V), att: out.attention ? Float64Array.from(out.attention.subarray(b * S, b * S + chunk[source].length)) : null }));
    },
  };
}

function session(engine: Seq2SeqEngine, chunk: readonly Int32Array[], opt: Opts): Session {
  const S = maxLenOf(chunk);
  if (!opt.wholePrefix && typeof engine.encode === 'function' && typeof engine.decodeStep === 'function') return steppingSession(engine as Parameters<typeof steppingSession>[0], chunk, S);
  return wholePrefixSession(engine, chunk, S);
}

/** log softmax of z[off .. off + V) in float64. */
export function logSoftmax(z: ArrayLike<number>, off: number, V: number): Float64Array {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, z[off + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(z[off + v] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(V);
  for (let v = 0; v < V; v++) out[v] = z[off + v] - lse;
  return out;
}

function joinRows(rows: readonly (Float64Array | null)[], srcLen: number): Float64Array | null {
  if (rows.length === 0 || rows[0] === null) return null;
  const out = new Float64Array(rows.length * srcLen); // [steps, srcLen]
  rows.forEach((r, i) => out.set(r!, i * srcLen));
  return out;
}

function maxLenOf(sources: readonly Int32Array[]): number {
  let S = 0;
  for (const s of sources) S = Math.max(S, s.length);
  return S;
}

/**
 * Greedy decoding: feed BOS, append the most probable token (EOS or a symbol; the lowest id among
 * equal log-probabilities), stop at EOS or maxLen. All sources of a chunk advance together; a
 * source leaves the batch when it emits EOS.
 */
export async function greedyDecode(engine: Seq2SeqEngine, sources: readonly Int32Array[], o: DecodeOptions = {}): Promise<Decoded[]> {
  const opt = options(o);
  checkSources(sources);
  const results: Decoded[] = [];
  for (let c0 = 0; c0 < sources.length; c0 += opt.batchSize) {
    const chunk = sources.slice(c0, c0 + opt.batchSize);
    const steps = session(engine, chunk, opt);
    const st = chunk.map(() => ({ ids: [] as number[], logProb: 0, rows: [] as (Float64Array | null)[], ended: false }));
    let live = chunk.map((_, i) => i);
    // how each live source gets its next distribution: which row of the last step it extends, by which token
    let ext: Extend[] = live.map((i) => ({ parent: i, token: BOS }));
    for (let t = 0; t < opt.maxLen && live.length > 0; t++) {
      const out = await steps.next(ext);
      const nextExt: Extend[] = [];
      live.forEach((i, k) => {
        const { logp, att } = out[k];
        let best = EOS;
        for (let v = EOS + 1; v < logp.length; v++) if (logp[v] > logp[best]) best = v;
        const s = st[i];
        s.logProb += logp[best];
        s.rows.push(att);
        if (best === EOS) s.ended = true;
        else {
          s.ids.push(best);
          nextExt.push({ parent: k, token: best });
        }
      });
      live = live.filter((i) => !st[i].ended);
      ext = nextExt;
    }
    st.forEach((s, i) => results.push({ ids: s.ids, ended: s.ended, logProb: s.logProb, score: s.logProb, steps: s.rows.length, srcLen: chunk[i].length, attention: joinRows(s.rows, chunk[i].length) }));
  }
  return results;
}

interface Hyp {
  ids: number[];
  logProb: number;
  rows: (Float64Array | null)[];
  ended: boolean;
  /** How its next distribution is computed (see Extend). */
  ext: Extend;
}

/**
 * Beam search of width K. Each step expands every live hypothesis by EOS and every symbol and keeps
 * the K best expansions of a source by total log-probability (ties: the earlier hypothesis, then
 * the more probable step, then the lower id, so K = 1 takes exactly greedy's choices). An expansion
 * by EOS is finished and kept aside (it still took one of the K places at that step). Search stops
 * when no hypothesis is live, at maxLen, or, with alpha 0, when the best finished log-probability is
 * at least every live one (log-probabilities only fall, so none could overtake it). The answer is
 * the finished hypothesis with the highest logProb / steps^alpha (the earliest found among equals);
 * a source with none finished by maxLen gets its best live one, with ended = false.
 */
export async function beamSearch(engine: Seq2SeqEngine, sources: readonly Int32Array[], o: DecodeOptions = {}): Promise<Decoded[]> {
  const opt = options(o);
  checkSources(sources);
  const K = opt.beam;
  const perChunk = Math.max(1, Math.floor(opt.batchSize / K));
  const score = (h: Hyp): number => (opt.alpha === 0 ? h.logProb : h.logProb / Math.pow(h.rows.length, opt.alpha));
  const results: Decoded[] = [];
  for (let c0 = 0; c0 < sources.length; c0 += perChunk) {
    const chunk = sources.slice(c0, c0 + perChunk);
    const steps = session(engine, chunk, opt);
    const live: Hyp[][] = chunk.map((_, i) => [{ ids: [], logProb: 0, rows: [], ended: false, ext: { parent: i, token: BOS } }]);
    const finished: Hyp[][] = chunk.map(() => []);
    for (let t = 0; t < opt.maxLen; t++) {
      const rows: Extend[] = [];
      chunk.forEach((_, i) => live[i].forEach((h) => rows.push(h.ext)));
      if (rows.length === 0) break;
      const out = await steps.next(rows);
      let r = 0;
      chunk.forEach((_, i) => {
        const cands: { j: number; v: number; step: number; total: number }[] = [];
        live[i].forEach((h, j) => {
          const { logp } = out[r + j];
          for (let v = EOS; v < logp.length; v++) cands.push({ j, v, step: logp[v], total: h.logProb + logp[v] });
        });
        const expanded = live[i];
        const first = r; // the row of this source's first hypothesis in this step
        const outs = out.slice(r, r + expanded.length);
        r += expanded.length;
        cands.sort((a, b) => b.total - a.total || a.j - b.j || b.step - a.step || a.v - b.v);
        const next: Hyp[] = [];
        for (const c of cands.slice(0, K)) {
          const h = expanded[c.j];
          const rowsNext = [...h.rows, outs[c.j].att];
          if (c.v === EOS) finished[i].push({ ids: h.ids, logProb: c.total, rows: rowsNext, ended: true, ext: h.ext });
          else next.push({ ids: [...h.ids, c.v], logProb: c.total, rows: rowsNext, ended: false, ext: { parent: first + c.j, token: c.v } });
        }
        live[i] = next;
        if (opt.alpha === 0 && finished[i].length > 0 && next.length > 0) {
          const bestDone = Math.max(...finished[i].map((h) => h.logProb));
          if (next.every((h) => h.logProb <= bestDone)) live[i] = [];
        }
      });
    }
    chunk.forEach((src, i) => {
      const pool = finished[i].length > 0 ? finished[i] : live[i];
      let best = pool[0];
      for (const h of pool) if (score(h) > score(best)) best = h;
      results.push({ ids: best.ids, ended: best.ended, logProb: best.logProb, score: score(best), steps: best.rows.length, srcLen: src.length, attention: joinRows(best.rows, src.length) });
    });
  }
  return results;
}

/** Greedy for beam 1, beam search otherwise. */
export function decodeIds(engine: Seq2SeqEngine, sources: readonly Int32Array[], o: DecodeOptions = {}): Promise<Decoded[]> {
  return (o.beam ?? 1) > 1 ? beamSearch(engine, sources, o) : greedyDecode(engine, sources, o);
}

export interface Translation {
  source: string;
  output: string;
  decoded: Decoded;
  /** Heatmap labels: the source's characters across, the output's tokens down (EOS as "<eos>"). */
  srcTokens: string[];
  outTokens: string[];
}

/** Texts in, texts out (for `translate`-style commands); unknown characters are one InputError. */
export async function translateTexts(engine: Seq2SeqEngine, vocabs: Seq2SeqVocabs, texts: readonly string[], o: DecodeOptions = {}): Promise<Translation[]> {
  const sources = texts.map((t, i) => {
    const ids = vocabs.src.encode(t, texts.length === 1 ? 'the input' : `input ${i + 1}`);
    if (ids.length === 0) throw new InputError(`${texts.length === 1 ? 'the input' : `input ${i + 1}`} is empty`);
    return ids;
  });
  const decoded = await decodeIds(engine, sources, o);
  return decoded.map((d, i) => ({
    source: texts[i],
    output: vocabs.tgt.decode(d.ids),
    decoded: d,
    srcTokens: Array.from(sources[i], (id) => vocabs.src.symbol(id)),
    outTokens: [...d.ids.map((id) => vocabs.tgt.symbol(id)), ...(d.ended ? [vocabs.tgt.symbol(EOS)] : [])],
  }));
}

/** Decodes the sources of held-out pairs and scores the outputs against the targets. */
export async function evaluatePairs(engine: Seq2SeqEngine, vocabs: Seq2SeqVocabs, pairs: readonly Pair[], o: DecodeOptions = {}): Promise<{ metrics: Seq2SeqMetrics; predictions: string[] }> {
  const enc = encodePairs(pairs, vocabs, 'held-out pair');
  const decoded = await decodeIds(engine, enc.map((e) => e.src), o);
  const predictions = decoded.map((d) => vocabs.tgt.decode(d.ids));
  return { metrics: metrics(predictions, pairs.map((p) => p.target)), predictions };
}
