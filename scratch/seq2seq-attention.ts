/**
 * Luong attention of the encoder-decoder (src/seq2seq/spec.ts), forward and backward by hand, for
 * scratch/seq2seq.ts. Time-major like the rest of the engine: decoder row r = t*B + b, encoder row
 * j*B + b. D = the width of the encoder's outputs o and of the decoder's h; K = the keys' width.
 *
 * Forward, per target step t and row b (h = decoder top output, o_s = encoder top outputs):
 *   keys  k_s = o_s (dot) | o_s K_a (general) | o_s W_o (concat: W_o = the last D rows of W_a)
 *   score_s = h . k_s (dot, general) | v . tanh(h W_h + k_s) (concat: W_h = the first D rows of W_a)
 *   score_s = -inf where the source is padding;  a = softmax(score);  c = sum_s a_s o_s
 *   z = tanh([c ; h] W_c)
 * Backward (dz from the head):
 *   dpre = dz (1 - z^2);  dW_c += [c ; h]^T dpre;  [dc ; dh] = dpre W_c^T
 *   do_s += a_s dc;  da_s = dc . o_s;  dscore_s = a_s (da_s - sum_r a_r da_r)
 *   dot, general: dh += sum_s dscore_s k_s;  dk_s += dscore_s h
 *   concat: u_s = tanh(h W_h + k_s);  dv += dscore_s u_s;  g_s = dscore_s v (1 - u_s^2)
 *           d(h W_h) += sum_s g_s;  dk_s += g_s
 *   then general: dK_a += o^T dk, do += dk K_a^T;  dot: do += dk;
 *        concat: dW_o += o^T dk, do += dk W_o^T, dW_h += h^T d(h W_h), dh += d(h W_h) W_h^T
 */
import type { Seq2SeqSpec } from '../src/seq2seq/spec.js';
import type { Arr, Gemm } from './kernels.js';

/** The buffers of one batch shape (time-major). */
export interface AttentionWork {
  B: number;
  S: number;
  T: number;
  /** [S*B, K] the keys */
  keys: Arr;
  /** [T*B, S] the attention weights */
  att: Arr;
  /** [T*B, 2D] [context ; h] */
  cat: Arr;
  /** [T*B, D] the combine layer's output */
  z: Arr;
  dz: Arr;
  dcat: Arr;
  /** [S*B, K] */
  dkeys: Arr;
  /** concat: [T*B, A] h W_h and its gradient (else empty) */
  ph: Arr;
  dph: Arr;
  tmp: Float64Array;
}

export function newAttentionWork(B: number, S: number, T: number, D: number, K: number, A: number, a: (n: number) => Arr): AttentionWork {
  return {
    B,
    S,
    T,
    keys: a(S * B * K),
    att: a(T * B * S),
    cat: a(T * B * 2 * D),
    z: a(T * B * D),
    dz: a(T * B * D),
    dcat: a(T * B * 2 * D),
    dkeys: a(S * B * K),
    ph: a(T * B * A),
    dph: a(T * B * A),
    tmp: new Float64Array(S),
  };
}

/** What the attention reads of the engine: the spec, parameters and gradients by canonical name, the product. */
export interface AttentionContext {
  spec: Seq2SeqSpec;
  D: number;
  K: number;
  params: Record<string, Arr>;
  grads: Record<string, Arr>;
  gemm: Gemm;
}

/** keys [S*B, K] of the encoder outputs O [S*B, D]: O itself (dot), O K_a (general), O W_o (concat). */
export function computeKeys(x: AttentionContext, rows: number, O: Arr, keys: Arr): void {
  const { D, K } = x;
  if (x.spec.attention === 'general') x.gemm(false, false, rows, K, D, O, D, x.params['attention.kernel'], K, 0, keys, K);
  else if (x.spec.attention === 'concat') x.gemm(false, false, rows, K, D, O, D, x.params['attention.kernel'].subarray(D * K), K, 0, keys, K);
  else keys.set(O.subarray(0, rows * D));
}

/**
 * The attention and combine layer over T target steps: Hd [T*B, D] the decoder's top outputs,
 * O [S*B, D] the encoder's, `keys` as computeKeys left them, srcMask [S*B] time-major. Leaves the
 * weights in w.att and z (the head's input) in w.z.
 */
