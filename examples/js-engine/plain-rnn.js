// A vanilla RNN in plain JavaScript, float64, with backpropagation through time by hand: an
// engine of your own for rnnlab (docs/engines.md, "In process: a JavaScript module").
//
//   npx rnnlab check --engines ./examples/js-engine/plain-rnn.js --cell rnn --mask --carried-state --per-step
//
// It imports nothing: copy it and change the cell. Weights use rnnlab's canonical (Keras) layout,
// row-major: layers.{l}.kernel [in, H], layers.{l}.recurrentKernel [H, H], layers.{l}.bias [H],
// head.kernel [H, O], head.bias [O]. One step: h_t = act(x_t W + h_{t-1} U + b).

/** What this engine does; rnnlab never asks it for anything else. */
export const supports = {
  cells: ['rnn'],
  activations: ['tanh', 'relu'],
  input: ['dense', 'tokens'],
  returnSequences: [true, false],
  losses: ['softmaxCrossEntropy', 'mse'],
  lossReductions: ['mean', 'sumOverTime'],
  mask: true,
  carriedState: true,
  dtypes: ['float64'],
  optimizers: ['sgd', 'momentum', 'adam'],
  clipping: true,
  inputGrad: true,
  stateGrads: true,
  optimizerState: true,
};

const SLOTS = { sgd: [], momentum: ['v'], adam: ['m', 'v'] };

