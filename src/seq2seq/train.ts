/**
 * Training an encoder-decoder model (`rnnlab train --task seq2seq`): its own loop, because its
 * engines and batches are of their own kind (src/seq2seq/engine.ts), with what the shared loop
 * does for the other tasks: engines side by side from identical weights and batches, a progress
 * line on a time or step schedule, validation (loss and exact match) after every epoch with a
 * checkpoint after it, a loss that turns NaN stops the run naming the step (the last good
 * checkpoint stays), run.json and metrics.jsonl for plot and report, and the test metrics against
 * a baseline at the end, with attention heatmaps of held-out examples in plot-data.json.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IO } from '../io/output.js';
import { type Seq2SeqEngineName, createSeq2SeqEngine } from '../engines/registry.js';
import { InputError, InterruptedError, RunError } from '../errors.js';
import { removeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { describeOptimizer } from '../optimizer.js';
import { type RunDir, defaultRunDir, environmentInfo, newRunDir } from '../io/run-dir.js';
import { setGraceful } from '../io/interrupt.js';
import { fixed, formatTable } from '../io/table.js';
import { deriveSeed } from '../rng.js';
import { type TrainOptions, buildOptimizer } from '../run-options.js';
import { writeSeq2SeqCheckpoint } from './checkpoint.js';
import { type EncodedPair, type Pair, type Seq2SeqVocabs, buildVocabs, copyBaseline, encodePairs, epochBatches, loadSeq2SeqData, makeBatchFromIds, splitPairs } from './data.js';
import { evaluatePairs, translateTexts } from './decode.js';
import type { Seq2SeqEngine } from './engine.js';
import { initSeq2SeqParams } from './params.js';
import type { NamedParams } from '../params.js';
import { biasRows } from '../cells.js';
import { TOLERANCES, compareArrays } from '../tolerance.js';
import { type Attention, type Seq2SeqBatch, type Seq2SeqSpec, decoderSize, parseSeq2SeqSpec, seq2seqParamCount as paramCount, seq2seqToJSON } from './spec.js';

export interface Seq2SeqOptions extends TrainOptions {
  dataset?: string;
  csv?: string;
  sourceColumn?: string;
  targetColumn?: string;
  digits?: number;
  maxLen?: number;
  pairs?: number;
  attention?: Attention;
  /** A, the width of the concat score (default --hidden). */
  attentionUnits?: number;
  beam?: number;
  sharedVocab?: boolean;
}

export interface Seq2SeqTestResult {
  exact: number;
  token: number;
  n: number;
  baseline: { name: string; exact: number; token: number } | null;
  beam: number;
}

const describe = (s: Seq2SeqSpec): string =>
  `${s.cell}${biasRows(s) === 2 ? ' (reset-after)' : ''} ${s.layers}x${s.hiddenSize}${s.bidirectional ? ` (bidirectional encoder, decoder ${decoderSize(s)})` : ''}, embedding ${s.embedding}, attention ${s.attention}${s.attention === 'concat' ? ` (${s.attentionUnits} units)` : ''}, vocabularies ${s.srcVocab} -> ${s.tgtVocab}`;

/** Cross-entropy of logits [B, T, V] against the targets, mean over the real target tokens; and the token count. */
function forwardLoss(logits: ArrayLike<number>, b: Seq2SeqBatch, V: number): { sum: number; n: number } {
  let sum = 0;
  let n = 0;
  for (let r = 0; r < b.batchSize * b.tgtLen; r++) {
    if (!b.tgtMask[r]) continue;
    const o = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[o + j] - max);
    sum += max + Math.log(s) - logits[o + b.tgtOut[r]];
    n++;
  }
  return { sum, n };
}

async function validationLoss(e: Seq2SeqEngine, items: EncodedPair[], V: number, batch: number): Promise<number> {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < items.length; i += batch) {
    const b = makeBatchFromIds(items.slice(i, i + batch));
    const f = forwardLoss((await e.forward(b)).logits, b, V);
    sum += f.sum;
    n += f.n;
  }
  return sum / Math.max(1, n);
}

