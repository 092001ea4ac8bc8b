/**
 * Charts from run directories. A run is recognised by its run.json: a training run (task text,
 * series, classify), a check run (kind check) or a bench run (kind bench). Several runs overlay
 * where that makes sense (loss curves).
 */
import { existsSync } from 'node:fs';
import { readJsonInput } from '../io/files.js';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import { readJsonl, readSweep } from '../io/run-dir.js';
import { BENCH_JSON, CHECK_JSON, TRAIN_FINAL, expectShape } from '../io/schemas.js';
import { type Chart, type LineSeries, type YScale, barChart, heatmap, lineChart } from '../io/svg.js';
import { TASKS } from '../tasks/registry.js';
import type { TaskReport } from '../tasks/task.js';
import type { BenchRow } from '../../compare/bench.js';
import type { CheckReport } from '../../compare/comparisons.js';
import { TOLERANCES } from '../tolerance.js';

export interface Run {
  dir: string;
  name: string;
  kind: 'train' | 'check' | 'bench';
  task?: string;
  info: Record<string, unknown>;
  metrics: Record<string, unknown>[];
  samples: Record<string, unknown>[];
  final?: Record<string, unknown>;
  check?: CheckReport & { engines: { name: string; detail: string }[] };
  bench?: { rows: BenchRow[]; baseline: string };
  plotData?: Record<string, unknown>;
}

export type { Chart } from '../io/svg.js';

/** What a run's task hands the report (src/tasks/task.ts, TaskReport). */
const taskReport = (r: Run): TaskReport | undefined => (r.kind === 'train' ? TASKS.find((t) => t.name === r.task)?.report : undefined);

/** The plot-data.json a task writes, by the kind the file names. */
const plotDataOf = (kind: unknown): NonNullable<TaskReport['plotData']> | undefined => TASKS.map((t) => t.report?.plotData).find((p) => p !== undefined && p.kind === kind);

