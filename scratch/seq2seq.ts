/**
 * The encoder-decoder model of src/seq2seq/spec.ts, forward and backward by hand.
 *
 * The recurrent stacks are rnnlab's own (sequence.ts: forwardLayer / backwardLayer, any cell);
 * this file adds what joins them: the embeddings, a bidirectional encoder (a backward direction
 * per layer reading the time-reversed sequence and mask, as scratch/engine.ts does for
 * bidirectional layers, its outputs concatenated after the forward ones), the hand-over of the
 * encoder's final states to the decoder, Luong attention and its combine layer
 * (seq2seq-attention.ts), and the head. Inside, as in sequence.ts, everything is time-major: row
 * t*B + b.
 *
 * Backward: from the head through the combine layer and the attention (seq2seq-attention.ts) into
 * the decoder's top outputs and the encoder's; BPTT through the decoder, whose initial-state
 * gradient is the gradient of the encoder's final states (split between the two directions of a
 * bidirectional layer: the forward one's first H units, the backward one's last H); BPTT through
 * the encoder, top layer first (do_s at every step of the top layer; a bidirectional layer's output
 * gradient split between its directions, and their input gradients, the backward one's reversed
 * back, added up into the layer below's).
 *
 * Step-wise decoding (src/seq2seq/state.ts): `encode` runs the encoder once and hands back the
 * decoder's initial state with the encoder's outputs and the attention's keys; `decodeStep` runs the
 * decoder one step from a state through the same code as a whole batch (forwardLayer over one step,
 * the same attention and head), so its logits are those `forward` computes at that position.
 */
import { type OptimizerSpec, optimizerSpec } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import { biasRows, carries } from '../src/cells.js';
import { type Seq2SeqEngine, type Seq2SeqForward, type Seq2SeqGrads, validateSeq2SeqBatch, validateSeq2SeqSources } from '../src/seq2seq/engine.js';
import { initSeq2SeqParams, validateSeq2SeqParams } from '../src/seq2seq/params.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, embeddingName, keySize, seq2seqLayout, sideSpec } from '../src/seq2seq/spec.js';
import { type DecoderState, type DecoderStepOut, type Seq2SeqSources, validateDecoderState } from '../src/seq2seq/state.js';
import type { FloatArray } from '../src/tensor.js';
import { makeCell, reverseTime } from './engine.js';
import { headBackward, headForward, lossRows, softmaxCrossEntropy } from './head.js';
import { type Arr, type Kernels, jsKernels, scatterAddRows, swapAxes01 } from './kernels.js';
import { Optimizer, clipGradients } from './optim.js';
import { type AttentionContext, type AttentionWork, attentionBackward, attentionForward, computeKeys, newAttentionWork } from './seq2seq-attention.js';
import { type SequenceBuffers, type Stack, backwardLayer, forwardLayer, newSequenceBuffers } from './sequence.js';

export interface ScratchSeq2SeqOptions {
  dtype?: 'float32' | 'float64';
  kernels?: Kernels;
  params?: NamedParams;
  seed?: number;
  optimizer?: OptimizerSpec;
}

interface Work {
  B: number;
  S: number;
  T: number;
  /** The encoder's (forward direction's) buffers, its backward direction's (bidirectional), the decoder's. */
  enc: SequenceBuffers;
  encB: SequenceBuffers | null;
  dec: SequenceBuffers;
  /** embedded inputs [S*B, E], [T*B, E] and their gradients */
  xe: Arr;
  xd: Arr;
  dxe: Arr;
  dxd: Arr;
  srcIds: Int32Array;
  tgtIds: Int32Array;
  srcMask: Uint8Array;
  tgtMask: Uint8Array;
  bi: BiWork | null;
  /** [S*B, D] the encoder's outputs read from a decoder state (step-wise decoding) */
  mem: Arr;
  att: AttentionWork;
  logits: Arr;
  dlogits: Arr;
}

