/** `rnnlab check`: both engines on identical weights and data, compared to the digit. */
import { assertFits } from '../sizes.js';
import type { Command } from 'commander';
import { TOLERANCES, TOLERANCES_F16, TOLERANCES_F64, limitFor } from '../tolerance.js';
import { halfFloatLines, halfFloatMisses } from './check-half.js';
import type { Comparison } from '../../compare/comparisons.js';
import type { KernelChoice } from '../run-options.js';
import { InputError } from '../errors.js';
import { MISTAKE_IDS, check, fileInputs, generatedInputs, writeDump } from '../../compare/check.js';
import { readSafetensors } from '../io/safetensors.js';
import { BROWSER_HELP, type BackendRequest, type EngineRef, collectEngines, parseEngineList } from '../engines/registry.js';
import { type ImportedModel, batchForModel } from '../import/keras.js';
import { readKerasModel } from '../import/keras-files.js';
import { type Seq2SeqCheckFlags, checkSeq2Seq } from './check-seq2seq.js';
import { ATTENTIONS } from '../seq2seq/spec.js';
import { batchFromTensors, type CheckInputs } from '../../compare/check.js';
import { validateParams } from '../params.js';
import { describeOptimizer, optimizerSpec } from '../optimizer.js';
import { describeSpec, specToJSON } from '../spec.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { defaultRunDir, environmentInfo, newRunDir } from '../io/run-dir.js';
import { fixed, formatTable, plural, sci } from '../io/table.js';
import { type ModelFlags, BLAS_FLAG, addModelOptions, addOptimizerOptions, kernelsOption, specFromFlags, ENGINE_TIMEOUT_HELP, engineTimeoutArg, NOT_SEQ2SEQ_FLAGS, SPEC_FLAGS, refuseUnused } from './flags.js';
import { choice, intArg, numArg, seedArg, threadsArg } from '../io/args.js';
import type { IO } from '../io/output.js';

interface Flags extends Omit<ModelFlags, never> {
  model?: string;
  seq2seq?: boolean;
  attention?: string;
  attentionUnits?: number;
  targetSeq?: number;
  engine?: string[];
  weights?: string;
  data?: string;
  seq: number;
  batch: number;
  seed: number;
  mask?: boolean;
  carriedState?: boolean;
  optimizer: string;
  lr?: number;
  momentum?: number;
  clipValue?: number;
  clipNorm?: number;
  steps: number;
  backend: string;
  tfjs: boolean;
  engines?: string[];
  python?: string;
  browser?: string;
  engineTimeout?: number;
  perStep?: boolean;
  dump?: string;
  fault?: string;
  diagnoseSeconds?: number;
  kernels: KernelChoice;
  blas?: string;
  threads?: number;
  out?: string | boolean;
  overwrite?: boolean;
  json?: boolean;
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'FAIL';
}

