/**
 * The scratch engine's encoder-decoder (scratch/seq2seq.ts): its hand-written gradients against
 * central finite differences, and what masks, the hand-over and attention must do.
 */
import { describe, expect, it } from 'vitest';
import { gradcheckSeq2Seq } from '../compare/gradcheck.js';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { jsKernels } from '../scratch/kernels.js';
import { optimizerSpec } from '../src/optimizer.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams } from '../src/seq2seq/params.js';
import { type Seq2SeqBatch, parseSeq2SeqSpec } from '../src/seq2seq/spec.js';
import { expectClose } from './helpers/close.js';
import { seq2seqReference } from './helpers/seq2seq-reference.js';

const CELLS = [
  { cell: 'rnn' },
  { cell: 'lstm' },
  { cell: 'gru' },
  { cell: 'gru', gruResetAfter: true },
] as const;
const ATTENTION = ['none', 'dot', 'general', 'concat'] as const;

describe('seq2seq gradcheck (float64 scratch, central differences, limit 1e-6)', () => {
  for (const c of CELLS) {
    for (const attention of ATTENTION) {
      it(`${c.cell}${'gruResetAfter' in c ? ' reset-after' : ''}, attention ${attention}: two layers, masks on both sides, every parameter by name`, () => {
        const spec = parseSeq2SeqSpec({ ...c, hiddenSize: 4, layers: 2, srcVocab: 7, tgtVocab: 6, embedding: 3, attention });
        const r = gradcheckSeq2Seq(spec, { mask: true, batch: 3, srcLen: 5, tgtLen: 4 });
        expect(r.params.filter((p) => !p.pass).map((p) => `${p.name}: ${p.maxRelError}`)).toEqual([]);
        expect(r.pass).toBe(true);
        const names = r.params.map((p) => p.name);
        if (attention === 'general' || attention === 'concat') expect(names).toContain('attention.kernel');
        if (attention === 'concat') expect(names).toContain('attention.v');
        if (attention !== 'none') expect(names).toContain('attention.combine.kernel');
        // the encoder learns only through the hand-over (and attention): its gradients must not be zero
        const enc = r.params.find((p) => p.name === 'encoder.layers.0.kernel')!;
        expect(enc.scale).toBeGreaterThan(1e-6);
      });
    }
  }
  for (const c of CELLS) {
    it(`${c.cell}${'gruResetAfter' in c ? ' reset-after' : ''}, bidirectional encoder, concat attention (3 units): two layers, masks, both directions by name`, () => {
      const spec = parseSeq2SeqSpec({ ...c, hiddenSize: 3, layers: 2, srcVocab: 7, tgtVocab: 6, embedding: 3, attention: 'concat', attentionUnits: 3, bidirectional: true });
      const r = gradcheckSeq2Seq(spec, { mask: true, batch: 3, srcLen: 5, tgtLen: 4 });
      expect(r.params.filter((p) => !p.pass).map((p) => `${p.name}: ${p.maxRelError}`)).toEqual([]);
      const names = r.params.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['encoder.layers.1.backward.kernel', 'encoder.layers.0.backward.recurrentKernel', 'attention.v']));
      // both directions learn (the backward one through the decoder's initial state and the attention)
      for (const n of ['encoder.layers.0.kernel', 'encoder.layers.0.backward.kernel']) expect(r.params.find((p) => p.name === n)!.scale, n).toBeGreaterThan(1e-6);
    });
  }
  it('bidirectional encoder with dot and general attention and none', () => {
    for (const attention of ['dot', 'general', 'none'] as const) {
      const spec = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 3, layers: 2, srcVocab: 7, tgtVocab: 6, embedding: 3, attention, bidirectional: true });
      const r = gradcheckSeq2Seq(spec, { mask: true, batch: 2, srcLen: 4, tgtLen: 3 });
      expect(r.params.filter((p) => !p.pass).map((p) => `${attention} ${p.name}: ${p.maxRelError}`)).toEqual([]);
    }
  });
  it('a shared embedding table collects both sides\' gradients', () => {
    const spec = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 4, srcVocab: 8, tgtVocab: 8, embedding: 3, attention: 'dot', sharedEmbedding: true });
    const r = gradcheckSeq2Seq(spec, { mask: true });
    expect(r.params.map((p) => p.name)).toContain('embedding');
    expect(r.pass).toBe(true);
  });
});