/** The extra buffers of a bidirectional encoder (time-major; "reversed" = the time axis reversed, as the backward direction reads it). */
interface BiWork {
  revMask: Uint8Array;
  /** Per layer: the concatenated outputs [S*B, 2H] and their gradient, the reversed input [S*B, in], the input gradients of both directions. */
  merged: Arr[];
  dMerged: Arr[];
  revIn: Arr[];
  dInF: Arr[];
  dInB: Arr[];
  /** Per layer, per carry buffer: the decoder's initial state [B, 2H] (forward final ; backward final). */
  init: Arr[][];
  /** Per carry buffer [B, H]: one layer's final-state gradient, split between the directions. */
  dFinF: Arr[];
  dFinB: Arr[];
}

export class ScratchSeq2Seq implements Seq2SeqEngine {
  readonly name: string;
  readonly spec: Seq2SeqSpec;
  readonly dtype: 'float32' | 'float64';
  readonly detail: string;
  readonly kernels: Kernels;
  private readonly alloc: (n: number) => Arr;
  private readonly layout: { name: string; shape: number[]; size: number }[];
  private readonly params: Record<string, Arr> = {};
  private readonly grads: Record<string, Arr> = {};
  /** The encoder's forward direction, its backward direction (bidirectional only), the decoder. */
  private readonly enc: Stack;
  private readonly encB: Stack | null;
  private readonly dec: Stack;
  private readonly attention: AttentionContext;
  /** D: the width of the encoder's outputs and of the decoder. */
  private readonly D: number;
  private optimizer: Optimizer;
  private readonly works = new Map<string, Work>();

  constructor(spec: Seq2SeqSpec, o: ScratchSeq2SeqOptions = {}) {
    this.spec = spec;
    this.dtype = o.dtype ?? 'float32';
    this.name = this.dtype === 'float32' ? 'scratch' : 'scratch-f64';
    this.kernels = o.kernels ?? jsKernels(this.dtype);
    this.detail = `${this.dtype}, ${this.kernels.name} kernels`;
    this.alloc = (n) => this.kernels.alloc(n);
    this.layout = seq2seqLayout(spec).map((p) => ({ ...p, size: p.shape.reduce((a, b) => a * b, 1) }));
    for (const p of this.layout) {
      this.params[p.name] = this.alloc(p.size);
      this.grads[p.name] = this.alloc(p.size);
    }
    this.setParams(o.params ?? initSeq2SeqParams(spec, o.seed ?? 0, this.dtype === 'float32' ? 'F32' : 'F64'));
    this.optimizer = new Optimizer(o.optimizer ?? optimizerSpec('adam'), this.layout, this.alloc);
    this.D = decoderSize(spec);
    this.enc = this.stack('encoder', '');
    this.encB = spec.bidirectional ? this.stack('encoder', 'backward.') : null;
    this.dec = this.stack('decoder', '');
    this.attention = { spec, D: this.D, K: keySize(spec), params: this.params, grads: this.grads, gemm: this.kernels.gemm };
  }

  private stack(side: 'encoder' | 'decoder', dir: '' | 'backward.'): Stack {
    const s = sideSpec(this.spec, side);
    const cell = makeCell(s, this.kernels);
    const GH = cell.G * s.hiddenSize;
    const resetAfter = biasRows(s) === 2;
    return {
      cell,
      gemm: this.kernels.gemm,
      fast: this.kernels,
      H: s.hiddenSize,
      layers: Array.from({ length: s.layers }, (_, l) => {
        const p = `${side}.layers.${l}.${dir}`;
        const bias = this.params[`${p}bias`];
        const dbias = this.grads[`${p}bias`];
        return {
          inSize: l === 0 ? s.embedding : this.D,
          w: { W: this.params[`${p}kernel`], U: this.params[`${p}recurrentKernel`], bIn: bias.subarray(0, GH), bRec: resetAfter ? bias.subarray(GH, 2 * GH) : null },
          g: { dW: this.grads[`${p}kernel`], dU: this.grads[`${p}recurrentKernel`], dbIn: dbias.subarray(0, GH), dbRec: resetAfter ? dbias.subarray(GH, 2 * GH) : null },
        };
      }),
    };
  }

  getParams(): NamedParams {
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    return Object.fromEntries(this.layout.map((p) => [p.name, { dtype, shape: [...p.shape], data: this.params[p.name].slice() }]));
  }

  setParams(p: NamedParams): void {
    validateSeq2SeqParams(this.spec, p);
    for (const x of this.layout) this.params[x.name].set(p[x.name].data);
  }

