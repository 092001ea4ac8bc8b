/**
 * The gates and the weights' layout: a gate's bias gradient dropped, two gates' blocks exchanged
 * (in the gradients, or in how the weights are read), the GRU's update and reset conventions,
 * PyTorch's hardSigmoid, the recurrent kernel read transposed.
 */
import { type Mistake, gateNames } from '../../src/engines/registry.js';
import { biasRows, variantOf } from '../../src/cells.js';
import type { ModelSpec } from '../../src/spec.js';
import type { Entry } from './entry.js';

const pairs = (spec: ModelSpec): [string, string][] => {
  const g = gateNames(spec);
  const out: [string, string][] = [];
  for (let a = 0; a < g.length; a++) for (let b = a + 1; b < g.length; b++) out.push([g[a], g[b]]);
  return out;
};

/** rnnlab's (Keras's) gate order, in words: "i, f, c, o". */
const order = (spec: ModelSpec): string => gateNames(spec).join(', ');

/** Gate orders of other libraries, by the gates they reorder: a swap of two blocks that gives one of them is that library's layout read as Keras's. */
const KNOWN_ORDERS: { keras: string; other: string; words: string }[] = [
  { keras: 'z r h', other: 'r z h', words: "PyTorch's GRU order r, z, n read as Keras's z, r, h" },
  { keras: 'i f c o', other: 'i f o c', words: "the i, f, o, g order of many NumPy LSTMs read as Keras's i, f, c, o" },
];

/** Which well-known layout a swap of two gates' blocks is. */
function knownSwap(spec: ModelSpec, [a, b]: [string, string]): string {
  const gates = gateNames(spec);
  const swapped = gates.map((g) => (g === a ? b : g === b ? a : g)).join(' ');
  const known = KNOWN_ORDERS.find((k) => k.keras === gates.join(' ') && k.other === swapped);
  return known ? ` (${known.words})` : '';
}

/** A cell with one gate block (an rnn): no gate to name. */
const oneBlock = (spec: ModelSpec): boolean => gateNames(spec).length === 1;

export const GATES: Entry[] = [
  {
    id: 'gate-bias-gradient-dropped',
    title: "one gate's bias gradient zero or missing (which gate)",
    applies: () => true,
    candidates: (x) => {
      const rows = biasRows(x.spec) === 2 ? (['both', 'input', 'recurrent'] as const) : [undefined];
      return gateNames(x.spec).flatMap((gate) => rows.map((biasRow): Mistake => ({ id: 'gate-bias-gradient-dropped', gate, ...(biasRow ? { biasRow } : {}) })));
    },
    words: (m, x) => ({
      detail:
        oneBlock(x.spec)
          ? 'the bias gradient is zero (never accumulated)'
          : `the bias gradient of gate ${m.gate} is zero (never accumulated)${m.biasRow && m.biasRow !== 'both' ? ` in the ${m.biasRow} bias row` : ''}`,
      where: `db${oneBlock(x.spec) ? '' : ` for gate ${m.gate}`}: the sum over batch and time of that gate's pre-activation gradient`,
    }),
  },
  {
    id: 'gates-swapped',
    title: "two gates' blocks exchanged (which two): in the gradients, or in how the weights are read (forward too; PyTorch's GRU order r, z, n read as z, r, h)",
    applies: (spec) => !oneBlock(spec),
    candidates: (x) => pairs(x.spec).flatMap((gates): Mistake[] => [
      { id: 'gates-swapped', gates, pass: 'forward' },
      { id: 'gates-swapped', gates, pass: 'gradients' },
    ]),
    words: (m, x) =>
      m.pass === 'forward'
        ? {
            detail: `gates ${m.gates![0]} and ${m.gates![1]} read in swapped order from the weights${knownSwap(x.spec, m.gates!)}: the forward pass uses ${m.gates![0]}'s block as ${m.gates![1]} and back`,
            where: `where the fused weights are split into gates: rnnlab's (Keras's) order is ${order(x.spec)}`,
          }
        : {
            detail: `the gradient blocks of gates ${m.gates![0]} and ${m.gates![1]} exchanged (the forward pass is right)`,
            where: `where the gates' gradients are put together (concatenated) in the backward pass: the order is ${order(x.spec)}`,
          },
  },
  {
    id: 'gru-update-convention',
    title: 'the GRU update written h = (1 - z) h_prev + z h~ instead of z h_prev + (1 - z) h~',
    // the update gate z: a gru's
    applies: (spec) => gateNames(spec).includes('z'),
    candidates: () => [{ id: 'gru-update-convention' }],
    words: () => ({
      detail: 'the update written h = (1 - z) h_prev + z h~ (the convention of Cho et al. and Wikipedia) where Keras, tfjs and PyTorch use h = z h_prev + (1 - z) h~',
      where: 'the line that mixes h_prev and the candidate h~ (and its derivative)',
    }),
  },
  {
    id: 'gru-reset-position',
    title: 'the GRU reset gate applied before the recurrent product where after was asked, or the other way',
    // the reset gate r: a gru's
    applies: (spec) => gateNames(spec).includes('r'),
    candidates: (x) => (x.spec.gruResetAfter ? (['summed', 'input-row'] as const).map((bias): Mistake => ({ id: 'gru-reset-position', bias })) : [{ id: 'gru-reset-position' }]),
    words: (m, x) =>
      x.spec.gruResetAfter
        ? {
            detail: `reset-before computed where reset-after was asked: h~ = tanh(x W_h + (r * h_prev) U_h + b) instead of tanh(x W_h + b_ih + r * (h_prev U_h + b_hh)), ${m.bias === 'summed' ? 'with the two bias rows added' : 'with the recurrent bias row ignored'}`,
            where: 'the candidate h~: reset-after (PyTorch, Keras 2) multiplies r into h_prev U_h + b_hh',
          }
        : {
            detail: 'reset-after computed where reset-before was asked: h~ = tanh(x W_h + b + r * (h_prev U_h)) instead of tanh(x W_h + b + (r * h_prev) U_h)',
            where: 'the candidate h~: reset-before (tfjs, Keras 1) multiplies r into h_prev before U_h',
          },
  },
  {
    id: 'hard-sigmoid-definition',
    title: "hardSigmoid as PyTorch defines it (x/6 + 1/2) where tfjs's (0.2 x + 0.5) was asked",
    applies: (spec) => variantOf(spec, 'recurrentActivation') === 'hardSigmoid',
    candidates: () => [{ id: 'hard-sigmoid-definition' }],
    words: () => ({
      detail: "hardSigmoid defined as PyTorch's clip(x/6 + 1/2, 0, 1) where tfjs's clip(0.2 x + 0.5, 0, 1) was asked",
      where: 'the gates\' activation and its derivative (0.2 inside, 0 where clipped)',
    }),
  },
  {
    id: 'weights-transposed',
    title: 'the recurrent kernel used transposed (h U^T, gate block by gate block)',
    applies: () => true,
    candidates: () => [{ id: 'weights-transposed' }],
    words: (_m, x) => ({
      detail: `the recurrent kernel used transposed: h_prev U^T${oneBlock(x.spec) ? '' : " (each gate's H x H block)"} instead of h_prev U`,
      where: "the layout of the recurrent kernel: rnnlab's is [H, G*H], a step computes x W + h U (PyTorch's weight_hh is its transpose)",
    }),
  },
];
