/**
 * A reset-after GRU layer for TensorFlow.js, which has none: built from tfjs ops, differentiated
 * by tfjs's autodiff. Same equations as the scratch cell (PyTorch / Keras 2 reset_after):
 *   R = h_prev U + b_rec;  z = s(x W_z + b_z + R_z);  r = s(x W_r + b_r + R_r)
 *   hh = tanh(x W_h + b_h + r * R_h);  h = z * h_prev + (1 - z) * hh
 * Weights: kernel [in, 3H], recurrentKernel [H, 3H], bias [2, 3H] (input row, recurrent row).
 * Masks and initial states are handled as tfjs's own RNN layers handle them.
 */
import type { Tf } from './backend.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type LayerVariable = import('@tensorflow/tfjs').LayerVariable;

export interface ResetAfterConfig {
  units: number;
  recurrentActivation: 'sigmoid' | 'hardSigmoid';
  returnSequences: boolean;
  returnState: boolean;
  /** Read the sequence from its last step (the backward copy inside tf.layers.bidirectional); outputs come in that order, as tfjs's RNN layers give them. */
  goBackwards?: boolean;
  name?: string;
  /** The model's input shape, when this is a model's first layer (as Keras and tfjs layers take it). */
  batchInputShape?: (number | null)[];
}

const classes = new WeakMap<Tf, new (c: ResetAfterConfig) => import('@tensorflow/tfjs').layers.Layer>();

export function resetAfterGruClass(tf: Tf): new (c: ResetAfterConfig) => import('@tensorflow/tfjs').layers.Layer {
  const known = classes.get(tf);
  if (known) return known;

  class GRUResetAfter extends tf.layers.Layer {
    static className = 'RnnlabGRUResetAfter';
    readonly units: number;
    readonly recurrentActivation: 'sigmoid' | 'hardSigmoid';
    readonly returnSequences: boolean;
    readonly returnState: boolean;
    readonly goBackwards: boolean;
    /** One state (h): tf.layers.bidirectional reads its length to mask the states it returns. */
    readonly states: null[] = [null];
    private kernel!: LayerVariable;
    private recurrentKernel!: LayerVariable;
    private bias!: LayerVariable;

    constructor(c: ResetAfterConfig) {
      super({ name: c.name, ...(c.batchInputShape ? { batchInputShape: c.batchInputShape } : {}) });
      this.units = c.units;
      this.recurrentActivation = c.recurrentActivation;
      this.returnSequences = c.returnSequences;
      this.returnState = c.returnState;
      this.goBackwards = !!c.goBackwards;
      this.supportsMasking = true;
    }

    override build(inputShape: (number | null)[] | (number | null)[][]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
      const inSize = shape[shape.length - 1] as number;
      const H = this.units;
      const zeros = tf.initializers.zeros();
      this.kernel = this.addWeight('kernel', [inSize, 3 * H], 'float32', zeros);
      this.recurrentKernel = this.addWeight('recurrent_kernel', [H, 3 * H], 'float32', zeros);
      this.bias = this.addWeight('bias', [2, 3 * H], 'float32', zeros);
      this.built = true;
    }

    override computeOutputShape(inputShape: (number | null)[] | (number | null)[][]): (number | null)[] | (number | null)[][] {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
      const out = this.returnSequences ? [s[0], s[1], this.units] : [s[0], this.units];
      return this.returnState ? [out, [s[0], this.units]] : out;
    }

    override computeMask(_inputs: Tensor | Tensor[], mask?: Tensor | Tensor[]): Tensor | Tensor[] {
      // Like tfjs's RNN: a sequence output keeps the input mask; a last-step output and states have none.
      const outMask = (this.returnSequences ? (Array.isArray(mask) ? mask[0] : mask) : null) as Tensor;
      return this.returnState ? ([outMask, null] as unknown as Tensor[]) : outMask;
    }

    private gate(x: Tensor): Tensor {
      return this.recurrentActivation === 'sigmoid' ? tf.sigmoid(x) : tf.clipByValue(tf.add(0.5, tf.mul(0.2, x)), 0, 1);
    }

    /** One step: x [B, in], h [B, H] -> new h [B, H]. */
    step(x: Tensor, h: Tensor): Tensor {
      const W = this.kernel.read();
      const U = this.recurrentKernel.read();
      const [bIn, bRec] = tf.unstack(this.bias.read()); // [3H] each
      const P = tf.add(tf.matMul(x, W), bIn); // [B, 3H]
      const R = tf.add(tf.matMul(h, U), bRec); // [B, 3H]
      const [Pz, Pr, Ph] = tf.split(P, 3, 1);
      const [Rz, Rr, Rh] = tf.split(R, 3, 1);
      const z = this.gate(tf.add(Pz, Rz));
      const r = this.gate(tf.add(Pr, Rr));
      const hh = tf.tanh(tf.add(Ph, tf.mul(r, Rh)));
      return tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
    }

    override call(inputs: Tensor | Tensor[], kwargs: { mask?: Tensor; initialState?: Tensor[] }): Tensor | Tensor[] {
      return tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0] : inputs) as import('@tensorflow/tfjs').Tensor3D; // [B, T, in]
        const [B, T] = x.shape;
        let h: Tensor = kwargs?.initialState?.[0] ?? tf.zeros([B, this.units]);
        const steps = tf.unstack(x, 1); // T x [B, in]
        const masks = kwargs?.mask ? tf.unstack(tf.cast(kwargs.mask, 'float32'), 1) : null; // T x [B]
        const outs: Tensor[] = [];
        for (let k = 0; k < T; k++) {
          const t = this.goBackwards ? T - 1 - k : k;
          let hNew = this.step(steps[t], h);
          if (masks) {
            const m = tf.expandDims(masks[t], 1); // [B, 1]: a masked step keeps h
            hNew = tf.add(tf.mul(hNew, m), tf.mul(h, tf.sub(1, m)));
          }
          h = hNew;
          outs.push(h);
        }
        const output = this.returnSequences ? tf.stack(outs, 1) : h;
        return this.returnState ? [output, h] : output;
      });
    }

    override getConfig(): import('@tensorflow/tfjs').serialization.ConfigDict {
      return {
        ...super.getConfig(),
        units: this.units,
        recurrentActivation: this.recurrentActivation,
        returnSequences: this.returnSequences,
        returnState: this.returnState,
        goBackwards: this.goBackwards,
      };
    }
  }
  tf.serialization.registerClass(GRUResetAfter);
  classes.set(tf, GRUResetAfter);
  return GRUResetAfter;
}
