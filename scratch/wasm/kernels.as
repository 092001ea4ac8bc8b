// The WebAssembly module of the fast float32 kernel set (AssemblyScript; scratch/wasm/build.mjs
// compiles this file, with what it imports, to dist/scratch/wasm/kernels.wasm, and index.ts runs it):
//
//   gemm.as     the matrix products: gemm_ab (NN, TN), gemm_nt, gemm_packed, and the microkernel's
//               ceiling (peak_microkernel)
//   cells.as    the cells' time steps, forward and backward: lstm, gru (reset-before), gru
//               reset-after; the rnn's tanh'; adding two gradients
//   softmax.as  the softmax cross-entropy head, a row at a time
//   adam.as     the Adam update
//   rows.as     token input (gathered rows, scattered gradients, column sums) and the transpose
//   math.as     the vector arithmetic they share (exp, sigmoid, tanh on four lanes) and map_f32
//
// Every pointer is a byte offset into the imported shared memory; every stride is in elements.
// No allocation, no runtime, no data segments (build.mjs refuses a module with one).

export { gemm_ab, gemm_nt, gemm_packed, peak_microkernel } from './gemm';
export { map_f32 } from './math';
export { lstm_forward, gru_forward_zr, gru_forward_h, gru_ra_forward, lstm_backward, gru_backward_zh, gru_backward_r, gru_ra_backward, tanh_backward, add_into } from './cells';
export { softmax_max, softmax_row } from './softmax';
export { adam } from './adam';
export { gather_rows, scatter_add_rows, add_column_sums, transpose } from './rows';
