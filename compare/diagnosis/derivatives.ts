/** The activations' derivatives: tanh' and sigmoid' written wrong, or taken at the wrong value. */
import type { Mistake } from '../../src/engines/registry.js';
import type { Entry } from './entry.js';
import { carries, variantOf } from '../../src/cells.js';

const TANH_WORDS: Record<string, string> = {
  'one-minus-y': "1 - tanh where 1 - tanh² belongs (tanh'(a) = 1 - y² with y = tanh(a))",
  'tanh-of-y': "1 - tanh(y)² with y already tanh(a): the derivative taken at the activation's output instead of its input",
  'at-preactivation': "1 - a² with a the pre-activation: the formula meant for the output applied to the input",
};

const PLACE_WORDS: Record<string, string> = {
  everywhere: '',
  candidate: ' at the candidate c~ = tanh(.) only',
  'cell-output': ' at tanh(c_t) only',
};

export const DERIVATIVES: Entry[] = [
  {
    id: 'tanh-derivative',
    title: "tanh's derivative wrong: 1 - tanh written where 1 - tanh² belongs, or taken at the wrong value",
    applies: (spec) => (variantOf(spec, 'activation') ?? 'tanh') === 'tanh',
    candidates: (x) => {
      // a cell state (an lstm's) has a tanh of its own: tanh(c_t)
      const places = carries(x.spec).includes('c') ? (['everywhere', 'candidate', 'cell-output'] as const) : (['everywhere'] as const);
      return (['one-minus-y', 'tanh-of-y', 'at-preactivation'] as const).flatMap((form) => places.map((at): Mistake => ({ id: 'tanh-derivative', form, at })));
    },
    words: (m) => ({
      detail: `the tanh derivative written ${TANH_WORDS[m.form!]}${PLACE_WORDS[m.at ?? 'everywhere']}`,
      where: "the tanh derivative (dtanh): from the output y = tanh(a) it is 1 - y * y",
    }),
  },
  {
    id: 'sigmoid-derivative-at-preactivation',
    title: "the sigmoid's derivative y(1 - y) evaluated at the pre-activation instead of at the gate's output (or sigmoid' taken at the output)",
    applies: (spec) => variantOf(spec, 'recurrentActivation') === 'sigmoid',
    candidates: () => [
      { id: 'sigmoid-derivative-at-preactivation', form: 'at-preactivation' },
      { id: 'sigmoid-derivative-at-preactivation', form: 'sigmoid-of-y' },
    ],
    words: (m) => ({
      detail:
        m.form === 'at-preactivation'
          ? 'the sigmoid derivative y(1 - y) evaluated at the pre-activation a instead of at the gate y = sigmoid(a)'
          : "sigmoid'(y) = sigmoid(y)(1 - sigmoid(y)) evaluated at the gate's output y instead of at its pre-activation",
      where: 'the gates\' derivative (dsigmoid): from the gate y = sigmoid(a) it is y * (1 - y)',
    }),
  },
];
