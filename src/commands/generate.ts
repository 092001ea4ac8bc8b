/** `rnnlab generate`: text from a text-model checkpoint, made by either engine. */
import type { Command } from 'commander';
import { readCheckpoint } from '../checkpoint.js';
import { tokenizerFromJSON } from '../data/tokenizers.js';
import { createEngines } from '../engines/index.js';
import { InputError } from '../errors.js';
import { optimizerSpec } from '../optimizer.js';
import { resolveCheckpoint } from '../report/run.js';
import { Rng } from '../rng.js';
import { generateIds } from '../tasks/sampling.js';
import { defaultPrime, primeToIds } from '../tasks/text-lm.js';
import { type CheckpointEngineFlags, addCheckpointEngineOptions, checkpointEngineOptions, intArg, numArg, seedArg } from './options.js';
import type { IO } from './io.js';

export function registerGenerate(program: Command, io: IO): void {
  addCheckpointEngineOptions(
    program
      .command('generate')
      .description('generate text from a text-model checkpoint (temperature 0 = greedy)')
      .requiredOption('--checkpoint <dir>', 'a checkpoint directory, or a run directory (its newest checkpoint)')
      .option('--length <n>', 'tokens to generate', intArg(0), 400)
      .option('--temperature <t>', 'sampling temperature; 0 picks the most likely token every time', numArg({ min: 0 }), 0.8)
      .option('--prime <text>', 'text to start from (default: a newline)')
      .option('--seed <n>', 'seed of the sampling', seedArg, 1)
  )
    .addHelpText('after', '\nExample:\n  rnnlab generate --checkpoint runs/text-20261122-101500 --length 300 --temperature 0.7 --prime "Call me"')
    .action(async (f: { checkpoint: string; length: number; temperature: number; prime?: string; seed: number } & CheckpointEngineFlags) => {
      const ck = readCheckpoint(resolveCheckpoint(f.checkpoint));
      if (!ck.vocab) throw new InputError(`${ck.dir}: has no vocab.json; generate needs a text model checkpoint`);
      if (ck.spec.input !== 'tokens' || !ck.spec.returnSequences) throw new InputError(`${ck.dir}: not a language model (token input, a prediction per step)`);
      const tokenizer = tokenizerFromJSON(ck.vocab, `${ck.dir}/vocab.json`);
      if (tokenizer.size !== ck.spec.inputSize) {
        throw new InputError(`${ck.dir}: vocab.json has ${tokenizer.size} symbols but the model expects ${ck.spec.inputSize}`);
      }
      const set = await createEngines(...checkpointEngineOptions(f, ck.spec, ck.params, optimizerSpec('sgd')));
      const engine = set.engines[0];
      const prime = f.prime ?? defaultPrime(tokenizer);
      const primeIds = primeToIds(tokenizer, prime);
      if (!f.json) io.err(`# ${ck.dir}, ${set.descriptions[0]}, temperature ${f.temperature}, seed ${f.seed}`);
      const ids = await generateIds(engine, primeIds, f.length, f.temperature, new Rng(f.seed));
      const text = tokenizer.decode(ids);
      await set.close();
      if (f.json) {
        io.out(JSON.stringify({ checkpoint: ck.dir, engine: engine.name, backend: set.backend, prime, temperature: f.temperature, seed: f.seed, length: f.length, text }));
        return;
      }
      io.out(prime + text);
    });
}
