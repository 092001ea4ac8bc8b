/**
 * The scratch implementation of each cell of the cell table (src/cells.ts): one file per cell, one
 * time step forward beside its backward. Adding a cell adds its file and its line here.
 */
import type { CellType } from '../../src/cells.js';
import type { ModelSpec } from '../../src/spec.js';
import type { FastKernels, Gemm, Kernels } from '../kernels.js';
import type { Cell, CellDerivatives } from './cell.js';
import { gruCell } from './gru.js';
import { gruResetAfterCell } from './gru-reset-after.js';
import { lstmCell } from './lstm.js';
import { rnnCell } from './rnn.js';

type MakeCell = (spec: ModelSpec, gemm: Gemm | undefined, fast: FastKernels | undefined, d: CellDerivatives | undefined) => Cell<unknown>;

const SCRATCH_CELLS: Record<CellType, MakeCell> = {
  rnn: (s, gemm, fast, d) => rnnCell(s.hiddenSize, s.activation, gemm, fast, d) as Cell<unknown>,
  lstm: (s, gemm, fast, d) => lstmCell(s.hiddenSize, s.recurrentActivation, gemm, fast, d) as Cell<unknown>,
  gru: (s, gemm, fast, d) =>
    (s.gruResetAfter ? gruResetAfterCell(s.hiddenSize, s.recurrentActivation, gemm, fast, d) : gruCell(s.hiddenSize, s.recurrentActivation, gemm, fast, d)) as Cell<unknown>,
};

/** The spec's cell; `derivatives`: a planted mistake's (src/engines/mistakes/), else the right ones. */
export function makeCell(spec: ModelSpec, kernels?: Kernels, derivatives?: CellDerivatives): Cell<unknown> {
  return SCRATCH_CELLS[spec.cell](spec, kernels?.gemm, kernels, derivatives);
}
