/** What the batch holds besides x and y: the initial state and the mask. */
import type { Mistake } from '../../src/engines/registry.js';
import type { Entry } from './entry.js';

export const DATA: Entry[] = [
  {
    id: 'initial-state-ignored',
    title: 'the initial state given in the batch ignored (every sequence starts from zeros)',
    applies: (_spec, b) => !!b.initialState,
    candidates: () => [{ id: 'initial-state-ignored' }],
    words: () => ({
      detail: "the batch's initial state ignored: every sequence starts from zeros",
      where: 'where the forward pass sets h_{-1} (and c_{-1}): from initial_state when the batch has one',
    }),
  },
  {
    id: 'mask-ignored',
    title: 'the mask ignored: padded steps update the state (and count in the loss)',
    applies: (_spec, b) => !!b.mask && b.mask.includes(0),
    candidates: (x) => [{ id: 'mask-ignored', loss: 'counted' }, ...(x.spec.returnSequences ? [{ id: 'mask-ignored', loss: 'masked' } as Mistake] : [])],
    words: (m) => ({
      detail: m.loss === 'masked' ? 'the mask ignored in the recurrence: padded steps update the state (the loss skips them)' : 'the mask ignored: padded steps update the state and count in the loss',
      where: 'the time loop: at a masked step h (and c) stay as they were, and the loss leaves the step out',
    }),
  },
];
