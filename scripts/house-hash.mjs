// One hash of seeded training on the scratch engine, for every cell and variant: a restructure that
// moves code must leave it unchanged, bit for bit. Run after `npm run build`:
//
//   node scripts/house-hash.mjs            one line: the hash
//   node scripts/house-hash.mjs --each     a hash per case too (to find the case that moved)
//
// Each case takes seeded training steps (the losses and every parameter after them are hashed), and
// one lossAndGrads with the input and state gradients, on three kernel sets: float32 WebAssembly
// (one thread), float32 auto (the BLAS where found, else WebAssembly) at 2 threads, and float64
// (the TypeScript kernels, and auto: its products on the BLAS). An encoder-decoder takes steps too.
import { createHash } from 'node:crypto';
import {
  ScratchEngine, ScratchSeq2Seq, float64Kernels, initParams, initSeq2SeqParams, jsKernels, makeKernels,
  optimizerSpec, parseSeq2SeqSpec, parseSpec, randomBatch, randomSeq2SeqBatch,
} from '../dist/src/index.js';

const base = { inputSize: 5, hiddenSize: 6, outputSize: 4, layers: 2 };
const CASES = [
  ['rnn tanh', { cell: 'rnn' }],
  ['rnn relu', { cell: 'rnn', activation: 'relu', layers: 1 }],
  ['lstm sigmoid', { cell: 'lstm' }],
  ['lstm hardSigmoid', { cell: 'lstm', recurrentActivation: 'hardSigmoid', layers: 1 }],
  ['lstm unitForgetBias', { cell: 'lstm', unitForgetBias: true, layers: 1 }],
  ['gru reset-before', { cell: 'gru' }],
  ['gru reset-after', { cell: 'gru', gruResetAfter: true }],
  ['gru hardSigmoid', { cell: 'gru', recurrentActivation: 'hardSigmoid', layers: 1 }],
  ['bidirectional lstm concat', { cell: 'lstm', bidirectional: true }],
  ['bidirectional gru-ra sum', { cell: 'gru', gruResetAfter: true, bidirectional: true, merge: 'sum' }],
  ['bidirectional rnn many-to-one', { cell: 'rnn', bidirectional: true, merge: 'ave', returnSequences: false, layers: 1 }],
  ['tokens lstm', { cell: 'lstm', input: 'tokens', inputSize: 7 }],
  ['embedding gru', { cell: 'gru', input: 'tokens', inputSize: 7, embedding: 3 }],
  ['embedding lstm sumOverTime', { cell: 'lstm', input: 'tokens', inputSize: 7, embedding: 4, lossReduction: 'sumOverTime', layers: 1 }],
  ['mse lstm', { cell: 'lstm', loss: 'mse' }],
  ['mse gru many-to-one', { cell: 'gru', loss: 'mse', returnSequences: false, outputSize: 2 }],
  ['rnn many-to-one ce', { cell: 'rnn', returnSequences: false }],
];
const OPTIMIZERS = [
  optimizerSpec('adam', { lr: 0.01, clipNorm: 1 }),
  optimizerSpec('sgd', { lr: 0.1, clipValue: 0.5 }),
  optimizerSpec('momentum', { lr: 0.05 }),
  optimizerSpec('rmsprop', { lr: 0.01, clipNorm: 2 }),
  optimizerSpec('adagrad', { lr: 0.05 }),
];
const STEPS = 3;

const each = process.argv.includes('--each');
const all = createHash('sha256');
const lines = [];

function feed(h, x) {
  if (typeof x === 'number') h.update(Buffer.from(new Float64Array([x]).buffer));
  else h.update(Buffer.from(Float64Array.from(x).buffer));
}

