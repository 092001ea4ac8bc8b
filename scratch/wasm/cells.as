// The cells' time steps, forward and backward, sigmoid gates (AssemblyScript; see kernels.as): the
// lstm's, the reset-before gru's (zr, then h), the reset-after gru's; the rnn's tanh' and the sum
// of two gradients. Lanes are independent: a tail element is lane 0 of the same vector code.

import { dsig, ld, st, vsigmoid, vtanh } from './math';

// ---------------------------------------------------------------- forward

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


// ---------------------------------------------------------------- element-wise backward (float32 SIMD)
// The same formulas as the cells' TypeScript loops (sigmoid gates: s' = s (1 - s)), in float32.
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