/** Row r of a batch as a batch of one, cut to its own lengths. */
function rowAlone(b: Seq2SeqBatch, r: number): Seq2SeqBatch {
  const S = b.srcMask.subarray(r * b.srcLen, (r + 1) * b.srcLen).reduce((n, v) => n + v, 0);
  const T = b.tgtMask.subarray(r * b.tgtLen, (r + 1) * b.tgtLen).reduce((n, v) => n + v, 0);
  return {
    batchSize: 1,
    srcLen: S,
    tgtLen: T,
    src: b.src.slice(r * b.srcLen, r * b.srcLen + S),
    srcMask: new Uint8Array(S).fill(1),
    tgtIn: b.tgtIn.slice(r * b.tgtLen, r * b.tgtLen + T),
    tgtOut: b.tgtOut.slice(r * b.tgtLen, r * b.tgtLen + T),
    tgtMask: new Uint8Array(T).fill(1),
  };
}

describe('seq2seq scratch engine against the independent float64 reference (test/helpers/seq2seq-reference.ts)', () => {
  const CASES = [
    { cell: 'lstm', attention: 'concat', bidirectional: true, layers: 2 },
    { cell: 'gru', gruResetAfter: true, attention: 'general', bidirectional: true },
    { cell: 'rnn', attention: 'concat', attentionUnits: 7 },
    { cell: 'gru', attention: 'dot', bidirectional: true, layers: 2 },
  ] as const;
  for (const fields of CASES) {
    it(`${JSON.stringify(fields)}: logits, attention and loss to 1e-12 (float64; the same arithmetic in another order)`, () => {
      const spec = parseSeq2SeqSpec({ hiddenSize: 4, embedding: 3, srcVocab: 9, tgtVocab: 7, ...fields });
      const params = randomSeq2SeqParams(spec, 4, 'F64');
      const e = new ScratchSeq2Seq(spec, { dtype: 'float64', params });
      const b = randomSeq2SeqBatch(spec, 3, 6, 5, 9, { mask: true });
      const p = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.data as Float64Array]));
      const ref = seq2seqReference(spec, p, b);
      const f = e.forward(b);
      expectClose('logits', f.logits, ref.logits, 1e-12, { absolute: true });
      expectClose('attention', f.attention!, ref.attention!, 1e-12, { absolute: true });
      expect(Math.abs(e.lossAndGrads(b).loss - ref.loss)).toBeLessThan(1e-12);
    });
  }
});