  setOptimizer(o: OptimizerSpec): void {
    this.optimizer = new Optimizer(o, this.layout, this.alloc);
  }

  async optimizerState(): Promise<NamedParams> {
    return this.optimizer.getState(this.dtype === 'float32' ? 'F32' : 'F64');
  }

  async setOptimizerState(s: NamedParams): Promise<void> {
    this.optimizer.setState(s);
  }

  forward(b: Seq2SeqBatch): Seq2SeqForward {
    validateSeq2SeqBatch(this.spec, b, false);
    const w = this.run(b);
    const { B, T, S } = w;
    const V = this.spec.tgtVocab;
    const logits = this.outArray(B * T * V);
    swapAxes01(T, B, V, w.logits, logits); // [T, B, V] -> [B, T, V]
    let attention: FloatArray | null = null;
    if (this.spec.attention !== 'none') {
      attention = this.outArray(B * T * S);
      swapAxes01(T, B, S, w.att.att, attention);
    }
    return { logits, attention };
  }

  lossAndGrads(b: Seq2SeqBatch, want: { stepGrads?: boolean } = {}): Seq2SeqGrads {
    validateSeq2SeqBatch(this.spec, b, true);
    const loss = this.lossAndGradsInto(b);
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    const out: Seq2SeqGrads = { loss, grads: Object.fromEntries(this.layout.map((p) => [p.name, { dtype, shape: [...p.shape], data: this.grads[p.name].slice() }])) };
    if (want.stepGrads) {
      const w = this.work(b.batchSize, b.srcLen, b.tgtLen);
      out.dhEncoder = this.encoderStepGrads(w);
      out.dhDecoder = w.dec.layers.map((L) => {
        const d = this.outArray(w.B * w.T * this.D);
        swapAxes01(w.T, w.B, this.D, L.dHs, d);
        return d;
      });
    }
    return out;
  }

  step(b: Seq2SeqBatch): { loss: number } {
    validateSeq2SeqBatch(this.spec, b, true);
    const loss = this.lossAndGradsInto(b);
    if (!Number.isFinite(loss)) return { loss };
    const o = this.optimizer.spec;
    if (o.clipValue !== undefined || o.clipNorm !== undefined) clipGradients(this.layout.map((p) => this.grads[p.name]), o.clipValue, o.clipNorm);
    this.optimizer.apply(this.params, this.grads);
    return { loss };
  }

  /** The loss alone (gradcheck's difference quotients). */
  loss(b: Seq2SeqBatch): number {
    const w = this.run(b);
    const rows = lossRows(w.B, w.T, true, 'mean', w.tgtMask);
    return softmaxCrossEntropy(this.spec.tgtVocab, w.logits, b.tgtOut, rows, w.dlogits);
  }

  /** The live buffer of a parameter (gradcheck perturbs it in place). */
  paramBuffer(name: string): Arr {
    const p = this.params[name];
    if (!p) throw new Error(`no parameter ${name}`);
    return p;
  }

  /** Step-wise decoding (src/seq2seq/state.ts): the encoder once, and the decoder's state before its first step. */
  encode(src: Seq2SeqSources): DecoderState {
    const { batchSize: B, srcLen: S } = src;
    validateSeq2SeqSources(this.spec, src);
    const w = this.work(B, S, 1);
    swapAxes01(B, S, 1, src.src, w.srcIds);
    swapAxes01(B, S, 1, src.srcMask, w.srcMask);
    const { O, finals } = this.encodeInto(w);
    const D = this.D;
    const K = this.attention.K;
    const s = this.spec;
    let memory: FloatArray | null = null;
    let keys: FloatArray | null = null;
    if (s.attention !== 'none') {
      memory = this.outArray(B * S * D);
      swapAxes01(S, B, D, O, memory);
    }
    if (s.attention === 'general' || s.attention === 'concat') {
      computeKeys(this.attention, S * B, O, w.att.keys);
      keys = this.outArray(B * S * K);
      swapAxes01(S, B, K, w.att.keys, keys);
    }
    return { batchSize: B, srcLen: S, srcMask: src.srcMask.slice(), memory, keys, h: finals.map((f) => f[0].slice(0, B * D)), c: carries(s).includes('c') ? finals.map((f) => f[1].slice(0, B * D)) : null };
  }

