/**
 * The tfjs seq2seq twin (tfjs/seq2seq.ts, wasm backend) against an independent float64 forward of
 * src/seq2seq/spec.ts in plain JavaScript (test/helpers/seq2seq-reference.ts: embedding lookup, the
 * Keras cells, masked encoder steps keeping the state, a bidirectional encoder, Luong attention
 * dot/general/concat, combine, head, mean cross-entropy).
 *
 * Tolerances (float32 tfjs against float64):
 *   logits, attention, loss: 1e-5 absolute (compare/tolerance.ts "forward": sums of a few dozen
 *     float32 products, each rounded at ~6e-8, stay far below it at these sizes);
 *   gradients: against central differences (step 1e-5) of the float64 reference loss, per entry
 *     |g - fd| <= 1e-3 * max(|fd|, 1e-2): float32 BPTT rounding is ~1e-6 relative; the floor keeps
 *     near-zero entries from demanding more than float32 holds (1e-5 absolute).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { InputError } from '../src/errors.js';
import { optimizerSpec } from '../src/optimizer.js';
import type { NamedParams } from '../src/params.js';
import { Rng } from '../src/rng.js';
import { randomSeq2SeqParams } from '../src/seq2seq/params.js';
import { BOS, EOS, PAD, type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, parseSeq2SeqSpec, seq2seqLayout } from '../src/seq2seq/spec.js';
import { type LoadedTf, loadTf } from '../tfjs/backend.js';
import { createTfjsSeq2SeqEngine } from '../tfjs/seq2seq.js';
import { expectClose, expectNear } from './helpers/close.js';
import { type P, type Probe, seq2seqReference as reference } from './helpers/seq2seq-reference.js';

const f64 = (params: NamedParams): P => Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Float64Array.from(t.data as ArrayLike<number>)]));

// ---------------------------------------------------------------------------------------------
// Cases

const CASES: { label: string; fields: Record<string, unknown> }[] = [
  { label: 'lstm, general attention', fields: { cell: 'lstm', attention: 'general' } },
  { label: 'gru (reset before), dot attention, 2 layers', fields: { cell: 'gru', attention: 'dot', layers: 2 } },
  { label: 'rnn tanh, no attention', fields: { cell: 'rnn', attention: 'none' } },
  { label: 'gru reset-after, general, shared embedding, 2 layers', fields: { cell: 'gru', gruResetAfter: true, attention: 'general', layers: 2, sharedEmbedding: true, srcVocab: 8, tgtVocab: 8 } },
  { label: 'lstm, dot attention, 2 layers', fields: { cell: 'lstm', attention: 'dot', layers: 2 } },
  { label: 'lstm, concat attention (4 units), bidirectional encoder, 2 layers', fields: { cell: 'lstm', attention: 'concat', attentionUnits: 4, bidirectional: true, layers: 2 } },
  { label: 'gru reset-after, general attention, bidirectional encoder', fields: { cell: 'gru', gruResetAfter: true, attention: 'general', bidirectional: true } },
  { label: 'gru (reset before), concat attention', fields: { cell: 'gru', attention: 'concat' } },
];

const specOf = (fields: Record<string, unknown>): Seq2SeqSpec => parseSeq2SeqSpec({ hiddenSize: 5, embedding: 3, srcVocab: 9, tgtVocab: 7, ...fields });

/** Source lengths 6, 3, 1 and target lengths 5, 2, 4 (right padding); ids from `rng`; padded source ids are `padId`. */
function makeBatch(s: Seq2SeqSpec, seed: number, padId = PAD): Seq2SeqBatch {
  const rng = new Rng(seed);
  const B = 3;
  const S = 6;
  const T = 5;
  const srcLens = [6, 3, 1];
  const tgtLens = [5, 2, 4];
  const b: Seq2SeqBatch = {
    batchSize: B,
    srcLen: S,
    tgtLen: T,
    src: new Int32Array(B * S),
    srcMask: new Uint8Array(B * S),
    tgtIn: new Int32Array(B * T),
    tgtOut: new Int32Array(B * T),
    tgtMask: new Uint8Array(B * T),
  };
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < S; j++) {
      const on = j < srcLens[r];
      b.srcMask[r * S + j] = on ? 1 : 0;
      b.src[r * S + j] = on ? 3 + rng.int(s.srcVocab - 3) : padId;
    }
    // target: tgtLens[r] - 1 symbols then EOS; the decoder reads BOS then the target shifted right
    const tgt = Array.from({ length: tgtLens[r] }, (_, t) => (t === tgtLens[r] - 1 ? EOS : 3 + rng.int(s.tgtVocab - 3)));
    for (let t = 0; t < T; t++) {
      const on = t < tgtLens[r];
      b.tgtMask[r * T + t] = on ? 1 : 0;
      b.tgtOut[r * T + t] = on ? tgt[t] : PAD;
      b.tgtIn[r * T + t] = t === 0 ? BOS : on ? tgt[t - 1] : PAD;
    }
  }
  return b;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** The worst per-entry error |g - fd| / max(|fd|, 1e-2) (see the top). */
