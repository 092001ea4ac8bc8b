// The matrix products (AssemblyScript, compiled with the other kernels by scratch/wasm/build.mjs
// from kernels.as; the extension keeps tsc away from it). Float32 only, row-major, no allocation.
//
// Every pointer is a byte offset into the imported shared memory; every stride is in elements.
// Three routines cover the three variants of scratch/kernels.ts (index.ts picks one by shape):
//
//  * gemm_ab (NN and TN) on the operands in place: C[m, n] = beta C + op(A)[m, k] · B[k, n],
//    where op(A)[i, p] lives at a + 4 (i*ars + p*aps): NN has (ars, aps) = (lda, 1), TN (A stored
//    [k, m]) has (1, lda). Register block 4 rows x 8 columns: per p, two f32x4 loads of B's row p,
//    one broadcast load of each op(A)[i, p], eight mul + add into eight f32x4 accumulators (12 of
//    the 16 xmm registers). Rows left over (m % 4, and m = 1 for batch 1) use a 1 x 16 block;
//    columns left over use 4- and 1-wide blocks.
//  * gemm_nt on the operands in place: C[m, n] = beta C + A[m, k] · B^T with B stored [n, k]: dot
//    products of rows, contiguous in both operands. Register block 4 rows of A x 2 rows of B,
//    eight f32x4 accumulators over p in steps of 4, then a horizontal sum (hsum) and the k % 4 tail.
//  * gemm_packed (any variant) for shapes where strided operands cost more than copying them:
//    k is cut into blocks of KC = 256; per block, op(A) is copied into 4-row panels ([kc][4]) and
//    op(B), 8 columns at a time, into a [kc][8] panel (8 KiB: stays in L1 while every A panel
//    passes it), so the 4 x 8 microkernel reads both sequentially with constant offsets.
//
// Determinism: whatever the block that computes it, each C element goes through the same f32
// operations in the same order: gemm_ab: acc = 0, acc += a_ip * b_pj for p = 0 .. k-1, then
// C = C + acc (beta 1) or C = acc; gemm_packed the same per block of KC values of p, blocks in
// order (C = acc or C + acc for the first, C = C + acc after); gemm_nt: four lane sums over p = 4q + lane,
// (l0 + l1) + (l2 + l3), then the tail p in order, then the same store. So cutting C between
// threads at any row or column gives bit-identical results (the routine depends on the shape of
// the whole product only).

import { hsum } from './math';

// ---------------------------------------------------------------- NN / TN

/** C[4, 8] block: op(A) rows at a, a + ars4, ...; B row p at b + p*ldb4 (all byte strides). */
@inline
function block4x8(k: i32, a: usize, ars4: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize, ldc4: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + ars4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + 2 * ars4);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + 3 * ars4);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    pa += aps4;
    pb += ldb4;
  }
  put4(c, beta, c00);
  put4(c + 16, beta, c01);
  put4(c + ldc4, beta, c10);
  put4(c + ldc4 + 16, beta, c11);
  put4(c + 2 * ldc4, beta, c20);
  put4(c + 2 * ldc4 + 16, beta, c21);
  put4(c + 3 * ldc4, beta, c30);
  put4(c + 3 * ldc4 + 16, beta, c31);
}

/** C[4, 4] block. */
@inline
function block4x4(k: i32, a: usize, ars4: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize, ldc4: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(pa + ars4), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(pa + 2 * ars4), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(pa + 3 * ars4), b0));
    pa += aps4;
    pb += ldb4;
  }
  put4(c, beta, c0);
  put4(c + ldc4, beta, c1);
  put4(c + 2 * ldc4, beta, c2);
  put4(c + 3 * ldc4, beta, c3);
}

/** C[4, 1] block, scalar. */
@inline
function block4x1(k: i32, a: usize, ars4: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize, ldc4: usize): void {
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const bv = load<f32>(pb);
    s0 += load<f32>(pa) * bv;
    s1 += load<f32>(pa + ars4) * bv;
    s2 += load<f32>(pa + 2 * ars4) * bv;
    s3 += load<f32>(pa + 3 * ars4) * bv;
    pa += aps4;
    pb += ldb4;
  }
  put1(c, beta, s0);
  put1(c + ldc4, beta, s1);
  put1(c + 2 * ldc4, beta, s2);
  put1(c + 3 * ldc4, beta, s3);
}

/** C[1, 16] block: one row of op(A) against 16 columns (four independent accumulators). */
@inline
function block1x16(k: i32, a: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const av = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(av, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(av, v128.load(pb, 16)));
    c2 = f32x4.add(c2, f32x4.mul(av, v128.load(pb, 32)));
    c3 = f32x4.add(c3, f32x4.mul(av, v128.load(pb, 48)));
    pa += aps4;
    pb += ldb4;
  }
  put4(c, beta, c0);
  put4(c + 16, beta, c1);
  put4(c + 32, beta, c2);
  put4(c + 48, beta, c3);
}