export function registerCheck(program: Command, io: IO, setExit: (code: number) => void): void {
  const cmd = program
    .command('check')
    .description('run engines (scratch, tfjs, PyTorch, your own) on identical weights and data, and compare them to the digit with float64 scratch');
  addModelOptions(cmd, { hidden: 32, input: 10, output: 10 })
    .option('--model <file>', 'a Keras model (model.keras, model.h5, or a TensorFlow.js model.json + weight shards): its spec, weights and compiled loss, and the model itself loaded by tf.loadLayersModel as one more engine')
    .option('--weights <file>', 'canonical weights (.safetensors) instead of generated ones')
    .option('--data <file>', 'x, y (and optional mask, h.{l}, c.{l}) as .safetensors instead of a generated batch')
    .option('--seq <n>', 'time steps of the generated batch', intArg(1), 20)
    .option('--batch <n>', 'rows of the generated batch', intArg(1), 8)
    .option('--seed <n>', 'seed of generated weights and data', seedArg, 1)
    .option('--mask', 'generated batch with right-padded rows and a mask')
    .option('--seq2seq', 'an encoder-decoder model instead: --input / --output are the source / target vocabularies, --seq the source length')
    .addOption(choice('--attention <a>', 'seq2seq: Luong attention (default general)', [...ATTENTIONS]))
    .option('--attention-units <n>', 'seq2seq, concat attention: the width of its score (default --hidden)', intArg(1))
    .option('--target-seq <n>', 'seq2seq: target length of the generated batch (default --seq)', intArg(1))
    .option('--carried-state', 'generated batch with a random initial state');
  addOptimizerOptions(cmd, { steps: 10 })
    .addOption(choice('--backend <b>', 'tfjs backend', ['auto', 'node', 'wasm', 'cpu'], 'auto'))
    .option('--engines <list>', 'engines under test (default scratch,tfjs): scratch, tfjs, tfjs-wasm, tfjs-cpu, tfjs-node, tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16, pytorch, pytorch-f64, ./my-engine.js, "cmd:COMMAND" (repeatable; docs/engines.md)', collectEngines)
    .option('--engine <e>', 'the same as --engines', collectEngines)
    .option('--python <path>', 'the Python of the pytorch engine (default: RNNLAB_PYTHON, python3, /usr/bin/python3)')
    .option('--browser <path>', BROWSER_HELP)
    .option('--engine-timeout <s>', ENGINE_TIMEOUT_HELP, engineTimeoutArg)
    .option('--no-tfjs', 'leave tfjs out (with the default engines: the float32 scratch engine against float64 only)')
    .option('--per-step', 'also compare dLoss/dh_t at every time step of BPTT')
    .option('--out [dir]', 'write a run directory (run.json, check.json, metrics.jsonl) for plot and report (default runs/check-<time>)')
    .option('--overwrite', 'replace the run directory of --out if it already holds a run')
    .option('--dump <dir>', 'write scratch.safetensors, scratch-f64.safetensors and tfjs.safetensors into dir')
    .addOption(kernelsOption('kernels of the scratch engines (float64: the products on the BLAS, or not)', 'auto'))
    .option(...BLAS_FLAG)
    .option('--threads <n>', 'threads of the scratch kernels (default: the cores, at most 2)', threadsArg)
    .option('--fault <mistake>', `plant a catalogued mistake in the scratch engine, to see how check reports it: id[:key=value,...] (${MISTAKE_IDS.join(', ')}; e.g. truncated-bptt:k=3, gates-swapped:gates=z+r)`)
    .option('--diagnose-seconds <s>', "how long the diagnosis may try its catalogue of mistakes on an engine that disagrees (default: 3 times the check's own time, at least 2 s)", numArg({ min: 0 }))
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  rnnlab check --cell lstm --layers 2 --hidden 32 --input 10 --output 10 --seq 20 --batch 8\n' +
        '  rnnlab check --spec spec.json --weights w.safetensors --data d.safetensors --optimizer sgd --lr 0.1 --steps 50\n' +
        '  rnnlab check --cell gru --gru-reset-after --per-step --dump out/\n' +
        '  rnnlab check --cell lstm --fault cell-state-skips-forget-gate\n' +
        '  rnnlab check --model web/model.json --batch 4 --seq 30\n' +
        '  rnnlab check --seq2seq --cell gru --attention general --mask --per-step\n' +
        '  rnnlab check --cell gru --gru-reset-after --engines scratch,tfjs,pytorch,pytorch-f64\n' +
        '  rnnlab check --cell lstm --engines "cmd:python3 examples/numpy-rnn/adapter.py" --per-step',
    )
    .action((f: Flags, command: Command) => checkAction(f, command, io, setExit));
}

