/**
 * The seq2seq task: an encoder-decoder with attention mapping one character sequence to another
 * (addition "535+61" -> "596", reversing strings, human-written dates -> ISO, or a CSV of pairs),
 * trained on the one training loop (its model kind and task in src/tasks/seq2seq-train.ts), and
 * `rnnlab translate`, which decodes with a checkpoint (greedy or beam search) and shows the
 * attention weights.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IO } from '../io/output.js';
import { intArg } from '../io/args.js';
import { createSeq2SeqEngine } from '../engines/registry.js';
import { InputError } from '../errors.js';
import { optimizerSpec } from '../optimizer.js';
import { readJsonl, resolveCheckpoint } from '../io/run-dir.js';
import { heatmap } from '../io/svg.js';
import { formatTable, pct } from '../io/table.js';
import { readSeq2SeqCheckpoint } from '../seq2seq/checkpoint.js';
import { SEQ2SEQ_DATASETS } from '../seq2seq/data.js';
import { type Translation, translateTexts } from '../seq2seq/decode.js';
import { ATTENTIONS } from '../seq2seq/spec.js';
import { SEQ2SEQ_KIND, type Seq2SeqOptions, type Seq2SeqResult, buildSeq2Seq, printSeq2SeqResult } from './seq2seq-train.js';
import { type TaskReport, type UseCommand, defineTask } from './task.js';
import { type CheckpointEngineFlags, useEngineOptions } from './use-engine.js';

/** The attention heatmap of one translation: the source's tokens across, the output's down. */
export function attentionSvg(t: { source: string; output: string; srcTokens: string[]; outTokens: string[]; attention: number[][] }, title?: string): string {
  const show = (s: string): string => (s === ' ' ? '␣' : s);
  return heatmap({
    title: title ?? `attention: "${t.source}" -> "${t.output}" (rows: output tokens, columns: source tokens)`,
    rows: t.outTokens.map(show),
    cols: t.srcTokens.map(show),
    values: t.attention,
    format: (v) => v.toFixed(2),
  });
}

function attentionRows(t: Translation): number[][] | null {
  const a = t.decoded.attention;
  if (!a) return null;
  const S = t.srcTokens.length;
  return t.outTokens.map((_, i) => Array.from({ length: S }, (_, j) => a[i * S + j]));
}

/** A seq2seq run directory's best-validation checkpoint (what its test used), or null for anything else. */
function bestOfRun(path: string): string | null {
  const metrics = join(path, 'metrics.jsonl');
  if (!existsSync(metrics)) return null;
  const final = readJsonl(metrics).reverse().find((m) => m.type === 'final');
  // by step, inside the directory given (the run may have moved since)
  const best = typeof final?.bestStep === 'number' ? join(path, 'checkpoints', `step-${final.bestStep}`) : null;
  return best && existsSync(join(best, 'seq2seq.json')) ? best : null;
}

type TranslateFlags = { checkpoint: string; beam: number; maxLen: number; attention?: boolean; svg?: string } & CheckpointEngineFlags;

/** `rnnlab translate`: decodes sources with a seq2seq checkpoint on any engine that runs encoder-decoders. */
const translateUse: UseCommand<TranslateFlags> = {
  name: 'translate',
  description: 'map sequences with a seq2seq checkpoint (greedy or beam search), with the attention weights',
  argument: { spec: '<texts...>', help: 'the source sequences, e.g. "535+61"' },
  flags: [
    { flags: '--checkpoint <dir>', help: 'a seq2seq checkpoint, or its run directory (the checkpoint of its best validation, which its test used)', required: true },
    { flags: '--beam <k>', help: 'beam search width (1 = greedy)', parse: intArg(1, 64), default: 1 },
    { flags: '--max-len <n>', help: 'the longest output, in tokens', parse: intArg(1), default: 64 },
    { flags: '--attention', help: 'print the attention weights (rows: output tokens, columns: source tokens)' },
    { flags: '--svg <file>', help: 'write the attention heatmap of the first text as SVG' },
  ],
  examples: ['rnnlab translate --checkpoint runs/addition "535+61" "7+8"', 'rnnlab translate --checkpoint runs/dates "3 March 2021" --beam 4 --attention --svg attention.svg', 'rnnlab translate --checkpoint runs/dates "3 March 2021" --engine pytorch'],
  run: (texts, flags, io) => translate(texts, flags, io),
};

