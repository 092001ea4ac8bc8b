/** `rnnlab check --seq2seq`: encoder-decoder engines on identical weights and data, against float64 scratch. */
import { type Seq2SeqCheckReport, runSeq2SeqCheck, seq2seqBatchFromTensors, writeSeq2SeqDump } from '../../compare/seq2seq.js';
import { type BackendRequest, type Seq2SeqEngineName, createSeq2SeqEngine } from '../engines/registry.js';
import { InputError } from '../errors.js';
import { biasRows } from '../cells.js';
import { describeOptimizer, type OptimizerSpec } from '../optimizer.js';
import { randomSeq2SeqBatch, randomSeq2SeqParams, validateSeq2SeqParams } from '../seq2seq/params.js';
import { readJsonInput } from '../io/files.js';
import { readSafetensors } from '../io/safetensors.js';
import type { NamedParams } from '../params.js';
import type { Seq2SeqBatch } from '../seq2seq/spec.js';
import { type Seq2SeqSpec, decoderSize, parseSeq2SeqSpec, seq2seqToJSON } from '../seq2seq/spec.js';
import { fixed, formatTable, plural, sci } from '../io/table.js';
import type { KernelChoice } from '../run-options.js';
import type { IO } from '../io/output.js';

export interface Seq2SeqCheckFlags {
  cell: string;
  layers: number;
  hidden: number;
  input: number;
  output: number;
  embedding?: number;
  attention?: string;
  attentionUnits?: number;
  bidirectional?: boolean;
  activation?: string;
  recurrentActivation?: string;
  gruResetAfter?: boolean;
  seq: number;
  targetSeq?: number;
  batch: number;
  seed: number;
  mask?: boolean;
  steps: number;
  perStep?: boolean;
  tfjs: boolean;
  backend: string;
  engines?: string[];
  engine?: string[];
  kernels: KernelChoice;
  blas?: string;
  python?: string;
  engineTimeout?: number;
  threads?: number;
  browser?: string;
  json?: boolean;
  /** Bring your own: a Seq2SeqSpec JSON, canonical weights, a batch (safetensors), and where to dump what each engine answered. */
  spec?: string;
  weights?: string;
  data?: string;
  dump?: string;
}

/** The model, weights and batch of the check: from --spec, --weights and --data where given, else generated from the flags and the seed. */
function seq2seqInputs(f: Seq2SeqCheckFlags): { spec: Seq2SeqSpec; params: NamedParams; batch: Seq2SeqBatch; source: string } {
  const spec = f.spec ? parseSeq2SeqSpec(readJsonInput(f.spec, 'Seq2SeqSpec'), f.spec) : seq2seqSpecFromFlags(f, 8);
  let params: NamedParams;
  if (f.weights) {
    params = readSafetensors(f.weights).tensors;
    validateSeq2SeqParams(spec, params, f.weights);
  } else params = randomSeq2SeqParams(spec, f.seed);
  const batch = f.data ? seq2seqBatchFromTensors(spec, readSafetensors(f.data).tensors, f.data) : randomSeq2SeqBatch(spec, f.batch, f.seq, f.targetSeq ?? f.seq, f.seed + 1, { mask: f.mask });
  return { spec, params, batch, source: f.data ?? `generated (seed ${f.seed})` };
}

export function describeSeq2Seq(s: Seq2SeqSpec): string {
  const cell = `${s.cell}${biasRows(s) === 2 ? ' reset-after' : ''}`;
  const bi = s.bidirectional ? ` (bidirectional encoder, decoder ${decoderSize(s)})` : '';
  return `seq2seq ${cell}, ${s.layers}x${s.hiddenSize}${bi}, vocab ${s.srcVocab} -> ${s.tgtVocab}, embedding ${s.embedding}${s.sharedEmbedding ? ' (shared)' : ''}, attention ${s.attention}${s.attention === 'concat' ? ` (${s.attentionUnits} units)` : ''}`;
}

