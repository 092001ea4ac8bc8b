/**
 * Encoder-decoders through the engine protocol (docs/engines.md, "Encoder-decoder models"):
 * PyTorch's TorchSeq2Seq against float64 scratch, its step-wise decoding (encode / decode_step), the
 * CLI's four-engine check, the refusal of an engine that does not claim encoder-decoders, and the
 * checks of a wrong answer at the edge (forward's and a decoder step's).
 *
 * pytorch-f64 and scratch-f64 are two independent float64 implementations of one function (PyTorch's
 * nn modules or a torch-ops loop, autograd; against hand-written BPTT), so only the order of sums
 * differs: measured <= 1e-15 relative for forward, loss, gradients and dLoss/dh_t, <= 5e-14 for the
 * parameters after 3 adam steps. The bound is 1e-10 (1e-8, the float64 trajectory limit of
 * src/tolerance.ts, after the steps): far above rounding, far below any wrong formula (a swapped
 * gate, a missed mask or a wrong score is off by more than 1e-4). Float32 PyTorch is held to the
 * float32 policy (limitFor). Skipped, saying why, where no Python imports torch.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { jsKernels } from '../scratch/kernels.js';
import { runSeq2SeqCheck } from '../compare/seq2seq.js';
import { EngineProcess, openProcessSeq2Seq } from '../src/engines/process.js';
import { encodeArray } from '../src/engines/wire.js';
import { createSeq2SeqEngine, findPython, torchThreadEnv } from '../src/engines/registry.js';
import { optimizerSpec } from '../src/optimizer.js';
import { type Decoded, beamSearch, greedyDecode } from '../src/seq2seq/decode.js';
import type { Seq2SeqEngine } from '../src/seq2seq/engine.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams } from '../src/seq2seq/params.js';
import { parseSeq2SeqSpec } from '../src/seq2seq/spec.js';
import { parseSpec } from '../src/spec.js';
import { modelUnsupported, parseSupports, seq2seqUnsupported } from '../src/supports.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { needing, pythonWith } from './helpers/python.js';

const py = pythonWith('torch, numpy');
const env: Record<string, string> = py ? { RNNLAB_PYTHON: py } : {};

/** Every cell (and GRU variant) with every attention; masks everywhere; bidirectional, 2 layers and the loop's variants spread over them. */
const CELLS: Record<string, unknown>[] = [{ cell: 'rnn' }, { cell: 'lstm' }, { cell: 'gru' }, { cell: 'gru', gruResetAfter: true }];
const CASES = CELLS.flatMap((c, i) =>
  (['none', 'dot', 'general', 'concat'] as const).map((attention, j) => ({
    ...c,
    attention,
    ...((i + j) % 2 ? { bidirectional: true } : {}),
    ...(j >= 2 ? { layers: 2 } : {}),
    ...(attention === 'concat' ? { attentionUnits: 5 } : {}),
    ...(c.cell === 'rnn' && j === 1 ? { activation: 'relu' } : {}),
    ...(c.cell === 'lstm' && j === 3 ? { recurrentActivation: 'hardSigmoid' } : {}),
  })),
);