  /** One decoder step from `state` for every row, fed `tokens` [B]: the logits and attention `forward` gives at that position, and the next state. */
  decodeStep(state: DecoderState, tokens: Int32Array): DecoderStepOut {
    validateDecoderState(this.spec, state, tokens);
    const { batchSize: B, srcLen: S } = state;
    const s = this.spec;
    const D = this.D;
    const K = this.attention.K;
    const BD = B * D;
    const w = this.work(B, S, 1);
    swapAxes01(B, S, 1, state.srcMask, w.srcMask);
    embed(this.params[embeddingName(s, 'decoder')], s.embedding, tokens, w.xd);
    for (let l = 0; l < s.layers; l++) {
      const init = state.c ? [state.h[l], state.c[l]] : [state.h[l]];
      forwardLayer(this.dec, l, w.dec, l === 0 ? { dense: w.xd } : { dense: w.dec.layers[l - 1].carry[0].subarray(BD) }, null, init as Arr[]);
    }
    const Hd = w.dec.layers[s.layers - 1].carry[0].subarray(BD, 2 * BD);
    let top: Arr = Hd;
    if (s.attention !== 'none') {
      swapAxes01(B, S, D, state.memory!, w.mem);
      if (state.keys) swapAxes01(B, S, K, state.keys, w.att.keys);
      else computeKeys(this.attention, S * B, w.mem, w.att.keys);
      attentionForward(this.attention, w.att, w.mem, w.att.keys, Hd, w.srcMask);
      top = w.att.z;
    }
    headForward(this.kernels.gemm, B, D, s.tgtVocab, top, this.params['head.kernel'], this.params['head.bias'], w.logits);
    const carry = (c: number): FloatArray[] => w.dec.layers.map((L) => L.carry[c].slice(BD, 2 * BD));
    return {
      logits: w.logits.slice(0, B * s.tgtVocab),
      attention: s.attention === 'none' ? null : w.att.att.slice(0, B * S),
      state: { ...state, h: carry(0), c: carries(s).includes('c') ? carry(1) : null },
    };
  }

  dispose(): void {
    this.works.clear();
  }

  // ---- internals ----

  private outArray(n: number): FloatArray {
    return this.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  }

  /**
   * Buffers for one batch shape. Every shape's buffers are views of one arena, laid out from its
   * start: only one call runs at a time and each call computes everything it reads, so shapes can
   * share the memory. Decoding meets many shapes; without the arena each would take memory of its
   * own, and the kernels' memory never shrinks. The arena grows (doubling) when a shape needs more;
   * the views of each shape are kept.
   */
  private work(B: number, S: number, T: number): Work {
    const key = `${B}x${S}x${T}`;
    const known = this.works.get(key);
    if (known) return known;
    // measure, then lay out in the arena
    let need = 0;
    const empty = this.alloc(0);
    this.layoutWork(B, S, T, (n) => {
      need += Math.ceil(n / 16) * 16;
      return empty;
    });
    if (!this.arena || this.arena.length < need) {
      this.arena = this.alloc(Math.max(need, 2 * (this.arena?.length ?? 0)));
      this.works.clear();
    }
    let at = 0;
    const arena = this.arena;
    const w = this.layoutWork(B, S, T, (n) => {
      const v = arena.subarray(at, at + n);
      v.fill(0);
      at += Math.ceil(n / 16) * 16;
      return v;
    });
    this.works.set(key, w);
    return w;
  }

  private arena: Arr | null = null;

