// AssemblyScript source of the WebAssembly SIMD gemm (compiled by scratch/wasm/build.mjs; the
// extension keeps tsc away from it). Float32 only, row-major, no allocation, no runtime.
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

/** The sum of the four lanes, always as (l0 + l1) + (l2 + l3). */
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

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

// ---------------------------------------------------------------- element-wise (float32 SIMD)
//
// The time step's gate arithmetic, the softmax of the head and the Adam update, so that they run
// in WebAssembly like the products. Lanes are independent: a tail element (H % 4) is computed as
// lane 0 of the same vector code, so every element goes through the same operations wherever it is.
// exp is Cephes' expf (a degree-5 polynomial after range reduction by ln 2; about 1 ulp), tanh
// Cephes' tanhf (a polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) above), sigmoid
// 1 / (1 + exp(-x)): results differ from the TypeScript loops (Math.exp, Math.tanh in float64, then
// rounded) by a few float32 ulps.

@inline
function ld(p: usize, wide: bool): v128 {
  return wide ? v128.load(p) : v128.load32_zero(p);
}

@inline
function st(p: usize, v: v128, wide: bool): void {
  if (wide) v128.store(p, v);
  else v128.store32_lane(p, v, 0);
}

@inline
function vexp(x0: v128): v128 {
  // Clamped so that 2^n stays a normal float. pmax/pmin (a < b ? b : a) are one instruction on
  // x86 where max/min are seven (IEEE -0 and NaN rules); they differ only there, and a NaN x0
  // still comes out NaN (every comparison with it is false).
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  // n = nearest(x log2 e) by the magic-number addition: adding 1.5 * 2^23 rounds to an integer
  // (ties to even, as nearest), and the integer is then in the low bits of the sum: the same fx as
  // f32x4.nearest (but +0 where nearest gave -0, which changes no result), and 2^n below without
  // a saturating float-to-int conversion.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), f32x4.splat(12582912.0));
  const fx = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23); // bits of t = 0x4b400000 + n
  return f32x4.mul(y, pow2);
}

@inline
function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), vexp(f32x4.neg(x))));
}

@inline
function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = vexp(f32x4.add(ax, ax));
  const big = v128.or(f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1)))), v128.and(x, i32x4.splat(0x80000000)));
  const s = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, s), x), x);
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** f(v) for f = 0 tanh, 1 sigmoid, 2 exp: inlined with a constant f, so that only that one is computed. */
@inline
function applyFn(v: v128, fn: i32): v128 {
  return fn === 0 ? vtanh(v) : fn === 1 ? vsigmoid(v) : vexp(v);
}

/** x[i] = f(x[i]) for n elements (f constant: see map_f32). */
@inline
function mapWith(n: i32, x: usize, fn: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, applyFn(v128.load(p), fn));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    v128.store32_lane(p, applyFn(v128.load32_zero(p), fn), 0);
  }
}

/**
 * x[i] = f(x[i]) for n elements: 0 tanh (the rnn's activation), 1 sigmoid, 2 exp. One loop per f:
 * a choice inside the loop was made branch-free by computing all three.
 */
export function map_f32(n: i32, x: usize, fn: i32): void {
  if (fn === 0) mapWith(n, x, 0);
  else if (fn === 1) mapWith(n, x, 1);
  else mapWith(n, x, 2);
}

/** LSTM step, sigmoid gates: z [B, 4H] (i, f, g, o pre-activations, overwritten by the gates), c_{t-1}, c_t, h_t, tanh(c_t) [B, H]. */
export function lstm_forward(B: i32, H: i32, z: usize, cp: usize, cn: usize, h: usize, tc: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const zr = z + <usize>b * 4 * H4;
    const hr = <usize>b * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmAt(zr + (<usize>j << 2), H4, cp + hr + (<usize>j << 2), cn + hr + (<usize>j << 2), h + hr + (<usize>j << 2), tc + hr + (<usize>j << 2), true);
    for (; j < H; j++) lstmAt(zr + (<usize>j << 2), H4, cp + hr + (<usize>j << 2), cn + hr + (<usize>j << 2), h + hr + (<usize>j << 2), tc + hr + (<usize>j << 2), false);
  }
}