/** `rnnlab check` with its flags parsed: the inputs, the check, the dump and run directory, the report. */
async function checkAction(f: Flags, command: Command, io: IO, setExit: (code: number) => void): Promise<void> {
  if (f.seq2seq) {
    refuseUnused(command, NOT_SEQ2SEQ_FLAGS.filter((k) => k !== 'spec'), '--seq2seq checks an encoder-decoder (token input, a cross-entropy per target step; --bidirectional: its encoder reads both ways, directions concatenated)');
    if (f.spec) refuseUnused(command, [...SPEC_FLAGS, 'attention', 'attentionUnits'], '--spec gives the whole encoder-decoder');
  } else if (f.spec) refuseUnused(command, SPEC_FLAGS, '--spec gives the whole model');
  // a Keras model compiled without a loss takes --loss (importForCheck refuses one that contradicts its compiled loss)
  else if (f.model) refuseUnused(command, SPEC_FLAGS.filter((k) => k !== 'loss'), '--model gives the whole model');
  if (f.seq2seq) {
    if (f.model || f.fault || f.carriedState || f.out) {
      throw new InputError('--seq2seq checks an encoder-decoder from the flags or --spec, --weights and --data; it does not go with --model, --fault, --carried-state or --out');
    }
    const optimizer = optimizerSpec(f.optimizer, { lr: f.lr, momentum: f.momentum, clipValue: f.clipValue, clipNorm: f.clipNorm || undefined });
    return checkSeq2Seq(f as unknown as Seq2SeqCheckFlags, optimizer, io, setExit);
  }
  if (f.attention || f.targetSeq || f.attentionUnits) throw new InputError('--attention, --attention-units and --target-seq are for --seq2seq');
  const imported = f.model ? importForCheck(f, command.getOptionValueSource('loss') === 'cli') : null;
  const spec = imported ? imported.spec : specFromFlags(f);
  // the run directory is claimed before the work, so a taken --out costs nothing
  const runDir = f.out ? (typeof f.out === 'string' ? f.out : defaultRunDir('check')) : null;
  const run = runDir ? newRunDir(runDir, { overwrite: f.overwrite, kind: 'check' }) : null;
  if (f.data && !f.spec && !imported) throw new InputError('--data needs --spec or --model (the data file must be read against a ModelSpec)');
  // scratch float32, float64 and tfjs (or the engines asked for) each hold the model at once
  const fits = (batch: number, seq: number): void => assertFits(spec, { batch, seq, engines: 2 + (f.engines?.length ?? 0) + (f.engine?.length ?? 0), bytesPerFloat: 8 });
  if (!f.data) fits(f.batch, f.seq);
  let inputs: CheckInputs;
  if (imported) {
    const seq = imported.seqLen ?? f.seq;
    const gen = generatedInputs(spec, { batch: f.batch, seq, seed: f.seed, mask: f.mask });
    const given = !!f.data;
    const batch = f.data ? batchFromTensors(spec, readSafetensors(f.data).tensors, f.data) : gen.batch;
    if (imported.seqLen !== null && batch.seqLen !== imported.seqLen) throw new InputError(`${f.data}: the data has ${batch.seqLen} steps, but the model's input takes exactly ${imported.seqLen}`);
    inputs = { spec, params: imported.params, batch: batchForModel(imported, batch, given), source: f.data ?? gen.source.replace('generated', 'generated data') };
  } else if (f.weights && f.data) inputs = fileInputs(spec, f.weights, f.data);
  else {
    const gen = generatedInputs(spec, { batch: f.batch, seq: f.seq, seed: f.seed, mask: f.mask, carriedState: f.carriedState });
    if (f.weights) {
      const p = readSafetensors(f.weights).tensors;
      validateParams(spec, p, f.weights);
      gen.params = p;
    }
    if (f.data) {
      gen.batch = batchFromTensors(spec, readSafetensors(f.data).tensors, f.data);
      gen.source = f.data;
    }
    inputs = gen;
  }
  if (f.data) fits(inputs.batch.batchSize, inputs.batch.seqLen);
  const optimizer = optimizerSpec(f.optimizer, { lr: f.lr, momentum: f.momentum, clipValue: f.clipValue, clipNorm: f.clipNorm || undefined });
  const result = await check(inputs, {
    optimizer,
    steps: f.steps,
    backend: f.backend as 'auto',
    engines: engineRefs(f, imported),
    python: f.python,
    browser: f.browser,
    timeoutMs: f.engineTimeout !== undefined ? f.engineTimeout * 1000 : undefined,
    noTfjs: !f.tfjs,
    perStep: f.perStep,
    fault: f.fault,
    diagnoseSeconds: f.diagnoseSeconds,
    kernels: f.kernels,
    blas: f.blas,
    threads: f.threads,
    onProgress: (w) => io.progress(`check: ${w}`),
  });
  const dumped = f.dump ? writeDump(f.dump, inputs, result, optimizer) : [];
  if (f.dump && result.tfjsSkipped) io.err(`rnnlab: ${join(f.dump, 'tfjs.safetensors')} not written: tfjs ${result.tfjsSkipped}`);
  const { report } = result;
  if (run && runDir) {
    run.writeRunJson({
      command: ['rnnlab', ...process.argv.slice(2)].join(' '),
      kind: 'check',
      spec: specToJSON(spec),
      data: { source: inputs.source, batch: inputs.batch.batchSize, seq: inputs.batch.seqLen },
      flags: { ...f, out: runDir },
      optimizer,
      engines: result.engines,
      backend: result.backend,
      ...environmentInfo(),
    });
    writeFileAtomic(join(runDir, 'check.json'), JSON.stringify({ spec: specToJSON(spec), optimizer, ...report, engines: result.engines }) + '\n');
    for (const s of report.trajectory.steps) run.metric({ type: 'step', step: s.step, loss: s.loss, maxParamDiff: s.maxParamDiff });
    run.metric({ type: 'final', kind: 'check', pass: report.pass, failures: report.failures });
  }
  setExit(report.pass ? 0 : 1);
  const B = inputs.batch.batchSize;
  const T = inputs.batch.seqLen;
  if (f.json) {
    io.out(
      JSON.stringify({
        spec: specToJSON(spec),
        data: { source: inputs.source, batch: B, seq: T, masked: !!inputs.batch.mask, carriedState: !!inputs.batch.initialState },
        optimizer,
        steps: f.steps,
        backend: result.backend,
        tfjsSkipped: result.tfjsSkipped,
        notes: result.notes,
        fault: f.fault ?? null,
        ...report,
        ...(halfFloatMisses(report).length ? { halfFloat: halfFloatMisses(report) } : {}),
        engines: result.engines,
        dump: dumped,
        runDir,
      }),
    );
    return;
  }
  printReport(io, result, {
    header: [
      ...(imported ? importHeader(imported, result) : []),
      `check  ${describeSpec(spec)}`,
      `data: ${inputs.source}, batch ${B}, seq ${T}${inputs.batch.mask ? ', masked' : ''}${inputs.batch.initialState ? ', carried state' : ''}; ` +
        `${describeOptimizer(optimizer)}, ${plural(f.steps, 'step')} in lockstep on this batch`,
    ],
    dumped: runDir ? [...dumped, runDir] : dumped,
  });
}