/** The model of `check --seq2seq` and `gradcheck --seq2seq` from the shared model flags (--input / --output: the vocabularies). */
export function seq2seqSpecFromFlags(
  f: Pick<Seq2SeqCheckFlags, 'cell' | 'hidden' | 'layers' | 'input' | 'output' | 'embedding' | 'attention' | 'attentionUnits' | 'bidirectional' | 'activation' | 'recurrentActivation' | 'gruResetAfter'>,
  defaultEmbedding: number,
): Seq2SeqSpec {
  return parseSeq2SeqSpec(
    {
      cell: f.cell,
      hiddenSize: f.hidden,
      layers: f.layers,
      srcVocab: Math.max(4, f.input),
      tgtVocab: Math.max(4, f.output),
      embedding: f.embedding ?? defaultEmbedding,
      attention: f.attention ?? 'general',
      ...(f.attentionUnits !== undefined ? { attentionUnits: f.attentionUnits } : {}),
      ...(f.bidirectional ? { bidirectional: true } : {}),
      ...(f.activation ? { activation: f.activation } : {}),
      ...(f.recurrentActivation ? { recurrentActivation: f.recurrentActivation } : {}),
      ...(f.gruResetAfter ? { gruResetAfter: true } : {}),
    },
    'seq2seq flags',
  );
}

export async function checkSeq2Seq(f: Seq2SeqCheckFlags, optimizer: OptimizerSpec, io: IO, setExit: (code: number) => void): Promise<void> {
  const { spec, params, batch, source } = seq2seqInputs(f);
  const masked = !batch.srcMask.every((v) => v === 1) || !batch.tgtMask.every((v) => v === 1);
  // a "cmd:" value is one engine whole (its command may hold commas), as parseEngineList reads it
  const asked = [...(f.engines ?? []), ...(f.engine ?? [])].flatMap((e) => (e.trim().startsWith('cmd:') ? [e] : e.split(','))).map((e) => e.trim()).filter(Boolean);
  const names = asked.length ? asked : ['scratch', ...(f.tfjs ? ['tfjs'] : [])];
  const skipped: { engine: string; reason: string }[] = [];
  const wanted: { name: Seq2SeqEngineName; backend?: BackendRequest }[] = [];
  for (const n of names) {
    if (n === 'scratch-f64') skipped.push({ engine: n, reason: 'it is the reference every engine is compared with' });
    else if (n === 'tfjs' || /^tfjs-(wasm|cpu|node)$/.test(n)) {
      if (f.tfjs) wanted.push({ name: 'tfjs', backend: (n === 'tfjs' ? f.backend : n.slice(5)) as BackendRequest });
    }
    // scratch, pytorch, pytorch-f64, the browser engines, a module or "cmd:": the registry opens it, or refuses it in one line (an engine that does not claim seq2seq)
    else wanted.push({ name: n === 'scratch-f32' ? 'scratch' : n });
  }
  // an engine asked for that cannot run is bad input, never a PASS without it
  const cannot = skipped.filter((s) => s.engine !== 'scratch-f64');
  if (cannot.length) throw new InputError(`check --seq2seq cannot run ${cannot.map((s) => `${s.engine} (${s.reason})`).join('; ')}; leave ${cannot.length > 1 ? 'them' : 'it'} out`);
  const seen = new Set<string>();
  for (const w of wanted) {
    const key = w.name === 'tfjs' ? `tfjs-${w.backend}` : w.name;
    if (seen.has(key)) throw new InputError(`engine ${key} is listed twice`);
    seen.add(key);
  }
  if (!wanted.length) throw new InputError(`no engine under test can run a seq2seq check (${skipped.map((s) => `${s.engine}: ${s.reason}`).join('; ')})`);
  const ref = await createSeq2SeqEngine('scratch-f64', spec, { params, optimizer, kernels: f.kernels, blas: f.blas });
  const opened = [];
  try {
    const outside = { python: f.python, browser: f.browser, timeoutMs: f.engineTimeout !== undefined ? f.engineTimeout * 1000 : undefined, training: f.steps > 0, onProgress: (w: string) => io.progress(`check: ${w}`) };
    for (const w of wanted) opened.push(await createSeq2SeqEngine(w.name, spec, { params, optimizer, kernels: f.kernels, blas: f.blas, threads: f.threads, backend: w.backend, ...outside }));
    const { raw, ...report } = await runSeq2SeqCheck({ spec, batch, reference: ref.engine, engines: opened.map((o) => o.engine), steps: f.steps, perStep: f.perStep, onProgress: (w) => io.progress(`check: ${w}`) });
    setExit(report.pass ? 0 : 1);
    const dumped = f.dump ? writeSeq2SeqDump(f.dump, spec, batch, raw, optimizer) : [];
    const engines = [...opened.map((o) => ({ name: o.engine.name, role: 'under test', detail: o.detail })), { name: ref.engine.name, role: 'reference', detail: ref.detail }];
    if (f.json) {
      io.out(JSON.stringify({ kind: 'seq2seq', spec: seq2seqToJSON(spec), data: { source, batch: batch.batchSize, srcLen: batch.srcLen, tgtLen: batch.tgtLen, masked }, optimizer, steps: f.steps, skipped, ...report, engines, ...(f.dump ? { dump: dumped } : {}) }));
      return;
    }
    io.out(`check  ${describeSeq2Seq(spec)}`);
    io.out(`data: ${source}, batch ${batch.batchSize}, source ${batch.srcLen} steps, target ${batch.tgtLen}${masked ? ', masked' : ''}; ${describeOptimizer(optimizer)}, ${plural(f.steps, 'step')} in lockstep on this batch`);
    const w = Math.max(12, ...engines.map((e) => e.name.length));
    for (const e of engines) io.out(`  ${e.name.padEnd(w)} ${e.role}: ${e.detail}`);
    printSeq2SeqReport(io, report);
    for (const p of dumped) io.out(`wrote ${p}`);
    if (skipped.length) {
      io.out('');
      io.out('left out');
      for (const s of skipped) io.out(`  ${s.engine}: because ${s.reason}`);
    }
    if (report.diagnosis.length) {
      io.out('');
      for (const d of report.diagnosis) {
        io.out(`where ${d.engine} first goes wrong:`);
        for (const l of d.lines) io.out(`  ${l}`);
      }
    }
    io.out('');
    io.out(report.pass ? `verdict: PASS (${report.forward.length + report.loss.comparisons.length + report.gradients.length + report.final.length} comparisons within the tolerance policy)` : `verdict: FAIL (${report.failures.length} comparisons outside the tolerance policy)`);
    for (const x of report.failures.slice(0, 12)) io.out(`  ${x}`);
  } finally {
    for (const o of opened) {
      await o.engine.dispose();
      await o.close();
    }
  }
}