/** C[1, 4] block. */
@inline
function block1x4(k: i32, a: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize): void {
  let c0 = f32x4.splat(0);
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
    pa += aps4;
    pb += ldb4;
  }
  put4(c, beta, c0);
}

/** C[1, 1], scalar. */
@inline
function block1x1(k: i32, a: usize, aps4: usize, b: usize, ldb4: usize, beta: i32, c: usize): void {
  let s: f32 = 0;
  let pa = a;
  let pb = b;
  for (let p = 0; p < k; p++) {
    s += load<f32>(pa) * load<f32>(pb);
    pa += aps4;
    pb += ldb4;
  }
  put1(c, beta, s);
}

/**
 * C[m, n] = beta C + op(A) · B  (NN: ars = lda, aps = 1; TN: ars = 1, aps = lda).
 * op(A)[i, p] at a + 4 (i ars + p aps), B[p, j] at b + 4 (p ldb + j), C[i, j] at c + 4 (i ldc + j).
 */
export function gemm_ab(m: i32, n: i32, k: i32, a: usize, ars: i32, aps: i32, b: usize, ldb: i32, beta: i32, c: usize, ldc: i32): void {
  const ars4 = <usize>ars << 2;
  const aps4 = <usize>aps << 2;
  const ldb4 = <usize>ldb << 2;
  const ldc4 = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const ai = a + <usize>i * ars4;
    const ci = c + <usize>i * ldc4;
    let j = 0;
    for (; j + 8 <= n; j += 8) block4x8(k, ai, ars4, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2), ldc4);
    for (; j + 4 <= n; j += 4) block4x4(k, ai, ars4, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2), ldc4);
    for (; j < n; j++) block4x1(k, ai, ars4, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2), ldc4);
  }
  for (; i < m; i++) {
    const ai = a + <usize>i * ars4;
    const ci = c + <usize>i * ldc4;
    let j = 0;
    for (; j + 16 <= n; j += 16) block1x16(k, ai, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2));
    for (; j + 4 <= n; j += 4) block1x4(k, ai, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2));
    for (; j < n; j++) block1x1(k, ai, aps4, b + (<usize>j << 2), ldb4, beta, ci + (<usize>j << 2));
  }
}

// ---------------------------------------------------------------- NT

/** sum_{p >= k4} a[p] b[p], scalar, in order, added to s. */
@inline
function dotTail(s: f32, k4: i32, k: i32, a: usize, b: usize): f32 {
  for (let p = k4; p < k; p++) s += load<f32>(a + (<usize>p << 2)) * load<f32>(b + (<usize>p << 2));
  return s;
}

/** C[4, 2] block of dot products: A rows at a + r*lda4, B rows at b, b + ldb4. */
@inline
function dot4x2(k: i32, a: usize, lda4: usize, b: usize, ldb4: usize, beta: i32, c: usize, ldc4: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const k4 = k & ~3;
  const b1 = b + ldb4;
  const end = <usize>k4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const v0 = v128.load(b + o);
    const v1 = v128.load(b1 + o);
    let av = v128.load(a + o);
    c00 = f32x4.add(c00, f32x4.mul(av, v0));
    c01 = f32x4.add(c01, f32x4.mul(av, v1));
    av = v128.load(a + lda4 + o);
    c10 = f32x4.add(c10, f32x4.mul(av, v0));
    c11 = f32x4.add(c11, f32x4.mul(av, v1));
    av = v128.load(a + 2 * lda4 + o);
    c20 = f32x4.add(c20, f32x4.mul(av, v0));
    c21 = f32x4.add(c21, f32x4.mul(av, v1));
    av = v128.load(a + 3 * lda4 + o);
    c30 = f32x4.add(c30, f32x4.mul(av, v0));
    c31 = f32x4.add(c31, f32x4.mul(av, v1));
  }
  put1(c, beta, dotTail(hsum(c00), k4, k, a, b));
  put1(c + 4, beta, dotTail(hsum(c01), k4, k, a, b1));
  put1(c + ldc4, beta, dotTail(hsum(c10), k4, k, a + lda4, b));
  put1(c + ldc4 + 4, beta, dotTail(hsum(c11), k4, k, a + lda4, b1));
  put1(c + 2 * ldc4, beta, dotTail(hsum(c20), k4, k, a + 2 * lda4, b));
  put1(c + 2 * ldc4 + 4, beta, dotTail(hsum(c21), k4, k, a + 2 * lda4, b1));
  put1(c + 3 * ldc4, beta, dotTail(hsum(c30), k4, k, a + 3 * lda4, b));
  put1(c + 3 * ldc4 + 4, beta, dotTail(hsum(c31), k4, k, a + 3 * lda4, b1));
}