describe.skipIf(!py)('PyTorch encoder-decoders against float64 scratch', () => {
  const procs: EngineProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await p.close();
  });
  /** One adapter process per dtype for the whole table (init replaces the model). */
  const start = async (name: string): Promise<EngineProcess> => {
    const p = await EngineProcess.start(`${findPython(py!)} ${join(ROOT, 'python', 'rnnlab_torch.py')}`, { name, env: torchThreadEnv(1, process.env) });
    procs.push(p);
    return p;
  };

  test(needing('torch, numpy', `forward, loss, gradients, dLoss/dh_t and 3 adam steps: pytorch-f64 within 1e-10, pytorch within the float32 policy (${CASES.length} models)`), async () => {
    const [f64, f32] = [await start('pytorch-f64'), await start('pytorch')];
    const optimizer = optimizerSpec('adam', { lr: 0.01 });
    for (const c of CASES) {
      const spec = parseSeq2SeqSpec({ hiddenSize: 3, srcVocab: 7, tgtVocab: 6, embedding: 4, ...c });
      const params = randomSeq2SeqParams(spec, 5, 'F64');
      const batch = randomSeq2SeqBatch(spec, 3, 5, 4, 9, { mask: true });
      const ref = await createSeq2SeqEngine('scratch-f64', spec, { params, optimizer });
      const a = await openProcessSeq2Seq(f64, 'pytorch-f64', 'float64', spec, { params, optimizer, threads: 1 });
      const b = await openProcessSeq2Seq(f32, 'pytorch', 'float32', spec, { params, optimizer, threads: 1 });
      const report = await runSeq2SeqCheck({ spec, batch, reference: ref.engine, engines: [a.engine, b.engine], steps: 3, perStep: true });
      const what = JSON.stringify(c);
      expect(report.failures, what).toEqual([]);
      for (const r of [...report.forward, ...report.loss.comparisons, ...report.gradients].filter((x) => x.engine === 'pytorch-f64')) expect(r.maxRelError, `${what} ${r.what}`).toBeLessThan(1e-10);
      for (const r of report.final.filter((x) => x.engine === 'pytorch-f64')) expect(r.maxRelError, `${what} ${r.what}`).toBeLessThan(1e-8);
      expect(report.perStep!.length).toBe(spec.layers * (5 + 4));
      for (const row of report.perStep!) {
        expect(row.errors['pytorch-f64'], `${what} ${row.side} ${row.layer} ${row.t}`).toBeLessThan(1e-10);
        expect(row.errors.pytorch).toBeLessThan(1e-4);
      }
      expect(report.forward.some((r) => r.what === 'attention weights')).toBe(c.attention !== 'none');
    }
  }, 120_000);

  test(needing('torch, numpy', 'optimizer state by canonical name: 2 adam steps, saved, 2 more; reopened from what was saved, the same 2 steps give the same parameters bit for bit'), async () => {
    const proc = procs[0] ?? (await start('pytorch-f64'));
    const spec = parseSeq2SeqSpec({ cell: 'gru', gruResetAfter: true, attention: 'general', bidirectional: true, hiddenSize: 3, srcVocab: 7, tgtVocab: 6, embedding: 4 });
    const optimizer = optimizerSpec('adam', { lr: 0.01, clipNorm: 0.5 });
    const batch = randomSeq2SeqBatch(spec, 3, 5, 4, 9, { mask: true });
    const a = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params: randomSeq2SeqParams(spec, 5, 'F64'), optimizer, threads: 1 });
    for (let i = 0; i < 2; i++) await a.engine.step(batch);
    const [params, state] = [await a.engine.getParams(), await a.engine.optimizerState()];
    expect(Object.keys(state)).toContain('m.decoder.layers.0.bias');
    expect(Array.from(state.iterations.data)).toEqual([2]);
    for (let i = 0; i < 2; i++) await a.engine.step(batch);
    const straight = await a.engine.getParams();
    const b = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params, optimizer, threads: 1 });
    await b.engine.setOptimizerState(state);
    for (let i = 0; i < 2; i++) await b.engine.step(batch);
    const resumed = await b.engine.getParams();
    for (const k of Object.keys(straight)) expect(Array.from(resumed[k].data), k).toEqual(Array.from(straight[k].data));
  });

  /**
   * Step-wise decoding through the protocol (encode / decode_step): the same tokens as float64 scratch
   * and as PyTorch's own whole-prefix decoding, log-probabilities and attention within 1e-12 (two
   * float64 implementations, measured ~1e-15 apart; a wrong state, mask or score moves a
   * log-probability by far more). A model with something to say: 20 Adam steps of scratch on a seeded
   * batch, so outputs end at different steps. Every cell and variant, every attention, bidirectional
   * and two layers, both of PyTorch's paths (nn modules; the torch-ops step for hardSigmoid and the
   * reset-before GRU). With the claim taken away the process is never sent encode or decode_step.
   */
  test(needing('torch, numpy', 'greedy and beam search through encode / decode_step: pytorch-f64 gives scratch-f64\'s tokens, log-probabilities within 1e-12, and its own whole-prefix decoding\'s; unclaimed, never sent'), async () => {
    const proc = procs[0] ?? (await start('pytorch-f64'));
    const ops: string[] = [];
    const request = proc.request.bind(proc);
    vi.spyOn(proc, 'request').mockImplementation((op, ...rest) => (ops.push(op), request(op, ...rest)));
    const specs = [
      { cell: 'lstm', attention: 'general', bidirectional: true, layers: 2 },
      { cell: 'gru', attention: 'concat', attentionUnits: 5 },
      { cell: 'gru', gruResetAfter: true, attention: 'dot', layers: 2 },
      { cell: 'rnn', activation: 'relu', attention: 'none', bidirectional: true },
      { cell: 'lstm', recurrentActivation: 'hardSigmoid', attention: 'dot' },
    ];
    const close = (a: number, b: number, what: string): void => expect(Math.abs(a - b), `${what}: ${a} against ${b}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b)));
    const same = (got: Decoded[], want: Decoded[], what: string): void => {
      expect(got.map((d) => [d.ids, d.ended]), what).toEqual(want.map((d) => [d.ids, d.ended]));
      got.forEach((d, i) => {
        close(d.logProb, want[i].logProb, `${what} logProb ${i}`);
        close(d.score, want[i].score, `${what} score ${i}`);
        d.attention?.forEach((w, j) => close(w, want[i].attention![j], `${what} attention ${i}`));
      });
    };
    for (const fields of specs) {
      const spec = parseSeq2SeqSpec({ hiddenSize: 6, srcVocab: 9, tgtVocab: 8, embedding: 4, ...fields });
      const t = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels: jsKernels('float64'), seed: 1, optimizer: optimizerSpec('adam', { lr: 0.05 }) });
      const b = randomSeq2SeqBatch(spec, 8, 6, 7, 2, { mask: true });
      for (let i = 0; i < 20; i++) t.step(b);
      const sources = Array.from({ length: 8 }, (_, r) => b.src.slice(r * 6, r * 6 + b.srcMask.subarray(r * 6, (r + 1) * 6).reduce((a, v) => a + v, 0)));
      const params = t.getParams();
      const ref = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels: jsKernels('float64'), params });
      const pt = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params, optimizer: optimizerSpec('sgd'), threads: 1 });
      const what = JSON.stringify(fields);
      expect(typeof pt.engine.decodeStep, what).toBe('function');
      for (const o of [{ maxLen: 8, batchSize: 4 }, { maxLen: 8, beam: 3, alpha: 0.7, batchSize: 6 }]) {
        const decode = (e: Seq2SeqEngine, wholePrefix: boolean) => (o.beam ? beamSearch(e, sources, { ...o, wholePrefix }) : greedyDecode(e, sources, { ...o, wholePrefix }));
        ops.length = 0;
        const stepped = await decode(pt.engine, false);
        expect(ops.filter((x) => x === 'encode').length, `${what}: the encoder once per chunk`).toBe(Math.ceil(sources.length / Math.floor(o.batchSize / (o.beam ?? 1))));
        expect(ops, `${what}: never forward`).not.toContain('forward');
        same(stepped, await decode(ref, false), `${what} ${o.beam ? 'beam' : 'greedy'} against scratch-f64`);
        same(stepped, await decode(pt.engine, true), `${what} ${o.beam ? 'beam' : 'greedy'} against its whole-prefix decoding`);
      }
      const lengths = new Set((await greedyDecode(ref, sources, { maxLen: 8 })).map((d) => d.steps));
      expect(lengths.size, `${what}: outputs of different lengths`).toBeGreaterThan(1);
    }
    const spec = parseSeq2SeqSpec({ hiddenSize: 4, srcVocab: 7, tgtVocab: 6, embedding: 4, attention: 'dot' });
    // the process keeps only its last encode's outputs: a state of an earlier one is refused, never decoded against the wrong source
    const kept = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params: randomSeq2SeqParams(spec, 2, 'F64'), optimizer: optimizerSpec('sgd'), threads: 1 });
    const src = { batchSize: 1, srcLen: 2, src: Int32Array.of(3, 4), srcMask: Uint8Array.of(1, 1) };
    const first = await kept.engine.encode!(src);
    await kept.engine.encode!(src);
    await expect(kept.engine.decodeStep!(first, Int32Array.of(1))).rejects.toThrow(/^decoder state: its encoder outputs were replaced by a later encode on this engine/);
    // the claim taken away: decoding reruns forward, and encode / decode_step are never sent
    const hello = proc.hello.supports;
    proc.hello.supports = { ...hello, stepDecoding: false };
    try {
      const pt = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params: randomSeq2SeqParams(spec, 2, 'F64'), optimizer: optimizerSpec('sgd'), threads: 1 });
      expect(pt.engine.encode).toBeUndefined();
      ops.length = 0;
      await beamSearch(pt.engine, [Int32Array.of(3, 4, 5), Int32Array.of(6)], { maxLen: 4, beam: 2 });
      expect(ops).toContain('forward');
      expect(ops.filter((x) => x === 'encode' || x === 'decode_step')).toEqual([]);
    } finally {
      proc.hello.supports = hello;
    }
    // a decode_step answer of the wrong shape: one line naming the engine
    vi.spyOn(proc, 'request').mockImplementation(async (op, ...rest) => {
      const a = await request(op, ...rest);
      return op === 'decode_step' ? { ...a, logits: encodeArray(new Float64Array(2 * 5), [2, 5]) } : a;
    });
    const pt = await openProcessSeq2Seq(proc, 'pytorch-f64', 'float64', spec, { params: randomSeq2SeqParams(spec, 2, 'F64'), optimizer: optimizerSpec('sgd'), threads: 1 });
    const e = await greedyDecode(pt.engine, [Int32Array.of(3, 4, 5), Int32Array.of(6)], { maxLen: 4 }).catch((x: Error) => x);
    expect(String((e as Error).message)).toMatch(/^engine pytorch-f64: answered "decode_step" wrongly: logits has shape \[2, 5\], expected \[2, 6\]/);
    expect((e as Error).message).not.toContain('\n');
    vi.restoreAllMocks();
  }, 120_000);

  test(needing('torch, numpy', 'check --seq2seq --engines scratch,tfjs,pytorch,pytorch-f64: four engines against float64 scratch, PASS'), () => {
    const r = rnnlab(['check', '--seq2seq', '--cell', 'lstm', '--attention', 'concat', '--bidirectional', '--layers', '2', '--hidden', '4', '--input', '7', '--output', '6', '--seq', '5', '--batch', '3', '--mask', '--steps', '2', '--backend', 'wasm', '--engines', 'scratch,tfjs,pytorch,pytorch-f64', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.engines.map((e: { name: string }) => e.name)).toEqual(['scratch', 'tfjs-wasm', 'pytorch', 'pytorch-f64', 'scratch-f64']);
    expect(j.pass).toBe(true);
    expect(j.engines[2].detail).toMatch(/seq2seq, nn\.LSTM encoder \(bidirectional\) \(packed source\) and decoder/);
    for (const g of j.gradients.filter((x: { engine: string }) => x.engine === 'pytorch-f64')) expect(g.maxRelError).toBeLessThan(1e-10);
  });

  test(needing('torch, numpy', 'train --task seq2seq --engines scratch,pytorch-f64: the one loop trains PyTorch beside scratch and checkpoints its optimizer state; translate runs the checkpoint on PyTorch'), () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rnnlab-s2s-pt-')), 'run');
    const r = rnnlab(['train', '--task', 'seq2seq', '--dataset', 'reverse', '--pairs', '200', '--max-len', '4', '--hidden', '8', '--embedding', '4', '--batch', '16', '--steps', '4', '--engines', 'scratch,pytorch-f64', '--out', out], { env });
    expect(r.code, r.stderr).toBe(0);
    // float32 scratch against float64 PyTorch from identical weights and batches: within check's trajectory tolerance (2e-3)
    expect(r.stdout).toMatch(/engines agree: pytorch-f64 and scratch stay within 2e-3/);
    expect(existsSync(join(out, 'checkpoints', 'step-4', 'pytorch-f64.optimizer.safetensors'))).toBe(true);

    // translate runs the checkpoint on any engine that runs encoder-decoders: PyTorch (step-wise
    // decoding over the protocol) gives float64 scratch's tokens, its log-probabilities within 1e-12
    // (both float64; the sums of a few log-softmax values of order 1)
    const ck = join(out, 'checkpoints', 'step-4');
    const translate = (engine: string) => {
      const t = rnnlab(['translate', '--checkpoint', ck, 'abc', 'dcba', '--beam', '3', '--max-len', '6', '--engine', engine, '--json'], { env });
      expect(t.code, t.stderr).toBe(0);
      return JSON.parse(t.stdout) as { engine: string; translations: { output: string; logProb: number }[] };
    };
    const [a, b] = [translate('scratch-f64'), translate('pytorch-f64')];
    expect(b.engine).toBe('pytorch-f64');
    expect(b.translations.map((t) => t.output)).toEqual(a.translations.map((t) => t.output));
    b.translations.forEach((t, i) => expect(Math.abs(t.logProb - a.translations[i].logProb)).toBeLessThan(1e-12));
    expectOneLineError(rnnlab(['translate', '--checkpoint', ck, 'abc', '--engine', join(ROOT, 'examples', 'js-engine', 'plain-rnn.js')]), /^rnnlab: engine plain-rnn cannot run this encoder-decoder: it does not support encoder-decoder models/, expect);
  });
});

describe('engines of your own and encoder-decoders', () => {
  const faulty = join(ROOT, 'test', 'fixtures', 'engines', 'seq2seq-faulty.mjs');
  const spec = parseSeq2SeqSpec({ hiddenSize: 3, srcVocab: 7, tgtVocab: 6, embedding: 4, attention: 'dot' });
  const batch = randomSeq2SeqBatch(spec, 4, 5, 3, 2, { mask: true });
  const optimizer = optimizerSpec('sgd');

  test('supports.models and supports.attentions: absent means sequence models and none, dot, general', () => {
    const plain = parseSupports({}, 'hello');
    expect(plain.models).toEqual(['sequence']);
    expect(seq2seqUnsupported(spec, plain)).toBe('encoder-decoder models (supports.models: sequence)');
    const s2s = parseSupports({ models: ['seq2seq'] }, 'hello');
    expect(s2s.attentions).toEqual(['none', 'dot', 'general']);
    expect(seq2seqUnsupported(spec, s2s)).toBeNull();
    expect(seq2seqUnsupported({ ...spec, attention: 'concat', attentionUnits: 3 }, s2s)).toBe('attention concat (supports.attentions: none, dot, general)');
    expect(seq2seqUnsupported({ ...spec, bidirectional: true }, s2s)).toBe('a bidirectional encoder (supports.bidirectional)');
    expect(modelUnsupported(parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 2 }), s2s)).toBe('sequence models (it runs seq2seq models)');
    expect(() => parseSupports({ models: ['graph'] }, 'hello')).toThrow(/supports\.models must be a list of "sequence", "seq2seq"/);
  });

  test('an engine that does not claim seq2seq is refused in one line before init (exit 2), as is an attention it does not list', () => {
    expectOneLineError(rnnlab(['check', '--seq2seq', '--hidden', '4', '--engines', join(ROOT, 'examples', 'js-engine', 'plain-rnn.js')]), /^rnnlab: engine plain-rnn cannot run this encoder-decoder: it does not support encoder-decoder models \(supports\.models: sequence\); its handshake claims: cells rnn;/, expect);
    expectOneLineError(rnnlab(['check', '--seq2seq', '--cell', 'gru', '--attention', 'concat', '--hidden', '4', '--engines', faulty]), /^rnnlab: engine seq2seq-faulty cannot run this encoder-decoder: it does not support attention concat \(supports\.attentions: none, dot, general\)/, expect);
    const numpy = pythonWith('numpy');
    if (numpy) {
      // a process: its handshake read, refused before init, and ended
      const cmd = `cmd:${numpy} ${join(ROOT, 'examples', 'numpy-rnn', 'adapter.py')}`;
      expectOneLineError(rnnlab(['check', '--seq2seq', '--cell', 'rnn', '--hidden', '4', '--engines', 'scratch', '--engines', cmd]), /^rnnlab: engine numpy-rnn cannot run this encoder-decoder: it does not support encoder-decoder models \(supports\.models: sequence\)/, expect);
    }
  });

  test('wrong answers are one line naming the engine: attention rows not summing to 1, logits of the wrong shape, NaN, weight on padding', async () => {
    const cases: [number, RegExp][] = [
      [0, /^engine faulty-seq2seq: forward returned attention weights of row 0, target step 0 summing to 0\.(9|89)\d* over the real source tokens, not 1 \(tolerance 1e-9, float64\)$/],
      [1, /^engine faulty-seq2seq: forward returned logits \(expected \[4, 3, 6\]\) with 71 values, expected 72$/],
      [2, /^engine faulty-seq2seq: forward returned logits .* holding NaN at index 3$/],
      [3, /^engine faulty-seq2seq: forward returned attention weight 0\.5 on a padded source position \(row \d, target step 0, source step \d\); padding gets 0$/],
    ];
    expect(batch.srcMask.includes(0)).toBe(true);
    for (const [seed, message] of cases) {
      const e = await createSeq2SeqEngine(faulty, spec, { params: randomSeq2SeqParams(spec, 1, 'F64'), optimizer, seed, training: false });
      await expect(e.engine.forward(batch)).rejects.toThrow(message);
    }
    const fine = await createSeq2SeqEngine(faulty, spec, { params: randomSeq2SeqParams(spec, 1, 'F64'), optimizer, seed: 4 });
    expect((await fine.engine.forward(batch)).logits.length).toBe(4 * 3 * 6);
    expect((await fine.engine.lossAndGrads(batch)).loss).toBeCloseTo(Math.log(6), 12);
    // through the CLI: exit 2, one line (check opens it with seed 0)
    expectOneLineError(rnnlab(['check', '--seq2seq', '--attention', 'dot', '--hidden', '4', '--mask', '--optimizer', 'sgd', '--engines', faulty]), /^rnnlab: engine faulty-seq2seq: forward returned attention weights of row 0, target step 0 summing to 0\.(9|89)/, expect);
  });

  test('step-wise decoding only when claimed: an engine without stepDecoding is never called through encode; a wrong step answer is one line naming the engine', async () => {
    const sources = [Int32Array.of(3, 4, 5), Int32Array.of(6)];
    const params = randomSeq2SeqParams(spec, 1, 'F64');
    // seq2seq-faulty.mjs has encode and decodeStep that throw: unclaimed, decoding reruns forward
    const plain = await createSeq2SeqEngine(faulty, spec, { params, optimizer, seed: 4, training: false });
    expect(plain.engine.encode).toBeUndefined();
    const viaForward = await beamSearch(plain.engine, sources, { maxLen: 3, beam: 2 });
    // claimed (seq2seq-faulty-step.mjs): uniform logits either way, so the same outputs
    const step = join(ROOT, 'test', 'fixtures', 'engines', 'seq2seq-faulty-step.mjs');
    const claimed = await createSeq2SeqEngine(step, spec, { params, optimizer, seed: 4, training: false });
    expect(typeof claimed.engine.decodeStep).toBe('function');
    expect(await beamSearch(claimed.engine, sources, { maxLen: 3, beam: 2 })).toEqual(viaForward);
    const cases: [number, RegExp][] = [
      [5, /^engine faulty-seq2seq: decodeStep returned logits \(expected \[2, 6\]\) with 11 values, expected 12$/],
      [6, /^engine faulty-seq2seq: decodeStep returned attention weights of row 0 summing to 0\.(9|89)\d* over the real source tokens, not 1 \(tolerance 1e-9, float64\)$/],
      [7, /^engine faulty-seq2seq: decodeStep returned h\.0 with 5 values, expected 6$/],
    ];
    for (const [seed, message] of cases) {
      const e = await createSeq2SeqEngine(step, spec, { params, optimizer, seed, training: false });
      await expect(greedyDecode(e.engine, sources, { maxLen: 3 })).rejects.toThrow(message);
    }
  });
});
