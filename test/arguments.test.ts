/**
 * Arguments that agree (issue 19): every command that takes a checkpoint takes a run directory
 * (and a sweep's directory); forecast remembers its CSV and writes dates as the data does;
 * predict labels a whole CSV; preset runs are named after the preset; bench's help and legend say
 * what they mean; counts are singular when they are one.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { nextDates } from '../src/data/series.js';
import { plural } from '../src/io/table.js';
import { ROOT, rnnlab } from './helpers/cli.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'rnnlab-args-'));

describe('arguments that agree', () => {
  test('convert and export take a run directory (its newest checkpoint)', () => {
    const run = join(tmp(), 'run');
    expect(rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--hidden', '4', '--steps', '2', '--out', run]).code).toBe(0);
    const pt = join(tmp(), 'model.pt.safetensors');
    const c = rnnlab(['convert', run, '--to', 'pytorch', '-o', pt]);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(pt)).toBe(true);
    const web = join(tmp(), 'web');
    const e = rnnlab(['export', run, '--format', 'tfjs', '-o', web, '--backend', 'cpu']);
    expect(e.code, e.stderr).toBe(0);
    expect(readdirSync(web).sort()).toEqual(['model.json', 'weights.bin']);
  });

  test('a window sweep: plot draws every run, forecast uses the one with the lowest validation loss', () => {
    const sweep = join(tmp(), 'sweep');
    const r = rnnlab(['train', '--task', 'series', '--dataset', 'synthetic', '--window', '6,12', '--horizon', '3', '--hidden', '4', '--epochs', '1', '--out', sweep]);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(sweep, 'sweep.json'), 'utf8'));
    expect(record.runs.map((x: { folder: string }) => x.folder)).toEqual(['window-6', 'window-12']);
    const best = [...record.runs].sort((a: { valLoss: number }, b: { valLoss: number }) => a.valLoss - b.valLoss)[0].folder;
    const f = rnnlab(['forecast', '--checkpoint', sweep, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toContain(`using ${best}, the lowest validation loss`);
    expect(JSON.parse(f.stdout).checkpoint).toContain(join(sweep, best));
    const p = rnnlab(['plot', sweep, '-o', join(tmp(), 'plots'), '--no-png', '--json']);
    expect(p.code, p.stderr).toBe(0);
    const lossChart = JSON.parse(p.stdout).charts.find((c: { id: string }) => c.id.includes('loss-steps'));
    expect(lossChart.series).toBeGreaterThanOrEqual(2); // both windows' training curves
  });

  test('forecast reads the CSV it was trained on again and writes dates the way the CSV does', () => {
    const dir = tmp();
    const csv = join(dir, 'sales.csv');
    const rows = ['month,units'];
    for (let i = 0; i < 72; i++) rows.push(`${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')},${100 + i + 10 * Math.sin(i / 2)}`);
    writeFileSync(csv, rows.join('\n') + '\n');
    const run = join(dir, 'run');
    expect(rnnlab(['train', '--task', 'series', '--csv', csv, '--column', 'units', '--date-column', 'month', '--window', '6', '--horizon', '3', '--hidden', '4', '--epochs', '1', '--out', run]).code).toBe(0);
    const f = rnnlab(['forecast', '--checkpoint', run, '--json'], { cwd: tmp() }); // another directory: the path is remembered absolute
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout).dates).toEqual(['2026-01', '2026-02', '2026-03']);
  });

  test('predict --csv labels every row and writes a CSV with the probabilities', () => {
    const dir = tmp();
    const run = join(dir, 'run');
    expect(rnnlab(['train', '--task', 'classify', '--dataset', 'names', '--hidden', '8', '--steps', '5', '--out', run]).code).toBe(0);
    writeFileSync(join(dir, 'in.csv'), 'name,note\nMaria,"a, b"\nJohn,x\n');
    const out = join(dir, 'labelled.csv');
    const r = rnnlab(['predict', '--checkpoint', run, '--csv', join(dir, 'in.csv'), '--text-column', 'name', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*labelled\.csv: 2 rows labelled/);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('name,note,label,p_female,p_male');
    expect(lines[1]).toMatch(/^Maria,"a, b",(female|male),0\.\d+,0\.\d+$/);
    const [pf, pm] = lines[2].split(',').slice(3).map(Number);
    expect(pf + pm).toBeCloseTo(1, 5); // rounded to 6 significant digits each
    // the label agrees with the single-text form
    const single = JSON.parse(rnnlab(['predict', '--checkpoint', run, 'John', '--json']).stdout);
    expect(lines[2].split(',')[2]).toBe(single.label);
    const both = rnnlab(['predict', '--checkpoint', run, 'John', '--csv', join(dir, 'in.csv')]);
    expect(both.code).toBe(2);
    // a file with a label column of its own keeps it; the prediction goes into "predicted"
    writeFileSync(join(dir, 'labelled-in.csv'), 'name,label\nMaria,female\n');
    const own = rnnlab(['predict', '--checkpoint', run, '--csv', join(dir, 'labelled-in.csv'), '--text-column', 'name']);
    expect(own.stdout.split('\n')[0]).toBe('name,label,predicted,p_female,p_male');
  });

  test('a --prime the vocabulary cannot read is refused before training, not after it', () => {
    const r = rnnlab(['train', '--task', 'text', '--hidden', '4', '--steps', '2', '--prime', '\u{1F40B} whale', '--out', join(tmp(), 'run')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--prime/);
    expect(r.stdout).not.toMatch(/step\s+epoch/); // no training table: it stopped before the first step
  });

  test('a preset names its run directory after itself', () => {
    const corpus = tmp();
    writeFileSync(join(corpus, 'Around the World in Eighty days.txt'), 'Phileas Fogg lived, in 1872, at No. 7, Saville Row. '.repeat(40));
    const cwd = tmp();
    const r = rnnlab(['train', '--preset', 'verne-char-rnn', '--corpus-dir', corpus, '--steps', '2'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(cwd, 'runs'))[0]).toMatch(/^verne-char-rnn-\d{8}-\d{6}/);
  });

  test('bench: help without JSON defaults, the legend names the baseline given, counts in the singular', () => {
    const help = rnnlab(['bench', '--help']).stdout;
    expect(help).not.toMatch(/default: \[/);
    expect(help).toMatch(/cells, comma-separated: rnn, lstm or gru \(default\s+rnn,lstm,gru;/);
    const r = rnnlab(['bench', '--cell', 'rnn', '--hidden', '8', '--batch', '1', '--seq', '4', '--engine', 'scratch,scratch-f64', '--threads', '1', '--baseline', 'scratch', '--repeats', '1', '--warmup', '0', '--budget', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^bench: 1 configuration x 2 engines;/);
    expect(r.stdout).toMatch(/ratio = scratch training-step time/);
    expect(r.stdout).not.toMatch(/tfjs-wasm/);
    expect([plural(1, 'step'), plural(2, 'step'), plural(1.5, 'epoch'), plural(1000, 'window')]).toEqual(['1 step', '2 steps', '1.5 epochs', '1,000 windows']);
  });

  test("forecast dates: read as written, whatever the machine's time zone; calendar months clamp to the month's end", () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
    try {
      const cases: [string[], string[]][] = [
        [['Jan 1 2000', 'Feb 1 2000'], ['Mar 1 2000', 'Apr 1 2000']],
        [['2022-06-01T10:00', '2022-06-01T11:00'], ['2022-06-01T12:00', '2022-06-01T13:00']],
        [['2022-06-01T12:00:00.000Z', '2022-06-01T12:30:00.000Z'], ['2022-06-01T13:00:00.000Z', '2022-06-01T13:30:00.000Z']],
        [['2022-06-01T10:00+02:00', '2022-06-01T11:00+02:00'], ['2022-06-01T12:00+02:00', '2022-06-01T13:00+02:00']],
        [['2022-01-31', '2022-02-28'], ['2022-03-31', '2022-04-30']],
        [['2022-07-31', '2022-08-31'], ['2022-09-30', '2022-10-31']],
        [['2022-05', '2022-06'], ['2022-07', '2022-08']],
        [['2020', '2021'], ['2022', '2023']],
      ];
      for (const [given, want] of cases) expect(nextDates(given, 2), given.join(', ')).toEqual(want);
      expect(nextDates(['2022-06-02', '2022-06-01'], 2)).toBeNull(); // not in time order: no dates rather than wrong ones
    } finally {
      process.env.TZ = zone;
    }
  });

  test('forecast --csv without the date column numbers by row; a synthetic series is made again from its seed', () => {
    const dir = tmp();
    const run = join(dir, 'run');
    expect(rnnlab(['train', '--task', 'series', '--dataset', 'synthetic', '--seed', '3', '--window', '6', '--horizon', '2', '--hidden', '4', '--epochs', '1', '--out', run]).code).toBe(0);
    const data = JSON.parse(readFileSync(join(run, 'checkpoints', readdirSync(join(run, 'checkpoints')).find((n) => n.startsWith('step-'))!, 'data.json'), 'utf8'));
    expect(data.seed).toBe(3);
    const csv = join(dir, 'sales.csv');
    writeFileSync(csv, ['month,units', ...Array.from({ length: 30 }, (_, i) => `${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')},${i}`)].join('\n'));
    const trained = join(dir, 'sales');
    expect(rnnlab(['train', '--task', 'series', '--csv', csv, '--column', 'units', '--date-column', 'month', '--window', '4', '--horizon', '2', '--hidden', '4', '--epochs', '1', '--out', trained]).code).toBe(0);
    const other = join(dir, 'no-dates.csv');
    writeFileSync(other, ['units', ...Array.from({ length: 10 }, (_, i) => String(i))].join('\n'));
    const f = rnnlab(['forecast', '--checkpoint', trained, '--csv', other, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout).after).toBe(10);
    expect(f.stderr).toMatch(/no-dates\.csv has no date column "month"; its rows are numbered instead/);
    // the hidden-state views read such a file the same way
    const states = rnnlab(['plot', '--states', trained, '--csv', other, '-o', join(dir, 'states'), '--no-png']);
    expect(states.code, states.stderr).toBe(0);
    expect(states.stderr).toMatch(/its rows are numbered instead/);
  });

  test('runs/ and plots/ are ignored by git', () => {
    const ignored = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['runs/', 'plots/']));
  });
});