/** C[4, 1] block of dot products. */
@inline
function dot4x1(k: i32, a: usize, lda4: usize, b: usize, beta: i32, c: usize, ldc4: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const k4 = k & ~3;
  const end = <usize>k4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const v = v128.load(b + o);
    c0 = f32x4.add(c0, f32x4.mul(v128.load(a + o), v));
    c1 = f32x4.add(c1, f32x4.mul(v128.load(a + lda4 + o), v));
    c2 = f32x4.add(c2, f32x4.mul(v128.load(a + 2 * lda4 + o), v));
    c3 = f32x4.add(c3, f32x4.mul(v128.load(a + 3 * lda4 + o), v));
  }
  put1(c, beta, dotTail(hsum(c0), k4, k, a, b));
  put1(c + ldc4, beta, dotTail(hsum(c1), k4, k, a + lda4, b));
  put1(c + 2 * ldc4, beta, dotTail(hsum(c2), k4, k, a + 2 * lda4, b));
  put1(c + 3 * ldc4, beta, dotTail(hsum(c3), k4, k, a + 3 * lda4, b));
}

/** C[1, 4] block of dot products: one row of A against four rows of B. */
@inline
function dot1x4(k: i32, a: usize, b: usize, ldb4: usize, beta: i32, c: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const k4 = k & ~3;
  const end = <usize>k4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const v = v128.load(a + o);
    c0 = f32x4.add(c0, f32x4.mul(v, v128.load(b + o)));
    c1 = f32x4.add(c1, f32x4.mul(v, v128.load(b + ldb4 + o)));
    c2 = f32x4.add(c2, f32x4.mul(v, v128.load(b + 2 * ldb4 + o)));
    c3 = f32x4.add(c3, f32x4.mul(v, v128.load(b + 3 * ldb4 + o)));
  }
  put1(c, beta, dotTail(hsum(c0), k4, k, a, b));
  put1(c + 4, beta, dotTail(hsum(c1), k4, k, a, b + ldb4));
  put1(c + 8, beta, dotTail(hsum(c2), k4, k, a, b + 2 * ldb4));
  put1(c + 12, beta, dotTail(hsum(c3), k4, k, a, b + 3 * ldb4));
}

/** C[1, 1]: one dot product. */
@inline
function dot1x1(k: i32, a: usize, b: usize, beta: i32, c: usize): void {
  let c0 = f32x4.splat(0);
  const k4 = k & ~3;
  const end = <usize>k4 << 2;
  for (let o: usize = 0; o < end; o += 16) c0 = f32x4.add(c0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  put1(c, beta, dotTail(hsum(c0), k4, k, a, b));
}

/** C[m, n] = beta C + A[m, k] · B^T, B stored [n, k]. */
export function gemm_nt(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, beta: i32, c: usize, ldc: i32): void {
  const lda4 = <usize>lda << 2;
  const ldb4 = <usize>ldb << 2;
  const ldc4 = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const ai = a + <usize>i * lda4;
    const ci = c + <usize>i * ldc4;
    let j = 0;
    for (; j + 2 <= n; j += 2) dot4x2(k, ai, lda4, b + <usize>j * ldb4, ldb4, beta, ci + (<usize>j << 2), ldc4);
    if (j < n) dot4x1(k, ai, lda4, b + <usize>j * ldb4, beta, ci + (<usize>j << 2), ldc4);
  }
  for (; i < m; i++) {
    const ai = a + <usize>i * lda4;
    const ci = c + <usize>i * ldc4;
    let j = 0;
    for (; j + 4 <= n; j += 4) dot1x4(k, ai, b + <usize>j * ldb4, ldb4, beta, ci + (<usize>j << 2));
    for (; j < n; j++) dot1x1(k, ai, b + <usize>j * ldb4, beta, ci + (<usize>j << 2));
  }
}

// ---------------------------------------------------------------- stores

/** Four results into C: overwrite (beta 0) or add to what is there (beta 1). */
@inline
function put4(c: usize, beta: i32, v: v128): void {
  v128.store(c, beta ? f32x4.add(v128.load(c), v) : v);
}

@inline
function put1(c: usize, beta: i32, s: f32): void {
  store<f32>(c, beta ? load<f32>(c) + s : s);
}

// ---------------------------------------------------------------- packed

/**
 * Packs rows [0, rows) of op(A) (op(A)[i, p] at a + i*ars4 + p*aps4) into 4-row panels:
 * dst[(i/4) * 4k + 4p + i%4], rows past `rows` zero.
 */
