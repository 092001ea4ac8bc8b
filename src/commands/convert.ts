/** `rnnlab convert` (canonical <-> PyTorch safetensors) and `rnnlab export --format tfjs`. */
import { checkOutputFile } from '../io/files.js';
import { GENERATOR, checkExportTarget, checkReplaceable } from '../io/run-folder.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readCheckpoint } from '../io/checkpoint.js';
import { resolveCheckpoint } from '../io/run-dir.js';
import { InputError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { type NamedParams, validateParams } from '../params.js';
import { fromPyTorch, toPyTorch } from '../pytorch.js';
import { type ModelSpec, describeSpec, parseSpec, specToJSON } from '../spec.js';
import { cellOf } from '../cells.js';
import { type BackendRequest, exportTfjsModel } from '../engines/registry.js';
import { readJsonFile } from './flags.js';
import { choice } from '../io/args.js';
import type { IO } from '../io/output.js';

/** A model from a checkpoint directory, or from --spec plus a weights file. */
function loadModel(input: string, specPath: string | undefined, weightsAreCanonical: boolean): { spec: ModelSpec; tensors: NamedParams } {
  if (!existsSync(input)) throw new InputError(`${input}: no such checkpoint directory or weights file`);
  if (statSync(input).isDirectory()) {
    // a checkpoint, or a run directory (its newest checkpoint)
    const ck = readCheckpoint(resolveCheckpoint(input, (l) => process.stderr.write(`rnnlab: ${l}\n`)));
    return { spec: specPath ? parseSpec(readJsonFile(specPath, 'ModelSpec'), specPath) : ck.spec, tensors: ck.params };
  }
  if (!specPath) throw new InputError(`${input}: a weights file needs --spec spec.json (or pass a checkpoint directory)`);
  const spec = parseSpec(readJsonFile(specPath, 'ModelSpec'), specPath);
  const tensors = readSafetensors(input).tensors;
  if (weightsAreCanonical) validateParams(spec, tensors, input);
  return { spec, tensors };
}

export function registerConvert(program: Command, io: IO): void {
  program
    .command('convert')
    .description('convert weights between the canonical (Keras/tfjs) layout and PyTorch nn.RNN/LSTM/GRU + nn.Linear names')
    .argument('<input>', 'a .safetensors file (with --spec), a checkpoint directory, or a run directory (its newest checkpoint)')
    .addOption(choice('--to <layout>', 'the layout to write', ['pytorch', 'canonical']).makeOptionMandatory())
    .requiredOption('-o, --out <file>', 'the .safetensors file to write')
    .option('--spec <file>', 'the ModelSpec JSON (not needed for a checkpoint directory)')
    .option('--prefix <p>', 'prefix of the PyTorch recurrent tensors, e.g. "rnn." for model.rnn', '')
    .option('--head <name>', 'name of the PyTorch head module', 'head')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  rnnlab convert runs/text/checkpoints/step-100 --to pytorch -o model.pt.safetensors\n' +
        '  rnnlab convert torch.safetensors --spec spec.json --prefix rnn. --head fc --to canonical -o weights.safetensors',
    )
    .action((input: string, f: { to: string; out: string; spec?: string; prefix: string; head: string; json?: boolean }) => {
      checkOutputFile(f.out, '-o', [input, ...(f.spec ? [f.spec] : [])], 'model.safetensors');
      checkReplaceable(f.out, '-o', 'safetensors');
      const names = { prefix: f.prefix, head: f.head };
      const { spec, tensors } = loadModel(input, f.spec, f.to === 'pytorch');
      const out = f.to === 'pytorch' ? toPyTorch(spec, tensors, names) : fromPyTorch(spec, tensors, names, input);
      writeSafetensors(f.out, out, { format: f.to === 'pytorch' ? 'pt' : 'rnnlab-canonical', spec: JSON.stringify(specToJSON(spec)), generator: `${GENERATOR} convert` });
      const summary = { input, output: f.out, layout: f.to, spec: specToJSON(spec), tensors: Object.keys(out) };
      if (f.json) io.out(JSON.stringify(summary));
      else {
        io.out(`${describeSpec(spec)}`);
        io.out(`wrote ${f.out} (${f.to} layout): ${Object.keys(out).join(', ')}`);
      }
    });

  program
    .command('export')
    .description('export a model for TensorFlow.js users: model.json + weights.bin for tf.loadLayersModel')
    .argument('<checkpoint>', 'a checkpoint directory (spec.json + params.safetensors), a run directory (its newest checkpoint), or a weights file with --spec')
    .addOption(choice('--format <f>', 'export format', ['tfjs'], 'tfjs'))
    .requiredOption('-o, --out <dir>', 'directory to write model.json and weights.bin into')
    .option('--spec <file>', 'the ModelSpec JSON (for a weights file)')
    .addOption(choice('--backend <b>', 'tfjs backend used to build the model', ['auto', 'node', 'wasm', 'cpu'], 'auto'))
    .option('--overwrite', 'replace an earlier export in -o (only model.json and weights.bin that rnnlab wrote)')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  rnnlab export runs/text/checkpoints/step-100 --format tfjs -o web/model')
    .action(async (input: string, f: { out: string; spec?: string; backend: string; overwrite?: boolean; json?: boolean }) => {
      checkExportTarget(f.out, { overwrite: f.overwrite, flag: '-o' });
      const { spec, tensors } = loadModel(input, f.spec, true);
      const r = await exportTfjsModel(spec, tensors, f.out, f.backend as BackendRequest);
      if (f.json) {
        const { detail, engineName, ...rest } = r;
        io.out(JSON.stringify({ ...rest, engine: engineName, spec: specToJSON(spec) }));
        return;
      }
      io.out(`${describeSpec(spec)}`);
      io.out(r.detail);
      const takes = spec.embedding > 0 ? `token ids [batch, time] (< ${spec.inputSize})` : `[batch, time, ${spec.inputSize}]${spec.input === 'tokens' ? ' one-hot' : ''}`;
      io.out(`wrote ${join(f.out, 'model.json')} and weights.bin (${r.weightBytes} bytes); input ${takes}`);
      io.out(`load it with: await tf.loadLayersModel('file://${join(f.out, 'model.json')}')  (tfjs-node; a URL in the browser)`);
      if (cellOf(spec).tfjs.rnnlabLayer?.(spec)) {
        io.out('note: its GRU layers are reset-after (Keras\'s reset_after: true), which tfjs loads only after registerLayers(tf) from rnnlab (README, "Bring your own model")');
      }
    });
}
