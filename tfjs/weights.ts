/**
 * Canonical parameters <-> tfjs layer weights. The canonical layout is Keras's, so each tensor
 * maps one to one: recurrent layer l holds [kernel, recurrentKernel, bias] (tfjs's own order of
 * its weights), the head [kernel, bias]. Only names and ownership change; the bits do not.
 */
import { type NamedParams, paramLayout, validateParams } from '../src/params.js';
import type { ModelSpec } from '../src/spec.js';
import type { Tf } from './backend.js';
import type { TfLayers } from './model.js';

type LayerVariable = import('@tensorflow/tfjs').LayerVariable;

/** The tfjs variables of every canonical parameter, in canonical order. */
export function layerVariables(spec: ModelSpec, layers: TfLayers): { name: string; variable: LayerVariable }[] {
  const names = paramLayout(spec).map((p) => p.name);
  const vars: LayerVariable[] = [];
  if (layers.embedding) vars.push(...layers.embedding.trainableWeights);
  const per = spec.bidirectional ? 6 : 3; // a Bidirectional wrapper holds the forward layer's three, then the backward layer's
  for (const layer of layers.rnn) {
    const w = layer.trainableWeights;
    if (w.length !== per) throw new Error(`tfjs layer ${layer.name} has ${w.length} weights, expected ${per}`);
    vars.push(...w);
  }
  const hw = layers.head.trainableWeights;
  if (hw.length !== 2) throw new Error(`tfjs head has ${hw.length} weights, expected kernel, bias`);
  vars.push(...hw);
  return names.map((name, i) => ({ name, variable: vars[i] }));
}

/** Writes canonical parameters into the tfjs layers (float32). */
export function setLayerWeights(tf: Tf, spec: ModelSpec, layers: TfLayers, p: NamedParams): void {
  validateParams(spec, p);
  for (const { name, variable } of layerVariables(spec, layers)) {
    const t = p[name];
    const expected = variable.shape;
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
    const value = tf.tensor(data, expected as number[], 'float32');
    variable.write(value);
    value.dispose();
  }
}

/** Reads the tfjs layer weights back (asynchronously: every backend can) as canonical parameters (F32). */
export async function getLayerWeights(spec: ModelSpec, layers: TfLayers): Promise<NamedParams> {
  const out: NamedParams = {};
  for (const { name, variable } of layerVariables(spec, layers)) {
    out[name] = { dtype: 'F32', shape: [...(variable.shape as number[])], data: (await variable.read().data()) as Float32Array };
  }
  return out;
}

/** Named tf variables (canonical name -> variable) read as canonical parameters (F32). */
export function readVariables(vars: readonly { name: string; variable: import('@tensorflow/tfjs').Variable }[]): NamedParams {
  const out: NamedParams = {};
  for (const { name, variable } of vars) out[name] = { dtype: 'F32', shape: [...variable.shape], data: variable.dataSync() as Float32Array };
  return out;
}

/** The same, read back asynchronously (every backend can; webgpu's synchronous read cannot on SwiftShader). */
export async function readVariablesAsync(vars: readonly { name: string; variable: import('@tensorflow/tfjs').Variable }[]): Promise<NamedParams> {
  const out: NamedParams = {};
  for (const { name, variable } of vars) out[name] = { dtype: 'F32', shape: [...variable.shape], data: (await variable.data()) as Float32Array };
  return out;
}

/** Canonical parameters (already validated) written into named tf variables, in float32. */
export function writeVariables(tf: Tf, vars: readonly { name: string; variable: import('@tensorflow/tfjs').Variable }[], p: NamedParams): void {
  for (const { name, variable } of vars) {
    const t = p[name];
    const value = tf.tensor(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>), variable.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
}