function packA(rows: i32, k: i32, a: usize, ars4: usize, aps4: usize, dst: usize): void {
  for (let i0 = 0; i0 < rows; i0 += 4) {
    const panel = dst + (<usize>i0 * <usize>k << 2);
    for (let r = 0; r < 4; r++) {
      const i = i0 + r;
      let src = a + <usize>i * ars4;
      let d = panel + (<usize>r << 2);
      if (i < rows) {
        for (let p = 0; p < k; p++) {
          store<f32>(d, load<f32>(src));
          src += aps4;
          d += 16;
        }
      } else {
        for (let p = 0; p < k; p++) {
          store<f32>(d, 0);
          d += 16;
        }
      }
    }
  }
}

/** Packs columns [0, cols) (cols <= 8) of op(B) (B(p, j) at b + p*bps4 + j*bjs4) into dst[8p + j]. */
function packB(cols: i32, k: i32, b: usize, bps4: usize, bjs4: usize, dst: usize): void {
  if (cols === 8 && bjs4 === 4) {
    let src = b;
    let d = dst;
    for (let p = 0; p < k; p++) {
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
      src += bps4;
      d += 32;
    }
    return;
  }
  for (let j = 0; j < 8; j++) {
    let src = b + <usize>j * bjs4;
    let d = dst + (<usize>j << 2);
    if (j < cols) {
      for (let p = 0; p < k; p++) {
        store<f32>(d, load<f32>(src));
        src += bps4;
        d += 32;
      }
    } else {
      for (let p = 0; p < k; p++) {
        store<f32>(d, 0);
        d += 32;
      }
    }
  }
}

/** C[rows <= 4, cols <= 8] from packed panels; partial tiles go through `tile` (128 bytes). */
@inline
function packed4x8(k: i32, pa: usize, pb: usize, beta: i32, c: usize, ldc4: usize, rows: i32, cols: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + (<usize>k << 5);
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    pa += 16;
    pb += 32;
  }
  if (rows === 4 && cols === 8) {
    put4(c, beta, c00);
    put4(c + 16, beta, c01);
    put4(c + ldc4, beta, c10);
    put4(c + ldc4 + 16, beta, c11);
    put4(c + 2 * ldc4, beta, c20);
    put4(c + 2 * ldc4 + 16, beta, c21);
    put4(c + 3 * ldc4, beta, c30);
    put4(c + 3 * ldc4 + 16, beta, c31);
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) put1(c + <usize>r * ldc4 + (<usize>j << 2), beta, load<f32>(tile + (<usize>(r * 8 + j) << 2)));
  }
}

/**
 * C[m, n] = beta C + op(A) op(B) through packed panels (any of NN, TN, NT):
 * op(A)[i, p] at a + 4 (i ars + p aps), op(B)[p, j] at b + 4 (p bps + j bjs).
 * scratch: 128 + 16 ceil(m/4) k + 32 k bytes, 16-aligned.
 */
export function gemm_packed(m: i32, n: i32, k: i32, a: usize, ars: i32, aps: i32, b: usize, bps: i32, bjs: i32, beta: i32, c: usize, ldc: i32, scratch: usize): void {
  const ldc4 = <usize>ldc << 2;
  const ars4 = <usize>ars << 2;
  const aps4 = <usize>aps << 2;
  const bps4 = <usize>bps << 2;
  const tile = scratch;
  const kb = min(k, KC);
  const pbuf = scratch + 128;
  const abuf = pbuf + (<usize>kb << 5);
  // k in blocks of KC: the B panel (KC x 8) stays in L1 and the A block (m x KC) in L2
  let p0 = 0;
  do {
    const kc = min(KC, k - p0);
    const bt = p0 === 0 ? beta : 1;
    packA(m, kc, a + <usize>p0 * aps4, ars4, aps4, abuf);
    const apanel = <usize>kc << 4;
    for (let j = 0; j < n; j += 8) {
      const cols = min(8, n - j);
      packB(cols, kc, b + <usize>p0 * bps4 + (<usize>j * <usize>bjs << 2), bps4, <usize>bjs << 2, pbuf);
      let pa = abuf;
      for (let i = 0; i < m; i += 4) {
        packed4x8(kc, pa, pbuf, bt, c + <usize>i * ldc4 + (<usize>j << 2), ldc4, min(4, m - i), cols, tile);
        pa += apanel;
      }
    }
    p0 += KC;
  } while (p0 < k);
}

/** The depth of one block of gemm_packed. */
const KC: i32 = 256;


// ---------------------------------------------------------------- the ceiling

/**
 * The packed 4 x 8 microkernel n times over panels that stay in L1 (A [k][4] at pa, B [k][8] at
 * pb, k = 128; C, 4 x 8, at c): what the gemm's inner loop reaches with no cache miss on this
 * machine, its practical ceiling (2 * 4 * 8 * 128 flops a round).
 */
export function peak_microkernel(n: i32, pa: usize, pb: usize, c: usize): void {
  for (let i = 0; i < n; i++) packed4x8(128, pa, pb, 0, c, 32, 4, 8, c);
}