const gradError = (g: number, fd: number): number => Math.abs(g - fd) / Math.max(Math.abs(fd), 1e-2);

let loaded: LoadedTf;
const measured: Record<string, number> = {};
const note = (key: string, v: number): void => {
  measured[key] = Math.max(measured[key] ?? 0, v);
};

describe('tfjs seq2seq twin (wasm) against a float64 reference of the spec', () => {
  beforeAll(async () => {
    loaded = await loadTf('wasm');
  });

  describe.each(CASES)('$label', ({ fields }) => {
    test('logits, attention and loss equal the reference; masks; gradients equal central differences', async () => {
      const spec = specOf(fields);
      const params = randomSeq2SeqParams(spec, 11);
      const p = f64(params);
      const engine = await createTfjsSeq2SeqEngine(loaded, spec, { params });
      try {
        const b = makeBatch(spec, 5);
        const ref = reference(spec, p, b);
        const fwd = await engine.forward(b);
        expect(fwd.logits.length).toBe(3 * 5 * spec.tgtVocab);
        expectClose('logits', fwd.logits, ref.logits, 'forward', { absolute: true });
        note('logits (abs)', maxAbs(fwd.logits, ref.logits));
        if (ref.attention) {
          expect(fwd.attention).not.toBeNull();
          expectClose('attention', fwd.attention!, ref.attention, 'forward', { absolute: true });
          note('attention (abs)', maxAbs(fwd.attention!, ref.attention));
          // every row a distribution over the real source positions, exactly 0 on padding
          for (let r = 0; r < 3; r++) {
            for (let t = 0; t < 5; t++) {
              let sum = 0;
              for (let j = 0; j < 6; j++) {
                const a = fwd.attention![(r * 5 + t) * 6 + j];
                if (b.srcMask[r * 6 + j]) sum += a;
                else expect(a, `attention [${r}, ${t}, ${j}] on padding`).toBe(0);
              }
              expect(Math.abs(sum - 1), `attention row [${r}, ${t}] sums to ${sum}`).toBeLessThan(1e-6);
            }
          }
        } else expect(fwd.attention).toBeNull();

        // the masks: other ids in the padded source positions change nothing, bit for bit
        const garbage = await engine.forward(makeBatch(spec, 5, 4));
        expect(Array.from(garbage.logits)).toEqual(Array.from(fwd.logits));

        const g = await engine.lossAndGrads(b, { stepGrads: true });
        expectNear('loss', g.loss, ref.loss, 'forward', { absolute: true });
        note('loss (abs)', Math.abs(g.loss - ref.loss));
        expect(Object.keys(g.grads)).toEqual(seq2seqLayout(spec).map((x) => x.name));

        // gradients: per parameter the largest tfjs entry and two seeded ones, against central differences of the reference loss
        const rng = new Rng(7);
        const h = 1e-5;
        let biggest = 0;
        for (const info of seq2seqLayout(spec)) {
          const got = g.grads[info.name].data;
          expect(got.length).toBe(p[info.name].length);
          let top = 0;
          for (let i = 1; i < got.length; i++) if (Math.abs(got[i]) > Math.abs(got[top])) top = i;
          for (const i of [top, rng.int(got.length), rng.int(got.length)]) {
            const v = p[info.name][i];
            p[info.name][i] = v + h;
            const up = reference(spec, p, b).loss;
            p[info.name][i] = v - h;
            const down = reference(spec, p, b).loss;
            p[info.name][i] = v;
            const fd = (up - down) / (2 * h);
            biggest = Math.max(biggest, Math.abs(fd));
            const err = gradError(got[i], fd);
            note('parameter gradients (rel)', err);
            expect(err, `d loss / d ${info.name}[${i}]: tfjs ${got[i]} vs finite differences ${fd}`).toBeLessThanOrEqual(1e-3);
          }
        }
        expect(biggest, 'the checked gradients are not all ~0').toBeGreaterThan(1e-2);

        // dLoss/dh_t per layer and step (stepGrads): a real and a padded encoder step, decoder steps
        expect(g.dhEncoder?.length).toBe(spec.layers);
        expect(g.dhDecoder?.length).toBe(spec.layers);
        // widths of dh: the encoder's step holds both directions' h (bidirectional), the decoder's D units
        const width = { encoder: (spec.bidirectional ? 2 : 1) * spec.hiddenSize, decoder: decoderSize(spec) };
        const probes: Probe[] = [
          { side: 'encoder', layer: 0, t: 1, row: 1, unit: 2, eps: 0 },
          { side: 'encoder', layer: spec.layers - 1, t: 4, row: 1, unit: 0, eps: 0 }, // padded: the kept state is what the decoder starts from
          { side: 'encoder', layer: spec.layers - 1, t: 0, row: 0, unit: 4, eps: 0 },
          { side: 'decoder', layer: 0, t: 0, row: 2, unit: 1, eps: 0 },
          { side: 'decoder', layer: spec.layers - 1, t: 3, row: 0, unit: 3, eps: 0 },
          ...(spec.bidirectional
            ? ([
                { side: 'encoder', layer: 0, t: 2, row: 1, unit: spec.hiddenSize + 1, eps: 0 }, // the backward direction at a real step
                { side: 'encoder', layer: spec.layers - 1, t: 0, row: 2, unit: 2 * spec.hiddenSize - 1, eps: 0 }, // its last step: its final state goes to the decoder
                { side: 'decoder', layer: 0, t: 1, row: 0, unit: decoderSize(spec) - 1, eps: 0 },
              ] as Probe[])
            : []),
        ];
        for (const pr of probes) {
          const n = pr.side === 'encoder' ? 6 : 5;
          const got = (pr.side === 'encoder' ? g.dhEncoder! : g.dhDecoder!)[pr.layer][(pr.row * n + pr.t) * width[pr.side] + pr.unit];
          const fd = (reference(spec, p, b, { ...pr, eps: h }).loss - reference(spec, p, b, { ...pr, eps: -h }).loss) / (2 * h);
          const err = gradError(got, fd);
          note('dLoss/dh_t (rel)', err);
          expect(err, `dLoss/dh ${JSON.stringify(pr)}: tfjs ${got} vs finite differences ${fd}`).toBeLessThanOrEqual(1e-3);
        }
      } finally {
        engine.dispose();
      }
    });
  });

  test('padding a row changes nothing: the same row alone, unpadded, gives the same logits', async () => {
    const spec = specOf({ cell: 'lstm', attention: 'general', layers: 2 });
    const params = randomSeq2SeqParams(spec, 3);
    const engine = await createTfjsSeq2SeqEngine(loaded, spec, { params });
    try {
      const b = makeBatch(spec, 9); // row 1: source length 3, target length 2
      const S = 3;
      const T = 2;
      const row: Seq2SeqBatch = {
        batchSize: 1,
        srcLen: S,
        tgtLen: T,
        src: b.src.slice(6, 6 + S),
        srcMask: new Uint8Array(S).fill(1),
        tgtIn: b.tgtIn.slice(5, 5 + T),
        tgtOut: b.tgtOut.slice(5, 5 + T),
        tgtMask: new Uint8Array(T).fill(1),
      };
      const V = spec.tgtVocab;
      const full = await engine.forward(b);
      const alone = await engine.forward(row);
      expectClose('row 1 alone vs padded', alone.logits, full.logits.slice(5 * V, (5 + T) * V), 1e-6, { absolute: true });
      const a = full.attention!;
      expectClose('row 1 attention', alone.attention!, [0, 1].flatMap((t) => Array.from(a.slice((5 + t) * 6, (5 + t) * 6 + S))), 1e-6, { absolute: true });
    } finally {
      engine.dispose();
    }
  });

  test('the functional tf.model (dot, softmax, concatenate, dense) predicts what the engine computes on unpadded input', async () => {
    for (const fields of [
      { cell: 'lstm', attention: 'general' },
      { cell: 'gru', gruResetAfter: true, attention: 'dot', layers: 2 },
      { cell: 'rnn', attention: 'none' },
      { cell: 'lstm', attention: 'concat', bidirectional: true, layers: 2 },
      { cell: 'gru', gruResetAfter: true, attention: 'concat', bidirectional: true },
    ]) {
      const spec = specOf(fields);
      const engine = await createTfjsSeq2SeqEngine(loaded, spec, { params: randomSeq2SeqParams(spec, 4) });
      const tf = loaded.tf;
      try {
        const kinds = engine.model.layers.map((l) => l.getClassName());
        if (spec.attention !== 'none') expect(kinds).toEqual(expect.arrayContaining(['Dot', 'Activation', 'Concatenate', 'Dense', 'Embedding']));
        if (spec.attention === 'concat') expect(kinds).toContain('RnnlabLuongConcatScore');
        if (spec.bidirectional) expect(kinds).toContain('Bidirectional');
        expect(engine.model.inputs.length).toBe(2);
        expect(engine.model.outputs.length).toBe(spec.attention === 'none' ? 1 : 2);
        const b = makeBatch(spec, 2);
        b.srcMask.fill(1);
        for (let i = 0; i < b.src.length; i++) if (b.src[i] === PAD) b.src[i] = 3;
        const fwd = await engine.forward(b);
        const ref = reference(spec, f64(await engine.getParams()), b);
        expectClose('engine vs reference (unpadded)', fwd.logits, ref.logits, 'forward', { absolute: true });
        const src = tf.tensor2d(b.src, [3, 6], 'int32');
        const tgt = tf.tensor2d(b.tgtIn, [3, 5], 'int32');
        const out = engine.model.predict([src, tgt]);
        const outs = Array.isArray(out) ? out : [out];
        expectClose('model.predict logits', outs[0].dataSync(), fwd.logits, 1e-6, { absolute: true });
        if (spec.attention !== 'none') expectClose('model.predict attention', outs[1].dataSync(), fwd.attention!, 1e-6, { absolute: true });
        tf.dispose([src, tgt, ...outs]);
      } finally {
        engine.dispose();
      }
    }
  });

  test('getParams / setParams by canonical name; wrong names or shapes are refused', async () => {
    const spec = specOf({ cell: 'gru', attention: 'general', layers: 2 });
    const params = randomSeq2SeqParams(spec, 8);
    const engine = await createTfjsSeq2SeqEngine(loaded, spec, { seed: 1 });
    try {
      const init = await engine.getParams();
      expect(Object.keys(init)).toEqual(seq2seqLayout(spec).map((x) => x.name));
      engine.setParams(params);
      const back = await engine.getParams();
      for (const info of seq2seqLayout(spec)) {
        expect(back[info.name].shape).toEqual(info.shape);
        expect(Array.from(back[info.name].data)).toEqual(Array.from(Float32Array.from(params[info.name].data as ArrayLike<number>)));
      }
      const { ['attention.kernel']: _dropped, ...missing } = params;
      expect(() => engine.setParams(missing)).toThrow(InputError);
      expect(() => engine.setParams({ ...params, 'head.bias': { dtype: 'F32', shape: [3], data: new Float32Array(3) } })).toThrow(/head\.bias/);
    } finally {
      engine.dispose();
    }
  });

  test('no tensor leaks: numTensors is flat across calls and back where it started after dispose', async () => {
    const tf = loaded.tf;
    const before = tf.memory().numTensors;
    const spec = specOf({ cell: 'lstm', attention: 'general', layers: 2 });
    const engine = await createTfjsSeq2SeqEngine(loaded, spec, { seed: 2 });
    const b = makeBatch(spec, 1);
    await engine.step(b); // creates the optimizer's slots
    const n0 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await engine.forward(b);
      await engine.lossAndGrads(b, { stepGrads: true });
      await engine.step(b);
      await engine.getParams();
      engine.setParams(await engine.getParams());
      expect(tf.memory().numTensors, `after round ${i}`).toBe(n0);
    }
    engine.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('step lowers the loss on a fixed batch; clipping bounds the update', async () => {
    const spec = specOf({ cell: 'gru', attention: 'dot' });
    const engine = await createTfjsSeq2SeqEngine(loaded, spec, { seed: 3, optimizer: optimizerSpec('adam', { lr: 0.05 }) });
    try {
      const b = makeBatch(spec, 6);
      const first = (await engine.lossAndGrads(b)).loss;
      let last = first;
      for (let i = 0; i < 20; i++) {
        const { loss } = await engine.step(b);
        if (i === 0) expect(loss).toBeCloseTo(first, 5); // the loss before the update
        last = loss;
      }
      const after = (await engine.lossAndGrads(b)).loss;
      expect(after).toBeLessThan(last);
      expect(after, `loss ${first} -> ${after}`).toBeLessThan(0.5 * first);
    } finally {
      engine.dispose();
    }
    // sgd lr 1 with clipNorm 1e-3: the whole update has norm <= 1e-3 (the raw gradient's is far larger)
    const clipped = await createTfjsSeq2SeqEngine(loaded, spec, { seed: 3, optimizer: optimizerSpec('sgd', { lr: 1, clipNorm: 1e-3 }) });
    try {
      const b = makeBatch(spec, 6);
      const g = (await clipped.lossAndGrads(b)).grads;
      const rawNorm = Math.sqrt(Object.values(g).reduce((a, t) => a + Array.from(t.data).reduce((s, v) => s + v * v, 0), 0));
      expect(rawNorm).toBeGreaterThan(1e-2);
      const p0 = await clipped.getParams();
      await clipped.step(b);
      const p1 = await clipped.getParams();
      const moved = Math.sqrt(Object.keys(p0).reduce((a, k) => a + Array.from(p0[k].data).reduce((s, v, i) => s + (v - p1[k].data[i]) ** 2, 0), 0));
      expect(moved).toBeGreaterThan(0.9e-3);
      expect(moved).toBeLessThan(1.01e-3);
    } finally {
      clipped.dispose();
    }
  });

  test('measured errors (reported)', () => {
    // eslint-disable-next-line no-console
    console.info(`seq2seq tfjs-wasm vs float64: ${Object.entries(measured).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    expect(Object.keys(measured).length).toBeGreaterThanOrEqual(4);
  });
});