function runCase(name, spec, kernels, i) {
  const h = createHash('sha256');
  const params = initParams(spec, 11 + i, kernels.dtype === 'float64' ? 'F64' : 'F32');
  const engine = new ScratchEngine(spec, { dtype: kernels.dtype, params, optimizer: OPTIMIZERS[i % OPTIMIZERS.length], kernels });
  const dtype = kernels.dtype === 'float64' ? 'F64' : 'F32';
  for (let s = 0; s < STEPS; s++) {
    // a carried state in the third step (a bidirectional model starts from zeros: it takes none)
    const batch = randomBatch(spec, 3, 5, 100 * i + s, { dtype, mask: s === 1, initialState: s === 2 && !spec.bidirectional });
    feed(h, engine.step(batch).loss);
  }
  const probe = randomBatch(spec, 2, 4, 7 + i, { dtype, initialState: !spec.bidirectional });
  const g = engine.lossAndGrads(probe, { inputGrad: spec.input === 'dense', stateGrads: !spec.bidirectional });
  feed(h, g.loss);
  for (const k of Object.keys(g.grads).sort()) feed(h, g.grads[k].data);
  if (g.dx) feed(h, g.dx);
  for (const d of g.dh ?? []) feed(h, d);
  for (const s of [...(g.dState?.h ?? []), ...(g.dState?.c ?? [])]) feed(h, s);
  const out = engine.forward(probe);
  feed(h, out.output);
  for (const s of [...out.finalState.h, ...(out.finalState.c ?? [])]) feed(h, s);
  const p = engine.getParams();
  for (const k of Object.keys(p).sort()) feed(h, p[k].data);
  engine.dispose?.();
  return h.digest('hex');
}

function runSeq2Seq(name, raw, kernels) {
  const h = createHash('sha256');
  const spec = parseSeq2SeqSpec(raw);
  const dtype = kernels.dtype;
  const engine = new ScratchSeq2Seq(spec, { dtype, kernels, params: initSeq2SeqParams(spec, 5, dtype === 'float64' ? 'F64' : 'F32'), optimizer: optimizerSpec('adam', { lr: 0.01, clipNorm: 1 }) });
  for (let s = 0; s < STEPS; s++) feed(h, engine.step(randomSeq2SeqBatch(spec, 3, 5, 4, 40 + s, { mask: s > 0 })).loss);
  const p = engine.getParams();
  for (const k of Object.keys(p).sort()) feed(h, p[k].data);
  return h.digest('hex');
}

const SEQ2SEQ = [
  ['seq2seq lstm general', { cell: 'lstm', srcVocab: 9, tgtVocab: 8, embedding: 4, hiddenSize: 6, layers: 2, attention: 'general' }],
  ['seq2seq gru-ra dot', { cell: 'gru', gruResetAfter: true, srcVocab: 9, tgtVocab: 8, embedding: 4, hiddenSize: 6, layers: 1, attention: 'dot' }],
];

const sets = [
  ['f32 wasm 1 thread', async () => (await makeKernels('wasm', 1)).kernels],
  ['f32 auto 2 threads', async () => (await makeKernels('auto', 2)).kernels],
  ['f64 js', async () => jsKernels('float64')],
  ['f64 auto', async () => float64Kernels('auto')],
];
for (const [setName, make] of sets) {
  const kernels = await make();
  const hs = createHash('sha256');
  CASES.forEach(([name, raw], i) => {
    const d = runCase(name, parseSpec({ ...base, ...raw }), kernels, i);
    hs.update(d);
    if (each) lines.push(`${setName.padEnd(20)} ${name.padEnd(32)} ${d.slice(0, 16)}`);
  });
  for (const [name, raw] of SEQ2SEQ) {
    const d = runSeq2Seq(name, raw, kernels);
    hs.update(d);
    if (each) lines.push(`${setName.padEnd(20)} ${name.padEnd(32)} ${d.slice(0, 16)}`);
  }
  all.update(hs.digest());
  if (each) lines.push(`${setName.padEnd(20)} (kernels: ${kernels.name}, ${kernels.threads} thread${kernels.threads > 1 ? 's' : ''})`);
  await kernels.dispose?.();
}
for (const l of lines) console.log(l);
console.log(`house hash ${all.digest('hex').slice(0, 24)}`);