  private layoutWork(B: number, S: number, T: number, a: (n: number) => Arr): Work {
    const s = this.spec;
    const H = s.hiddenSize;
    const D = this.D;
    const E = s.embedding;
    const V = s.tgtVocab;
    const carries = this.enc.cell.carry;
    const bi: BiWork | null = this.encB
      ? {
          revMask: new Uint8Array(S * B),
          merged: this.enc.layers.map(() => a(S * B * 2 * H)),
          dMerged: this.enc.layers.map(() => a(S * B * 2 * H)),
          revIn: this.enc.layers.map((L) => a(S * B * L.inSize)),
          dInF: this.enc.layers.map((L) => a(S * B * L.inSize)),
          dInB: this.enc.layers.map((L) => a(S * B * L.inSize)),
          init: this.enc.layers.map(() => Array.from({ length: carries }, () => a(B * 2 * H))),
          dFinF: Array.from({ length: carries }, () => a(B * H)),
          dFinB: Array.from({ length: carries }, () => a(B * H)),
        }
      : null;
    return {
      B,
      S,
      T,
      enc: newSequenceBuffers(this.enc, B, S, a),
      encB: this.encB ? newSequenceBuffers(this.encB, B, S, a) : null,
      dec: newSequenceBuffers(this.dec, B, T, a),
      xe: a(S * B * E),
      xd: a(T * B * E),
      dxe: a(S * B * E),
      dxd: a(T * B * E),
      srcIds: new Int32Array(S * B),
      tgtIds: new Int32Array(T * B),
      srcMask: new Uint8Array(S * B),
      tgtMask: new Uint8Array(T * B),
      bi,
      mem: a(S * B * D),
      att: newAttentionWork(B, S, T, D, Math.max(1, this.attention.K), s.attention === 'concat' ? this.attention.K : 0, a),
      logits: a(T * B * V),
      dlogits: a(T * B * V),
    };
  }

  /**
   * The encoder over w.srcIds / w.srcMask (time-major): its top outputs O [S*B, D] and, per layer
   * and carry buffer, the final state [B, D] the decoder starts from. Masked steps keep the state,
   * so a forward direction's final carry is the last real token's.
   */
  private encodeInto(w: Work): { O: Arr; finals: Arr[][] } {
    const { B, S } = w;
    const s = this.spec;
    const BH = B * s.hiddenSize;
    embed(this.params[embeddingName(s, 'encoder')], s.embedding, w.srcIds, w.xe);
    const final = (buf: SequenceBuffers, l: number): Arr[] => buf.layers[l].carry.map((c) => c.subarray(S * BH, (S + 1) * BH));
    if (!w.bi) {
      for (let l = 0; l < s.layers; l++) forwardLayer(this.enc, l, w.enc, l === 0 ? { dense: w.xe } : { dense: w.enc.layers[l - 1].carry[0].subarray(BH) }, w.srcMask, null);
      return { O: w.enc.layers[s.layers - 1].carry[0].subarray(BH), finals: w.enc.layers.map((_, l) => final(w.enc, l)) };
    }
    // both directions of every layer; the backward one reads the reversed sequence and mask (its padding first keeps the zero state)
    const bi = w.bi;
    const H = s.hiddenSize;
    reverseTime(S, B, 1, w.srcMask, bi.revMask);
    for (let l = 0; l < s.layers; l++) {
      const X = l === 0 ? w.xe : bi.merged[l - 1];
      forwardLayer(this.enc, l, w.enc, { dense: X }, w.srcMask, null);
      reverseTime(S, B, this.enc.layers[l].inSize, X, bi.revIn[l]);
      forwardLayer(this.encB!, l, w.encB!, { dense: bi.revIn[l] }, bi.revMask, null);
      // output at step t: [forward h_t ; backward h at t, which it computed at its reversed step S-1-t]
      const f = w.enc.layers[l].carry[0];
      const k = w.encB!.layers[l].carry[0];
      for (let t = 0; t < S; t++) concatRows(B, H, f.subarray((t + 1) * BH), k.subarray((S - t) * BH), bi.merged[l].subarray(t * 2 * BH));
      const [fF, fK] = [final(w.enc, l), final(w.encB!, l)];
      fF.forEach((_, c) => concatRows(B, H, fF[c], fK[c], bi.init[l][c]));
    }
    return { O: bi.merged[s.layers - 1], finals: bi.init };
  }

