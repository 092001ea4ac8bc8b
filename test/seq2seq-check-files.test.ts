/**
 * check --seq2seq with the user's own files: --spec (a Seq2SeqSpec JSON), --weights (canonical
 * parameters), --data (src, srcMask, tgtIn, tgtOut, tgtMask) and --dump (per engine: output,
 * attention, loss, grad.<param>, final.<param>); a file that does not match is one line naming the
 * file and the tensor, exit 2.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import type { IO } from '../src/io/output.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams } from '../src/seq2seq/params.js';
import { EOS, type Seq2SeqBatch, parseSeq2SeqSpec, seq2seqLayout, seq2seqToJSON } from '../src/seq2seq/spec.js';
import type { NamedParams } from '../src/params.js';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { runSeq2SeqCheck } from '../compare/seq2seq.js';
import type { NamedTensors } from '../src/tensor.js';
import { seq2seqReference } from './helpers/seq2seq-reference.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: IO = { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => {}, isTTY: false };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const spec = parseSeq2SeqSpec({ cell: 'gru', hiddenSize: 6, layers: 2, srcVocab: 9, tgtVocab: 7, embedding: 4, attention: 'concat', bidirectional: true });
const params = randomSeq2SeqParams(spec, 3, 'F64');
const batch = randomSeq2SeqBatch(spec, 3, 5, 4, 4, { mask: true });
const [B, S, T] = [3, 5, 4];

function dataTensors(): NamedTensors {
  return {
    src: { dtype: 'I32', shape: [B, S], data: batch.src.slice() },
    srcMask: { dtype: 'U8', shape: [B, S], data: batch.srcMask.slice() },
    tgtIn: { dtype: 'I32', shape: [B, T], data: batch.tgtIn.slice() },
    tgtOut: { dtype: 'I32', shape: [B, T], data: batch.tgtOut.slice() },
    tgtMask: { dtype: 'U8', shape: [B, T], data: batch.tgtMask.slice() },
  };
}

function files(): { dir: string; spec: string; weights: string; data: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-s2s-files-'));
  writeFileSync(join(dir, 's2s.json'), JSON.stringify(seq2seqToJSON(spec)));
  writeSafetensors(join(dir, 'w.safetensors'), params);
  writeSafetensors(join(dir, 'd.safetensors'), dataTensors());
  return { dir, spec: join(dir, 's2s.json'), weights: join(dir, 'w.safetensors'), data: join(dir, 'd.safetensors') };
}

describe('check --seq2seq --spec --weights --data --dump', () => {
  it('checks the files given and dumps what every engine answered, under canonical names', async () => {
    const f = files();
    const dump = join(f.dir, 'dump');
    const r = await cli(['check', '--seq2seq', '--spec', f.spec, '--weights', f.weights, '--data', f.data, '--dump', dump, '--steps', '2', '--backend', 'wasm', '--json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.pass).toBe(true);
    expect(report.data).toMatchObject({ source: f.data, batch: B, srcLen: S, tgtLen: T, masked: true });
    expect(readdirSync(dump).sort()).toEqual(['scratch-f64.safetensors', 'scratch.safetensors', 'tfjs.safetensors']);
    // the reference's dump against an independent float64 forward of the same files (test/helpers/seq2seq-reference.ts); 1e-12: float64 sums in another order
    const ref = seq2seqReference(spec, Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float64Array.from(v.data as ArrayLike<number>)])), batch);
    const d64 = readSafetensors(join(dump, 'scratch-f64.safetensors'));
    expect(d64.metadata).toMatchObject({ engine: 'scratch-f64', steps: '2' });
    expect(d64.tensors.output.shape).toEqual([B, T, spec.tgtVocab]);
    expect(d64.tensors.attention.shape).toEqual([B, T, S]);
    for (let i = 0; i < ref.logits.length; i++) expect(Math.abs(d64.tensors.output.data[i] - ref.logits[i])).toBeLessThan(1e-12);
    for (let i = 0; i < ref.attention!.length; i++) expect(Math.abs(d64.tensors.attention.data[i] - ref.attention![i])).toBeLessThan(1e-12);
    expect(Math.abs(d64.tensors.loss.data[0] - ref.loss)).toBeLessThan(1e-12);
    for (const name of ['scratch', 'tfjs']) {
      const d = readSafetensors(join(dump, `${name}.safetensors`)).tensors;
      expect(d.loss.data).toHaveLength(2);
      for (const p of seq2seqLayout(spec)) {
        expect(d[`grad.${p.name}`].shape).toEqual(p.shape);
        expect(d[`final.${p.name}`].shape).toEqual(p.shape);
      }
      // the float32 engines' losses before each update, against the reference's (the check's loss limit, 1e-5)
      for (let s = 0; s < 2; s++) expect(Math.abs(d.loss.data[s] - d64.tensors.loss.data[s]) / Math.abs(d64.tensors.loss.data[s])).toBeLessThan(1e-5);
    }
  }, 60_000);

  it('a spec, weights or data file that does not match: one line naming the file and the tensor, exit 2', async () => {
    const f = files();
    const run = (over: { spec?: string; weights?: string; data?: string }, extra: string[] = []): Promise<{ code: number; out: string; err: string }> =>
      cli(['check', '--seq2seq', '--spec', over.spec ?? f.spec, '--weights', over.weights ?? f.weights, '--data', over.data ?? f.data, '--steps', '1', '--no-tfjs', ...extra]);
    const refused = async (r: Promise<{ code: number; err: string }>, pattern: RegExp): Promise<void> => {
      const x = await r;
      expect(x.code, x.err).toBe(2);
      expect(x.err.split('\n'), x.err).toHaveLength(1);
      expect(x.err).toMatch(pattern);
    };
    const write = (name: string, t: NamedTensors): string => {
      writeSafetensors(join(f.dir, name), t);
      return join(f.dir, name);
    };
    const withData = (name: string, edit: (t: NamedTensors) => void): string => {
      const t = dataTensors();
      edit(t);
      return write(name, t);
    };
    writeFileSync(join(f.dir, 'bad.json'), JSON.stringify({ ...seq2seqToJSON(spec), heads: 2 }));
    await refused(run({ spec: join(f.dir, 'bad.json') }), /bad\.json: unknown field "heads"/);
    await refused(run({}, ['--cell', 'lstm']), /--spec gives the whole encoder-decoder, so --cell would be ignored/);
    const { 'head.bias': _drop, ...noBias } = params;
    await refused(run({ weights: write('w1.safetensors', noBias) }), /w1\.safetensors do not match the seq2seq spec: missing head\.bias/);
    await refused(run({ weights: write('w2.safetensors', { ...params, 'attention.v': { dtype: 'F64', shape: [5], data: new Float64Array(5) } }) }), /w2\.safetensors .*attention\.v has shape \[5\], expected \[6\]/);
    await refused(run({ data: withData('d1.safetensors', (t) => delete t.tgtMask) }), /d1\.safetensors: no tensor "tgtMask"/);
    await refused(run({ data: withData('d2.safetensors', (t) => (t.srcMask = { dtype: 'I32', shape: [B, S], data: Int32Array.from(batch.srcMask) })) }), /d2\.safetensors: tensor "srcMask" is I32 \[3, 5\], expected U8 \[B, S\] = \[3, 5\]/);
    await refused(run({ data: withData('d3.safetensors', (t) => (t.tgtIn = { dtype: 'I32', shape: [B, T + 1], data: new Int32Array(B * (T + 1)) })) }), /d3\.safetensors: tensor "tgtIn" is I32 \[3, 5\], expected/);
    await refused(run({ data: withData('d4.safetensors', (t) => (t.srcMask.data as Uint8Array).fill(0, S, 2 * S)) }), /d4\.safetensors: tensor "srcMask" hides the whole of row 1/);
    await refused(run({ data: withData('d5.safetensors', (t) => ((t.src.data as Int32Array)[2] = 9)) }), /d5\.safetensors: tensor "src" holds token id 9 at \[0, 2\], outside the source vocabulary 0\.\.8/);
    await refused(run({ data: withData('d6.safetensors', (t) => ((t.tgtOut.data as Int32Array)[T - 1] = EOS + 1)) }), /d6\.safetensors: tensor "tgtOut" row 0 ends with token id 3 at its last real step 3, not EOS/);
    await refused(run({ data: withData('d7.safetensors', (t) => (t.extra = { dtype: 'F32', shape: [1], data: new Float32Array(1) })) }), /d7\.safetensors: unexpected tensor\(s\) extra/);
  }, 60_000);
});

describe('check --seq2seq: where an engine that disagrees first goes wrong', () => {
  const s = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 6, layers: 2, srcVocab: 9, tgtVocab: 7, embedding: 4, attention: 'concat', bidirectional: true });
  const p = randomSeq2SeqParams(s, 5, 'F64');
  const b = randomSeq2SeqBatch(s, 3, 5, 4, 6, { mask: true });
  /** The scratch engine reading one parameter 1% off (a mistake inside that part), or with that parameter's gradient 1% off. */
  const planted = (param: string, where: 'weights' | 'gradient'): typeof ScratchSeq2Seq =>
    class extends ScratchSeq2Seq {
      override setParams(q: NamedParams): void {
        super.setParams(where === 'weights' ? { ...q, [param]: { ...q[param], data: Float64Array.from(q[param].data as ArrayLike<number>, (v) => v * 1.01 + 1e-3) } } : q);
      }
      override lossAndGrads(x: Seq2SeqBatch, want?: { stepGrads?: boolean }): ReturnType<ScratchSeq2Seq['lossAndGrads']> {
        const g = super.lossAndGrads(x, want);
        if (where === 'gradient') g.grads[param] = { ...g.grads[param], data: Float32Array.from(g.grads[param].data as ArrayLike<number>, (v) => v * 1.01) };
        return g;
      }
    };
  const diagnose = async (param: string, where: 'weights' | 'gradient'): Promise<{ stage: string; lines: string[] }> => {
    const E = planted(param, where);
    const r = await runSeq2SeqCheck({ spec: s, batch: b, reference: new ScratchSeq2Seq(s, { dtype: 'float64', params: p }), engines: [new E(s, { params: p })], steps: 1, perStep: where === 'gradient' });
    expect(r.pass).toBe(false);
    expect(r.diagnosis).toHaveLength(1);
    return r.diagnosis[0];
  };

  it('names the part and the first step: encoder layer and direction, decoder layer, attention, output head; and for gradients the first part backpropagation reaches', async () => {
    const cases: [string, 'weights' | 'gradient', string, RegExp][] = [
      ['encoder.layers.1.backward.recurrentKernel', 'weights', 'forward', /it goes wrong in encoder layer 1 \(backward direction\): its final state differs/],
      ['encoder.layers.0.kernel', 'weights', 'forward', /it goes wrong in encoder layer 0 \(forward direction\), or the source embedding it reads/],
      ['decoder.layers.1.kernel', 'weights', 'forward', /the encoder agrees; it goes wrong in decoder layer 1, first at target step 0 of 0\.\.3/],
      ['attention.v', 'weights', 'forward', /the encoder agrees; it goes wrong in the attention .*first at target step 0 of 0\.\.3; the decoder's state agrees there/],
      ['head.bias', 'weights', 'forward', /it goes wrong in the output head .*first at target step 0 of 0\.\.3; the decoder's state and the attention agree there/],
      ['attention.kernel', 'gradient', 'gradients', /the gradients of attention\.kernel differ: the first part the backward pass reaches among them is the attention/],
    ];
    for (const [param, where, stage, line] of cases) {
      const d = await diagnose(param, where);
      expect(d.stage, param).toBe(stage);
      expect(d.lines.join('\n'), param).toMatch(line);
    }
  }, 60_000);

  it('the first target step is the first that reads the mistake: one target embedding row off is found where that token is first fed', async () => {
    // the token fed at step 1 of row 0 (every row is fed BOS at step 0); its embedding row read 1% off
    const X = b.tgtIn[1];
    const E = s.embedding;
    const Wrong = class extends ScratchSeq2Seq {
      override setParams(q: NamedParams): void {
        const data = Float64Array.from(q['decoder.embedding'].data as ArrayLike<number>);
        for (let j = X * E; j < (X + 1) * E; j++) data[j] = data[j] * 1.01 + 1e-3;
        super.setParams({ ...q, 'decoder.embedding': { ...q['decoder.embedding'], data } });
      }
    };
    const r = await runSeq2SeqCheck({ spec: s, batch: b, reference: new ScratchSeq2Seq(s, { dtype: 'float64', params: p }), engines: [new Wrong(s, { params: p })], steps: 0 });
    expect(r.diagnosis[0].stage).toBe('forward');
    expect(r.diagnosis[0].lines[0]).toMatch(/the encoder agrees; it goes wrong in decoder layer 0 \(or the target embedding it reads\), first at target step 1 of 0\.\.3/);
  });
});
