/**
 * How the gradient flows back through time: the cell state's carry, the recurrent gradient, its
 * truncation, and the step the recurrent kernel's gradient is paired with.
 */
import { type Entry, perOutput } from './entry.js';
import { carries } from '../../src/cells.js';

export const FLOW: Entry[] = [
  {
    id: 'cell-state-skips-forget-gate',
    title: 'the cell-state gradient passed to step t-1 without the forget gate (dc_prev = dc, not dc * f)',
    applies: (spec) => carries(spec).includes('c'),
    candidates: () => [{ id: 'cell-state-skips-forget-gate' }],
    words: () => ({
      detail: 'the cell-state gradient passed back without the forget gate (dc_prev = dc, not dc * f)',
      where: 'the line of the backward loop that carries dc to step t-1: it must be multiplied by f_t',
    }),
  },
  {
    id: 'no-recurrent-gradient',
    title: 'the gradient from step t+1 never added to step t (dh = dh_out, not dh_out + dh_next)',
    applies: (_spec, b) => b.seqLen >= 2,
    candidates: () => [{ id: 'no-recurrent-gradient' }],
    words: (_m, x) => ({
      detail: `the gradient from step t+1 never added to step t (dh = dh_out, not dh_out + dh_next)${carries(x.spec).includes('c') ? '; the cell state\'s carry dc is right' : ''}`,
      where: 'the backward loop: dh_next (the gradient passed back through the recurrent kernel) must be added to the head\'s gradient at every step',
    }),
  },
  {
    id: 'truncated-bptt',
    title: "backpropagation through time truncated: each output's gradient goes back at most k steps (a tutorial's bptt_truncate), or the recurrent gradient is cut at a fixed step",
    applies: (_spec, b) => b.seqLen >= 3,
    candidates: (x) => {
      const T = x.batch.seqLen;
      const L = x.shortestFailingLength;
      // closed forms: a cut at step s first bites on sequences of s + 1 steps and makes dh_{s-1} the
      // latest wrong one; a window of k steps first bites on sequences of k + 2 steps and leaves dh_t
      // right for t >= T - 1 - k. With such a hint only it (and its neighbours) are tried.
      const s0 = L !== undefined ? L - 1 : x.dhStep !== undefined ? x.dhStep + 1 : undefined;
      const k0 = L !== undefined ? L - 2 : x.dhStep !== undefined ? T - 2 - x.dhStep : undefined;
      const around = (v: number | undefined, from: number, to: number): number[] =>
        v === undefined ? Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i) : [v, v - 1, v + 1].filter((n) => n >= from && n <= to);
      const cuts = around(s0, 1, T - 1).map((cutAt) => ({ id: 'truncated-bptt' as const, cutAt }));
      if (!perOutput(x.spec)) return cuts;
      return [...cuts, ...around(k0, 1, T - 2).map((k) => ({ id: 'truncated-bptt' as const, k }))];
    },
    words: (m, x) =>
      m.k !== undefined
        ? {
            detail: `each output's gradient goes back only ${m.k} step${m.k > 1 ? 's' : ''} (bptt_truncate = ${m.k}): output t's gradient stops at step t - ${m.k}`,
            where: 'the truncation of the backward loop: full backpropagation through time takes every output\'s gradient back to step 0',
          }
        : {
            detail: `the recurrent gradient is cut at step ${m.cutAt}: nothing passes from step ${m.cutAt} back to step ${m.cutAt! - 1}${x.spec.returnSequences ? '' : ` (the gradient goes back only ${x.batch.seqLen - 1 - m.cutAt!} step${x.batch.seqLen - 1 - m.cutAt! === 1 ? '' : 's'} from the last one)`}`,
            where: 'the bounds of the backward loop over time (an off-by-one, or a fixed truncation)',
          },
  },
  {
    id: 'recurrent-weight-gradient-time-offset',
    title: 'the recurrent kernel\'s gradient accumulated with h_t instead of h_{t-1} (dU += h_t^T dz_t)',
    applies: () => true,
    candidates: () => [{ id: 'recurrent-weight-gradient-time-offset' }],
    words: () => ({
      detail: "the recurrent kernel's gradient paired with the wrong step: dU += h_t^T dz_t instead of h_{t-1}^T dz_t",
      where: 'the line that accumulates dU (the recurrent weights\' gradient) in the backward loop: it takes the previous hidden state',
    }),
  },
];
