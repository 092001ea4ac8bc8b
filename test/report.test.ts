/**
 * Run records, plots and the HTML report. The report is opened in a real headless Chromium
 * (Debian's /usr/bin/chromium driven by playwright-core): every expected chart must render as a
 * non-empty SVG with axes and the right number of series, with no console errors; a screenshot is
 * saved as a test artifact (test-results/report.png). Without Chromium the browser test is skipped
 * with a reason, except under CI=true, where it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { chartsFor, loadRun } from '../src/report/plots.js';
import { barChart, contrast, coveringTicks, heatmap, lineChart, tickLabels, titleLines, useLogY } from '../src/io/svg.js';
import { benchChartSvg } from '../src/report/plots.js';
import type { BenchRow } from '../compare/bench.js';
import { stateMapSvg } from '../src/report/states.js';
import { ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const dir = mkdtempSync(join(tmpdir(), 'rnnlab-report-'));
const runs = { text: join(dir, 'text'), series: join(dir, 'series'), classify: join(dir, 'classify'), check: join(dir, 'check'), bench: join(dir, 'bench') };

beforeAll(() => {
  const ok = (args: string[]): void => {
    const r = rnnlab(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  const small = ['--hidden', '12', '--backend', 'wasm'];
  ok(['train', '--text', join(ROOT, 'README.md'), '--steps', '12', '--seq', '16', '--batch', '4', '--engine', 'both', '--sample-at', '6,12', '--sample-length', '30', '--out', runs.text, ...small]);
  ok(['train', '--task', 'series', '--dataset', 'synthetic', '--epochs', '2', '--out', runs.series, ...small]);
  ok(['train', '--task', 'classify', '--dataset', 'names', '--steps', '10', '--out', runs.classify, ...small]);
  ok(['check', '--cell', 'lstm', '--hidden', '8', '--seq', '6', '--batch', '2', '--steps', '3', '--per-step', '--out', runs.check, '--backend', 'wasm']);
  ok(['bench', '--cell', 'rnn', '--hidden', '16', '--batch', '1', '--seq', '10', '--engine', 'scratch,tfjs-wasm', '--threads', '1', '--warmup', '1', '--repeats', '2', '--out', runs.bench]);
}, 120_000);

describe('charts that read', () => {
  test('axes end on a labelled tick above the highest point; long titles wrap instead of being cut', () => {
    const t = coveringTicks(0.3, 4.87);
    expect(t[0]).toBeLessThanOrEqual(0.3);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(4.87);
    const svg = lineChart({ title: 'x', xLabel: 'step', yLabel: 'loss', series: [{ name: 'a', points: [[0, 1], [1, 4.87]] }] });
    const labels = [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => Number(m[1]));
    expect(Math.max(...labels)).toBeGreaterThan(4.87);
    const long = 'classify-20261122-101500: confusion matrix (rows: true, columns: predicted) of a long run name';
    expect(titleLines(long, 360)).toHaveLength(2);
    expect(titleLines('short', 360)).toEqual(['short']);
    expect(heatmap({ title: long, rows: ['a', 'b'], cols: ['a', 'b'], values: [[1, 2], [3, 4]] }).match(/class="title"/g)).toHaveLength(2);
  });

  test('large and degenerate inputs: 128 units over 1200 steps, and values an ulp apart, draw without error', () => {
    const values = Array.from({ length: 1200 }, (_, t) => Array.from({ length: 128 }, (_, j) => Math.sin(t / 7 + j)));
    expect(stateMapSvg({ title: 'big', labels: values.map((_, t) => String(t)), values, what: 'h', tokens: false })).toMatch(/<\/svg>$/);
    expect(lineChart({ title: 'flat', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[0, 1], [1, 1 + 2 ** -52]] }] })).toMatch(/<\/svg>$/);
  });

  test('log scale where a loss spans two decades, linear otherwise; numbers legible on every heat-map cell', () => {
    expect(useLogY('auto', [100, 50, 0.5])).toBe(true);
    expect(useLogY('auto', [3, 2, 1.5])).toBe(false);
    expect(useLogY('auto', [3, -1, 0.001])).toBe(false);
    expect(lineChart({ title: 'co2', xLabel: 's', yLabel: 'l', series: [{ name: 'a', points: [[0, 200], [1, 0.4]] }], logY: 'auto' })).toContain('co2 (log scale)');
    const svg = heatmap({ title: 'confusion', rows: ['f', 'm'], cols: ['f', 'm'], values: [[40, 2], [1, 30]], format: String });
    const pairs = [...svg.matchAll(/fill="rgb\((\d+),(\d+),(\d+)\)"\/><text[^>]*fill="#([0-9a-f]{6})"/g)];
    expect(pairs).toHaveLength(4);
    for (const p of pairs) {
      const fg = [0, 2, 4].map((i) => parseInt(p[4].slice(i, i + 2), 16));
      expect(contrast(fg, [Number(p[1]), Number(p[2]), Number(p[3])])).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe('plots a newcomer can read', () => {
  test('no two ticks of an axis carry the same label, however narrow the range (a lockstep loss from 2.2875 to 2.2925)', () => {
    const svg = lineChart({ title: 'lockstep', xLabel: 'step', yLabel: 'loss', series: [{ name: 'scratch', points: [[1, 2.2921], [2, 2.2903], [3, 2.2889], [4, 2.2877]] }] });
    const labels = [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => m[1]);
    expect(labels.length).toBeGreaterThanOrEqual(3);
    expect(new Set(labels).size).toBe(labels.length);
    expect(tickLabels([2.2875, 2.29, 2.2925])).toEqual(['2.2875', '2.2900', '2.2925']);
    expect(tickLabels([1.0025, 1.005])).toEqual(['1.0025', '1.0050']); // fmtTick would say 1 and 1.01: distinct, and wrong
    expect(tickLabels([0, 0.5, 1])).toEqual(['0', '0.5', '1']); // already distinct: as before
  });

  test('the lockstep chart of a check says which engines lie under the first one', () => {
    const check = loadRun(runs.check);
    const chart = chartsFor([check]).find((c) => c.id.startsWith('lockstep'))!;
    const names = [...chart.svg.matchAll(/<g class="series" data-name="([^"]+)"/g)].map((m) => m[1]);
    const engines = Object.keys(check.check!.trajectory.steps[0].loss);
    expect(engines.length).toBeGreaterThanOrEqual(3); // scratch, tfjs-wasm, scratch-f64: three lines that coincide within 2e-3
    for (const e of engines.slice(1)) expect(names).toContain(`${e}, under ${engines[0]}: within 2e-3`);
    expect(names).toContain(engines[0]);
  });

  test('on a log axis the shortest bench bar stands at least a factor 3 (half a decade) above the axis', () => {
    const row = (engine: string, ms: number): BenchRow => ({ cell: 'rnn', hidden: 64, batch: 1, engine, threads: 1, trainStepMs: { median: ms, p10: ms, p90: ms, n: 3 }, ratio: 1 }) as BenchRow;
    const svg = benchChartSvg([row('scratch', 1.05), row('tfjs-wasm', 41)], 'tfjs-wasm');
    const heights = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"/g)].map((m) => Number(m[1]));
    const tall = Math.max(...heights);
    // the two bars span log10(41 / 1.05) = 1.6 decades; the short one at least log10(3) = 0.48 decade above the axis
    expect(Math.min(...heights) / tall).toBeGreaterThan(0.48 / (0.48 + 1.6) - 0.01);
    expect(barChart({ title: 'b', yLabel: 'ms', groups: ['g'], logY: true, series: [{ name: 'a', values: [1.05] }] })).toMatch(/>0\.1</);
  });
});

describe('run directories and charts', () => {
  test('every kind of run has run.json and the charts it supports', () => {
    for (const d of Object.values(runs)) expect(existsSync(join(d, 'run.json')), d).toBe(true);
    const ids = chartsFor(Object.values(runs).map(loadRun)).map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining(['loss-steps-text', 'loss-time-text', 'param-diff-text', 'loss-steps-series', 'forecast-series', 'confusion-classify', 'grad-errors-check', 'per-step-check', 'lockstep-check', 'bench-bench']),
    );
    const text = chartsFor([loadRun(runs.text)]);
    // scratch and tfjs overlaid: two training curves and two validation curves
    expect(text.find((c) => c.id === 'loss-steps')!.series).toBe(4);
  });

  test('plot --states: every unit over time, and the text coloured by chosen units; bad input is one line', () => {
    const out = join(dir, 'states');
    const r = rnnlab(['plot', '--states', runs.text, '--text', 'The whale, the sea.', '--units', '0,3', '-o', out, '--no-png', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const files: string[] = JSON.parse(r.stdout).files;
    expect(files.map((f) => f.split('/').pop())).toEqual(['states-h-layer0-text.svg', 'states-c-layer0-text.svg', 'states-text-text.svg']);
    const map = readFileSync(files[0], 'utf8');
    // 19 characters read by 12 units: a cell per unit and step
    const grid = map.slice(map.indexOf('<g class="series"'), map.indexOf('</g>'));
    expect(grid.match(/<rect /g)).toHaveLength(19 * 12);
    const text = readFileSync(files[2], 'utf8');
    expect(text.match(/class="series" data-name="unit \d+"/g)).toEqual(['class="series" data-name="unit 0"', 'class="series" data-name="unit 3"']);
    const s = rnnlab(['plot', '--states', runs.series, '-o', join(dir, 'states-series'), '--no-png', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).files).toHaveLength(2); // h and c of the LSTM; no text view
    expectOneLineError(rnnlab(['plot', '--states', runs.text, '--text', 'abc', '--units', '99']), /--units: unit 99 does not exist \(the layer has units 0\.\.11\)/, expect);
    expectOneLineError(rnnlab(['plot', '--states', runs.text]), /give the text to read with --text/, expect);
    expectOneLineError(rnnlab(['plot', '--states', runs.series, '--text', 'abc']), /a forecasting model reads numbers/, expect);
    expectOneLineError(rnnlab(['plot', runs.text, '--text', 'abc']), /--text belongs to --states/, expect);
    expectOneLineError(rnnlab(['plot', '--states', runs.text, '--text', 'abc', '--units', '3,']), /--units takes unit numbers separated by commas/, expect);
    // without -o the views go beside the run's other plots
    const beside = rnnlab(['plot', '--states', runs.text, '--text', 'The sea.', '--no-png', '--json']);
    expect(beside.code, beside.stderr).toBe(0);
    expect(JSON.parse(beside.stdout).files[0]).toBe(join(runs.text, 'plots', 'states-h-layer0-text.svg'));
    expectOneLineError(rnnlab(['plot', '--states', runs.series, '--units', '1']), /--units chooses the units that colour a text/, expect);
  });

  test('rnnlab plot writes SVG files (and PNG when rsvg-convert exists)', () => {
    const out = join(dir, 'plots');
    const r = rnnlab(['plot', runs.text, runs.series, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const files: string[] = JSON.parse(r.stdout).files;
    expect(files.some((f) => f.endsWith('loss-steps-text.svg'))).toBe(true);
    const svg = readFileSync(files.find((f) => f.endsWith('.svg'))!, 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expectOneLineError(rnnlab(['plot', join(dir, 'nothing')]), /no such run directory/, expect);
    expectOneLineError(rnnlab(['report', dir]), /not a run directory \(no run\.json\)/, expect);
  });
});

describe.skipIf(!haveChromium && process.env.CI !== 'true')(`the HTML report in headless Chromium${haveChromium ? '' : ' (skipped: /usr/bin/chromium is not installed; apt-get install chromium)'}`, () => {
  test('every chart renders with axes and its series; no console errors; a screenshot is saved', async () => {
    expect(existsSync(CHROMIUM), 'CI=true needs /usr/bin/chromium (apt-get install chromium)').toBe(true);
    const html = join(dir, 'report.html');
    const r = rnnlab(['report', ...Object.values(runs), '-o', html]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(html, 'utf8')).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${html}`);
      const charts = await page.$$eval('figure.chart-box', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg')!;
          const box = svg.getBoundingClientRect();
          return {
            id: f.getAttribute('data-chart-id'),
            expected: Number(f.getAttribute('data-expected-series')),
            kind: svg.getAttribute('data-chart'),
            width: box.width,
            height: box.height,
            axes: svg.querySelectorAll('.x-axis, .y-axis').length,
            series: svg.querySelectorAll('g.series').length,
            drawn: svg.querySelectorAll('g.series path, g.series rect').length,
          };
        }),
      );
      expect(charts.length).toBeGreaterThanOrEqual(12);
      for (const c of charts) {
        expect(c.width, `${c.id} width`).toBeGreaterThan(200);
        expect(c.height, `${c.id} height`).toBeGreaterThan(100);
        expect(c.series, `${c.id} series`).toBe(c.expected);
        expect(c.drawn, `${c.id} marks`).toBeGreaterThan(0);
        if (c.kind === 'line' || c.kind === 'bar') expect(c.axes, `${c.id} axes`).toBe(2);
      }
      expect(await page.locator('.sample pre').count()).toBe(4); // 2 breakpoints x 2 engines
      // titles inside their chart (a clipped title has a box beyond the svg's)
      const titles = await page.$$eval('svg.chart', (svgs) =>
        svgs.flatMap((svg) => {
          const frame = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('text.title')].map((t) => {
            const b = (t as SVGTextElement).getBoundingClientRect();
            return { text: t.textContent, inside: b.left >= frame.left - 0.5 && b.right <= frame.right + 0.5 && b.top >= frame.top - 0.5 };
          });
        }),
      );
      expect(titles.length).toBeGreaterThanOrEqual(charts.length);
      // a title (one or two lines) ends above the plot area of its chart
      const clear = await page.$$eval('svg.chart[data-chart="line"]', (svgs) =>
        svgs.map((svg) => {
          const bottom = Math.max(...[...svg.querySelectorAll('text.title')].map((t) => t.getBoundingClientRect().bottom));
          const plotTop = Math.min(...[...svg.querySelectorAll('.y-axis line')].map((l) => l.getBoundingClientRect().top));
          return { title: svg.querySelector('text.title')?.textContent, clear: bottom <= plotTop + 1 };
        }),
      );
      for (const c of clear) expect(c.clear, `title "${c.title}" clear of the plot`).toBe(true);
      // a summary card per run, at the top, with its verdict
      const cards = await page.$$eval('.summary-card', (els) => els.map((e) => e.textContent ?? ''));
      expect(cards).toHaveLength(5);
      expect(cards[0]).toMatch(/engines agree \(parameters within 2e-3; largest difference/);
      expect(cards[0]).toMatch(/scratch [\d.]+x faster per step than tfjs-wasm/);
      expect(cards[1]).toMatch(/test MAE .* against /);
      expect(cards[2]).toMatch(/test accuracy \d+\.\d% against the majority-class baseline/);
      expect(cards[3]).toMatch(/^check check\s*PASS: \d+ comparisons within the tolerance policy/);
      expect(cards[4]).toMatch(/1 configuration, 2 engines; ratios against tfjs-wasm/);
      const cardsTop = await page.locator('.cards').boundingBox();
      const firstChart = await page.locator('figure.chart-box').first().boundingBox();
      expect(cardsTop!.y).toBeLessThan(firstChart!.y);
      // charts in a grid that uses the width: two charts side by side at 1200 px
      const boxes = await page.$$eval('.charts figure', (fs) => fs.slice(0, 2).map((f) => f.getBoundingClientRect().top));
      expect(boxes[0]).toBe(boxes[1]);
      // the hidden states of the text and series models, and the legend naming coinciding curves
      expect(await page.locator('figure[data-chart-id^="states-"]').count()).toBe(5); // text: h, c, coloured text; series: h, c
      expect(await page.locator('figure[data-chart-id="loss-steps-text"] .legend-item').allTextContents()).toContain('tfjs-wasm (train), under scratch: within 2e-3');
      for (const t of titles) expect(t.inside, `title "${t.text}" inside its chart`).toBe(true);
      // every number in a heat map (confusion matrix, gradient errors) is legible on its cell: WCAG contrast >= 4.5
      const cells = await page.$$eval('svg[data-chart="heatmap"] g.series', (groups) =>
        groups.flatMap((g) => {
          const rects = [...g.querySelectorAll('rect')];
          return [...g.querySelectorAll('text[fill]')].map((t, i) => ({ text: t.textContent, fg: getComputedStyle(t).fill, bg: getComputedStyle(rects[i]).fill }));
        }),
      );
      expect(cells.length).toBeGreaterThan(4);
      const rgb = (c: string): number[] => c.match(/\d+/g)!.slice(0, 3).map(Number);
      for (const c of cells) expect(contrast(rgb(c.fg), rgb(c.bg)), `"${c.text}" on ${c.bg}`).toBeGreaterThanOrEqual(4.5);
      // validation losses drawn as points, not as lone dots under a dashed legend
      expect(await page.locator('figure[data-chart-id="loss-steps-text"] g.series circle.marker').count()).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      mkdirSync(join(ROOT, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'test-results', 'report.png'), fullPage: true });
      expect(existsSync(join(ROOT, 'test-results', 'report.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  });
});