async function translate(texts: string[], f: TranslateFlags, io: IO): Promise<void> {
  const ck = readSeq2SeqCheckpoint(bestOfRun(f.checkpoint) ?? resolveCheckpoint(f.checkpoint, (l) => io.err(`rnnlab: ${l}`)));
  if ((f.attention || f.svg) && ck.spec.attention === 'none') throw new InputError(`${ck.dir}: this model has no attention (trained with --attention none)`);
  const made = await createSeq2SeqEngine(f.engine, ck.spec, { params: ck.params, optimizer: optimizerSpec('sgd'), training: false, backend: f.backend as 'auto', ...useEngineOptions(f), onProgress: (w) => io.progress(w) });
  try {
    const out = await translateTexts(made.engine, ck.vocabs, texts, { beam: f.beam, maxLen: f.maxLen });
    if (f.svg) {
      const rowsOf = attentionRows(out[0])!;
      writeFileSync(f.svg, attentionSvg({ ...out[0], attention: rowsOf }));
    }
    if (f.json) {
      io.out(JSON.stringify({ checkpoint: ck.dir, engine: made.engine.name, beam: f.beam, translations: out.map((t) => ({ source: t.source, output: t.output, logProb: t.decoded.logProb, ended: t.decoded.ended, srcTokens: t.srcTokens, outTokens: t.outTokens, attention: attentionRows(t) })) }));
      return;
    }
    for (const t of out) {
      io.out(`${t.source}  ->  ${t.output}${t.decoded.ended ? '' : `   (cut at ${f.maxLen} tokens)`}`);
      if (f.attention) {
        const a = attentionRows(t)!;
        io.out(formatTable(['', ...t.srcTokens.map((s) => (s === ' ' ? '␣' : s))], t.outTokens.map((o, i) => [o, ...a[i].map((v) => v.toFixed(2))])));
        io.out('');
      }
    }
    if (f.svg) io.out(`wrote ${f.svg}`);
  } finally {
    await made.engine.dispose();
    await made.close();
  }
}

/** What the report shows of an encoder-decoder run: exact matches against the copy baseline, and the attention of held-out examples. */
const seq2seqReport: TaskReport = {
  plotData: {
    kind: 'attention',
    schema: { 'engine?': 'str', examples: [{ source: 'str', target: 'str', output: 'str', srcTokens: ['str'], outTokens: ['str'], attention: { oneOf: [[['num']], 'null'] } }] },
    // the attention weights of a few held-out examples (source tokens across, output tokens down)
    charts: (run, plot) => {
      const d = plot as { engine?: string; examples?: { source: string; target: string; output: string; srcTokens: string[]; outTokens: string[]; attention: number[][] | null }[] };
      if (!d.examples) return [];
      const show = (t: string): string => (t === ' ' ? '␣' : t);
      return d.examples
        .filter((e) => e.attention)
        .map((e, i) => ({
          id: `attention-${i + 1}-${run}`,
          title: `attention: ${e.source}`,
          svg: heatmap({
            title: `${run}: attention of ${d.engine ?? 'the model'} on held-out "${e.source}" -> "${e.output}"${e.output === e.target ? '' : ` (expected "${e.target}")`}; rows: output tokens, columns: source tokens`,
            rows: e.outTokens.map(show),
            cols: e.srcTokens.map(show),
            values: e.attention!,
            format: (v) => v.toFixed(2),
          }),
          series: e.outTokens.length,
        }));
    },
  },
  card: (f) => {
    if (!f.test) return null;
    const t = f.test as { exact: number; token: number; n: number; beam: number; baseline: { name: string; exact: number } | null };
    return {
      ok: !t.baseline || t.exact > t.baseline.exact,
      line: `test exact match ${pct(t.exact)} (token accuracy ${pct(t.token)}) on ${t.n} held-out pairs${t.baseline ? ` against "${t.baseline.name}" ${pct(t.baseline.exact)}` : ''}`,
    };
  },
};

export const seq2seqTask = defineTask<Seq2SeqOptions, Seq2SeqResult>({
  name: 'seq2seq',
  summary: 'seq2seq (encoder-decoder with attention)',
  flags: [
    { flags: '--dataset <name>', help: `${SEQ2SEQ_DATASETS.join(', ')} (default addition)` },
    { flags: '--csv <file>', help: 'a CSV of pairs with --source-column and --target-column' },
    { flags: '--source-column <name>', help: 'the source column of --csv' },
    { flags: '--target-column <name>', help: 'the target column of --csv' },
    { flags: '--digits <n>', help: 'addition: the longest operand (default 3)', parse: intArg(1, 7) },
    { flags: '--pairs <n>', help: 'pairs to generate (default: addition 50000, reverse and dates 10000)', parse: intArg(10) },
    { flags: '--max-len <n>', help: 'reverse: the longest string (default 8); csv: the longest cell (default 100)', parse: intArg(1) },
    { flags: '--attention <a>', help: 'Luong attention: none, dot, general, concat (default general)', choices: [...ATTENTIONS] },
    { flags: '--attention-units <n>', help: 'concat attention: the width A of its score (default --hidden)', parse: intArg(1) },
    { flags: '--beam <k>', help: 'beam width of the test decoding (default 1: greedy)', parse: intArg(1, 64) },
    { flags: '--shared-vocab', help: 'one vocabulary and embedding for both sides' },
  ],
  defaults: { hidden: 128, batch: 64, embedding: 32, lr: 0.005, epochs: 30 } as Partial<Seq2SeqOptions>,
  seqLength: (o) => o.maxLen ?? 16,
  kind: SEQ2SEQ_KIND,
  build: (o) => buildSeq2Seq(o),
  printResult: (out, s) => printSeq2SeqResult(out, s),
  use: translateUse,
  report: seq2seqReport,
});
