/**
 * The encoder-decoder model of src/seq2seq/spec.ts, forward and backward by hand.
 *
 * The two recurrent stacks are rnnlab's own (sequence.ts: forwardLayer / backwardLayer, any cell);
 * this file adds what joins them: the embeddings, the hand-over of the encoder's final states to
 * the decoder, Luong attention and its combine layer, and the head. Inside, as in sequence.ts,
 * everything is time-major: row t*B + b.
 *
 * Forward, per target step t and row b (h = decoder top output, o_s = encoder top outputs):
 *   k_s = o_s (dot) | o_s K_a (general);  score_s = h . k_s (-inf where the source is padding)
 *   a = softmax(score);  c = sum_s a_s o_s;  z = tanh([c ; h] W_c);  logits = z W_o + b_o
 * Backward (dz from the head):
 *   dpre = dz (1 - z^2);  dW_c += [c ; h]^T dpre;  [dc ; dh] = dpre W_c^T
 *   do_s += a_s dc;  da_s = dc . o_s;  dscore_s = a_s (da_s - sum_r a_r da_r)
 *   dh += sum_s dscore_s k_s;  dk_s += dscore_s h;  general: dK_a += o_s^T dk_s, do_s += dk_s K_a^T
 *   (dot: do_s += dk_s)
 * then BPTT through the decoder (dh at every step), whose initial-state gradient is the gradient of
 * the encoder's final states, and BPTT through the encoder (do_s at every step of the top layer,
 * that final-state gradient at the end of every layer).
 */