@inline
function lstmAt(zi: usize, H4: usize, cp: usize, cn: usize, h: usize, tc: usize, wide: bool): void {
  const i = vsigmoid(ld(zi, wide));
  const f = vsigmoid(ld(zi + H4, wide));
  const g = vtanh(ld(zi + 2 * H4, wide));
  const o = vsigmoid(ld(zi + 3 * H4, wide));
  st(zi, i, wide);
  st(zi + H4, f, wide);
  st(zi + 2 * H4, g, wide);
  st(zi + 3 * H4, o, wide);
  const c = f32x4.add(f32x4.mul(f, ld(cp, wide)), f32x4.mul(i, g));
  st(cn, c, wide);
  const th = vtanh(c);
  st(tc, th, wide);
  st(h, f32x4.mul(o, th), wide);
}

/** One lane group (four elements, or one with wide false) of gru_forward_zr. */
@inline
function gruForwardZrLane(hp: usize, rh: usize, ar: usize, hr: usize, H4: usize, o: usize, wide: bool): void {
  const az = ar + o;
  const zv = vsigmoid(ld(az, wide));
  const rv = vsigmoid(ld(az + H4, wide));
  st(az, zv, wide);
  st(az + H4, rv, wide);
  st(rh + hr + o, f32x4.mul(rv, ld(hp + hr + o, wide)), wide);
}