function readJson(path: string): Record<string, unknown> {
  const v = readJsonInput(path);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** The runs of a directory: the run itself, or every run of a sweep (series --window 5,10,20). */
export function loadRuns(dir: string): Run[] {
  const sweep = existsSync(dir) ? readSweep(dir) : null;
  if (sweep) return sweep.runs.map((r) => loadRun(join(dir, r.folder)));
  return [loadRun(dir)];
}

export function loadRun(dir: string): Run {
  const runJson = join(dir, 'run.json');
  if (!existsSync(dir)) throw new InputError(`${dir}: no such run directory`);
  if (!existsSync(runJson)) throw new InputError(`${dir}: not a run directory (no run.json)`);
  const info = readJson(runJson);
  const metrics = readJsonl(join(dir, 'metrics.jsonl'));
  const run: Run = {
    dir,
    name: basename(dir.replace(/\/+$/, '')),
    kind: info.kind === 'check' ? 'check' : info.kind === 'bench' ? 'bench' : 'train',
    task: typeof info.task === 'string' ? info.task : undefined,
    info,
    metrics,
    samples: readJsonl(join(dir, 'samples.jsonl')),
    final: [...metrics].reverse().find((m) => m.type === 'final'),
  };
  // every file checked like user input before a chart reads it
  const file = (name: string): string => join(dir, name);
  if (run.final && run.kind === 'train') {
    expectShape(run.final, TRAIN_FINAL, file('metrics.jsonl'), 'the final record');
    const own = taskReport(run)?.finalSchema;
    if (own && run.final.test !== undefined) expectShape(own.at ? run.final[own.at] : run.final, own.schema, file('metrics.jsonl'), own.what);
  }
  if (run.kind === 'check' && existsSync(file('check.json'))) {
    run.check = readJson(file('check.json')) as unknown as Run['check'];
    expectShape(run.check, CHECK_JSON, file('check.json'), 'check');
  }
  if (run.kind === 'bench' && existsSync(file('bench.json'))) {
    run.bench = readJson(file('bench.json')) as unknown as Run['bench'];
    expectShape(run.bench, BENCH_JSON, file('bench.json'), 'bench');
  }
  if (existsSync(file('plot-data.json'))) {
    run.plotData = readJson(file('plot-data.json'));
    const own = plotDataOf(run.plotData.kind);
    if (own) expectShape(run.plotData, own.schema, file('plot-data.json'), 'plot data');
  }
  return run;
}

function engineNames(runs: Run[]): string[] {
  return [...new Set(runs.flatMap((r) => r.metrics.filter((m) => m.type === 'step').flatMap((m) => Object.keys((m.loss as Record<string, number>) ?? {}))))];
}

/** Loss curves of the training runs, one set of charts per task (runs of a task overlaid). */
function lossCharts(runs: Run[], yScale: YScale): Chart[] {
  const tasks = [...new Set(runs.filter((r) => r.kind === 'train').map((r) => r.task ?? 'text'))];
  return tasks.flatMap((t) => lossChartsOf(runs.filter((r) => r.kind === 'train' && (r.task ?? 'text') === t), t, tasks.length > 1, yScale));
}

const fmtLimit = TOLERANCES.trajectory.limit.toExponential(0);

/** Two loss curves that agree at every common step to the trajectory tolerance of check (drawn one over the other). */
function coincide(a: [number, number][], b: [number, number][]): boolean {
  const ref = new Map(b);
  let n = 0;
  for (const [x, y] of a) {
    const r = ref.get(x);
    if (r === undefined) continue;
    n++;
    if (!(Math.abs(y - r) / Math.max(Math.abs(r), 1e-3) <= TOLERANCES.trajectory.limit)) return false;
  }
  return n > 0;
}

/**
 * A curve drawn exactly over the first engine's says so in its name and is drawn first (under it),
 * or the eye sees one line where the legend names two.
 */
function underFirst(name: string, points: [number, number][], first: { label: string; points: [number, number][] } | null): { name: string; under: boolean } {
  const under = first !== null && coincide(points, first.points);
  return { name: under ? `${name}, under ${first.label}: within ${fmtLimit}` : name, under };
}

/** Loss against steps and against wall time, training and validation, every engine of every run. */
function lossChartsOf(train: Run[], task: string, suffix: boolean, yScale: YScale): Chart[] {
  const id = (base: string): string => (suffix ? `${base}-${task}` : base);
  const label = (r: Run, e: string): string => (train.length > 1 ? `${r.name} ${e}` : e);
  const steps: LineSeries[] = [];
  const time: LineSeries[] = [];
  const val: LineSeries[] = [];
  for (const r of train) {
    const st = r.metrics.filter((m) => m.type === 'step');
    const engines = engineNames([r]);
    const lossOf = (e: string): [number, number][] => st.filter((m) => (m.loss as Record<string, number>)[e] !== undefined).map((m) => [m.step as number, (m.loss as Record<string, number>)[e]]);
    for (const e of engines) {
      const pts = st.filter((m) => (m.loss as Record<string, number>)[e] !== undefined);
      const first = e === engines[0] ? null : { label: engines[0], points: lossOf(engines[0]) };
      steps.push({ ...underFirst(`${label(r, e)} (train)`, lossOf(e), first), points: lossOf(e) });
      // each engine's own time in training steps, carried across resumes (runs from before trainSeconds: mean step time x steps)
      const secs = (m: Record<string, unknown>): number =>
        (m.trainSeconds as Record<string, number> | undefined)?.[e] ?? (((m.msPerStep as Record<string, number>)?.[e] ?? 0) * (m.step as number)) / 1000;
      time.push({ name: label(r, e), points: pts.map((m) => [secs(m), (m.loss as Record<string, number>)[e]]) });
      const v = r.metrics.filter((m) => m.type === 'val' && m.engine === e && typeof m.valLoss === 'number');
      const valOf = (x: string): [number, number][] => r.metrics.filter((m) => m.type === 'val' && m.engine === x && typeof m.valLoss === 'number').map((m) => [m.step as number, m.valLoss as number]);
      const vFirst = e === engines[0] ? null : { label: engines[0], points: valOf(engines[0]) };
      if (v.length) val.push({ ...underFirst(`${label(r, e)} (validation)`, valOf(e), vFirst), points: valOf(e), dashed: true, markers: true });
    }
  }
  const charts: Chart[] = [
    { id: id('loss-steps'), title: `${task}: loss against steps`, svg: lineChart({ title: `${task}: loss against steps (solid: training, dashed with points: validation)`, xLabel: 'step', yLabel: 'loss', series: [...steps, ...val], logY: yScale }), series: steps.length + val.length },
    { id: id('loss-time'), title: `${task}: loss against wall time`, svg: lineChart({ title: `${task}: training loss against each engine's time`, xLabel: 'seconds spent in training steps', yLabel: 'loss', series: time, logY: yScale }), series: time.length },
  ];
  const diff = train.flatMap((r) => {
    const pts = r.metrics.filter((m) => m.type === 'step' && typeof m.maxParamDiff === 'number').map((m) => [m.step as number, m.maxParamDiff as number] as [number, number]);
    return pts.length ? [{ name: `${r.name}: tfjs vs scratch`, points: pts }] : [];
  });
  if (diff.length) {
    charts.push({ id: id('param-diff'), title: `${task}: parameter difference`, svg: lineChart({ title: `${task}: largest parameter difference between the engines (max rel err)`, xLabel: 'step', yLabel: 'max rel err', series: diff, logY: true }), series: diff.length });
  }
  return charts;
}

/** The charts a run's task draws: of its plot-data.json (forecasts, attention), and of its final record (a confusion matrix). */
function taskCharts(r: Run): Chart[] {
  const fromPlot = r.plotData ? (plotDataOf(r.plotData.kind)?.charts(r.name, r.plotData) ?? []) : [];
  const fromFinal = r.final ? (taskReport(r)?.finalCharts?.(r.name, r.final) ?? []) : [];
  return [...fromPlot, ...fromFinal];
}

function checkCharts(r: Run): Chart[] {
  const c = r.check;
  if (!c) return [];
  const charts: Chart[] = [];
  const gates = [...new Set(c.gradients.flatMap((g) => Object.keys(g.perGate ?? {})))];
  const rows = c.gradients.map((g) => `${g.what} (${g.engine})`);
  const cols = gates.length ? [...gates, 'all'] : ['all'];
  const values = c.gradients.map((g) => cols.map((k) => (k === 'all' ? g.maxRelError : (g.perGate?.[k] ?? null))));
  charts.push({
    id: `grad-errors-${r.name}`,
    title: 'gradient error per parameter and gate',
    svg: heatmap({ title: `${r.name}: gradient max rel err per parameter and gate (against ${c.reference})`, rows, cols, values, log: true, format: (v) => v.toExponential(0) }),
    series: rows.length,
  });
  if (c.perStep?.length) {
    const engines = Object.keys(c.perStep[0].errors);
    const layers = [...new Set(c.perStep.map((p) => p.layer))];
    const series: LineSeries[] = engines.flatMap((e) =>
      layers.map((l) => ({ name: `${e}, layer ${l}`, points: c.perStep!.filter((p) => p.layer === l).map((p) => [p.t, Math.max(p.errors[e], 1e-12)] as [number, number]) })),
    );
    charts.push({ id: `per-step-${r.name}`, title: 'gradient error per time step', svg: lineChart({ title: `${r.name}: dLoss/dh_t error per time step (against ${c.reference})`, xLabel: 'time step t', yLabel: 'max rel err', series, logY: true }), series: series.length });
  }
  const steps = c.trajectory.steps;
  if (steps.length) {
    const names = Object.keys(steps[0].loss);
    const lossOf = (n: string): [number, number][] => steps.map((s) => [s.step, s.loss[n]]);
    const series: LineSeries[] = names.map((n, i) => ({ ...underFirst(n, lossOf(n), i === 0 ? null : { label: names[0], points: lossOf(names[0]) }), points: lossOf(n) }));
    charts.push({ id: `lockstep-${r.name}`, title: 'lockstep losses', svg: lineChart({ title: `${r.name}: loss in lockstep training`, xLabel: 'step', yLabel: 'loss', series }), series: series.length });
  }
  return charts;
}

/** Grouped bars of the median training-step time, labelled with the ratio to the baseline. */
export function benchChartSvg(rows: BenchRow[], baseline: string): string {
  const key = (x: BenchRow): string => `${x.engine}${x.engine === 'scratch' ? ` x${x.threads}` : ''}`;
  const group = (x: BenchRow): string => `${x.cell} H${x.hidden} B${x.batch}`;
  const groups = [...new Set(rows.map(group))];
  const names = [...new Set(rows.map(key))];
  const pick = (g: string, n: string): BenchRow | undefined => rows.find((x) => group(x) === g && key(x) === n);
  return barChart({
    title: `training step time (median ms, log scale); labels: times faster than ${baseline}`,
    yLabel: 'ms per training step',
    groups,
    logY: true,
    series: names.map((n) => ({
      name: n,
      values: groups.map((g) => pick(g, n)?.trainStepMs.median ?? null),
      labels: groups.map((g) => {
        const x = pick(g, n);
        return x?.ratio ? `${x.ratio >= 10 ? x.ratio.toFixed(0) : x.ratio.toFixed(1)}x` : null;
      }),
    })),
  });
}

function benchCharts(r: Run): Chart[] {
  const b = r.bench;
  if (!b) return [];
  const names = new Set(b.rows.map((x) => `${x.engine}${x.engine === 'scratch' ? ` x${x.threads}` : ''}`));
  return [{ id: `bench-${r.name}`, title: 'training step time', svg: benchChartSvg(b.rows, b.baseline), series: names.size }];
}

/** Every chart the runs support, loss curves overlaid across runs; yScale of the loss curves ('auto': log when they span two decades). */
export function chartsFor(runs: Run[], o: { yScale?: YScale } = {}): Chart[] {
  return [...lossCharts(runs, o.yScale ?? 'auto'), ...runs.flatMap((r) => [...taskCharts(r), ...checkCharts(r), ...benchCharts(r)])];
}