import { type OptimizerSpec, optimizerSpec } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import { biasRows } from '../src/cells.js';
import { type Seq2SeqEngine, type Seq2SeqForward, type Seq2SeqGrads, validateSeq2SeqBatch } from '../src/seq2seq/engine.js';
import { initSeq2SeqParams, validateSeq2SeqParams } from '../src/seq2seq/params.js';
import { type Seq2SeqBatch, type Seq2SeqSpec, embeddingName, seq2seqLayout, sideSpec } from '../src/seq2seq/spec.js';
import type { FloatArray } from '../src/tensor.js';
import { makeCell } from './engine.js';
import { headBackward, headForward, lossRows, softmaxCrossEntropy } from './head.js';
import { type Arr, type Kernels, jsKernels, scatterAddRows, swapAxes01 } from './kernels.js';
import { Optimizer, clipGradients } from './optim.js';
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
  enc: SequenceBuffers;
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
  /** keys [S*B, H] (general: o K_a), attention a [T*B, S], context+h [T*B, 2H], z [T*B, H] */
  keys: Arr;
  att: Arr;
  cat: Arr;
  z: Arr;
  logits: Arr;
  dlogits: Arr;
  dz: Arr;
  dcat: Arr;
  dkeys: Arr;
  tmp: Float64Array;
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
  private readonly enc: Stack;
  private readonly dec: Stack;
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
    this.enc = this.stack('encoder');
    this.dec = this.stack('decoder');
  }

  private stack(side: 'encoder' | 'decoder'): Stack {
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
        const p = `${side}.layers.${l}.`;
        const bias = this.params[`${p}bias`];
        const dbias = this.grads[`${p}bias`];
        return {
          inSize: l === 0 ? s.embedding : s.hiddenSize,
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
      swapAxes01(T, B, S, w.att, attention);
    }
    return { logits, attention };
  }

  lossAndGrads(b: Seq2SeqBatch, want: { stepGrads?: boolean } = {}): Seq2SeqGrads {
    validateSeq2SeqBatch(this.spec, b, true);
    const loss = this.lossAndGradsInto(b);
    const dtype = this.dtype === 'float32' ? 'F32' : 'F64';
    const out: Seq2SeqGrads = { loss, grads: Object.fromEntries(this.layout.map((p) => [p.name, { dtype, shape: [...p.shape], data: this.grads[p.name].slice() }])) };
    if (want.stepGrads) {
      const w = this.work(b);
      const H = this.spec.hiddenSize;
      const perLayer = (buf: SequenceBuffers, T: number): FloatArray[] =>
        buf.layers.map((L) => {
          const d = this.outArray(w.B * T * H);
          swapAxes01(T, w.B, H, L.dHs, d);
          return d;
        });
      out.dhEncoder = perLayer(w.enc, w.S);
      out.dhDecoder = perLayer(w.dec, w.T);
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
   * share the memory. Decoding meets a new shape at every output step; without the arena each would
   * take memory of its own, and the kernels' memory never shrinks. The arena grows (doubling) when a
   * shape needs more; the views of each shape are kept.
   */
  private work(b: Seq2SeqBatch): Work {
    const key = `${b.batchSize}x${b.srcLen}x${b.tgtLen}`;
    const known = this.works.get(key);
    if (known) return known;
    // measure, then lay out in the arena
    let need = 0;
    const empty = this.alloc(0);
    this.layoutWork(b, (n) => {
      need += Math.ceil(n / 16) * 16;
      return empty;
    });
    if (!this.arena || this.arena.length < need) {
      this.arena = this.alloc(Math.max(need, 2 * (this.arena?.length ?? 0)));
      this.works.clear();
    }
    let at = 0;
    const arena = this.arena;
    const w = this.layoutWork(b, (n) => {
      const v = arena.subarray(at, at + n);
      v.fill(0);
      at += Math.ceil(n / 16) * 16;
      return v;
    });
    this.works.set(key, w);
    return w;
  }

  private arena: Arr | null = null;

  private layoutWork(b: Seq2SeqBatch, a: (n: number) => Arr): Work {
    const { batchSize: B, srcLen: S, tgtLen: T } = b;
    const H = this.spec.hiddenSize;
    const E = this.spec.embedding;
    const V = this.spec.tgtVocab;
    const w: Work = {
      B,
      S,
      T,
      enc: newSequenceBuffers(this.enc, B, S, a),
      dec: newSequenceBuffers(this.dec, B, T, a),
      xe: a(S * B * E),
      xd: a(T * B * E),
      dxe: a(S * B * E),
      dxd: a(T * B * E),
      srcIds: new Int32Array(S * B),
      tgtIds: new Int32Array(T * B),
      srcMask: new Uint8Array(S * B),
      tgtMask: new Uint8Array(T * B),
      keys: a(S * B * H),
      att: a(T * B * S),
      cat: a(T * B * 2 * H),
      z: a(T * B * H),
      logits: a(T * B * V),
      dlogits: a(T * B * V),
      dz: a(T * B * H),
      dcat: a(T * B * 2 * H),
      dkeys: a(S * B * H),
      tmp: new Float64Array(S),
    };
    return w;
  }

  /** The forward pass into the workspace: encoder, decoder, attention, head logits (time-major). */
  private run(b: Seq2SeqBatch): Work {
    const w = this.work(b);
    const { B, S, T } = w;
    const s = this.spec;
    const H = s.hiddenSize;
    const E = s.embedding;
    const V = s.tgtVocab;
    const gemm = this.kernels.gemm;
    swapAxes01(B, S, 1, b.src, w.srcIds);
    swapAxes01(B, S, 1, b.srcMask, w.srcMask);
    swapAxes01(B, T, 1, b.tgtIn, w.tgtIds);
    swapAxes01(B, T, 1, b.tgtMask, w.tgtMask);
    embed(this.params[embeddingName(s, 'encoder')], E, w.srcIds, w.xe);
    embed(this.params[embeddingName(s, 'decoder')], E, w.tgtIds, w.xd);
    const BH = B * H;
    // encoder: masked steps keep the state, so the final carry is the last real token's
    for (let l = 0; l < s.layers; l++) forwardLayer(this.enc, l, w.enc, l === 0 ? { dense: w.xe } : { dense: w.enc.layers[l - 1].carry[0].subarray(BH) }, w.srcMask, null);
    // decoder: from the encoder's final states, layer by layer (no mask: padding only follows the real steps, and the loss skips it)
    for (let l = 0; l < s.layers; l++) {
      const init = w.enc.layers[l].carry.map((c) => c.subarray(S * BH, (S + 1) * BH));
      forwardLayer(this.dec, l, w.dec, l === 0 ? { dense: w.xd } : { dense: w.dec.layers[l - 1].carry[0].subarray(BH) }, null, init);
    }
    const O = w.enc.layers[s.layers - 1].carry[0].subarray(BH); // [S, B, H]
    const Hd = w.dec.layers[s.layers - 1].carry[0].subarray(BH); // [T, B, H]
    let top: Arr = Hd;
    if (s.attention !== 'none') {
      if (s.attention === 'general') gemm(false, false, S * B, H, H, O, H, this.params['attention.kernel'], H, 0, w.keys, H);
      else w.keys.set(O);
      for (let t = 0; t < T; t++) {
        for (let bb = 0; bb < B; bb++) {
          const r = t * B + bb;
          const h = r * H;
          // scores, masked softmax
          let max = -Infinity;
          for (let j = 0; j < S; j++) {
            if (!w.srcMask[j * B + bb]) continue;
            const k = (j * B + bb) * H;
            let dot = 0;
            for (let i = 0; i < H; i++) dot += Hd[h + i] * w.keys[k + i];
            w.tmp[j] = dot;
            if (dot > max) max = dot;
          }
          let sum = 0;
          for (let j = 0; j < S; j++) {
            const e = w.srcMask[j * B + bb] ? Math.exp(w.tmp[j] - max) : 0;
            w.tmp[j] = e;
            sum += e;
          }
          const a = r * S;
          for (let j = 0; j < S; j++) w.att[a + j] = w.tmp[j] / sum;
          // [context ; h]
          const c = r * 2 * H;
          for (let i = 0; i < H; i++) {
            let ctx = 0;
            for (let j = 0; j < S; j++) ctx += w.att[a + j] * O[(j * B + bb) * H + i];
            w.cat[c + i] = ctx;
            w.cat[c + H + i] = Hd[h + i];
          }
        }
      }
      gemm(false, false, T * B, H, 2 * H, w.cat, 2 * H, this.params['attention.combine.kernel'], H, 0, w.z, H);
      for (let i = 0; i < w.z.length; i++) w.z[i] = Math.tanh(w.z[i]);
      top = w.z;
    }
    headForward(gemm, T * B, H, V, top, this.params['head.kernel'], this.params['head.bias'], w.logits);
    return w;
  }

  /** Forward, loss and every gradient (into this.grads); leaves dLoss/dh_t of every layer in the workspace's dHs. */
  private lossAndGradsInto(b: Seq2SeqBatch): number {
    const w = this.run(b);
    const { B, S, T } = w;
    const s = this.spec;
    const H = s.hiddenSize;
    const E = s.embedding;
    const V = s.tgtVocab;
    const BH = B * H;
    const gemm = this.kernels.gemm;
    for (const p of this.layout) this.grads[p.name].fill(0);
    const rows = lossRows(B, T, true, 'mean', w.tgtMask);
    const loss = softmaxCrossEntropy(V, w.logits, b.tgtOut, rows, w.dlogits);
    const O = w.enc.layers[s.layers - 1].carry[0].subarray(BH);
    const Hd = w.dec.layers[s.layers - 1].carry[0].subarray(BH);
    const dHdec = w.dec.layers[s.layers - 1].dHs; // [T, B, H]: what reaches the decoder's top layer
    const dHenc = w.enc.layers[s.layers - 1].dHs; // [S, B, H]: what reaches the encoder's top layer
    dHenc.fill(0);
    if (s.attention === 'none') {
      headBackward(gemm, T * B, H, V, Hd, this.params['head.kernel'], w.dlogits, this.grads['head.kernel'], this.grads['head.bias'], dHdec);
    } else {
      headBackward(gemm, T * B, H, V, w.z, this.params['head.kernel'], w.dlogits, this.grads['head.kernel'], this.grads['head.bias'], w.dz);
      for (let i = 0; i < w.dz.length; i++) w.dz[i] *= 1 - w.z[i] * w.z[i]; // through tanh
      const Wc = this.params['attention.combine.kernel'];
      gemm(true, false, 2 * H, H, T * B, w.cat, 2 * H, w.dz, H, 1, this.grads['attention.combine.kernel'], H);
      gemm(false, true, T * B, 2 * H, H, w.dz, H, Wc, H, 0, w.dcat, 2 * H);
      w.dkeys.fill(0);
      for (let t = 0; t < T; t++) {
        for (let bb = 0; bb < B; bb++) {
          const r = t * B + bb;
          const h = r * H;
          const c = r * 2 * H; // dcat[c .. c+H) = dcontext, dcat[c+H .. c+2H) = dh from the combine
          const a = r * S;
          for (let i = 0; i < H; i++) dHdec[h + i] = w.dcat[c + H + i];
          // da_j = dc . o_j
          let dot = 0;
          for (let j = 0; j < S; j++) {
            const o = (j * B + bb) * H;
            let da = 0;
            for (let i = 0; i < H; i++) da += w.dcat[c + i] * O[o + i];
            w.tmp[j] = da;
            dot += w.att[a + j] * da;
          }
          for (let j = 0; j < S; j++) {
            const aj = w.att[a + j];
            if (aj === 0) continue;
            const o = (j * B + bb) * H;
            const ds = aj * (w.tmp[j] - dot); // softmax backward
            for (let i = 0; i < H; i++) {
              dHenc[o + i] += aj * w.dcat[c + i]; // the context reads o_j
              dHdec[h + i] += ds * w.keys[o + i];
              w.dkeys[o + i] += ds * Hd[h + i];
            }
          }
        }
      }
      if (s.attention === 'general') {
        gemm(true, false, H, H, S * B, O, H, w.dkeys, H, 1, this.grads['attention.kernel'], H);
        gemm(false, true, S * B, H, H, w.dkeys, H, this.params['attention.kernel'], H, 1, dHenc, H);
      } else {
        for (let i = 0; i < dHenc.length; i++) dHenc[i] += w.dkeys[i];
      }
    }
    // BPTT through the decoder, top to bottom; each layer's initial-state gradient goes to the encoder's final state
    for (let l = s.layers - 1; l >= 0; l--) {
      const X = l === 0 ? { dense: w.xd } : { dense: w.dec.layers[l - 1].carry[0].subarray(BH) };
      backwardLayer(this.dec, l, w.dec, X, null, l === 0 ? w.dxd : w.dec.layers[l - 1].dHs);
    }
    for (let l = s.layers - 1; l >= 0; l--) {
      const X = l === 0 ? { dense: w.xe } : { dense: w.enc.layers[l - 1].carry[0].subarray(BH) };
      // below the top, dHs is what the layer above wrote (its input gradient): only the top layer is read by attention
      backwardLayer(this.enc, l, w.enc, X, w.srcMask, l === 0 ? w.dxe : w.enc.layers[l - 1].dHs, w.dec.layers[l].dNext);
    }
    const k = this.kernels;
    const encE = this.grads[embeddingName(s, 'encoder')];
    const decE = this.grads[embeddingName(s, 'decoder')];
    if (!k.scatterAddRows?.(S * B, E, w.srcIds, w.dxe, encE)) scatterAddRows(S * B, E, w.srcIds, w.dxe, encE);
    if (!k.scatterAddRows?.(T * B, E, w.tgtIds, w.dxd, decE)) scatterAddRows(T * B, E, w.tgtIds, w.dxd, decE);
    return loss;
  }
}

/** x[r, :] = table[ids[r], :] */
function embed(table: Arr, E: number, ids: Int32Array, x: Arr): void {
  for (let r = 0; r < ids.length; r++) x.set(table.subarray(ids[r] * E, (ids[r] + 1) * E), r * E);
}