/** GRU (reset before), first half, sigmoid gates: a [B, 3H] z, r columns activated in place; rh = r * h_{t-1} [B, H]. */
export function gru_forward_zr(B: i32, H: i32, a: usize, hp: usize, rh: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = a + <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruForwardZrLane(hp, rh, ar, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruForwardZrLane(hp, rh, ar, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of gru_forward_h. */
@inline
function gruForwardHLane(hp: usize, h: usize, ar: usize, hr: usize, H4: usize, o: usize, wide: bool): void {
  const hh = vtanh(ld(ar + 2 * H4 + o, wide));
  st(ar + 2 * H4 + o, hh, wide);
  const z = ld(ar + o, wide);
  st(h + hr + o, f32x4.add(f32x4.mul(z, ld(hp + hr + o, wide)), f32x4.mul(f32x4.sub(f32x4.splat(1), z), hh)), wide);
}

/** GRU (reset before), second half: hh = tanh(a_h) in place, h_t = z h_{t-1} + (1 - z) hh. */
export function gru_forward_h(B: i32, H: i32, a: usize, hp: usize, h: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = a + <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruForwardHLane(hp, h, ar, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruForwardHLane(hp, h, ar, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of gru_ra_forward. */
@inline
function gruRaForwardLane(hp: usize, Mh: usize, h: usize, ar: usize, mr: usize, hr: usize, H4: usize, o: usize, wide: bool): void {
  const z = vsigmoid(f32x4.add(ld(ar + o, wide), ld(mr + o, wide)));
  const r = vsigmoid(f32x4.add(ld(ar + H4 + o, wide), ld(mr + H4 + o, wide)));
  const mh = ld(mr + 2 * H4 + o, wide);
  const hh = vtanh(f32x4.add(ld(ar + 2 * H4 + o, wide), f32x4.mul(r, mh)));
  st(Mh + hr + o, mh, wide);
  st(ar + o, z, wide);
  st(ar + H4 + o, r, wide);
  st(ar + 2 * H4 + o, hh, wide);
  st(h + hr + o, f32x4.add(f32x4.mul(z, ld(hp + hr + o, wide)), f32x4.mul(f32x4.sub(f32x4.splat(1), z), hh)), wide);
}

/**
 * GRU (reset after), sigmoid gates: a [B, 3H] input projections -> z, r, hh; M [B, 3H] = h_{t-1} U + b_rec;
 * Mh [B, H] = M_h; h_t = z h_{t-1} + (1 - z) hh with hh = tanh(a_h + r M_h).
 */
export function gru_ra_forward(B: i32, H: i32, a: usize, M: usize, hp: usize, Mh: usize, h: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = a + <usize>b * 3 * H4;
    const mr = M + <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruRaForwardLane(hp, Mh, h, ar, mr, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruRaForwardLane(hp, Mh, h, ar, mr, hr, H4, <usize>j << 2, false);
  }
}

/** The largest logit of the last softmax_row (a global, not memory: see softmax_row). */
let lastMax: f32 = 0;

/** The largest logit of the row softmax_row last saw. */
export function softmax_max(): f64 {
  return <f64>lastMax;
}

/**
 * One row of the softmax cross-entropy head: out = w * softmax(x) over O logits; returns
 * sum exp(x - max) (over four lanes, then the tail), the max left in softmax_max(). The caller
 * takes the logarithm: Math.log here would bring AssemblyScript's lookup tables as data segments,
 * which every instantiation (each worker's too) writes into the shared memory the engine owns.
 */
export function softmax_row(O: i32, x: usize, out: usize, w: f64): f64 {
  let mv = f32x4.splat(f32.NEGATIVE_INFINITY);
  let j = 0;
  for (; j + 4 <= O; j += 4) mv = f32x4.max(mv, v128.load(x + (<usize>j << 2)));
  let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let q = j; q < O; q++) mx = max(mx, load<f32>(x + (<usize>q << 2)));
  const ms = f32x4.splat(mx);
  let sv = f32x4.splat(0);
  for (j = 0; j + 4 <= O; j += 4) {
    const e = vexp(f32x4.sub(v128.load(x + (<usize>j << 2)), ms));
    v128.store(out + (<usize>j << 2), e);
    sv = f32x4.add(sv, e);
  }
  let sum = hsum(sv);
  for (let q = j; q < O; q++) {
    const e = f32x4.extract_lane(vexp(f32x4.sub(v128.load32_zero(x + (<usize>q << 2)), ms)), 0);
    store<f32>(out + (<usize>q << 2), e);
    sum += e;
  }
  const scale = f32x4.splat(<f32>(w / <f64>sum));
  for (j = 0; j + 4 <= O; j += 4) v128.store(out + (<usize>j << 2), f32x4.mul(v128.load(out + (<usize>j << 2)), scale));
  for (let q = j; q < O; q++) store<f32>(out + (<usize>q << 2), load<f32>(out + (<usize>q << 2)) * f32x4.extract_lane(scale, 0));
  lastMax = mx;
  return <f64>sum;
}

// ---------------------------------------------------------------- Adam (float32 arithmetic)

/** One lane group (four elements, or one with wide false) of adam. */
@inline
function adamLane(p: usize, g: usize, m: usize, v: usize, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, c1: f32, c2: f32, eps: f32, o: usize, wide: bool): void {
  const gv = ld(g + o, wide);
  const mv = f32x4.add(f32x4.mul(f32x4.splat(b1), ld(m + o, wide)), f32x4.mul(f32x4.splat(omb1), gv));
  const vv = f32x4.add(f32x4.mul(f32x4.splat(b2), ld(v + o, wide)), f32x4.mul(f32x4.mul(f32x4.splat(omb2), gv), gv));
  st(m + o, mv, wide);
  st(v + o, vv, wide);
  const upd = f32x4.div(f32x4.mul(f32x4.splat(lr), f32x4.div(mv, f32x4.splat(c1))), f32x4.add(f32x4.sqrt(f32x4.div(vv, f32x4.splat(c2))), f32x4.splat(eps)));
  st(p + o, f32x4.sub(ld(p + o, wide), upd), wide);
}

/**
 * Adam on float32 buffers in float32 arithmetic (as tfjs computes it), four elements at a time,
 * the TypeScript optimizer's formula operation for operation: m = b1 m + (1 - b1) g;
 * v = b2 v + ((1 - b2) g) g; p -= (lr (m / c1)) / (sqrt(v / c2) + eps). The TypeScript update
 * computes in float64 and rounds once per stored value; this one rounds after every operation
 * (a few ulps of the update apart). Lanes are independent, so any split of the elements between
 * threads gives the same bits.
 */
export function adam(n: i32, p: usize, g: usize, m: usize, v: usize, b1: f32, omb1: f32, b2: f32, omb2: f32, lr: f32, c1: f32, c2: f32, eps: f32): void {
  // the vector loop and the tail separately, so that `wide` is a constant in each
  let i = 0;
  for (; i + 4 <= n; i += 4) adamLane(p, g, m, v, b1, omb1, b2, omb2, lr, c1, c2, eps, <usize>i << 2, true);
  for (; i < n; i++) adamLane(p, g, m, v, b1, omb1, b2, omb2, lr, c1, c2, eps, <usize>i << 2, false);
}

// ---------------------------------------------------------------- element-wise backward (float32 SIMD)
// The same formulas as the cells' TypeScript loops (sigmoid gates: s' = s (1 - s)), in float32.

@inline
function dsig(y: v128): v128 {
  return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
}

/** One lane group (four elements, or one with wide false) of lstm_backward. */
@inline
function lstmBackwardLane(z: usize, tc: usize, cp: usize, dh: usize, dc: usize, dP: usize, dcp: usize, zr: usize, hr: usize, H4: usize, o4: usize, wide: bool): void {
  const zi = z + zr + o4;
  const k = hr + o4;
  const i = ld(zi, wide);
  const f = ld(zi + H4, wide);
  const g = ld(zi + 2 * H4, wide);
  const o = ld(zi + 3 * H4, wide);
  const th = ld(tc + k, wide);
  const dhv = ld(dh + k, wide);
  const dO = f32x4.mul(dhv, th);
  const dcT = f32x4.add(ld(dc + k, wide), f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(f32x4.splat(1), f32x4.mul(th, th))));
  st(dcp + k, f32x4.mul(dcT, f), wide);
  const di = dP + zr + o4;
  st(di, f32x4.mul(f32x4.mul(dcT, g), dsig(i)), wide);
  st(di + H4, f32x4.mul(f32x4.mul(dcT, ld(cp + k, wide)), dsig(f)), wide);
  st(di + 2 * H4, f32x4.mul(f32x4.mul(dcT, i), f32x4.sub(f32x4.splat(1), f32x4.mul(g, g))), wide);
  st(di + 3 * H4, f32x4.mul(dO, dsig(o)), wide);
}

/**
 * LSTM step backward: gates z [B, 4H] (i, f, g, o), tanh(c_t) tc, c_{t-1} cp, dLoss/dh_t dh and
 * dLoss/dc_t dc [B, H] -> dP [B, 4H] and dLoss/dc_{t-1} dcp [B, H].
 */
export function lstm_backward(B: i32, H: i32, z: usize, tc: usize, cp: usize, dh: usize, dc: usize, dP: usize, dcp: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const zr = <usize>b * 4 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmBackwardLane(z, tc, cp, dh, dc, dP, dcp, zr, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) lstmBackwardLane(z, tc, cp, dh, dc, dP, dcp, zr, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of gru_backward_zh. */
@inline
function gruBackwardZhLane(a: usize, hp: usize, dh: usize, dP: usize, dhp: usize, ar: usize, hr: usize, H4: usize, o4: usize, wide: bool): void {
  const k = hr + o4;
  const z = ld(a + ar + o4, wide);
  const hh = ld(a + ar + 2 * H4 + o4, wide);
  const dhv = ld(dh + k, wide);
  st(dP + ar + o4, f32x4.mul(f32x4.mul(dhv, f32x4.sub(ld(hp + k, wide), hh)), dsig(z)), wide);
  st(dP + ar + 2 * H4 + o4, f32x4.mul(f32x4.mul(dhv, f32x4.sub(f32x4.splat(1), z)), f32x4.sub(f32x4.splat(1), f32x4.mul(hh, hh))), wide);
  st(dhp + k, f32x4.mul(dhv, z), wide);
}

/** GRU (reset before) backward, first half: gates a [B, 3H] -> dP_z, dP_h; dLoss/dh_{t-1} = dh z. */
export function gru_backward_zh(B: i32, H: i32, a: usize, hp: usize, dh: usize, dP: usize, dhp: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruBackwardZhLane(a, hp, dh, dP, dhp, ar, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruBackwardZhLane(a, hp, dh, dP, dhp, ar, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of gru_backward_r. */
@inline
function gruBackwardRLane(a: usize, hp: usize, dRh: usize, dP: usize, dhp: usize, ar: usize, hr: usize, H4: usize, o4: usize, wide: bool): void {
  const k = hr + o4;
  const r = ld(a + ar + H4 + o4, wide);
  const d = ld(dRh + k, wide);
  st(dP + ar + H4 + o4, f32x4.mul(f32x4.mul(d, ld(hp + k, wide)), dsig(r)), wide);
  st(dhp + k, f32x4.add(ld(dhp + k, wide), f32x4.mul(d, r)), wide);
}

/** GRU (reset before) backward, second half: dP_r = d(r h) h_{t-1} r'; dLoss/dh_{t-1} += d(r h) r. */
export function gru_backward_r(B: i32, H: i32, a: usize, hp: usize, dRh: usize, dP: usize, dhp: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruBackwardRLane(a, hp, dRh, dP, dhp, ar, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruBackwardRLane(a, hp, dRh, dP, dhp, ar, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of gru_ra_backward. */
@inline
function gruRaBackwardLane(a: usize, Mh: usize, hp: usize, dh: usize, dP: usize, dM: usize, dhp: usize, ar: usize, hr: usize, H4: usize, o4: usize, wide: bool): void {
  const k = hr + o4;
  const z = ld(a + ar + o4, wide);
  const r = ld(a + ar + H4 + o4, wide);
  const hh = ld(a + ar + 2 * H4 + o4, wide);
  const dhv = ld(dh + k, wide);
  const daz = f32x4.mul(f32x4.mul(dhv, f32x4.sub(ld(hp + k, wide), hh)), dsig(z));
  const dah = f32x4.mul(f32x4.mul(dhv, f32x4.sub(f32x4.splat(1), z)), f32x4.sub(f32x4.splat(1), f32x4.mul(hh, hh)));
  st(dhp + k, f32x4.mul(dhv, z), wide);
  const dar = f32x4.mul(f32x4.mul(dah, ld(Mh + k, wide)), dsig(r));
  st(dP + ar + o4, daz, wide);
  st(dP + ar + H4 + o4, dar, wide);
  st(dP + ar + 2 * H4 + o4, dah, wide);
  st(dM + ar + o4, daz, wide);
  st(dM + ar + H4 + o4, dar, wide);
  st(dM + ar + 2 * H4 + o4, f32x4.mul(dah, r), wide);
}

/** GRU (reset after) backward: gates a [B, 3H], M_h [B, H] -> dP [B, 3H], dM [B, 3H], dLoss/dh_{t-1} = dh z. */
export function gru_ra_backward(B: i32, H: i32, a: usize, Mh: usize, hp: usize, dh: usize, dP: usize, dM: usize, dhp: usize): void {
  const H4 = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const ar = <usize>b * 3 * H4;
    const hr = <usize>b * H4;
    // the vector loop and the tail separately, so that `wide` is a constant in each
    let j = 0;
    for (; j + 4 <= H; j += 4) gruRaBackwardLane(a, Mh, hp, dh, dP, dM, dhp, ar, hr, H4, <usize>j << 2, true);
    for (; j < H; j++) gruRaBackwardLane(a, Mh, hp, dh, dP, dM, dhp, ar, hr, H4, <usize>j << 2, false);
  }
}

/** One lane group (four elements, or one with wide false) of tanh_backward. */
@inline
function tanhBackwardLane(h: usize, dh: usize, d: usize, o4: usize, wide: bool): void {
  const hv = ld(h + o4, wide);
  st(d + o4, f32x4.mul(ld(dh + o4, wide), f32x4.sub(f32x4.splat(1), f32x4.mul(hv, hv))), wide);
}

/** tanh backward from the output: d = dh (1 - h^2), n elements. */
export function tanh_backward(n: i32, h: usize, dh: usize, d: usize): void {
  // the vector loop and the tail separately, so that `wide` is a constant in each
  let i = 0;
  for (; i + 4 <= n; i += 4) tanhBackwardLane(h, dh, d, <usize>i << 2, true);
  for (; i < n; i++) tanhBackwardLane(h, dh, d, <usize>i << 2, false);
}

/** One lane group (four elements, or one with wide false) of add_into. */
@inline
function addIntoLane(y: usize, x: usize, o: usize, wide: bool): void {
  st(y + o, f32x4.add(ld(y + o, wide), ld(x + o, wide)), wide);
}

/** y += x, n elements. */
export function add_into(n: i32, y: usize, x: usize): void {
  // the vector loop and the tail separately, so that `wide` is a constant in each
  let i = 0;
  for (; i + 4 <= n; i += 4) addIntoLane(y, x, <usize>i << 2, true);
  for (; i < n; i++) addIntoLane(y, x, <usize>i << 2, false);
}

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

// ---------------------------------------------------------------- the ceiling

/**
 * The packed 4 x 8 microkernel n times over panels that stay in L1 (A [k][4] at pa, B [k][8] at
 * pb, k = 128; C, 4 x 8, at c): what the gemm's inner loop reaches with no cache miss on this
 * machine, its practical ceiling (2 * 4 * 8 * 128 flops a round).
 */
export function peak_microkernel(n: i32, pa: usize, pb: usize, c: usize): void {
  for (let i = 0; i < n; i++) packed4x8(128, pa, pb, 0, c, 32, 4, 8, c);
}
