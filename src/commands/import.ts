/**
 * `rnnlab import model.json -o DIR`: a Keras / TensorFlow.js layers model as an rnnlab checkpoint
 * (spec.json, params.safetensors, import.json; vocab.json or data.json when the vocabulary and
 * labels are given), written atomically: a model that cannot be represented writes nothing.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeCheckpoint } from '../io/checkpoint.js';
import { CharTokenizer, type Tokenizer, WordTokenizer } from '../data/tokenizers.js';
import { InputError } from '../errors.js';
import type { ImportedModel } from '../import/keras.js';
import { readKerasModel } from '../import/keras-files.js';
import { readInputFile, parseJsonText } from '../io/files.js';
import { checkCheckpointTarget } from '../io/run-folder.js';
import { paramCount } from '../params.js';
import { formatTable } from '../io/table.js';
import { describeSpec, specToJSON } from '../spec.js';
import { VERSION } from '../version.js';
import type { IO } from '../io/output.js';
import { choice } from '../io/args.js';

interface Flags {
  out: string;
  loss?: 'ce' | 'mse';
  vocab?: string;
  labels?: string;
  maxLen?: number;
  overwrite?: boolean;
  json?: boolean;
}

/** A vocabulary file: a JSON array of tokens, or one token per line; token i has id i. */
export function readVocabFile(path: string): string[] {
  const text = readInputFile(path, 'text', 'the vocabulary: token i on line i, or a JSON array').toString('utf8');
  let symbols: unknown;
  if (/^\s*\[/.test(text)) symbols = parseJsonText(text, path);
  else symbols = text.replace(/\r?\n$/, '').split(/\r?\n/);
  if (!Array.isArray(symbols) || !symbols.every((s) => typeof s === 'string')) throw new InputError(`${path}: a vocabulary is a JSON array of strings, or one token per line`);
  const seen = new Map<string, number>();
  symbols.forEach((s, i) => {
    if (seen.has(s)) throw new InputError(`${path}: token ${JSON.stringify(s)} appears twice (ids ${seen.get(s)} and ${i}); each token needs one id`);
    seen.set(s, i);
  });
  return symbols as string[];
}

/** The tokenizer of a vocabulary: characters when every token is one character (or <unk>), else words (which need <unk>). */
function tokenizerOf(symbols: string[], path: string): Tokenizer {
  if (symbols.every((s) => [...s].length === 1 || s === '<unk>')) return new CharTokenizer(symbols);
  if (!symbols.includes('<unk>')) {
    throw new InputError(`${path}: a word vocabulary needs an "<unk>" token for words it does not know (rename your out-of-vocabulary token, e.g. Keras's oov_token, to <unk>)`);
  }
  return new WordTokenizer(symbols);
}

/** What --vocab and --labels add: vocab.json for a language model, data.json for a classifier. */
function useFiles(m: ImportedModel, f: Flags): { vocab?: unknown; data?: unknown; use: string } {
  const s = m.spec;
  if (f.labels !== undefined && !f.vocab) throw new InputError('--labels needs --vocab (predict reads text through the vocabulary)');
  if (!f.vocab) return { use: '' };
  if (s.input !== 'tokens') throw new InputError(`--vocab: this model reads ${s.inputSize} dense features per step, not token ids (it has no Embedding)`);
  const symbols = readVocabFile(f.vocab);
  if (symbols.length !== s.inputSize) throw new InputError(`${f.vocab}: ${symbols.length} tokens, but the model's Embedding takes ${s.inputSize} (input_dim)`);
  const tokenizer = tokenizerOf(symbols, f.vocab);
  if (f.labels !== undefined) {
    const classes = f.labels.split(',').map((c) => c.trim());
    if (s.returnSequences || s.loss !== 'softmaxCrossEntropy') throw new InputError('--labels: this model is not a classifier (a softmax over classes from the last step)');
    if (classes.length !== s.outputSize || classes.some((c) => !c)) throw new InputError(`--labels: ${classes.length} labels for a head of ${s.outputSize} classes; give one name per class, in the head's order`);
    if (new Set(classes).size !== classes.length) throw new InputError('--labels: a label appears twice');
    const maxLen = f.maxLen ?? m.seqLen ?? 200;
    return {
      data: { task: 'classify', classes, maxLen, tokenizer: tokenizer.toJSON(), source: m.source.path, lowercase: false },
      use: `rnnlab predict --checkpoint ${f.out} "some text"`,
    };
  }
  if (!s.returnSequences || s.loss !== 'softmaxCrossEntropy' || s.outputSize !== s.inputSize) {
    throw new InputError('--vocab without --labels is for a language model (a softmax over the same vocabulary at every step); for a classifier add --labels');
  }
  return { vocab: tokenizer.toJSON(), use: `rnnlab generate --checkpoint ${f.out} --length 200` };
}

export function registerImport(program: Command, io: IO): void {
  program
    .command('import')
    .description('import a Keras model (model.keras, model.h5, or a TensorFlow.js model.json + weight shards) as an rnnlab checkpoint')
    .argument('<model>', 'model.keras (Keras 3), model.h5 (Keras 2 model.save), or the model.json that tensorflowjs_converter or LayersModel.save wrote (its weight shards beside it)')
    .requiredOption('-o, --out <dir>', 'the checkpoint directory to write')
    .addOption(choice('--loss <loss>', 'for a model compiled with no loss: ce (softmax cross-entropy; a linear head gives the logits) or mse (default: the head decides, softmax ce, linear mse)', ['ce', 'mse']))
    .option('--vocab <file>', 'token models: the vocabulary, token i on line i (or a JSON array), so generate / predict can read text')
    .option('--labels <list>', 'classifiers: the class names in the head\'s order, comma-separated (with --vocab: predict works)')
    .option('--max-len <n>', 'classifiers: cut texts at n tokens in predict (default: the model\'s input length, else 200)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InputError(`--max-len must be an integer >= 1 (got ${v})`);
      return n;
    })
    .option('--overwrite', 'replace the checkpoint in -o if it already holds one (only a checkpoint rnnlab wrote)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nReads Sequential or single-chain functional models of InputLayer, Masking, Embedding, SimpleRNN, LSTM,\n' +
        'GRU (reset_after true or false), Bidirectional, Dropout (left out: the identity at inference), Dense and\n' +
        'TimeDistributed(Dense) with a softmax or linear head. Anything else is one line naming the layer, exit 2.\n' +
        '\nExamples:\n' +
        '  rnnlab import web/model.json -o models/sentiment\n' +
        '  rnnlab import chars/model.json -o models/chars --vocab chars/vocab.txt\n' +
        '  rnnlab check --model web/model.json',
    )
    .action((path: string, f: Flags) => {
      // the checkpoint replaces -o whole: only a checkpoint rnnlab wrote, never a folder holding anything else (the model being imported)
      checkCheckpointTarget(f.out, { overwrite: f.overwrite, flag: '-o', inputs: [path, ...(f.vocab ? [f.vocab] : [])] });
      const m = readKerasModel(path, { loss: f.loss });
      const { vocab, data, use } = useFiles(m, f);
      const record = {
        importedBy: `rnnlab ${VERSION}`,
        source: m.source,
        layers: m.layers,
        notes: m.notes,
        masking: m.masking,
        outputActivation: m.outputActivation,
        loss: m.loss,
        seqLen: m.seqLen,
        weights: m.sources,
      };
      writeCheckpoint(f.out, { spec: m.spec, params: m.params, ...(vocab ? { vocab } : {}), ...(data ? { data } : {}), files: { 'import.json': JSON.stringify(record, null, 1) + '\n' } });
      if (f.json) {
        io.out(JSON.stringify({ out: f.out, spec: specToJSON(m.spec), parameters: paramCount(m.spec), ...record, files: readdirSync(f.out).sort() }));
        return;
      }
      io.out(`${path}: ${m.source.modelClass}${m.source.generatedBy ? ` (${m.source.generatedBy}${m.source.convertedBy ? `, ${m.source.convertedBy}` : ''})` : ''}`);
      io.out(formatTable(['layer', 'class', 'in rnnlab'], m.layers.map((l) => [l.name, l.kind, l.role])));
      io.out(`loss: ${m.loss}`);
      for (const n of m.notes) io.out(`note: ${n}`);
      if (m.masking.kind !== 'none') {
        io.out(`note: the model masks ${m.masking.kind === 'zero' ? 'token 0 (Embedding mask_zero)' : `steps whose features all equal ${m.masking.value} (Masking)`}; rnnlab takes that mask with the batch (check --model derives it)`);
      }
      io.out(`as rnnlab: ${describeSpec(m.spec)}; ${paramCount(m.spec).toLocaleString('en-US')} parameters`);
      io.out(`wrote ${f.out}/ (${readdirSync(f.out).sort().join(', ')})`);
      io.out(`next: rnnlab check --spec ${join(f.out, 'spec.json')} --weights ${join(f.out, 'params.safetensors')}   (or check --model ${path})`);
      if (use) io.out(`      ${use}`);
    });
}
