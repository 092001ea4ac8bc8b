/** The cell variants every numeric test runs over. */
import { type ModelSpec, parseSpec } from '../../src/spec.js';

export const VARIANTS: { label: string; fields: Partial<ModelSpec> }[] = [
  { label: 'rnn tanh', fields: { cell: 'rnn' } },
  { label: 'rnn relu', fields: { cell: 'rnn', activation: 'relu' } },
  { label: 'lstm sigmoid', fields: { cell: 'lstm' } },
  { label: 'lstm hardSigmoid', fields: { cell: 'lstm', recurrentActivation: 'hardSigmoid' } },
  { label: 'gru reset-before', fields: { cell: 'gru' } },
  { label: 'gru reset-before hardSigmoid', fields: { cell: 'gru', recurrentActivation: 'hardSigmoid' } },
  { label: 'gru reset-after', fields: { cell: 'gru', gruResetAfter: true } },
  { label: 'gru reset-after hardSigmoid', fields: { cell: 'gru', gruResetAfter: true, recurrentActivation: 'hardSigmoid' } },
];

export function makeSpec(fields: Partial<ModelSpec>, sizes: Partial<ModelSpec> = {}): ModelSpec {
  return parseSpec({ inputSize: 3, hiddenSize: 4, outputSize: 5, ...sizes, ...fields });
}