/** --model: the model read, with every flag that would contradict it refused; --loss given is the loss of a model compiled with none. */
function importForCheck(f: Flags, lossGiven: boolean): ImportedModel {
  const clash = (['spec', 'weights', 'carriedState', 'fault'] as const).filter((k) => f[k] !== undefined && f[k] !== false);
  if (clash.length) throw new InputError(`--model brings its own spec, weights and engines; it does not go with ${clash.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`);
  return readKerasModel(f.model!, { loss: lossGiven ? (f.loss as 'ce' | 'mse') : undefined });
}

/**
 * The engines under test: the ones asked for (default scratch and tfjs), and with --model the
 * loaded model itself, in Node (unless only browser engines run tfjs) and in the page of each
 * browser engine asked for (keras-model-webgl, ...).
 */
function engineRefs(f: Flags, imported: ImportedModel | null): EngineRef[] | undefined {
  const asked = f.engines || f.engine ? parseEngineList([...(f.engines ?? []), ...(f.engine ?? [])], f.backend as 'auto') : undefined;
  if (!imported) return asked;
  const base: EngineRef[] = asked ?? [{ kind: 'scratch', dtype: 'float32' }, ...(f.tfjs ? [{ kind: 'tfjs', backend: f.backend } as EngineRef] : [])];
  const browsers = base.flatMap((r) => (r.kind === 'browser' ? [r.backend] : []));
  const inNode = browsers.length === 0 || base.some((r) => r.kind === 'tfjs');
  return [
    ...base,
    ...(inNode ? [{ kind: 'keras', model: imported, backend: f.backend as BackendRequest } as EngineRef] : []),
    ...browsers.map((b): EngineRef => ({ kind: 'keras', model: imported, backend: f.backend as BackendRequest, browser: b })),
  ];
}

function importHeader(m: ImportedModel, result: Awaited<ReturnType<typeof check>>): string[] {
  const by = [m.source.generatedBy, m.source.convertedBy].filter(Boolean).join(', ');
  const lines = [`model ${m.source.path} (${m.source.modelClass}${by ? `; ${by}` : ''})`];
  lines.push(formatTable(['layer', 'class', 'in rnnlab'], m.layers.map((l) => [l.name, l.kind, l.role])));
  lines.push(`loss: ${m.loss}`);
  for (const n of m.notes) lines.push(`note: ${n}`);
  const keras = result.engines.find((e) => e.name === 'keras-model');
  if (keras?.role === 'under test') lines.push(`keras-model: the model as tf.loadLayersModel loads it; model.predict agrees with its layers applied one by one (outputs before the ${m.outputActivation === 'softmax' ? 'softmax' : 'head activation'} are compared)`);
  lines.push('');
  return lines;
}

