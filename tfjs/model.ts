/**
 * A ModelSpec as TensorFlow.js layers: simpleRNN / lstm / gru (reset-after: ./gru-reset-after.ts),
 * stacked, each returning sequences except a many-to-one top layer, and a dense head
 * (timeDistributed when many-to-many). Every option that differs from tfjs's defaults is set
 * explicitly: recurrentActivation (tfjs defaults to hardSigmoid), zeros initialisers (the weights
 * are set from canonical parameters right after; tfjs's orthogonal initialiser takes seconds at
 * H = 256), no dropout. Token input is one-hot encoded with tf.oneHot before the first layer,
 * unless the spec has an embedding (then tf.layers.embedding, the "embedding" parameter). A
 * bidirectional spec wraps each layer in tf.layers.bidirectional with the spec's merge mode.
 */
import { cellOf } from '../src/cells.js';
import { type ModelSpec, layerInSize, layerOutSize } from '../src/spec.js';
import type { Tf } from './backend.js';
import { type ResetAfterConfig, resetAfterGruClass } from './gru-reset-after.js';

type Layer = import('@tensorflow/tfjs').layers.Layer;

export interface TfLayers {
  /** The token embedding (spec.embedding > 0). */
  embedding?: Layer;
  /** One recurrent layer per spec layer (a Bidirectional wrapper for bidirectional models). */
  rnn: Layer[];
  head: Layer;
}

/**
 * The layers of a spec. `returnState` makes each recurrent layer also return its final state
 * (the engine reads it); an exported model has none.
 */
export function buildLayers(tf: Tf, spec: ModelSpec, opts: { returnState: boolean }): TfLayers {
  const zeros = 'zeros' as const;
  const rnn: Layer[] = [];
  // inputShape [null]: token ids of any length, so that a Sequential (export) starting with it is built
  const embedding = spec.embedding > 0 ? tf.layers.embedding({ inputDim: spec.inputSize, outputDim: spec.embedding, embeddingsInitializer: zeros, inputShape: [null] }) : undefined;
  for (let l = 0; l < spec.layers; l++) {
    const returnSequences = l < spec.layers - 1 || spec.returnSequences;
    const inputShape = [null, layerInSize(spec, l)];
    // a Sequential's first layer carries the input shape (the Embedding or Bidirectional wrapper does when there is one)
    const layer = recurrentLayer(tf, spec, { returnSequences, returnState: opts.returnState, ...(l === 0 && !embedding && !spec.bidirectional ? { inputShape } : {}) });
    // tfjs's Bidirectional: the backward copy reads the reversed sequence and mask; outputs merged forward first
    rnn.push(spec.bidirectional ? tf.layers.bidirectional({ layer: layer as never, mergeMode: spec.merge, ...(l === 0 && !embedding ? { inputShape } : {}) }) : layer);
  }
  const dense = tf.layers.dense({ units: spec.outputSize, kernelInitializer: zeros, biasInitializer: zeros, useBias: true });
  const head = spec.returnSequences ? tf.layers.timeDistributed({ layer: dense }) : dense;
  return { ...(embedding ? { embedding } : {}), rnn, head };
}


type ResetAfterClass = new (c: ResetAfterConfig) => Layer;

/**
 * One recurrent layer of a spec's cell, as every tfjs model here builds it: zeros initialisers (the
 * weights are written from canonical parameters), no dropout, the gate activation explicit (tfjs
 * defaults to hardSigmoid); a reset-after GRU is rnnlab's layer (`ResetAfter`: the class, or a
 * subclass of it).
 */
export function recurrentLayer(
  tf: Tf,
  spec: Pick<ModelSpec, 'cell' | 'hiddenSize' | 'activation' | 'recurrentActivation' | 'gruResetAfter'>,
  o: { returnSequences: boolean; returnState: boolean; inputShape?: (number | null)[] },
  ResetAfter: ResetAfterClass = resetAfterGruClass(tf),
): Layer {
  const zeros = 'zeros' as const;
  const common = {
    units: spec.hiddenSize,
    returnSequences: o.returnSequences,
    returnState: o.returnState,
    kernelInitializer: zeros,
    recurrentInitializer: zeros,
    biasInitializer: zeros,
    useBias: true,
    dropout: 0,
    recurrentDropout: 0,
    ...(o.inputShape ? { inputShape: o.inputShape } : {}),
  };
  // the cell table's tfjs mapping: the tf.layers factory and its options, or rnnlab's own layer
  const t = cellOf(spec).tfjs;
  if (!t.rnnlabLayer?.(spec)) return (tf.layers[t.layer] as (args: object) => Layer)({ ...common, ...t.options(spec) });
  return new ResetAfter({
    units: spec.hiddenSize,
    recurrentActivation: spec.recurrentActivation,
    returnSequences: o.returnSequences,
    returnState: o.returnState,
    ...(o.inputShape ? { batchInputShape: [null, ...o.inputShape] } : {}),
  });
}

/**
 * Creates the weights of every layer for inputs of any batch size and length ([null, null, in]),
 * as a model built with an input shape would.
 */
export function buildWeights(spec: ModelSpec, layers: TfLayers): void {
  if (layers.embedding) {
    layers.embedding.build([null, null]);
    layers.embedding.built = true;
  }
  layers.rnn.forEach((layer, l) => {
    layer.build([null, null, layerInSize(spec, l)]);
    layer.built = true;
  });
  const out = layerOutSize(spec);
  layers.head.build(spec.returnSequences ? [null, null, out] : [null, out]);
  layers.head.built = true;
}

/** A standard tf.Sequential model of the spec, for export (tf.loadLayersModel loads it). */
export function buildSequential(tf: Tf, spec: ModelSpec): { model: import('@tensorflow/tfjs').Sequential; layers: TfLayers } {
  const layers = buildLayers(tf, spec, { returnState: false });
  const model = tf.sequential({ layers: [...(layers.embedding ? [layers.embedding] : []), ...layers.rnn, layers.head] });
  return { model, layers };
}