/**
 * Milliseconds the evaluation after training takes on these engines (the last validation, the test
 * on the held-out pairs, the examples), estimated from a probe before training: the untrained model
 * decodes every pair to the longest output, so this is an upper bound. With --minutes, training
 * stops early enough for it, so the whole run ends within the minutes asked for.
 */
async function evaluationMs(engines: Seq2SeqEngine[], vocabs: Seq2SeqVocabs, val: EncodedPair[], valSample: readonly Pair[], testPairs: number, o: { V: number; maxLen: number; beam: number }): Promise<number> {
  // decoding runs 64 sources per forward call (beam search 64 / K sources of K hypotheses): time one such chunk
  const chunk = 64;
  const probe = valSample.slice(0, chunk);
  const lossProbe = val.slice(0, 256);
  const chunks = (n: number): number => Math.ceil(n / chunk);
  let total = 0;
  for (const e of engines) {
    // twice each, the faster: the first call also sets up the engine's buffers for the shapes
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      let best = Infinity;
      for (let k = 0; k < 2; k++) {
        const t0 = performance.now();
        await f();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const chunkMs = await timed(() => evaluatePairs(e, vocabs, probe, { maxLen: o.maxLen }));
    const perLossPair = (await timed(() => validationLoss(e, lossProbe, o.V, 256))) / Math.max(1, lossProbe.length);
    total += chunkMs * (chunks(valSample.length) + o.beam * chunks(testPairs) + 1) + perLossPair * val.length;
  }
  return total;
}

const duration = (s: number): string => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

export async function trainSeq2Seq(o: Seq2SeqOptions, io: IO): Promise<void> {
  const t0 = performance.now();
  if (o.resume) throw new InputError('--resume is not available for seq2seq runs yet; start a new run (checkpoints hold the weights for translate)');
  if (o.init) throw new InputError('--init is for the single-stack tasks; a seq2seq run starts from its own initialisation');
  if (o.merge && o.merge !== 'concat') throw new InputError(`--merge ${o.merge}: a bidirectional seq2seq encoder concatenates its two directions (the decoder is 2H wide), as Keras's seq2seq examples do`);
  if (o.attentionUnits !== undefined && o.attention !== 'concat') throw new InputError('--attention-units is the width of the concat score: it goes with --attention concat');
  if (o.lossReduction && o.lossReduction !== 'mean') throw new InputError('--loss-reduction: a seq2seq loss is the mean over target tokens');
  const names: Seq2SeqEngineName[] = (o.engines?.length ? o.engines.flatMap((e) => e.split(',')) : o.engine === 'both' ? ['scratch', 'tfjs'] : [o.engine]).map((n) => {
    const x = n.trim();
    if (x === 'scratch' || x === 'tfjs') return x;
    if (x === 'scratch-f64') return 'scratch-f64';
    throw new InputError(`engine ${x}: seq2seq runs on scratch, scratch-f64 or tfjs (the PyTorch engine and user engines have no encoder-decoder model)`);
  });
  const run = newRunDir(o.out ?? defaultRunDir('seq2seq'), { overwrite: o.overwrite });
  const say = (line: string): void => {
    if (!o.json) io.out(line);
  };

  // data
  const data = loadSeq2SeqData({ dataset: o.dataset, csv: o.csv, sourceColumn: o.sourceColumn, targetColumn: o.targetColumn, seed: deriveSeed(o.seed, 'data'), n: o.pairs, digits: o.digits, maxLen: o.maxLen });
  const split = splitPairs(data.pairs, deriveSeed(o.seed, 'split'));
  const vocabs = buildVocabs(data.pairs, !!o.sharedVocab);
  const spec = parseSeq2SeqSpec({
    cell: o.cell,
    hiddenSize: o.hidden,
    layers: o.layers,
    srcVocab: vocabs.src.size,
    tgtVocab: vocabs.tgt.size,
    embedding: o.embedding ?? 32,
    sharedEmbedding: !!o.sharedVocab,
    attention: o.attention ?? 'general',
    ...(o.attentionUnits !== undefined ? { attentionUnits: o.attentionUnits } : {}),
    ...(o.bidirectional ? { bidirectional: true } : {}),
    ...(o.activation ? { activation: o.activation } : {}),
    ...(o.recurrentActivation ? { recurrentActivation: o.recurrentActivation } : {}),
    ...(o.gruResetAfter ? { gruResetAfter: true } : {}),
  });
  const train = encodePairs(split.train, vocabs, 'training pair');
  const val = encodePairs(split.val, vocabs, 'validation pair');
  const valSample = split.val.slice(0, 500);
  const optimizer = buildOptimizer(o);
  const params = initSeq2SeqParams(spec, deriveSeed(o.seed, 'weights'));
  const opened: Awaited<ReturnType<typeof createSeq2SeqEngine>>[] = [];
  try {
    for (const n of names) opened.push(await createSeq2SeqEngine(n, spec, { params, optimizer, kernels: o.kernels, blas: o.blas, threads: o.threads, backend: o.backend as 'auto' }));
    const engines = opened.map((x) => x.engine);
    const stepsPerEpoch = Math.ceil(train.length / o.batch);
    const totalSteps = o.steps ?? (o.epochs !== undefined ? o.epochs * stepsPerEpoch : o.minutes !== undefined ? Infinity : 30 * stepsPerEpoch);
    const maxTarget = Math.max(...data.pairs.map((p) => [...p.target].length));
    const reserveMs = o.minutes !== undefined ? await evaluationMs(engines, vocabs, val, valSample, split.test.length, { V: spec.tgtVocab, maxLen: maxTarget + 2, beam: o.beam ?? 1 }) : 0;
    const deadline = o.minutes !== undefined ? t0 + o.minutes * 60_000 - reserveMs : Infinity;
    run.writeRunJson({
      command: ['rnnlab', ...process.argv.slice(2)].join(' '),
      kind: 'train',
      task: 'seq2seq',
      seq2seq: seq2seqToJSON(spec),
      parameters: paramCount(spec),
      data: { name: data.name, note: data.note, train: split.train.length, val: split.val.length, test: split.test.length, duplicates: split.duplicates },
      flags: { ...o, json: undefined, overwrite: undefined },
      seed: o.seed,
      optimizer,
      engines: opened.map((x) => ({ name: x.engine.name, detail: x.detail })),
      ...environmentInfo(),
    });
    say(`train seq2seq: ${data.name} (${data.note})`);
    say(`  pairs: ${split.train.length.toLocaleString('en-US')} train, ${split.val.length.toLocaleString('en-US')} validation, ${split.test.length.toLocaleString('en-US')} test (held out; no test source is in training)`);
    say(`  model: ${describe(spec)}; ${paramCount(spec).toLocaleString('en-US')} parameters`);
    const length =
      o.minutes !== undefined
        ? `${o.minutes} min in all: training until ${duration(Math.max(0, deadline - t0) / 1000)}, then about ${duration(reserveMs / 1000)} at most for the last validation and the test`
        : o.steps !== undefined
          ? `${totalSteps} steps`
          : `${totalSteps / stepsPerEpoch} epochs (${totalSteps} steps)`;
    say(`  ${describeOptimizer(optimizer)}; batch ${o.batch}; ${stepsPerEpoch} steps per epoch; ${length}`);
    for (const x of opened) say(`  engine ${x.engine.name}: ${x.detail}`);
    say('');
    const header = ['step', 'epoch', ...engines.map((e) => `loss ${e.name}`), 'pairs/s', ...engines.map((e) => `ms/step ${e.name}`), 'elapsed'];
    const widths = header.map((h) => Math.max(h.length, 9));
    const line = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
    say(line(header));
    say(widths.map((w) => '-'.repeat(w)).join('  '));

    const trainSeconds: Record<string, number> = Object.fromEntries(engines.map((e) => [e.name, 0]));
    const logEvery = o.logEvery ?? Math.max(1, Math.round(Math.min(totalSteps === Infinity ? stepsPerEpoch : totalSteps, 20 * stepsPerEpoch) / 20));
    let step = 0;
    let lastCk: string | null = null;
    let lastLoss: Record<string, number> = {};
    let stopped: 'steps' | 'epochs' | 'minutes' = o.steps !== undefined ? 'steps' : 'epochs';
    // seconds from the start to the end of the last training step (what follows is validation and the test)
    let trainedSeconds = (performance.now() - t0) / 1000;
    const validation: Record<string, { valLoss: number; exact: number; token: number }> = {};
    const paramDiff: Record<string, number> = {};
    // the weights of the best validation exact match (first engine), which the test uses, as early stopping does
    let best: { step: number; exact: number; params: NamedParams[] } | null = null;
    const validate = async (epoch: number): Promise<void> => {
      for (const e of engines) {
        const valLoss = await validationLoss(e, val, spec.tgtVocab, 256);
        const m = (await evaluatePairs(e, vocabs, valSample, { maxLen: maxTarget + 2 })).metrics;
        run.metric({ type: 'val', step, epoch, engine: e.name, valLoss, exact: m.exact, token: m.token, elapsedSeconds: (performance.now() - t0) / 1000 });
        validation[e.name] = { valLoss, exact: m.exact, token: m.token };
        say(`  validation ${e.name} at step ${step}: loss ${fixed(valLoss, 4)} nats/token, exact match ${(100 * m.exact).toFixed(1)}% of ${m.n}, token accuracy ${(100 * m.token).toFixed(1)}%`);
      }
      if (engines.length > 1) {
        // engines side by side: how far their parameters moved apart (max rel err against the first), with check's trajectory tolerance
        const p0 = await engines[0].getParams();
        for (const e of engines.slice(1)) {
          const p = await e.getParams();
          const diff = Math.max(...Object.keys(p0).map((k) => compareArrays(p[k].data, p0[k].data).maxRelError));
          paramDiff[e.name] = Math.max(paramDiff[e.name] ?? 0, diff);
          run.metric({ type: 'paramDiff', step, engine: e.name, against: engines[0].name, maxRelError: diff });
          say(`  parameters ${e.name} vs ${engines[0].name} at step ${step}: max rel err ${diff.toExponential(2)} (check's trajectory limit ${TOLERANCES.trajectory.limit.toExponential(0)})`);
        }
      }
      if (!best || validation[engines[0].name].exact > best.exact) {
        best = { step, exact: validation[engines[0].name].exact, params: await Promise.all(engines.map((e) => e.getParams())) };
      }
      // the newest two checkpoints are kept, and the best
      const dir = run.checkpointDir(step);
      writeSeq2SeqCheckpoint(dir, { spec, params: await engines[0].getParams(), vocabs, meta: { step, epoch, engine: engines[0].name, dataset: { name: data.name, note: data.note, baseline: data.baseline }, options: { ...o, json: undefined } } });
      run.metric({ type: 'checkpoint', step, dir });
      lastCk = dir;
      const ckRoot = resolve(dir, '..');
      const old = readdirSync(ckRoot)
        .map((n) => /^step-(\d+)$/.exec(n))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => Number(m[1]))
        .sort((a, b) => b - a)
        .slice(2)
        .filter((st) => st !== best?.step);
      for (const s of old) removeDirAtomic(run.checkpointDir(s));
    };

    // Ctrl-C or SIGTERM: the step under way finishes, its weights are written (a checkpoint for
    // translate), then rnnlab exits 130 / 143; a seq2seq run cannot be resumed yet
    let signal: NodeJS.Signals | null = null;
    setGraceful((sg) => {
      signal = sg;
      io.err(`\nrnnlab: ${sg === 'SIGINT' ? 'Ctrl-C' : sg}: finishing the current step and writing its weights (${sg === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)`);
    });
    outer: for (let epoch = 0; ; epoch++) {
      for (const batch of epochBatches(train, { batchSize: o.batch, seed: deriveSeed(o.seed, 'order'), epoch, bucketing: true })) {
        // let a signal in: a scratch step never waits for anything, so without this the handler would not run
        await new Promise<void>((r) => setImmediate(r));
        if (signal) break outer;
        if (step >= totalSteps) break outer;
        if (performance.now() >= deadline) {
          stopped = 'minutes';
          break outer;
        }
        step++;
        const ms: Record<string, number> = {};
        for (const e of engines) {
          const s0 = performance.now();
          const { loss } = await e.step(batch);
          ms[e.name] = performance.now() - s0;
          trainSeconds[e.name] += ms[e.name] / 1000;
          if (!Number.isFinite(loss)) {
            run.metric({ type: 'error', step, engine: e.name, message: `loss became ${loss}` });
            throw new RunError(`the ${e.name} loss became ${loss} at step ${step}; training stopped (${lastCk ? `the last good checkpoint is ${lastCk}` : 'no checkpoint was written yet'}). Try a smaller --lr or --clip-norm.`);
          }
          lastLoss[e.name] = loss;
        }
        const elapsed = (performance.now() - t0) / 1000;
        trainedSeconds = elapsed;
        if (step % logEvery === 0 || step === totalSteps) {
          run.metric({ type: 'step', step, epoch: +(step / stepsPerEpoch).toFixed(3), loss: { ...lastLoss }, msPerStep: ms, trainSeconds: { ...trainSeconds }, elapsedSeconds: elapsed });
          const rate = (step * o.batch) / Math.max(1e-9, Math.max(...Object.values(trainSeconds)));
          say(line([step, (step / stepsPerEpoch).toFixed(2), ...engines.map((e) => fixed(lastLoss[e.name], 4)), Math.round(rate), ...engines.map((e) => ms[e.name].toFixed(1)), duration(elapsed)]));
        }
        if (step % stepsPerEpoch === 0) await validate(step / stepsPerEpoch);
      }
    }
    setGraceful(null);
    if (signal) await interrupted(signal, step, lastCk, async (dir) => {
      writeSeq2SeqCheckpoint(dir, { spec, params: await engines[0].getParams(), vocabs, meta: { step, epoch: +(step / stepsPerEpoch).toFixed(3), engine: engines[0].name, interrupted: true, options: { ...o, json: undefined } } });
      run.metric({ type: 'checkpoint', step, dir });
    }, run);
    if (step % stepsPerEpoch !== 0 && step > 0) await validate(+(step / stepsPerEpoch).toFixed(3));

    // test: every engine on the held-out pairs, with its weights of the best validation, against the copy baseline where one makes sense
    const bestStep = best ? (best as { step: number }).step : step;
    if (best) for (const [i, e] of engines.entries()) await e.setParams((best as { params: NamedParams[] }).params[i]);
    const beam = o.beam ?? 1;
    const base = data.baseline === 'copy' ? copyBaseline(split.test) : null;
    const test: Record<string, Seq2SeqTestResult> = {};
    const predictions: Record<string, string[]> = {};
    for (const e of engines) {
      const r = await evaluatePairs(e, vocabs, split.test, { maxLen: maxTarget + 2, beam });
      predictions[e.name] = r.predictions;
      test[e.name] = { exact: r.metrics.exact, token: r.metrics.token, n: r.metrics.n, beam, baseline: base ? { name: 'copy the input', exact: base.exact, token: base.token } : null };
    }
    // attention heatmaps of a few held-out examples (first engine)
    const examples: Pair[] = split.test.slice(0, 4);
    const shown = await translateTexts(engines[0], vocabs, examples.map((p) => p.source), { maxLen: maxTarget + 2, beam });
    writeFileAtomic(
      `${run.dir}/plot-data.json`,
      JSON.stringify({
        kind: 'attention',
        engine: engines[0].name,
        examples: shown.map((t, i) => ({ source: t.source, target: examples[i].target, output: t.output, srcTokens: t.srcTokens, outTokens: t.outTokens, attention: t.decoded.attention ? rows(t.decoded.attention, t.outTokens.length, t.srcTokens.length) : null })),
      }) + '\n',
    );
    const elapsedSeconds = (performance.now() - t0) / 1000;
    const final = {
      type: 'final',
      task: 'seq2seq',
      steps: step,
      epochs: +(step / stepsPerEpoch).toFixed(3),
      stoppedBy: stopped,
      elapsedSeconds,
      loss: lastLoss,
      validation,
      msPerStep: Object.fromEntries(engines.map((e) => [e.name, (1000 * trainSeconds[e.name]) / Math.max(1, step)])),
      trainSeconds,
      test: test[engines[0].name],
      testByEngine: test,
      bestStep,
      ...(Object.keys(paramDiff).length ? { maxParamDiff: Math.max(...Object.values(paramDiff)) } : {}),
      checkpoint: lastCk,
      bestCheckpoint: run.checkpointDir(bestStep),
      runDir: run.dir,
    };
    run.metric(final);
    if (o.json) {
      io.out(JSON.stringify(final));
      return;
    }
    say('');
    const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
    say(`test (${split.test.length.toLocaleString('en-US')} held-out pairs, ${beam > 1 ? `beam ${beam}` : 'greedy'} decoding, the weights of the best validation exact match: step ${bestStep}):`);
    say(
      formatTable(
        ['engine', 'exact match', 'token accuracy', 'ms/step', 'training time'],
        [
          ...engines.map((e) => [e.name, pct(test[e.name].exact), pct(test[e.name].token), ((1000 * trainSeconds[e.name]) / Math.max(1, step)).toFixed(1), duration(trainSeconds[e.name])]),
          ...(base ? [['baseline: copy the input', pct(base.exact), pct(base.token), '', '']] : []),
        ],
        ['l', 'r', 'r', 'r', 'r'],
      ),
    );
    for (const [n, d] of Object.entries(paramDiff)) {
      say(d <= TOLERANCES.trajectory.limit ? `engines agree: ${n} stayed within ${TOLERANCES.trajectory.limit.toExponential(0)} of ${engines[0].name} (largest parameter difference ${d.toExponential(2)})` : `engines part ways: ${n} moved ${d.toExponential(2)} from ${engines[0].name} (more than check's trajectory limit ${TOLERANCES.trajectory.limit.toExponential(0)}: float32 rounding amplified by Adam, as in the other tasks)`);
    }
    if (engines.length > 1) say(`  ${engines[1].name} took ${(trainSeconds[engines[1].name] / Math.max(1e-9, trainSeconds[engines[0].name])).toFixed(1)}x the time of ${engines[0].name} per step`);
    say('examples:');
    for (const [i, t] of shown.entries()) say(`  ${t.source}  ->  ${t.output}${t.output === examples[i].target ? '' : `   (expected ${examples[i].target})`}`);
    const ran = `${step} steps (${(step / stepsPerEpoch).toFixed(2)} epochs)`;
    const after = `; the validation and the test after the last step took ${duration(elapsedSeconds - trainedSeconds)} of it`;
    say(
      stopped === 'minutes'
        ? `stopped by --minutes ${o.minutes} after ${ran}: ${duration(elapsedSeconds)} in all${after}`
        : stopped === 'epochs'
          ? `done: ${+(step / stepsPerEpoch).toFixed(2)} epochs (${step} steps) in ${duration(elapsedSeconds)}${after}`
          : `done: ${ran} in ${duration(elapsedSeconds)}${after}`,
    );
    say(`checkpoints: ${lastCk} (last), ${run.checkpointDir(bestStep)} (best validation)`);
    say(`translate: rnnlab translate --checkpoint ${run.checkpointDir(bestStep)} "${examples[0]?.source ?? ''}"${spec.attention !== 'none' ? ' --attention' : ''}`);
    say(`plots:     rnnlab plot ${run.dir}   (loss curves and attention heatmaps)`);
  } finally {
    setGraceful(null);
    for (const x of opened) {
      await x.engine.dispose();
      await x.close();
    }
    run.release();
  }
}

/** After a signal: the weights of the last finished step (unless that step's checkpoint exists), a record, and what was saved. */
async function interrupted(s: NodeJS.Signals, step: number, lastCk: string | null, save: (dir: string) => Promise<void>, run: RunDir): Promise<never> {
  let saved = lastCk;
  if (step > 0 && lastCk !== run.checkpointDir(step)) {
    saved = run.checkpointDir(step);
    await save(saved);
  }
  run.metric({ type: 'interrupted', step, signal: s, checkpoint: saved });
  const what = saved ? `checkpoint ${saved} holds the weights of step ${saved === run.checkpointDir(step) ? step : 'its last validation'} (for rnnlab translate)` : 'no checkpoint was written (no step finished)';
  throw new InterruptedError(s, `stopped by ${s === 'SIGINT' ? 'Ctrl-C' : s} at step ${step}; ${what}; a seq2seq run cannot be resumed yet: start it again to train further`);
}

/** [rows * cols] -> rows of cols. */
function rows(a: ArrayLike<number>, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => +Number(a[i * c + j]).toFixed(4)));
}
