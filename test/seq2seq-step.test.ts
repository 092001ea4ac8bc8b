/**
 * Step-wise decoding (src/seq2seq/state.ts, decode.ts): greedy and beam search stepping the
 * decoder with its state give exactly what the whole-prefix decoder gives (the reference: decode.ts
 * with wholePrefix, which reruns forward over BOS + the prefix at every step, as decoding did
 * before the step API), on the same weights. On the scratch engine the comparison is bit for bit
 * (ids, log-probabilities, attention rows): the step runs the same code on the same rows, and the
 * TypeScript and WebAssembly products give each row the same sums whatever the batch around it
 * (the BLAS kernels route products by size, so there only the outputs are the same: state.ts). On
 * the tfjs twin (float32, other op shapes) the ids are the same and the numbers agree to 1e-5.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { jsKernels, type Kernels } from '../scratch/kernels.js';
import { createWasmKernels } from '../scratch/wasm/index.js';
import { EngineError, InputError } from '../src/errors.js';
import { type Decoded, beamSearch, greedyDecode } from '../src/seq2seq/decode.js';
import type { Seq2SeqEngine } from '../src/seq2seq/engine.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams } from '../src/seq2seq/params.js';
import { type Seq2SeqSpec, parseSeq2SeqSpec } from '../src/seq2seq/spec.js';
import { optimizerSpec } from '../src/optimizer.js';
import { type DecoderState, selectStateRows } from '../src/seq2seq/state.js';
import type { NamedParams } from '../src/params.js';
import { loadTf } from '../tfjs/backend.js';
import { createTfjsSeq2SeqEngine } from '../tfjs/seq2seq.js';

const SPECS: Record<string, unknown>[] = [
  { cell: 'lstm', attention: 'general' }, // the task's default
  { cell: 'gru', attention: 'dot', layers: 2 },
  { cell: 'lstm', attention: 'concat', bidirectional: true, layers: 2 },
  { cell: 'gru', gruResetAfter: true, attention: 'none', bidirectional: true },
  { cell: 'rnn', attention: 'concat', attentionUnits: 5 },
];

const specOf = (fields: Record<string, unknown>): Seq2SeqSpec => parseSeq2SeqSpec({ hiddenSize: 8, embedding: 4, srcVocab: 11, tgtVocab: 9, ...fields });

/**
 * A model with something to say: 30 Adam steps (float64) on a seeded batch of 9 pairs whose targets
 * have 1 to 8 tokens, and that batch's sources (1 to 7 tokens). Random weights alone decode every
 * source to the same length (all EOS at once, or none before maxLen); these end at different steps,
 * so rows leave the greedy batch and beams finish hypotheses at different times.
 */
const trainedCache = new Map<Seq2SeqSpec, { params: NamedParams; sources: Int32Array[] }>();
function trained(spec: Seq2SeqSpec, dtype: 'F32' | 'F64'): { params: NamedParams; sources: Int32Array[] } {
  if (!trainedCache.has(spec)) {
    const t = new ScratchSeq2Seq(spec, { dtype: 'float64', seed: 1, optimizer: optimizerSpec('adam', { lr: 0.05 }) });
    const S = 7;
    const b = randomSeq2SeqBatch(spec, 9, S, 8, 2, { mask: true });
    for (let i = 0; i < 30; i++) t.step(b);
    const sources = Array.from({ length: 9 }, (_, r) => b.src.slice(r * S, r * S + b.srcMask.subarray(r * S, (r + 1) * S).reduce((a, v) => a + v, 0)));
    trainedCache.set(spec, { params: t.getParams(), sources });
  }
  const { params, sources } = trainedCache.get(spec)!;
  if (dtype === 'F64') return { params, sources };
  return { params: Object.fromEntries(Object.entries(params).map(([k, t]) => [k, { dtype: 'F32', shape: t.shape, data: Float32Array.from(t.data) }])), sources };
}

/** Every way of decoding the tests compare: greedy in chunks of 4, beam 3 with alpha 0 and 0.7 (2 sources a chunk; `quick`: alpha 0 only). */
async function decodings(e: Seq2SeqEngine, src: Int32Array[], wholePrefix: boolean, quick = false): Promise<Decoded[][]> {
  return [
    await greedyDecode(e, src, { maxLen: 8, batchSize: 4, wholePrefix }),
    await beamSearch(e, src, { maxLen: 8, beam: 3, batchSize: 6, wholePrefix }),
    ...(quick ? [] : [await beamSearch(e, src, { maxLen: 8, beam: 3, alpha: 0.7, batchSize: 6, wholePrefix })]),
  ];
}

describe('step-wise decoding equals the whole-prefix decoder (scratch: bit for bit)', () => {
  let wasm: Kernels;
  beforeAll(async () => {
    wasm = await createWasmKernels({ threads: 1 });
  });

  SPECS.forEach((fields, i) => {
    it(`${JSON.stringify(fields)}: greedy and beam search, float64 (TypeScript)${i === 0 ? ', float32 (TypeScript)' : ''} and float32 (WebAssembly)`, async () => {
      const spec = specOf(fields);
      const sets = [['float64', jsKernels('float64')], ...(i === 0 ? [['float32', jsKernels('float32')] as const] : []), ['float32', wasm]] as const;
      for (const [dtype, kernels] of sets) {
        const { params, sources: src } = trained(spec, dtype === 'float64' ? 'F64' : 'F32');
        const e = new ScratchSeq2Seq(spec, { dtype, kernels, params });
        const forward = vi.spyOn(e, 'forward');
        const stepped = await decodings(e, src, false);
        expect(forward, 'the step-wise path never reruns forward').not.toHaveBeenCalled();
        const reference = await decodings(e, src, true);
        expect(forward).toHaveBeenCalled();
        expect(stepped, `${dtype} ${kernels.name}`).toEqual(reference);
        // the comparison has something to compare: outputs of different lengths, some cut at maxLen or not
        const lengths = new Set(reference[0].map((d) => d.steps));
        expect(lengths.size, 'greedy outputs of different lengths').toBeGreaterThan(1);
      }
    });
  });
});