  /** The forward pass into the workspace: encoder, decoder, attention, head logits (time-major). */
  private run(b: Seq2SeqBatch): Work {
    const w = this.work(b.batchSize, b.srcLen, b.tgtLen);
    const { B, S, T } = w;
    const s = this.spec;
    const D = this.D;
    swapAxes01(B, S, 1, b.src, w.srcIds);
    swapAxes01(B, S, 1, b.srcMask, w.srcMask);
    swapAxes01(B, T, 1, b.tgtIn, w.tgtIds);
    swapAxes01(B, T, 1, b.tgtMask, w.tgtMask);
    const { O, finals } = this.encodeInto(w);
    embed(this.params[embeddingName(s, 'decoder')], s.embedding, w.tgtIds, w.xd);
    const BD = B * D;
    // decoder: from the encoder's final states, layer by layer (no mask: padding only follows the real steps, and the loss skips it)
    for (let l = 0; l < s.layers; l++) forwardLayer(this.dec, l, w.dec, l === 0 ? { dense: w.xd } : { dense: w.dec.layers[l - 1].carry[0].subarray(BD) }, null, finals[l]);
    const Hd = w.dec.layers[s.layers - 1].carry[0].subarray(BD); // [T, B, D]
    let top: Arr = Hd;
    if (s.attention !== 'none') {
      computeKeys(this.attention, S * B, O, w.att.keys);
      attentionForward(this.attention, w.att, O, w.att.keys, Hd, w.srcMask);
      top = w.att.z;
    }
    headForward(this.kernels.gemm, T * B, D, s.tgtVocab, top, this.params['head.kernel'], this.params['head.bias'], w.logits);
    return w;
  }

  /** Forward, loss and every gradient (into this.grads); leaves dLoss/dh_t of every layer in the workspace's dHs. */
  private lossAndGradsInto(b: Seq2SeqBatch): number {
    const w = this.run(b);
    const { B, S, T } = w;
    const s = this.spec;
    const D = this.D;
    const E = s.embedding;
    const V = s.tgtVocab;
    const BD = B * D;
    const gemm = this.kernels.gemm;
    for (const p of this.layout) this.grads[p.name].fill(0);
    const rows = lossRows(B, T, true, 'mean', w.tgtMask);
    const loss = softmaxCrossEntropy(V, w.logits, b.tgtOut, rows, w.dlogits);
    const top = s.layers - 1;
    const O = w.bi ? w.bi.merged[top] : w.enc.layers[top].carry[0].subarray(B * s.hiddenSize);
    const Hd = w.dec.layers[top].carry[0].subarray(BD);
    const dHdec = w.dec.layers[top].dHs; // [T, B, D]: what reaches the decoder's top layer
    const dO = w.bi ? w.bi.dMerged[top] : w.enc.layers[top].dHs; // [S, B, D]: what reaches the encoder's outputs
    dO.fill(0);
    if (s.attention === 'none') {
      headBackward(gemm, T * B, D, V, Hd, this.params['head.kernel'], w.dlogits, this.grads['head.kernel'], this.grads['head.bias'], dHdec);
    } else {
      headBackward(gemm, T * B, D, V, w.att.z, this.params['head.kernel'], w.dlogits, this.grads['head.kernel'], this.grads['head.bias'], w.att.dz);
      attentionBackward(this.attention, w.att, O, Hd, dHdec, dO);
    }
    // BPTT through the decoder, top to bottom; each layer's initial-state gradient goes to the encoder's final state
    for (let l = top; l >= 0; l--) {
      const X = l === 0 ? { dense: w.xd } : { dense: w.dec.layers[l - 1].carry[0].subarray(BD) };
      backwardLayer(this.dec, l, w.dec, X, null, l === 0 ? w.dxd : w.dec.layers[l - 1].dHs);
    }
    if (w.bi) this.encoderBackwardBi(w);
    else {
      const BH = B * s.hiddenSize;
      for (let l = top; l >= 0; l--) {
        const X = l === 0 ? { dense: w.xe } : { dense: w.enc.layers[l - 1].carry[0].subarray(BH) };
        // below the top, dHs is what the layer above wrote (its input gradient): only the top layer is read by attention
        backwardLayer(this.enc, l, w.enc, X, w.srcMask, l === 0 ? w.dxe : w.enc.layers[l - 1].dHs, w.dec.layers[l].dNext);
      }
    }
    const k = this.kernels;
    const encE = this.grads[embeddingName(s, 'encoder')];
    const decE = this.grads[embeddingName(s, 'decoder')];
    if (!k.scatterAddRows?.(S * B, E, w.srcIds, w.dxe, encE)) scatterAddRows(S * B, E, w.srcIds, w.dxe, encE);
    if (!k.scatterAddRows?.(T * B, E, w.tgtIds, w.dxd, decE)) scatterAddRows(T * B, E, w.tgtIds, w.dxd, decE);
    return loss;
  }