function rows(cs: Seq2SeqCheckReport['forward']): (string | number)[][] {
  return cs.map((c) => [c.what, c.engine, sci(c.maxAbsError), sci(c.maxRelError), sci(c.limit, 0), c.pass ? 'ok' : 'FAIL']);
}

function printSeq2SeqReport(io: IO, r: Seq2SeqCheckReport): void {
  const head = ['', 'engine', 'max abs err', 'max rel err', 'limit', 'verdict'];
  const align = ['l', 'l', 'r', 'r', 'r', 'l'] as const;
  io.out('');
  io.out(`forward at the initial weights (against ${r.reference})`);
  io.out(formatTable(head, rows(r.forward), [...align]));
  io.out('');
  io.out('loss at the initial weights (cross-entropy, mean over real target tokens)');
  io.out(formatTable(['engine', 'loss', 'rel err', 'limit', 'verdict'], [[r.reference, r.loss.values[r.reference].toPrecision(12), '', '', ''], ...r.loss.comparisons.map((c) => [c.engine, r.loss.values[c.engine].toPrecision(12), sci(c.maxRelError), sci(c.limit, 0), c.pass ? 'ok' : 'FAIL'])]));
  io.out('');
  io.out(`gradients at the initial weights (against ${r.reference})`);
  io.out(formatTable(['parameter', ...head.slice(1)], rows(r.gradients), [...align]));
  if (r.perStep) {
    io.out('');
    io.out(`dLoss/dh_t at every step (max rel err against ${r.reference}; the decoder's gradient reaches the encoder through its final state and the attention)`);
    const names = Object.keys(r.perStep[0]?.errors ?? {});
    io.out(formatTable(['side', 'layer', 'step', 'max |dh|', ...names], r.perStep.map((s) => [s.side, s.layer, s.t, sci(s.scale), ...names.map((n) => sci(s.errors[n]))])));
  }
  if (r.trajectory.steps.length) {
    io.out('');
    io.out('training in lockstep (loss before each update)');
    const names = Object.keys(r.trajectory.steps[0].loss);
    io.out(formatTable(['step', ...names.map((n) => `loss ${n}`)], r.trajectory.steps.map((s) => [s.step, ...names.map((n) => fixed(s.loss[n], 8))])));
    const worst = new Map<string, { err: number; what: string; limit: number }>();
    for (const c of r.final) {
      const w = worst.get(c.engine);
      if (!w || c.maxRelError > w.err) worst.set(c.engine, { err: c.maxRelError, what: c.what.replace(/^final /, ''), limit: c.limit });
    }
    for (const [e, w] of worst) io.out(`${e}: parameters after training within ${sci(w.err)} of ${r.reference} (largest in ${w.what}; limit ${sci(w.limit, 0)})`);
  }
}