describe('step-wise decoding on the tfjs twin (wasm)', () => {
  it('the same outputs as its whole-prefix decoding; log-probabilities and attention to 1e-5 (float32 in other op shapes)', async () => {
    const loaded = await loadTf('wasm');
    for (const fields of [SPECS[0], SPECS[2]]) {
      const spec = specOf(fields);
      const { params, sources: src } = trained(spec, 'F32');
      const e = await createTfjsSeq2SeqEngine(loaded, spec, { params });
      try {
        const n0 = loaded.tf.memory().numTensors;
        const stepped = await decodings(e, src, false, true);
        expect(loaded.tf.memory().numTensors, 'no tensor leaks').toBe(n0);
        const reference = await decodings(e, src, true, true);
        stepped.forEach((run, k) =>
          run.forEach((d, i) => {
            const r = reference[k][i];
            expect({ ids: d.ids, ended: d.ended, steps: d.steps }, `${JSON.stringify(fields)} decoding ${k} source ${i}`).toEqual({ ids: r.ids, ended: r.ended, steps: r.steps });
            expect(Math.abs(d.logProb - r.logProb)).toBeLessThan(1e-5);
            if (r.attention) for (let j = 0; j < r.attention.length; j++) expect(Math.abs(d.attention![j] - r.attention[j])).toBeLessThan(1e-5);
          }),
        );
      } finally {
        e.dispose();
      }
    }
  });
});

describe('the decoder state', () => {
  const spec = specOf({ cell: 'lstm', attention: 'concat', bidirectional: true });
  const e = new ScratchSeq2Seq(spec, { dtype: 'float64', params: randomSeq2SeqParams(spec, 2, 'F64') });
  const src = { batchSize: 2, srcLen: 3, src: Int32Array.of(3, 4, 5, 6, 0, 0), srcMask: Uint8Array.of(1, 1, 1, 1, 0, 0) };
  let state: DecoderState;
  beforeAll(() => {
    state = e.encode(src);
  });
  afterAll(() => e.dispose());

  it('holds the spec\'s tensors (D = 2H with a bidirectional encoder; concat keys of A units); a step leaves its input state as it was', () => {
    expect(state.memory).toHaveLength(2 * 3 * 16);
    expect(state.keys).toHaveLength(2 * 3 * 8);
    expect(state.h.map((h) => h.length)).toEqual([2 * 16]);
    expect(state.c!.map((c) => c.length)).toEqual([2 * 16]);
    const before = JSON.stringify(state, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));
    const out = e.decodeStep(state, Int32Array.of(1, 1));
    expect(JSON.stringify(state, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))).toBe(before);
    expect(out.logits).toHaveLength(2 * spec.tgtVocab);
    // attention: row 1 has one real source token, which takes all the weight
    expect(Array.from(out.attention!.subarray(3, 6))).toEqual([1, 0, 0]);
    expect(out.state.h[0]).not.toEqual(state.h[0]);
  });

  it('rows are selected, repeated and reordered as hypotheses are; a selected state steps as its rows did', () => {
    const picked = selectStateRows(state, [1, 0, 1]);
    expect(picked.batchSize).toBe(3);
    const both = e.decodeStep(state, Int32Array.of(1, 1));
    const three = e.decodeStep(picked, Int32Array.of(1, 1, 1));
    const V = spec.tgtVocab;
    expect(Array.from(three.logits.subarray(0, V))).toEqual(Array.from(both.logits.subarray(V, 2 * V)));
    expect(Array.from(three.logits.subarray(V, 2 * V))).toEqual(Array.from(both.logits.subarray(0, V)));
    expect(Array.from(three.logits.subarray(2 * V))).toEqual(Array.from(both.logits.subarray(V, 2 * V)));
  });

  it('a state or tokens that do not fit: one line (InputError); an engine answering the wrong sizes: EngineError naming it', async () => {
    const one = (f: () => unknown, re: RegExp): void => {
      let err: unknown;
      try {
        f();
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    };
    one(() => e.decodeStep(state, Int32Array.of(1)), /expected 2 token ids/);
    one(() => e.decodeStep(state, Int32Array.of(1, spec.tgtVocab)), /token id 9 at 1 is outside 0\.\.8/);
    one(() => e.decodeStep({ ...state, h: [state.h[0].subarray(1)] }, Int32Array.of(1, 1)), /h\.0 must hold 32 values/);
    one(() => e.decodeStep({ ...state, c: null }, Int32Array.of(1, 1)), /c must hold 1 layers \(lstm\)/);
    one(() => e.encode({ ...src, srcMask: Uint8Array.of(1, 1, 1, 0, 1, 0) }), /srcMask: row 1 starts with padding/);
    const broken = Object.assign(Object.create(e) as ScratchSeq2Seq, { name: 'broken', decodeStep: (s: DecoderState, t: Int32Array) => ({ ...e.decodeStep(s, t), logits: new Float64Array(3) }) });
    await expect(greedyDecode(broken, [Int32Array.of(3, 4)])).rejects.toThrow(EngineError);
    await expect(greedyDecode(broken, [Int32Array.of(3, 4)])).rejects.toThrow(/broken.*decodeStep returned 3 logits/);
  });
});
