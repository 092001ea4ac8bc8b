// Decoding speed of an encoder-decoder on one engine: step-wise (encode / decode_step, when the
// engine claims them) against the whole-prefix fallback (forward over BOS and the tokens so far at
// every output step), ms per source pair, greedy and beam 4. A benchmark, not a test: run it on a
// quiet machine.
//
//   npm run build && node scripts/seq2seq-decode-speed.mjs [engine] [pairs] [repeats]
//   (engine: pytorch (default), pytorch-f64, scratch, ...; pairs 64; repeats 3)
//
// The model is the dates task's default size (lstm 1x128, embedding 32, attention general; vocabularies
// 40 -> 14) with seeded random weights; sources of 12 to 20 tokens; outputs of exactly 11 tokens
// (maxLen 11, as "2021-03-03" and EOS; random weights rarely emit EOS, and a decode that ends
// earlier is cut the same way on both paths). Prints the best of `repeats` runs per mode.
import { createSeq2SeqEngine } from '../dist/src/engines/registry.js';
import { optimizerSpec } from '../dist/src/optimizer.js';
import { beamSearch, greedyDecode } from '../dist/src/seq2seq/decode.js';
import { randomSeq2SeqParams } from '../dist/src/seq2seq/params.js';
import { parseSeq2SeqSpec } from '../dist/src/seq2seq/spec.js';

const [engineName = 'pytorch', pairsArg = '64', repeatsArg = '3'] = process.argv.slice(2);
const pairs = Number(pairsArg);
const repeats = Number(repeatsArg);
const spec = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 128, embedding: 32, srcVocab: 40, tgtVocab: 14, attention: 'general' });
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sources = Array.from({ length: pairs }, () => Int32Array.from({ length: 12 + Math.floor(rand() * 9) }, () => 3 + Math.floor(rand() * 37)));
const open = await createSeq2SeqEngine(engineName, spec, { params: randomSeq2SeqParams(spec, 3, 'F32'), optimizer: optimizerSpec('sgd'), threads: 1, training: false });
const e = open.engine;
const stepping = typeof e.decodeStep === 'function';
console.log(`${engineName}: ${open.detail}`);
console.log(`step-wise decoding ${stepping ? 'claimed' : 'not claimed (both rows run the whole prefix)'}; ${pairs} sources of 12-20 tokens, 11 output tokens`);
try {
  for (const [what, run] of [
    ['greedy', (wholePrefix) => greedyDecode(e, sources, { maxLen: 11, batchSize: 64, wholePrefix })],
    ['beam 4', (wholePrefix) => beamSearch(e, sources, { maxLen: 11, beam: 4, batchSize: 64, wholePrefix })],
  ]) {
    const row = {};
    let outputs = {};
    for (const wholePrefix of [true, false]) {
      let best = Infinity;
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        outputs[wholePrefix] = await run(wholePrefix);
        best = Math.min(best, performance.now() - t0);
      }
      row[wholePrefix ? 'whole prefix' : 'step-wise'] = `${(best / pairs).toFixed(2)} ms/pair`;
    }
    const same = JSON.stringify(outputs[true].map((d) => d.ids)) === JSON.stringify(outputs[false].map((d) => d.ids));
    console.log(`${what}: whole prefix ${row['whole prefix']}, step-wise ${row['step-wise']} (same tokens: ${same})`);
  }
} finally {
  await open.close();
}
