/**
 * Like with like against PyTorch: what each PyTorch row of a bench timed, said in the output.
 * PyTorch has modules (nn.RNN, nn.LSTM, nn.GRU) only for sigmoid gates and the reset-after GRU;
 * for tfjs's reset-before GRU and hardSigmoid gates the PyTorch engine runs the cell in torch ops,
 * a different and slower program than a module. The engine says which it ran in its detail
 * ("nn.GRU ..." or "torch-ops GRU (reset-before) ..."); these notes repeat that beside the ratios,
 * and name the flag that times the same equations on both sides through PyTorch's module.
 */
import type { ModelSpec } from '../src/spec.js';
import type { BenchRow } from './bench.js';

/** What the engine ran: its detail up to the first comma ("nn.GRU", "torch-ops GRU (reset-before)"). */
export function ranOn(detail: string): string {
  return detail.split(',')[0].replace(/ \(torch-ops loop for masks and per-step gradients\)$/, '').trim();
}

/** One line per PyTorch engine of this configuration: what it ran, and whether that is PyTorch's module. */
export function likeWithLikeNotes(spec: ModelSpec, rows: BenchRow[]): string[] {
  const notes: string[] = [];
  for (const name of new Set(rows.filter((r) => r.engine.startsWith('pytorch')).map((r) => r.engine))) {
    const row = rows.find((r) => r.engine === name)!;
    const ran = ranOn(row.detail);
    const variant = spec.cell === 'gru' ? `gru (reset-${spec.gruResetAfter ? 'after' : 'before'}${spec.recurrentActivation === 'hardSigmoid' ? ', hardSigmoid gates' : ''})` : `${spec.cell}${spec.cell !== 'rnn' && spec.recurrentActivation === 'hardSigmoid' ? ' (hardSigmoid gates)' : ''}`;
    if (ran.startsWith('nn.')) {
      notes.push(`${name}: ${variant} on ${ran.split(' ')[0]}, PyTorch's module for the same equations as scratch's ${variant}`);
      continue;
    }
    const why =
      spec.cell === 'gru' && !spec.gruResetAfter
        ? 'PyTorch has no module for the reset-before GRU (tfjs\'s, the default here; nn.GRU is reset-after); add --gru-reset-after to time scratch\'s reset-after GRU against nn.GRU'
        : spec.recurrentActivation === 'hardSigmoid'
          ? 'PyTorch\'s modules have sigmoid gates only'
          : 'PyTorch\'s module does not compute this model';
    notes.push(`${name}: ${variant} ran as ${ran}, not as a PyTorch module: ${why}`);
  }
  return notes;
}