function compRows(rows: Comparison[], withGate: boolean): (string | number)[][] {
  return rows.map((r) => [
    r.what,
    r.engine,
    sci(r.maxAbsError),
    sci(r.maxRelError),
    r.cosine.toFixed(9),
    ...(withGate ? [r.worst?.gate ?? '', r.worst ? `[${r.worst.position.join(', ')}]` : ''] : []),
    sci(r.limit, 0),
    verdict(r.pass),
  ]);
}

export function printReport(io: IO, result: Awaited<ReturnType<typeof check>>, o: { header: string[]; dumped: string[] }): void {
  const { report } = result;
  for (const h of o.header) io.out(h);
  const w = Math.max(12, ...result.engines.map((e) => e.name.length));
  for (const e of result.engines) io.out(`  ${e.name.padEnd(w)} ${e.role}: ${e.detail}${e.notes.length ? ` (note: ${e.notes.join('; ')})` : ''}`);
  if (result.tfjsSkipped) io.out(`  tfjs         ${result.tfjsSkipped}`);
  for (const n of result.notes) io.out(`  note: ${n}`);
  const ref = report.reference;
  io.out('');
  io.out(`forward outputs at the initial weights (against ${ref})`);
  io.out(formatTable(['', 'engine', 'max abs err', 'max rel err', 'cosine', 'limit', 'verdict'], compRows(report.forward, false), ['l', 'l', 'r', 'r', 'r', 'r', 'l']));
  io.out('');
  io.out('loss at the initial weights');
  io.out(
    formatTable(
      ['engine', 'loss', 'abs err', 'rel err', 'limit', 'verdict'],
      [
        [ref, report.loss.values[ref].toPrecision(12), '', '', '', ''],
        ...report.loss.comparisons.map((c) => [c.engine, report.loss.values[c.engine].toPrecision(12), sci(c.maxAbsError), sci(c.maxRelError), sci(c.limit, 0), verdict(c.pass)]),
      ],
      ['l', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  io.out('');
  io.out(`gradients at the initial weights (against ${ref}; worst = where the largest difference is)`);
  // one block per parameter, each engine under it
  const order = [...new Set(report.gradients.map((g) => g.what))];
  const byParam = order.flatMap((name) => report.gradients.filter((g) => g.what === name));
  io.out(formatTable(['parameter', 'engine', 'max abs err', 'max rel err', 'cosine', 'gate', 'worst', 'limit', 'verdict'], compRows(byParam, true), ['l', 'l', 'r', 'r', 'r', 'l', 'l', 'r', 'l']));
  const half = halfFloatLines(halfFloatMisses(report));
  if (half.length) io.out(['', ...half.slice(0, -1)].join('\n'));
  if (report.perStep) {
    io.out('');
    io.out(`dLoss/dh_t at every step of BPTT (max rel err against ${ref}; read upwards: backpropagation runs from the last step)`);
    const names = Object.keys(report.perStep[0]?.errors ?? {});
    io.out(
      formatTable(
        ['layer', 'step', 'max |dh|', ...names],
        report.perStep.map((r) => [r.layer, r.t, sci(r.scale), ...names.map((n) => sci(r.errors[n]))]),
      ),
    );
  }
  const tr = report.trajectory;
  io.out('');
  io.out(`training in lockstep (loss before each update${tr.pair ? `; largest parameter difference ${tr.pair[1]} vs ${tr.pair[0]} after it, max rel err` : ''})`);
  const engines = Object.keys(tr.steps[0]?.loss ?? {});
  io.out(
    formatTable(
      ['step', ...engines.map((e) => `loss ${e}`), ...(tr.pair ? ['param diff', 'in'] : [])],
      tr.steps.map((s) => [s.step, ...engines.map((e) => fixed(s.loss[e], 8)), ...(tr.pair ? [sci(s.maxParamDiff), s.worstParam] : [])]),
      ['r', ...engines.map(() => 'r' as const), 'r', 'l'],
    ),
  );
  for (const name of tr.trained ?? []) {
    const diffs = tr.steps.map((s) => s.refDiff?.[name] ?? 0);
    const at = tr.drift?.[name] ?? null;
    const limit = limitFor('trajectory', report.dtypes?.[name]);
    io.out(
      at === null
        ? `${name}: no drift from ${report.reference} (largest parameter difference ${sci(Math.max(0, ...diffs))}, limit ${sci(limit, 0)})`
        : `${name}: drifts from ${report.reference} at step ${at} (${sci(diffs[at - 1])} > ${sci(limit, 0)}${report.dtypes?.[name] === 'float64' ? ', the float64 limit' : ''})`,
    );
  }
  if (tr.pair) {
    const last = tr.steps[tr.steps.length - 1];
    io.out(
      tr.driftStep === null
        ? `${tr.pair[1]} and ${tr.pair[0]}: their parameters stayed within ${sci(tr.limit, 0)} of each other (largest ${sci(Math.max(...tr.steps.map((s) => s.maxParamDiff)))})`
        : `drift began at step ${tr.driftStep}: parameter difference ${sci(tr.steps[tr.driftStep - 1].maxParamDiff)} > ${sci(tr.limit, 0)} (in ${tr.steps[tr.driftStep - 1].worstParam}); after step ${last.step}: ${sci(last.maxParamDiff)}`,
    );
  }
  io.out('');
  io.out(`parameters after ${plural(tr.steps.length, 'step')}`);
  io.out(
    formatTable(
      ['parameter', 'engine', 'against', 'max abs err', 'max rel err', 'limit', 'verdict'],
      report.final.map((r) => [r.what.replace(/^final /, ''), r.engine, r.against, sci(r.maxAbsError), sci(r.maxRelError), sci(r.limit, 0), verdict(r.pass)]),
      ['l', 'l', 'l', 'r', 'r', 'r', 'l'],
    ),
  );
  for (const p of o.dumped) io.out(`wrote ${p}`);
  if (report.skipped?.length) {
    io.out('');
    io.out('left out');
    for (const s of report.skipped) io.out(`  ${s.engine}: ${s.what}, because ${s.reason}`);
  }
  if (report.diagnosis?.length) {
    io.out('');
    for (const d of report.diagnosis) {
      io.out(`where ${d.engine} first goes wrong:`);
      for (const l of d.lines) io.out(`  ${l}`);
    }
  }
  io.out('');
  const total = report.forward.length + report.loss.comparisons.length + report.gradients.length + report.final.length;
  const f64 = Object.entries(report.dtypes ?? {}).some(([n, d]) => d === 'float64' && n !== report.reference);
  const f16 = Object.values(report.dtypes ?? {}).some((d) => d === 'float16');
  const policy =
    `forward ${sci(TOLERANCES.forward.limit, 0)}, gradients ${sci(TOLERANCES.grad.limit, 0)}, parameters after training ${sci(TOLERANCES.trajectory.limit, 0)}` +
    (f64 ? `; float64 engines: ${sci(TOLERANCES_F64.forward.limit, 0)}, ${sci(TOLERANCES_F64.grad.limit, 0)}, ${sci(TOLERANCES_F64.trajectory.limit, 0)}` : '') +
    (f16 ? `; half-float engines: ${sci(TOLERANCES_F16.forward.limit, 0)}, ${sci(TOLERANCES_F16.grad.limit, 0)}, ${sci(TOLERANCES_F16.trajectory.limit, 0)}` : '');
  const partial = coverageWords(report);
  if (report.pass) io.out(`verdict: PASS${partial ? ` ${partial}` : ''} (${total} comparisons within the tolerance policy: ${policy})`);
  else {
    io.out(`verdict: FAIL (${report.failures.length} of ${total} comparisons outside the tolerance policy)${partial ? `; ${partial.replace(/^for /, 'compared for ')}` : ''}`);
    for (const f of report.failures.slice(0, 12)) io.out(`  ${f}`);
    if (report.failures.length > 12) io.out(`  ... and ${report.failures.length - 12} more`);
  }
}

/**
 * What each engine was checked on, when something asked was left out for one of them: "for
 * numpy-rnn on forward, loss and gradients; not compared: lockstep training (it does not support
 * training (no optimizer))". Empty when every engine ran everything asked.
 */
export function coverageWords(report: Awaited<ReturnType<typeof check>>['report']): string {
  const entries = Object.entries(report.coverage ?? {});
  if (entries.every(([, c]) => c.notCompared.length === 0)) return '';
  const and = (xs: string[]): string => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}` : xs[0]);
  return (
    'for ' +
    entries
      .map(([name, c]) => `${name} on ${c.notCompared.length ? and(c.compared) : 'everything asked'}${c.notCompared.length ? `; not compared: ${c.notCompared.map((n) => `${n.what} (${n.why})`).join(', ')}` : ''}`)
      .join('; for ')
  );
}
