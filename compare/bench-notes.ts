/**
 * Like with like against PyTorch: what each PyTorch row of a bench timed, said in the output.
 * PyTorch has modules (nn.RNN, nn.LSTM, nn.GRU) only for sigmoid gates and the reset-after GRU;
 * for tfjs's reset-before GRU and hardSigmoid gates the PyTorch engine runs the cell in torch ops,
 * a different and slower program than a module. The engine says which it ran in its detail
 * ("nn.GRU ..." or "torch-ops GRU (reset-before) ..."); these notes repeat that beside the ratios,
 * and name the flag that times the same equations on both sides through PyTorch's module.
 */
import { variantOf } from '../src/cells.js';
import type { ModelSpec } from '../src/spec.js';
import type { BenchRow } from './bench.js';

/** What the engine ran: its detail up to the first comma ("nn.GRU", "torch-ops GRU (reset-before)"). */
export function ranOn(detail: string): string {
  return detail.split(',')[0].replace(/ \(torch-ops loop for masks and per-step gradients\)$/, '').trim();
}

/** The cell and what of its variant decides PyTorch's module: "gru (reset-before, hardSigmoid gates)", "lstm". */
function pytorchVariant(spec: ModelSpec): string {
  const ra = variantOf(spec, 'gruResetAfter');
  const parts = [...(ra === undefined ? [] : [`reset-${ra ? 'after' : 'before'}`]), ...(variantOf(spec, 'recurrentActivation') === 'hardSigmoid' ? ['hardSigmoid gates'] : [])];
  return parts.length ? `${spec.cell} (${parts.join(', ')})` : spec.cell;
}

/** One line per PyTorch engine of this configuration: what it ran, and whether that is PyTorch's module. */
export function likeWithLikeNotes(spec: ModelSpec, rows: BenchRow[]): string[] {
  const notes: string[] = [];
  for (const name of new Set(rows.filter((r) => r.engine.startsWith('pytorch')).map((r) => r.engine))) {
    const row = rows.find((r) => r.engine === name)!;
    const ran = ranOn(row.detail);
    const variant = pytorchVariant(spec);
    if (ran.startsWith('nn.')) {
      notes.push(`${name}: ${variant} on ${ran.split(' ')[0]}, PyTorch's module for the same equations as scratch's ${variant}`);
      continue;
    }
    const why =
      variantOf(spec, 'gruResetAfter') === false
        ? 'PyTorch has no module for the reset-before GRU (tfjs\'s, the default here; nn.GRU is reset-after); add --gru-reset-after to time scratch\'s reset-after GRU against nn.GRU'
        : spec.recurrentActivation === 'hardSigmoid'
          ? 'PyTorch\'s modules have sigmoid gates only'
          : 'PyTorch\'s module does not compute this model';
    notes.push(`${name}: ${variant} ran as ${ran}, not as a PyTorch module: ${why}`);
  }
  return notes;
}