export function createEngine({ spec, params, optimizer }) {
  const { hiddenSize: H, layers: L, outputSize: O, inputSize: D } = spec;
  const act = spec.activation === 'relu' ? (a) => (a > 0 ? a : 0) : Math.tanh;
  // the derivative of act, from its output
  const dact = spec.activation === 'relu' ? (h) => (h > 0 ? 1 : 0) : (h) => 1 - h * h;
  const shapes = {};
  for (let l = 0; l < L; l++) {
    shapes[`layers.${l}.kernel`] = [l === 0 ? D : H, H];
    shapes[`layers.${l}.recurrentKernel`] = [H, H];
    shapes[`layers.${l}.bias`] = [H];
  }
  shapes['head.kernel'] = [H, O];
  shapes['head.bias'] = [O];
  const size = (n) => shapes[n].reduce((a, b) => a * b, 1);
  const P = {}; // name -> Float64Array
  const setParams = (p) => {
    for (const n of Object.keys(shapes)) P[n] = Float64Array.from(p[n].data);
  };
  setParams(params);
  const slots = Object.fromEntries(SLOTS[optimizer.name].map((s) => [s, Object.fromEntries(Object.keys(shapes).map((n) => [n, new Float64Array(size(n))]))]));
  let iterations = 0;

  // ---- forward: h[l][t] is [B, H] (t = -1 is the initial state, stored at index 0) ----
  function forward(b) {
    const { batchSize: B, seqLen: T } = b;
    const h = [];
    for (let l = 0; l < L; l++) {
      const W = P[`layers.${l}.kernel`], U = P[`layers.${l}.recurrentKernel`], bias = P[`layers.${l}.bias`];
      const hl = [b.initialState ? Float64Array.from(b.initialState.h[l]) : new Float64Array(B * H)];
      for (let t = 0; t < T; t++) {
        const prev = hl[t];
        const next = new Float64Array(B * H); // [B, H]
        for (let i = 0; i < B; i++) {
          const real = !b.mask || b.mask[i * T + t] === 1;
          for (let j = 0; j < H; j++) {
            if (!real) { next[i * H + j] = prev[i * H + j]; continue; } // a masked step keeps h
            let a = bias[j];
            if (l > 0) for (let k = 0; k < H; k++) a += h[l - 1][t + 1][i * H + k] * W[k * H + j];
            else if (spec.input === 'tokens') a += W[b.x[i * T + t] * H + j]; // one-hot x: a row of W
            else for (let k = 0; k < D; k++) a += b.x[(i * T + t) * D + k] * W[k * H + j];
            for (let k = 0; k < H; k++) a += prev[i * H + k] * U[k * H + j];
            next[i * H + j] = act(a);
          }
        }
        hl.push(next);
      }
      h.push(hl);
    }
    // head: at every step, or at the last one
    const steps = spec.returnSequences ? [...Array(T).keys()] : [T - 1];
    const S = steps.length;
    const z = new Float64Array(B * S * O); // [B, S, O]
    const top = h[L - 1];
    for (let i = 0; i < B; i++) for (let s = 0; s < S; s++) for (let o = 0; o < O; o++) {
      let a = P['head.bias'][o];
      for (let k = 0; k < H; k++) a += top[steps[s] + 1][i * H + k] * P['head.kernel'][k * O + o];
      z[(i * S + s) * O + o] = a;
    }
    return { h, z, steps };
  }

  const finalState = (h, B) => ({ h: h.map((hl) => hl[hl.length - 1].slice(0, B * H)) });

  // ---- loss and dLoss/dz ----
  function loss(b, z, S) {
    const B = b.batchSize;
    const T = b.seqLen;
    const counted = (i, s) => !spec.returnSequences || !b.mask || b.mask[i * T + s] === 1;
    let n = 0;
    for (let i = 0; i < B; i++) for (let s = 0; s < S; s++) if (counted(i, s)) n++;
    const scale = spec.lossReduction === 'mean' ? (n > 0 ? 1 / n : 0) : 1 / B;
    let total = 0;
    const dz = new Float64Array(z.length);
    for (let i = 0; i < B; i++) for (let s = 0; s < S; s++) {
      if (!counted(i, s)) continue;
      const off = (i * S + s) * O;
      if (spec.loss === 'softmaxCrossEntropy') {
        let max = -Infinity;
        for (let o = 0; o < O; o++) max = Math.max(max, z[off + o]);
        let sum = 0;
        for (let o = 0; o < O; o++) sum += Math.exp(z[off + o] - max);
        const lse = max + Math.log(sum);
        const y = b.y[i * S + s];
        total += (lse - z[off + y]) * scale;
        for (let o = 0; o < O; o++) dz[off + o] = (Math.exp(z[off + o] - lse) - (o === y ? 1 : 0)) * scale;
      } else {
        for (let o = 0; o < O; o++) {
          const d = z[off + o] - b.y[off + o];
          total += ((d * d) / O) * scale;
          dz[off + o] = ((2 * d) / O) * scale;
        }
      }
    }
    return { total, dz };
  }

  // ---- backward through time ----
  function backward(b, want = {}) {
    const { batchSize: B, seqLen: T } = b;
    const { h, z, steps } = forward(b);
    const S = steps.length;
    const { total, dz } = loss(b, z, S);
    const g = Object.fromEntries(Object.keys(shapes).map((n) => [n, new Float64Array(size(n))]));
    // head, and the gradient it sends into the top layer's h_t
    let dOut = Array.from({ length: T }, () => new Float64Array(B * H)); // dLoss/dh_t from above
    const top = h[L - 1];
    for (let i = 0; i < B; i++) for (let s = 0; s < S; s++) for (let o = 0; o < O; o++) {
      const d = dz[(i * S + s) * O + o];
      g['head.bias'][o] += d;
      for (let k = 0; k < H; k++) {
        g['head.kernel'][k * O + o] += top[steps[s] + 1][i * H + k] * d;
        dOut[steps[s]][i * H + k] += P['head.kernel'][k * O + o] * d;
      }
    }
    const dh = []; // per layer [B, T, H]
    const dState = { h: [] };
    let dx = want.inputGrad ? new Float64Array(B * T * D) : null;
    for (let l = L - 1; l >= 0; l--) {
      const W = P[`layers.${l}.kernel`], U = P[`layers.${l}.recurrentKernel`];
      const gW = g[`layers.${l}.kernel`], gU = g[`layers.${l}.recurrentKernel`], gb = g[`layers.${l}.bias`];
      const inSize = l === 0 ? D : H;
      const dBelow = Array.from({ length: T }, () => new Float64Array(B * inSize));
      const dhl = new Float64Array(B * T * H);
      let dNext = new Float64Array(B * H); // dLoss/dh_t arriving from step t+1
      for (let t = T - 1; t >= 0; t--) {
        const dPrev = new Float64Array(B * H);
        for (let i = 0; i < B; i++) {
          const real = !b.mask || b.mask[i * T + t] === 1;
          for (let j = 0; j < H; j++) {
            const dtot = dOut[t][i * H + j] + dNext[i * H + j]; // the total reaching h_t
            dhl[(i * T + t) * H + j] = dtot;
            if (!real) { dPrev[i * H + j] += dtot; continue; } // a kept state passes its gradient back
            const da = dtot * dact(h[l][t + 1][i * H + j]);
            gb[j] += da;
            for (let k = 0; k < H; k++) {
              gU[k * H + j] += h[l][t][i * H + k] * da;
              dPrev[i * H + k] += U[k * H + j] * da;
            }
            if (l > 0) for (let k = 0; k < H; k++) { gW[k * H + j] += h[l - 1][t + 1][i * H + k] * da; dBelow[t][i * H + k] += W[k * H + j] * da; }
            else if (spec.input === 'tokens') gW[b.x[i * T + t] * H + j] += da;
            else for (let k = 0; k < D; k++) {
              gW[k * H + j] += b.x[(i * T + t) * D + k] * da;
              if (dx) dx[(i * T + t) * D + k] += W[k * H + j] * da;
            }
          }
        }
        dNext = dPrev;
      }
      dh[l] = dhl;
      dState.h[l] = dNext; // what reaches the initial state
      dOut = dBelow;
    }
    const grads = Object.fromEntries(Object.keys(shapes).map((n) => [n, { dtype: 'F64', shape: shapes[n], data: g[n] }]));
    return { loss: total, grads, finalState: finalState(h, B), ...(want.stateGrads ? { dh, dState } : {}), ...(dx ? { dx } : {}) };
  }

  // ---- the optimizer: clipping, then tfjs's update formulas ----
  function step(b) {
    const r = backward(b);
    const names = Object.keys(shapes);
    const g = names.map((n) => r.grads[n].data);
    if (optimizer.clipValue !== undefined) for (const a of g) for (let i = 0; i < a.length; i++) a[i] = Math.min(optimizer.clipValue, Math.max(-optimizer.clipValue, a[i]));
    if (optimizer.clipNorm !== undefined) {
      let sq = 0;
      for (const a of g) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
      const norm = Math.sqrt(sq);
      if (norm > optimizer.clipNorm) for (const a of g) for (let i = 0; i < a.length; i++) a[i] *= optimizer.clipNorm / norm;
    }
    iterations++;
    const { lr, momentum, beta1, beta2, epsilon } = optimizer;
    names.forEach((n, k) => {
      const p = P[n], gr = g[k];
      for (let i = 0; i < p.length; i++) {
        if (optimizer.name === 'sgd') p[i] -= lr * gr[i];
        else if (optimizer.name === 'momentum') {
          const v = slots.v[n];
          v[i] = momentum * v[i] + gr[i];
          p[i] -= lr * v[i];
        } else {
          const m = slots.m[n], v = slots.v[n];
          m[i] = beta1 * m[i] + (1 - beta1) * gr[i];
          v[i] = beta2 * v[i] + (1 - beta2) * gr[i] * gr[i];
          p[i] -= (lr * (m[i] / (1 - beta1 ** iterations))) / (Math.sqrt(v[i] / (1 - beta2 ** iterations)) + epsilon);
        }
      }
    });
    return { loss: r.loss, finalState: r.finalState };
  }

  return {
    name: 'plain-rnn',
    detail: 'float64, plain JavaScript',
    getParams: () => Object.fromEntries(Object.keys(shapes).map((n) => [n, { dtype: 'F64', shape: shapes[n], data: P[n].slice() }])),
    setParams,
    forward(b) {
      const { h, z } = forward(b);
      return { output: z, finalState: finalState(h, b.batchSize) };
    },
    lossAndGrads: (b, want) => backward(b, want),
    step,
    optimizerState() {
      const out = { iterations: { dtype: 'F64', shape: [1], data: Float64Array.of(iterations) } };
      for (const [s, byName] of Object.entries(slots)) for (const [n, a] of Object.entries(byName)) out[`${s}.${n}`] = { dtype: 'F64', shape: shapes[n], data: a.slice() };
      return out;
    },
    setOptimizerState(st) {
      iterations = Number(st.iterations.data[0]);
      for (const [s, byName] of Object.entries(slots)) for (const n of Object.keys(byName)) byName[n].set(st[`${s}.${n}`].data);
    },
    dispose() {},
  };
}
