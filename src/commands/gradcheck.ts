/** `rnnlab gradcheck`: finite differences on the float64 scratch engine. */
import { assertFits } from '../sizes.js';
import type { Command } from 'commander';
import { gradcheck, gradcheckSeq2Seq } from '../../compare/gradcheck.js';
import { InputError } from '../errors.js';
import { describeSeq2Seq, seq2seqSpecFromFlags } from './check-seq2seq.js';
import { ATTENTIONS, type Attention } from '../seq2seq/spec.js';
import { TOLERANCES } from '../tolerance.js';
import { describeSpec } from '../spec.js';
import { formatTable, sci, shape } from '../io/table.js';
import { type ModelFlags, BLAS_FLAG, NOT_SEQ2SEQ_FLAGS, SPEC_FLAGS, addModelOptions, kernelsOption, refuseUnused, specFromFlags } from './flags.js';
import { choice, intArg, numArg, seedArg } from '../io/args.js';
import { gradcheckKernels } from '../engines/registry.js';
import type { KernelChoice } from '../run-options.js';
import type { IO } from '../io/output.js';

interface Flags extends ModelFlags {
  seq: number;
  batch: number;
  seed: number;
  mask?: boolean;
  carriedState?: boolean;
  weightScale: number;
  seq2seq?: boolean;
  attention?: Attention;
  attentionUnits?: number;
  targetSeq?: number;
  kernels: KernelChoice;
  blas?: string;
  json?: boolean;
}

export function registerGradcheck(program: Command, io: IO, setExit: (code: number) => void): void {
  const cmd = program
    .command('gradcheck')
    .description('check the scratch engine\'s analytic gradients against central finite differences (float64)');
  addModelOptions(cmd, { hidden: 4, input: 3, output: 5 })
    .option('--seq <n>', 'time steps', intArg(1), 5)
    .option('--batch <n>', 'sequences per batch', intArg(1), 3)
    .option('--seed <n>', 'seed of the weights and data', seedArg, 1)
    .option('--mask', 'right-padded sequences with a mask')
    .option('--carried-state', 'a random initial state (its gradient is checked too)')
    .option('--seq2seq', 'an encoder-decoder model instead (--input / --output: source / target vocabularies, --seq: source length)')
    .addOption(choice('--attention <a>', 'seq2seq: Luong attention (default general)', [...ATTENTIONS]))
    .option('--attention-units <n>', 'seq2seq, concat attention: the width of its score (default --hidden)', intArg(1))
    .option('--target-seq <n>', 'seq2seq: target length (default 4)', intArg(1))
    .option('--weight-scale <x>', 'kernels uniform in +-x (biases +-0.6x); larger values reach the clipped part of hardSigmoid', numArg({ positive: true }), 0.5)
    .addOption(kernelsOption('kernels of the float64 engine (auto and blas: its products on the BLAS; wasm, js: the TypeScript loops)', 'auto'))
    .option(...BLAS_FLAG)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  rnnlab gradcheck --cell gru --gru-reset-after --layers 2 --mask --carried-state\n  rnnlab gradcheck --seq2seq --cell lstm --attention general --layers 2 --mask')
    .action((f: Flags, cmd: Command) => {
      if (f.seq2seq) refuseUnused(cmd, NOT_SEQ2SEQ_FLAGS, '--seq2seq checks an encoder-decoder (token input, a cross-entropy per target step; --bidirectional: its encoder reads both ways, directions concatenated)');
      else if (f.spec) refuseUnused(cmd, SPEC_FLAGS, '--spec gives the whole model');
      if (f.seq2seq) return gradcheckSeq2SeqCommand(f, io, setExit);
      if (f.attention || f.targetSeq || f.attentionUnits) throw new InputError('--attention, --attention-units and --target-seq are for --seq2seq');
      const spec = specFromFlags(f);
      assertFits(spec, { batch: f.batch, seq: f.seq, engines: 1, bytesPerFloat: 8 });
      const report = gradcheck(spec, {
        batch: f.batch,
        seq: f.seq,
        seed: f.seed,
        mask: f.mask,
        initialState: f.carriedState,
        kernelScale: f.weightScale,
        kernels: gradcheckKernels(f.kernels, f.blas),
      });
      setExit(report.pass ? 0 : 1);
      if (f.json) {
        io.out(JSON.stringify(report));
        return;
      }
      io.out(`gradcheck  ${describeSpec(spec)}`);
      io.out(
        `engine scratch-f64, batch ${report.batch}, seq ${report.seq}, seed ${report.seed}${f.mask ? ', masked' : ''}` +
          `${f.carriedState ? ', carried state' : ''}; central differences, eps ${sci(report.eps, 0)}\nfloat64, ${report.kernels}`,
      );
      io.out('');
      io.out(
        formatTable(
          ['tensor', 'shape', 'checked', 'skipped', 'max abs err', 'max rel err', 'verdict'],
          report.params.map((p) => [p.name, shape(p.shape), p.checked, p.skipped, sci(p.maxAbsError), sci(p.maxRelError), p.pass ? 'ok' : 'FAIL']),
          ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
        ),
      );
      io.out('');
      if (report.skipped > 0) io.out(`${report.skipped} element(s) skipped: their perturbation crosses a kink (relu at 0 or hardSigmoid at +-2.5).`);
      io.out(
        `max relative error ${sci(report.maxRelError)} ${report.pass ? '<=' : '>'} ${sci(report.limit, 0)} ` +
          `(${TOLERANCES.gradcheck.reason}): ${report.pass ? 'PASS' : 'FAIL'}`,
      );
    });
}

function gradcheckSeq2SeqCommand(f: Flags, io: IO, setExit: (code: number) => void): void {
  if (f.carriedState || f.weightScale !== 0.5) throw new InputError('--seq2seq: --carried-state and --weight-scale apply to single-stack models');
  if (f.activation === 'relu' || f.recurrentActivation === 'hardSigmoid') throw new InputError('--seq2seq gradcheck takes smooth activations (tanh, sigmoid): a difference quotient across a kink says nothing');
  const spec = seq2seqSpecFromFlags(f, 3);
  const report = gradcheckSeq2Seq(spec, { batch: f.batch, srcLen: f.seq, tgtLen: f.targetSeq ?? 4, seed: f.seed, mask: f.mask, kernels: gradcheckKernels(f.kernels, f.blas) });
  setExit(report.pass ? 0 : 1);
  if (f.json) {
    io.out(JSON.stringify(report));
    return;
  }
  io.out(`gradcheck  ${describeSeq2Seq(spec)}`);
  io.out(`engine scratch-f64, batch ${report.batch}, source ${report.srcLen} steps, target ${report.tgtLen}, seed ${report.seed}${report.masked ? ', masked' : ''}; central differences, eps ${sci(report.eps, 0)}`);
  io.out(`float64, ${report.kernels}`);
  io.out('');
  io.out(formatTable(['tensor', 'shape', 'checked', 'max abs err', 'max rel err', 'verdict'], report.params.map((p) => [p.name, shape(p.shape), p.checked, sci(p.maxAbsError), sci(p.maxRelError), p.pass ? 'ok' : 'FAIL']), ['l', 'l', 'r', 'r', 'r', 'l']));
  io.out('');
  io.out(`max relative error ${sci(report.maxRelError)} ${report.pass ? '<=' : '>'} ${sci(report.limit, 0)} (${TOLERANCES.gradcheck.reason}): ${report.pass ? 'PASS' : 'FAIL'}`);
}