describe('seq2seq scratch engine', () => {
  const spec = parseSeq2SeqSpec({ cell: 'gru', hiddenSize: 6, layers: 2, srcVocab: 9, tgtVocab: 7, embedding: 4, attention: 'general' });
  const params = randomSeq2SeqParams(spec, 3, 'F64');

  const biSpec = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 5, layers: 2, srcVocab: 9, tgtVocab: 7, embedding: 4, attention: 'concat', bidirectional: true });
  it.each([
    ['gru, general attention', spec, params],
    ['lstm, bidirectional encoder, concat attention', biSpec, randomSeq2SeqParams(biSpec, 3, 'F64')],
  ] as const)('%s: a padded row gives what it gives alone: logits and attention (float64, 1e-12: the same arithmetic in another order)', (_, spec, params) => {
    const e = new ScratchSeq2Seq(spec, { dtype: 'float64', params });
    const b = randomSeq2SeqBatch(spec, 4, 6, 5, 7, { mask: true });
    const all = e.forward(b);
    for (let r = 0; r < 4; r++) {
      const one = rowAlone(b, r);
      const alone = e.forward(one);
      const V = spec.tgtVocab;
      for (let t = 0; t < one.tgtLen; t++) {
        expectClose(`row ${r} step ${t} logits`, all.logits.subarray((r * b.tgtLen + t) * V, (r * b.tgtLen + t + 1) * V), alone.logits.subarray(t * V, (t + 1) * V), 1e-12, { absolute: true });
        const att = all.attention!.subarray((r * b.tgtLen + t) * b.srcLen, (r * b.tgtLen + t + 1) * b.srcLen);
        expectClose(`row ${r} step ${t} attention`, att.subarray(0, one.srcLen), alone.attention!.subarray(t * one.srcLen, (t + 1) * one.srcLen), 1e-12, { absolute: true });
        // padding gets no attention, and the weights sum to one
        for (let j = one.srcLen; j < b.srcLen; j++) expect(att[j]).toBe(0);
        expect(Math.abs(Array.from(att).reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-12);
      }
    }
  });

  it('the same seed gives the same bits; float32 agrees with float64 to float32 rounding (1e-5)', () => {
    const b = randomSeq2SeqBatch(spec, 3, 6, 5, 11, { mask: true });
    const run = (): Float32Array => {
      const e = new ScratchSeq2Seq(spec, { dtype: 'float32', seed: 5, optimizer: optimizerSpec('adam', { lr: 0.01 }) });
      for (let i = 0; i < 3; i++) e.step(b);
      return e.forward(b).logits as Float32Array;
    };
    expect(Buffer.from(run().buffer).equals(Buffer.from(run().buffer))).toBe(true);
    const f32 = new ScratchSeq2Seq(spec, { dtype: 'float32', params });
    const f64 = new ScratchSeq2Seq(spec, { dtype: 'float64', params });
    expectClose('float32 logits', f32.forward(b).logits, f64.forward(b).logits, 1e-5, { absolute: true });
    const g32 = f32.lossAndGrads(b).grads;
    const g64 = f64.lossAndGrads(b).grads;
    for (const k of Object.keys(g64)) expectClose(`float32 grad ${k}`, g32[k].data, g64[k].data, 1e-4);
  });

  it('shapes share one arena: 256 smaller shapes after the largest allocate nothing, and give what a fresh engine gives (bit for bit)', () => {
    let allocated = 0;
    const base = jsKernels('float64');
    const counting = { ...base, alloc: (n: number) => ((allocated += n), base.alloc(n)) };
    const e = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels: counting, params });
    const batch = (B: number, S: number, T: number): Seq2SeqBatch => randomSeq2SeqBatch(spec, B, S, T, 100 * B + 10 * S + T);
    e.forward(batch(4, 8, 8));
    const after = allocated;
    for (let B = 1; B <= 4; B++) for (let S = 1; S <= 8; S++) for (let T = 1; T <= 8; T++) e.forward(batch(B, S, T));
    expect(allocated).toBe(after);
    const b = batch(3, 5, 4);
    const fresh = new ScratchSeq2Seq(spec, { dtype: 'float64', params });
    expect(Buffer.from((e.forward(b).logits as Float64Array).buffer).equals(Buffer.from((fresh.forward(b).logits as Float64Array).buffer))).toBe(true);
    const g1 = e.lossAndGrads(b).grads;
    const g2 = fresh.lossAndGrads(b).grads;
    for (const k of Object.keys(g2)) expect(Buffer.from((g1[k].data as Float64Array).buffer).equals(Buffer.from((g2[k].data as Float64Array).buffer)), k).toBe(true);
  });

  it('training on one batch drives its loss below a third (Adam, 60 steps)', () => {
    const e = new ScratchSeq2Seq(spec, { dtype: 'float32', seed: 1, optimizer: optimizerSpec('adam', { lr: 0.02 }) });
    const b = randomSeq2SeqBatch(spec, 4, 6, 5, 13, { mask: true });
    const first = e.step(b).loss;
    let last = first;
    for (let i = 0; i < 60; i++) last = e.step(b).loss;
    expect(last).toBeLessThan(first / 3);
  });

  it('per-step gradients: the decoder\'s first step and the encoder\'s last real step carry the hand-over', () => {
    const plain = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 4, srcVocab: 7, tgtVocab: 6, embedding: 3, attention: 'none' });
    const e = new ScratchSeq2Seq(plain, { dtype: 'float64', params: randomSeq2SeqParams(plain, 2, 'F64') });
    const b = randomSeq2SeqBatch(plain, 2, 5, 4, 3);
    const g = e.lossAndGrads(b, { stepGrads: true });
    expect(g.dhEncoder).toHaveLength(1);
    expect(g.dhDecoder).toHaveLength(1);
    // without attention the encoder's outputs are read only through its final state: dh at its last step is the decoder's initial-state gradient, non-zero
    const H = 4;
    const last = g.dhEncoder![0].subarray((0 * 5 + 4) * H, (0 * 5 + 5) * H);
    expect(Math.max(...Array.from(last, Math.abs))).toBeGreaterThan(1e-8);
  });
});
