/**
 * The README is tested: scripts/docs-check.mjs runs every `npx rnnlab` example of it (small runs),
 * every library snippet, and regenerates every marked sample output and compares it with what the
 * README shows. Here it runs as part of npm test, so a README that drifts from the program fails CI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
// @ts-expect-error a plain ES module without types
import { shellWords, smallRun } from '../scripts/docs-check.mjs';
import { ROOT } from './helpers/cli.js';

describe('the README, tested', () => {
  test('examples are read as a shell would, and shrunk to small runs', () => {
    expect(shellWords('npx rnnlab check --engines "cmd:python3 a.py" --cell lstm   # a comment')).toEqual(['npx', 'rnnlab', 'check', '--engines', 'cmd:python3 a.py', '--cell', 'lstm']);
    expect(smallRun(['train', '--task', 'text', '--steps', '500', '--out', 'runs/moby'])).toEqual(['train', '--task', 'text', '--out', 'runs/moby', '--steps', '3', '--hidden', '8', '--sample-length', '10', '--val-tokens', '300']);
    expect(smallRun(['train', '--task', 'series', '--dataset', 'co2', '--epochs', '30'])).toEqual(['train', '--task', 'series', '--dataset', 'co2', '--steps', '3', '--hidden', '8']);
    expect(smallRun(['generate', '--checkpoint', 'runs/moby', '--length', '300'])).toEqual(['generate', '--checkpoint', 'runs/moby', '--length', '20']);
  });

  test('the line counts the README and docs/engines.md give for the example engines are the files\' own', () => {
    const lines = (f: string): number => readFileSync(join(ROOT, f), 'utf8').replace(/\n$/, '').split('\n').length;
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const engines = readFileSync(join(ROOT, 'docs', 'engines.md'), 'utf8');
    const claims: [RegExpMatchArray | null, string][] = [
      [readme.match(/\[`adapter\.py`\]\(examples\/numpy-rnn\/adapter\.py\),\s+(\d+) lines/), 'examples/numpy-rnn/adapter.py'],
      [readme.match(/examples\/js-engine\/plain-rnn\.js\) is a complete one[^]*? in (\d+) lines/), 'examples/js-engine/plain-rnn.js'],
      [engines.match(/behind a (\d+)-line adapter/), 'examples/numpy-rnn/adapter.py'],
    ];
    for (const [m, file] of claims) {
      expect(m, file).not.toBeNull();
      expect(Number(m![1]), file).toBe(lines(file));
    }
  });

  test('every example runs, every snippet imports rnnlab and runs, every sample output is current', () => {
    // The docs check takes about 120 s alone on 2 cores; the limits are wide so that a loaded
    // machine (other builds beside the suite) does not fail it. They bound a hang, not a speed.
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'docs-check.mjs'), '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 840_000 });
    expect(r.error?.message, 'docs-check did not finish').toBeUndefined();
    expect(r.stdout, r.stderr).toMatch(/"results"/);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const bad = report.results.filter((x: { status: string }) => x.status !== 'ok' && x.status !== 'skipped');
    expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
    expect(r.status).toBe(0);
    // the README has about seventy distinct examples, four snippets and six sample outputs; all of them were seen
    expect(report.passed + report.skipped).toBeGreaterThanOrEqual(55);
    expect(report.results.filter((x: { what: string }) => x.what.startsWith('library snippet'))).toHaveLength(4);
    expect(report.results.filter((x: { what: string }) => x.what.startsWith('sample output'))).toHaveLength(6);
  }, 900_000);
});