export function attentionForward(x: AttentionContext, w: AttentionWork, O: Arr, keys: Arr, Hd: Arr, srcMask: Uint8Array): void {
  const { B, S, T } = w;
  const { D, K } = x;
  const concat = x.spec.attention === 'concat';
  const v = concat ? x.params['attention.v'] : null;
  if (concat) x.gemm(false, false, T * B, K, D, Hd, D, x.params['attention.kernel'], K, 0, w.ph, K);
  for (let t = 0; t < T; t++) {
    for (let bb = 0; bb < B; bb++) {
      const r = t * B + bb;
      const h = r * D;
      // scores, masked softmax
      let max = -Infinity;
      for (let j = 0; j < S; j++) {
        if (!srcMask[j * B + bb]) continue;
        const k = (j * B + bb) * K;
        let dot = 0;
        if (v) for (let i = 0; i < K; i++) dot += v[i] * Math.tanh(w.ph[r * K + i] + keys[k + i]);
        else for (let i = 0; i < K; i++) dot += Hd[h + i] * keys[k + i];
        w.tmp[j] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let j = 0; j < S; j++) {
        const e = srcMask[j * B + bb] ? Math.exp(w.tmp[j] - max) : 0;
        w.tmp[j] = e;
        sum += e;
      }
      const a = r * S;
      for (let j = 0; j < S; j++) w.att[a + j] = w.tmp[j] / sum;
      // [context ; h]
      const c = r * 2 * D;
      for (let i = 0; i < D; i++) {
        let ctx = 0;
        for (let j = 0; j < S; j++) ctx += w.att[a + j] * O[(j * B + bb) * D + i];
        w.cat[c + i] = ctx;
        w.cat[c + D + i] = Hd[h + i];
      }
    }
  }
  x.gemm(false, false, T * B, D, 2 * D, w.cat, 2 * D, x.params['attention.combine.kernel'], D, 0, w.z, D);
  for (let i = 0; i < T * B * D; i++) w.z[i] = Math.tanh(w.z[i]);
}

/**
 * Backward from w.dz (dLoss/dz, [T*B, D]): accumulates the attention's parameter gradients, writes
 * dHdec [T*B, D] (what reaches the decoder's top outputs) and adds into dHenc [S*B, D] (the encoder's).
 */
export function attentionBackward(x: AttentionContext, w: AttentionWork, O: Arr, Hd: Arr, dHdec: Arr, dHenc: Arr): void {
  const { B, S, T } = w;
  const { D, K, gemm } = x;
  const { keys } = w;
  const concat = x.spec.attention === 'concat';
  const v = concat ? x.params['attention.v'] : null;
  const dv = concat ? x.grads['attention.v'] : null;
  for (let i = 0; i < T * B * D; i++) w.dz[i] *= 1 - w.z[i] * w.z[i]; // through tanh
  const Wc = x.params['attention.combine.kernel'];
  gemm(true, false, 2 * D, D, T * B, w.cat, 2 * D, w.dz, D, 1, x.grads['attention.combine.kernel'], D);
  gemm(false, true, T * B, 2 * D, D, w.dz, D, Wc, D, 0, w.dcat, 2 * D);
  w.dkeys.fill(0);
  if (concat) w.dph.fill(0, 0, T * B * K);
  for (let t = 0; t < T; t++) {
    for (let bb = 0; bb < B; bb++) {
      const r = t * B + bb;
      const h = r * D;
      const c = r * 2 * D; // dcat[c .. c+D) = dcontext, dcat[c+D .. c+2D) = dh from the combine
      const a = r * S;
      for (let i = 0; i < D; i++) dHdec[h + i] = w.dcat[c + D + i];
      // da_j = dc . o_j
      let dot = 0;
      for (let j = 0; j < S; j++) {
        const o = (j * B + bb) * D;
        let da = 0;
        for (let i = 0; i < D; i++) da += w.dcat[c + i] * O[o + i];
        w.tmp[j] = da;
        dot += w.att[a + j] * da;
      }
      for (let j = 0; j < S; j++) {
        const aj = w.att[a + j];
        if (aj === 0) continue;
        const o = (j * B + bb) * D;
        const k = (j * B + bb) * K;
        const ds = aj * (w.tmp[j] - dot); // softmax backward
        for (let i = 0; i < D; i++) dHenc[o + i] += aj * w.dcat[c + i]; // the context reads o_j
        if (v) {
          for (let i = 0; i < K; i++) {
            const u = Math.tanh(w.ph[r * K + i] + keys[k + i]);
            dv![i] += ds * u;
            const g = ds * v[i] * (1 - u * u);
            w.dph[r * K + i] += g;
            w.dkeys[k + i] += g;
          }
        } else {
          for (let i = 0; i < D; i++) {
            dHdec[h + i] += ds * keys[k + i];
            w.dkeys[k + i] += ds * Hd[h + i];
          }
        }
      }
    }
  }
  if (x.spec.attention === 'general') {
    gemm(true, false, D, D, S * B, O, D, w.dkeys, D, 1, x.grads['attention.kernel'], D);
    gemm(false, true, S * B, D, D, w.dkeys, D, x.params['attention.kernel'], D, 1, dHenc, D);
  } else if (concat) {
    const W = x.params['attention.kernel'];
    const dW = x.grads['attention.kernel'];
    gemm(true, false, D, K, S * B, O, D, w.dkeys, K, 1, dW.subarray(D * K), K);
    gemm(false, true, S * B, D, K, w.dkeys, K, W.subarray(D * K), K, 1, dHenc, D);
    gemm(true, false, D, K, T * B, Hd, D, w.dph, K, 1, dW, K);
    gemm(false, true, T * B, D, K, w.dph, K, W, K, 1, dHdec, D);
  } else {
    for (let i = 0; i < S * B * D; i++) dHenc[i] += w.dkeys[i];
  }
}
