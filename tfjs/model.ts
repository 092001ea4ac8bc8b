/**
 * A ModelSpec as TensorFlow.js layers: simpleRNN / lstm / gru (reset-after: ./gru-reset-after.ts),
 * stacked, each returning sequences except a many-to-one top layer, and a dense head
 * (timeDistributed when many-to-many). Every option that differs from tfjs's defaults is set
 * explicitly: recurrentActivation (tfjs defaults to hardSigmoid), zeros initialisers (the weights
 * are set from canonical parameters right after; tfjs's orthogonal initialiser takes seconds at
 * H = 256), no dropout. Token input is one-hot encoded with tf.oneHot before the first layer,
 * never through an Embedding layer (which would add a parameter).
 */
import type { ModelSpec } from '../src/spec.js';
import type { Tf } from './backend.js';
import { resetAfterGruClass } from './gru-reset-after.js';

type Layer = import('@tensorflow/tfjs').layers.Layer;

export interface TfLayers {
  /** One recurrent layer per spec layer. */
  rnn: Layer[];
  head: Layer;
}

/**
 * The layers of a spec. `returnState` makes each recurrent layer also return its final state
 * (the engine reads it); an exported model has none.
 */
export function buildLayers(tf: Tf, spec: ModelSpec, opts: { returnState: boolean }): TfLayers {
  const H = spec.hiddenSize;
  const zeros = 'zeros' as const;
  const rnn: Layer[] = [];
  for (let l = 0; l < spec.layers; l++) {
    const returnSequences = l < spec.layers - 1 || spec.returnSequences;
    const inputShape = [null, l === 0 ? spec.inputSize : H];
    const common = {
      units: H,
      returnSequences,
      returnState: opts.returnState,
      kernelInitializer: zeros,
      recurrentInitializer: zeros,
      biasInitializer: zeros,
      useBias: true,
      dropout: 0,
      recurrentDropout: 0,
      ...(l === 0 ? { inputShape } : {}),
    };
    if (spec.cell === 'rnn') {
      rnn.push(tf.layers.simpleRNN({ ...common, activation: spec.activation }));
    } else if (spec.cell === 'lstm') {
      rnn.push(tf.layers.lstm({ ...common, activation: 'tanh', recurrentActivation: spec.recurrentActivation, unitForgetBias: false }));
    } else if (!spec.gruResetAfter) {
      rnn.push(tf.layers.gru({ ...common, activation: 'tanh', recurrentActivation: spec.recurrentActivation }));
    } else {
      const GRU = resetAfterGruClass(tf);
      rnn.push(new GRU({ units: H, recurrentActivation: spec.recurrentActivation, returnSequences, returnState: opts.returnState }));
    }
  }
  const dense = tf.layers.dense({ units: spec.outputSize, kernelInitializer: zeros, biasInitializer: zeros, useBias: true });
  const head = spec.returnSequences ? tf.layers.timeDistributed({ layer: dense }) : dense;
  return { rnn, head };
}

/**
 * Creates the weights of every layer for inputs of any batch size and length ([null, null, in]),
 * as a model built with an input shape would.
 */
export function buildWeights(spec: ModelSpec, layers: TfLayers): void {
  layers.rnn.forEach((layer, l) => {
    layer.build([null, null, l === 0 ? spec.inputSize : spec.hiddenSize]);
    layer.built = true;
  });
  layers.head.build(spec.returnSequences ? [null, null, spec.hiddenSize] : [null, spec.hiddenSize]);
  layers.head.built = true;
}

/** A standard tf.Sequential model of the spec, for export (tf.loadLayersModel loads it). */
export function buildSequential(tf: Tf, spec: ModelSpec): { model: import('@tensorflow/tfjs').Sequential; layers: TfLayers } {
  const layers = buildLayers(tf, spec, { returnState: false });
  const model = tf.sequential({ layers: [...layers.rnn, layers.head] });
  return { model, layers };
}
