/**
 * What a run records for the person reading it later (issue 19): a time-limited run logs on a time
 * schedule, so its curves are complete; each engine's time in training steps is carried across a
 * resume, so loss-against-time never runs backwards; engines side by side get a verdict with the
 * tolerance of `check`, naming a known difference when one explains a parting.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { paramDiffVerdict } from '../src/train/run.js';
import { rnnlab } from './helpers/cli.js';

function corpus(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-rec-'));
  const path = join(dir, 'book.txt');
  writeFileSync(path, Array.from({ length: 200 }, (_, i) => `Day ${i % 9}: the whale swam ${i % 2 ? 'north' : 'south'}.`).join('\n'));
  return path;
}

const records = (dir: string): Record<string, any>[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const small = ['--task', 'text', '--seq', '8', '--batch', '4', '--hidden', '8'];

describe('run records', () => {
  test('a --minutes run logs on a time schedule up to its last step, each record with cumulative step time', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rnnlab-rec-')), 'run');
    const r = rnnlab(['train', ...small, '--text', corpus(), '--minutes', '0.05', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const steps = records(dir).filter((x) => x.type === 'step');
    const final = records(dir).find((x) => x.type === 'final')!;
    // 3 s of training logged about every 0.15 s (a twentieth of the time): many records, not one
    expect(steps.length).toBeGreaterThanOrEqual(5);
    expect(steps[steps.length - 1].step).toBe(final.steps);
    for (let i = 1; i < steps.length; i++) expect(steps[i].trainSeconds.scratch).toBeGreaterThanOrEqual(steps[i - 1].trainSeconds.scratch);
    // the printed table has a row per record, not a single row
    expect(r.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\.\d\d\s/.test(l)).length).toBe(steps.length);
  });

  test('a --minutes run whose last step was also a checkpoint still validates, samples and logs that step', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rnnlab-rec-')), 'run');
    const r = rnnlab(['train', ...small, '--text', corpus(), '--minutes', '0.02', '--checkpoint-every', '1', '--keep-checkpoints', '2', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const final = records(dir).find((x) => x.type === 'final')!;
    expect(Object.keys(final.validation)).toEqual(['scratch']);
    expect(records(dir).filter((x) => x.type === 'val').pop()!.step).toBe(final.steps);
    expect(records(dir).filter((x) => x.type === 'step').pop()!.step).toBe(final.steps);
    // a resume given a new length forgets the old time limit
    const more = rnnlab(['train', '--resume', dir, '--steps', String(final.steps + 2)]);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).not.toMatch(/minutes/);
    expect(more.stdout).toContain(`done: ${(final.steps + 2).toLocaleString('en-US')} steps`);
  });

  test('--resume carries each engine\'s step time: loss against time keeps going forward', () => {
    const base = mkdtempSync(join(tmpdir(), 'rnnlab-rec-'));
    const text = corpus();
    const a = join(base, 'a');
    expect(rnnlab(['train', ...small, '--text', text, '--steps', '6', '--sample-at', '3', '--log-every', '1', '--out', a]).code).toBe(0);
    const atCheckpoint = JSON.parse(readFileSync(join(a, 'checkpoints', 'step-3', 'meta.json'), 'utf8')).trainSeconds.scratch;
    expect(atCheckpoint).toBeGreaterThan(0);
    const b = join(base, 'b');
    const r = rnnlab(['train', '--resume', join(a, 'checkpoints', 'step-3'), '--out', b]);
    expect(r.code, r.stderr).toBe(0);
    const resumed = records(b).filter((x) => x.type === 'step');
    expect(resumed[0].step).toBe(4);
    expect(resumed[0].trainSeconds.scratch).toBeGreaterThan(atCheckpoint);
  });

  test('engines side by side: "agree" within the trajectory tolerance, or "part ways" from a step, with the known cause', () => {
    const text = corpus();
    const out = (tag: string): string => join(mkdtempSync(join(tmpdir(), 'rnnlab-rec-')), tag);
    const agree = rnnlab(['train', ...small, '--text', text, '--steps', '5', '--engine', 'both', '--backend', 'cpu', '--out', out('agree')]);
    expect(agree.code, agree.stderr).toBe(0);
    expect(agree.stdout).toMatch(/engines agree: tfjs-cpu and scratch stay within 2e-3, the trajectory tolerance of check; largest parameter difference \d\.\d\de-\d at step \d/);

    // classic Adagrad (eps 1e-8): tfjs always adds 1e-7, so the runs part at the first step
    const dir = out('apart');
    const apart = rnnlab(['train', ...small, '--text', text, '--steps', '5', '--engine', 'both', '--backend', 'cpu', '--optimizer', 'adagrad', '--initial-accumulator', '0', '--epsilon', '1e-8', '--lr', '0.1', '--out', dir, '--json']);
    expect(apart.code, apart.stderr).toBe(0);
    const final = records(dir).find((x) => x.type === 'final')!;
    expect(final.paramDiff.driftStep).toBe(1);
    expect(final.paramDiff.max).toBeGreaterThan(2e-3);
    expect(final.maxParamDiff).toBe(final.paramDiff.max);
    const steps = records(dir).filter((x) => x.type === 'step');
    expect(final.paramDiff.max).toBe(Math.max(...steps.map((s) => s.maxParamDiff)));
    const human = rnnlab(['train', ...small, '--text', text, '--steps', '5', '--engine', 'both', '--backend', 'cpu', '--optimizer', 'adagrad', '--initial-accumulator', '0', '--epsilon', '1e-8', '--lr', '0.1', '--out', out('apart2')]);
    expect(human.stdout).toMatch(/engines part ways: tfjs-cpu and scratch differ by more than 2e-3 \(the trajectory tolerance of check\) from step 1/);
    expect(human.stdout).toMatch(/a known difference explains it: tfjs adagrad always uses epsilon 1e-7 \(asked 1e-8\)/);
  });

  test('without a known cause, the verdict says how to find one', () => {
    const lines = paramDiffVerdict({ last: 0.5, max: 0.9, maxStep: 13, driftStep: 4, limit: 2e-3, everyStep: true }, ['scratch', 'pytorch'], []);
    expect(lines[0]).toBe('engines part ways: pytorch and scratch differ by more than 2e-3 (the trajectory tolerance of check) from step 4; largest parameter difference 9.00e-1 at step 13 (max rel err; 5.00e-1 after the last step)');
    expect(lines[1]).toMatch(/no known difference explains it: run `rnnlab check`/);
  });
});
