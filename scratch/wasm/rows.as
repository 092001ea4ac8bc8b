// Rows of a table (token input: gathered rows and their scattered gradients, column sums) and the
// transpose (AssemblyScript; see kernels.as).

// ---------------------------------------------------------------- rows (token input)
// Each output element goes through the same single f32 operation, or the same sequence of them
// in the same order, as the TypeScript loops of kernels.ts: the results are bit-identical.

/** C[r, :] = W[ids[r], :] + bias (n columns; ids int32 at `ids`): x·W + b for one-hot rows x. */
export function gather_rows(rows: i32, n: i32, ids: usize, w: usize, bias: usize, c: usize): void {
  const rowBytes = <usize>n << 2;
  const vecEnd = <usize>(n & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const src = w + <usize>load<i32>(ids + (<usize>r << 2)) * rowBytes;
    const dst = c + <usize>r * rowBytes;
    let o: usize = 0;
    for (; o < vecEnd; o += 16) v128.store(dst + o, f32x4.add(v128.load(src + o), v128.load(bias + o)));
    for (; o < rowBytes; o += 4) store<f32>(dst + o, load<f32>(src + o) + load<f32>(bias + o));
  }
}

/** dW[ids[r], :] += D[r, :] for r = 0 .. rows-1 in order: the gradient of gather_rows. */
export function scatter_add_rows(rows: i32, n: i32, ids: usize, d: usize, dw: usize): void {
  const rowBytes = <usize>n << 2;
  const vecEnd = <usize>(n & ~3) << 2;
  for (let r = 0; r < rows; r++) {
    const dst = dw + <usize>load<i32>(ids + (<usize>r << 2)) * rowBytes;
    const src = d + <usize>r * rowBytes;
    let o: usize = 0;
    for (; o < vecEnd; o += 16) v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    for (; o < rowBytes; o += 4) store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** out[j] += A[r, j] for r = 0 .. rows-1 in order (row stride lda): a bias gradient. */
export function add_column_sums(rows: i32, n: i32, a: usize, lda: i32, out: usize): void {
  const rowBytes = <usize>n << 2;
  const vecEnd = <usize>(n & ~3) << 2;
  const lda4 = <usize>lda << 2;
  for (let r = 0; r < rows; r++) {
    const src = a + <usize>r * lda4;
    let o: usize = 0;
    for (; o < vecEnd; o += 16) v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(src + o)));
    for (; o < rowBytes; o += 4) store<f32>(out + o, load<f32>(out + o) + load<f32>(src + o));
  }
}

// ---------------------------------------------------------------- transpose

/** out[j, i] = A[i, j] for A [rows, cols] (row stride lda) into out [cols, rows] (row stride ldo): 4 x 4 blocks by shuffles. */
export function transpose(rows: i32, cols: i32, a: usize, lda: i32, out: usize, ldo: i32): void {
  const lda4 = <usize>lda << 2;
  const ldo4 = <usize>ldo << 2;
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  for (let i = 0; i < r4; i += 4) {
    const ai = a + <usize>i * lda4;
    for (let j = 0; j < c4; j += 4) {
      const src = ai + (<usize>j << 2);
      const r0 = v128.load(src);
      const r1 = v128.load(src + lda4);
      const r2 = v128.load(src + 2 * lda4);
      const r3 = v128.load(src + 3 * lda4);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const dst = out + <usize>j * ldo4 + (<usize>i << 2);
      v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(dst + ldo4, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(dst + 2 * ldo4, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(dst + 3 * ldo4, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (let j = c4; j < cols; j++) {
      for (let q = 0; q < 4; q++) store<f32>(out + <usize>j * ldo4 + (<usize>(i + q) << 2), load<f32>(ai + <usize>q * lda4 + (<usize>j << 2)));
    }
  }
  for (let i = r4; i < rows; i++) {
    for (let j = 0; j < cols; j++) store<f32>(out + <usize>j * ldo4 + (<usize>i << 2), load<f32>(a + <usize>i * lda4 + (<usize>j << 2)));
  }
}

