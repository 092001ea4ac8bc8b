/**
 * Luong's concat score for the tfjs seq2seq twin (src/seq2seq/spec.ts), as a layer, since tfjs has
 * no layer that pairs every decoder step with every encoder step:
 *   score_ts = v . tanh([h_t ; o_s] W_a) = v . tanh(h_t W_h + o_s W_o)
 * with W_a = kernel [D_h + D_o, A] (W_h its first D_h rows, W_o the rest) and v [A]: the canonical
 * attention.kernel and attention.v, one to one. Inputs [h [B, T, D_h], o [B, S, D_o]], output the
 * scores [B, T, S]. `keysOf(o)` = o W_o [B, S, A] and `scoresFromKeys(h, keys)` split the call in two,
 * so step-wise decoding computes the keys of a source once. Differentiated by tfjs's autodiff.
 */
import type { Tf } from './backend.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type Layer = import('@tensorflow/tfjs').layers.Layer;
type LayerVariable = import('@tensorflow/tfjs').LayerVariable;

export interface ConcatScoreConfig {
  /** A: the width of the score's hidden layer. */
  units: number;
  name?: string;
}

export interface ConcatScoreLayer extends Layer {
  keysOf(o: Tensor): Tensor;
  scoresFromKeys(h: Tensor, keys: Tensor): Tensor;
}

const classes = new WeakMap<Tf, new (c: ConcatScoreConfig) => ConcatScoreLayer>();

export function concatScoreClass(tf: Tf): new (c: ConcatScoreConfig) => ConcatScoreLayer {
  const known = classes.get(tf);
  if (known) return known;

  class LuongConcatScore extends tf.layers.Layer implements ConcatScoreLayer {
    static className = 'RnnlabLuongConcatScore';
    readonly units: number;
    private dh = 0;
    private kernel!: LayerVariable;
    private v!: LayerVariable;

    constructor(c: ConcatScoreConfig) {
      super({ name: c.name });
      this.units = c.units;
    }

    override build(inputShape: (number | null)[] | (number | null)[][]): void {
      const [hs, os] = inputShape as (number | null)[][];
      this.dh = hs[hs.length - 1] as number;
      const zeros = tf.initializers.zeros();
      this.kernel = this.addWeight('kernel', [this.dh + (os[os.length - 1] as number), this.units], 'float32', zeros);
      this.v = this.addWeight('v', [this.units], 'float32', zeros);
      this.built = true;
    }

    override computeOutputShape(inputShape: (number | null)[] | (number | null)[][]): (number | null)[] {
      const [hs, os] = inputShape as (number | null)[][];
      return [hs[0], hs[1], os[1]];
    }

    override computeMask(): Tensor {
      return null as unknown as Tensor;
    }

    /** o W_o: [B, S, D_o] -> [B, S, A]. */
    keysOf(o: Tensor): Tensor {
      const [B, S, Do] = o.shape as number[];
      const Wo = tf.slice(this.kernel.read(), [this.dh, 0], [Do, this.units]);
      return tf.reshape(tf.matMul(tf.reshape(o, [B * S, Do]), Wo), [B, S, this.units]);
    }

    /** v . tanh(h W_h + keys) for every pair of steps: h [B, T, D_h], keys [B, S, A] -> [B, T, S]. */
    scoresFromKeys(h: Tensor, keys: Tensor): Tensor {
      const [B, T] = h.shape as number[];
      const S = keys.shape[1] as number;
      const A = this.units;
      const Wh = tf.slice(this.kernel.read(), [0, 0], [this.dh, A]);
      const ph = tf.reshape(tf.matMul(tf.reshape(h, [B * T, this.dh]), Wh), [B, T, 1, A]);
      const u = tf.tanh(tf.add(ph, tf.reshape(keys, [B, 1, S, A]))); // [B, T, S, A]
      return tf.reshape(tf.matMul(tf.reshape(u, [B * T * S, A]), tf.reshape(this.v.read(), [A, 1])), [B, T, S]);
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const [h, o] = inputs as Tensor[];
        return this.scoresFromKeys(h, this.keysOf(o));
      });
    }

    override getConfig(): import('@tensorflow/tfjs').serialization.ConfigDict {
      return { ...super.getConfig(), units: this.units };
    }
  }
  tf.serialization.registerClass(LuongConcatScore);
  classes.set(tf, LuongConcatScore);
  return LuongConcatScore;
}