  /**
   * BPTT of a bidirectional encoder, top layer first: the gradient of layer l's concatenated output
   * (dMerged) is split into the two directions' dLoss/dh_t (the backward one in its reversed time),
   * the decoder's initial-state gradient of layer l into their final states', each direction runs
   * its BPTT, and their input gradients (the backward one reversed back) add up to the layer below's.
   */
  private encoderBackwardBi(w: Work): void {
    const { B, S } = w;
    const bi = w.bi!;
    const F = w.enc;
    const K = w.encB!;
    const H = this.spec.hiddenSize;
    const BH = B * H;
    for (let l = this.spec.layers - 1; l >= 0; l--) {
      for (let t = 0; t < S; t++) splitRows(B, H, bi.dMerged[l].subarray(t * 2 * BH), F.layers[l].dHs.subarray(t * BH), K.layers[l].dHs.subarray((S - 1 - t) * BH));
      w.dec.layers[l].dNext.forEach((d, c) => splitRows(B, H, d, bi.dFinF[c], bi.dFinB[c]));
      const X = l === 0 ? w.xe : bi.merged[l - 1];
      backwardLayer(this.enc, l, F, { dense: X }, w.srcMask, bi.dInF[l], bi.dFinF);
      backwardLayer(this.encB!, l, K, { dense: bi.revIn[l] }, bi.revMask, bi.dInB[l], bi.dFinB);
      const target = l === 0 ? w.dxe : bi.dMerged[l - 1];
      const n = S * B * this.enc.layers[l].inSize;
      reverseTime(S, B, this.enc.layers[l].inSize, bi.dInB[l], target);
      for (let i = 0; i < n; i++) target[i] += bi.dInF[l][i];
    }
  }

  /** dLoss/dh_t of every encoder layer, batch-major [B, S, H] (bidirectional: [B, S, 2H], forward then backward at each source step). */
  private encoderStepGrads(w: Work): FloatArray[] {
    const { B, S } = w;
    const H = this.spec.hiddenSize;
    const BH = B * H;
    return w.enc.layers.map((L, l) => {
      if (!w.encB) {
        const d = this.outArray(B * S * H);
        swapAxes01(S, B, H, L.dHs, d);
        return d;
      }
      const merged = this.outArray(S * 2 * BH); // time-major [S, B, 2H]
      const k = w.encB.layers[l].dHs;
      for (let t = 0; t < S; t++) concatRows(B, H, L.dHs.subarray(t * BH), k.subarray((S - 1 - t) * BH), merged.subarray(t * 2 * BH));
      const d = this.outArray(B * S * 2 * H);
      swapAxes01(S, B, 2 * H, merged, d);
      return d;
    });
  }
}

/** x[r, :] = table[ids[r], :] */
function embed(table: Arr, E: number, ids: Int32Array, x: Arr): void {
  for (let r = 0; r < ids.length; r++) x.set(table.subarray(ids[r] * E, (ids[r] + 1) * E), r * E);
}

/** out[b] = [f[b] ; k[b]] for B rows of H ([B, H] each into [B, 2H]). */
function concatRows(B: number, H: number, f: Arr, k: Arr, out: Arr): void {
  for (let b = 0; b < B; b++) {
    out.set(f.subarray(b * H, (b + 1) * H), b * 2 * H);
    out.set(k.subarray(b * H, (b + 1) * H), b * 2 * H + H);
  }
}

/** The reverse of concatRows: [B, 2H] into its halves f and k ([B, H] each). */
function splitRows(B: number, H: number, m: Arr, f: Arr, k: Arr): void {
  for (let b = 0; b < B; b++) {
    f.set(m.subarray(b * 2 * H, b * 2 * H + H), b * H);
    k.set(m.subarray(b * 2 * H + H, (b + 1) * 2 * H), b * H);
  }
}
