#!/usr/bin/env node
/**
 * The README's table of "TensorFlow.js where it runs": for each cell (rnn, lstm, gru, gru
 * reset-after), the worst relative error against float64 scratch of the outputs, the loss and the
 * gradients on tfjs-wasm (Node), tfjs-webgl, tfjs-webgpu and tfjs-webgl-f16 (headless Chromium),
 * measured by `rnnlab check` itself (check's defaults: batch 8, 20 steps, hidden 32, 10 inputs and
 * classes, one layer; --steps 1, since only the values at the initial weights are tabled).
 *
 * Usage: npm run build && node scripts/browser-table.mjs [extra check flags]
 * Prints a markdown table. Accuracy, not time: it may run on a busy machine.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const ENGINES = ['tfjs-wasm', 'tfjs-webgl', 'tfjs-webgpu', 'tfjs-webgl-f16'];
const CELLS = [
  ['rnn', ['--cell', 'rnn']],
  ['lstm', ['--cell', 'lstm']],
  ['gru', ['--cell', 'gru']],
  ['gru reset-after', ['--cell', 'gru', '--gru-reset-after']],
];

const sci = (x) => (x === undefined ? '-' : x.toExponential(1));
const rows = [];
let renderer = '';
for (const [label, flags] of CELLS) {
  const r = spawnSync(process.execPath, [CLI, 'check', ...flags, '--steps', '1', '--engines', ENGINES.join(','), '--json', ...process.argv.slice(2)], { encoding: 'utf8', timeout: 900_000 });
  if (!r.stdout.trim()) {
    console.error(`${label}: rnnlab check exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
    process.exit(1);
  }
  const j = JSON.parse(r.stdout);
  renderer ||= j.engines.find((e) => e.name === 'tfjs-webgl')?.detail ?? '';
  const worst = (e, list) => Math.max(...list.filter((c) => c.engine === e).map((c) => c.maxRelError));
  rows.push(`| ${label} | ${ENGINES.map((e) => `${sci(worst(e, j.forward))} / ${sci(worst(e, j.loss.comparisons))} / ${sci(worst(e, j.gradients))}`).join(' | ')} |`);
}
console.log(`| cell | ${ENGINES.join(' | ')} |`);
console.log(`|---|${ENGINES.map(() => '---').join('|')}|`);
for (const r of rows) console.log(r);
console.log(`\nworst relative error of outputs / loss / gradients against float64 scratch; ${renderer}`);
