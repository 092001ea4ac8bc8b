/** `rnnlab plot` (SVG, and PNG where rsvg-convert is installed) and `rnnlab report` (one HTML file). */
import { checkOutputFile } from '../io/files.js';
import { checkReplaceable } from '../io/run-folder.js';
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { reportHtml } from '../report/html.js';
import { type Chart, chartsFor, loadRuns } from '../report/plots.js';
import { checkpointStateCharts, runStateCharts } from '../report/states.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { resolveCheckpoint, runDirOf } from '../io/run-dir.js';
import type { IO } from '../io/output.js';
import { choice } from '../io/args.js';
import type { YScale } from '../io/svg.js';

function hasRsvg(): boolean {
  const r = spawnSync('rsvg-convert', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** --units 3,17: unit numbers, each a non-negative integer. */
function unitList(v: string): number[] {
  const parts = v.split(',').map((x) => x.trim());
  if (parts.some((x) => !/^\d+$/.test(x))) throw new InputError(`--units takes unit numbers separated by commas, e.g. 3,17 (got "${v}")`);
  return parts.map(Number);
}

export function registerPlot(program: Command, io: IO): void {
  program
    .command('plot')
    .description('plot runs: loss curves (training and validation, against steps and wall time), check errors, bench timings, forecasts, confusion matrices; or a model\'s hidden states (--states)')
    .argument('[runs...]', 'run directories (train, check or bench runs, or a sweep: its runs); loss curves of several runs are overlaid')
    .option('--states <checkpoint>', 'instead of runs: the hidden states of this checkpoint (or run directory) over one input, every unit over time, and for text the input coloured by unit activations')
    .option('--text <text>', '--states of a text or classification model: the text it reads')
    .option('--csv <file>', '--states of a forecasting model: read the last window of this CSV (default: the data it was trained on)')
    .option('--units <list>', '--states of a text model: the units whose activation colours the text (default: the 4 most active)', unitList)
    .option('-o, --out <dir>', 'where to write the plots (default: <first run>/plots; with --states: <the checkpoint\'s run>/plots)')
    .option('--no-png', 'SVG only (PNG needs rsvg-convert, from Debian librsvg2-bin)')
    .addOption(choice('--y-scale <s>', 'loss curves: auto (log when they span two decades), linear or log', ['auto', 'linear', 'log'], 'auto'))
    .option('--json', 'print one JSON object with the files written')
    .addHelpText('after', '\nExamples:\n  rnnlab plot runs/moby runs/co2 -o plots/\n  rnnlab plot --states runs/moby --text "Call me Ishmael. Some years ago" --units 3,17')
    .action(async (dirs: string[], f: { out?: string; png: boolean; yScale: YScale; json?: boolean; states?: string; text?: string; csv?: string; units?: number[] }) => {
      if (f.out !== undefined && existsSync(f.out) && !statSync(f.out).isDirectory()) throw new InputError(`${f.out}: is a file; -o names the directory for the plots`);
      let charts: Chart[];
      let out: string;
      if (f.states !== undefined) {
        if (dirs.length) throw new InputError('--states plots one checkpoint; give it without run directories');
        const ck = readCheckpoint(resolveCheckpoint(f.states, (l) => io.err(`rnnlab: ${l}`)));
        charts = await checkpointStateCharts(ck, { text: f.text, csv: f.csv, units: f.units, note: (l) => io.err(`rnnlab: note: ${l}`) });
        // beside the run's other plots (<run>/plots), as for run directories
        out = f.out ?? join(runDirOf(ck.dir) ?? ck.dir, 'plots');
      } else {
        if (!dirs.length) throw new InputError('give the run directories to plot (or --states CHECKPOINT)');
        for (const flag of ['text', 'csv', 'units'] as const) if (f[flag] !== undefined) throw new InputError(`--${flag} belongs to --states`);
        const runs = dirs.flatMap(loadRuns);
        out = f.out ?? join(dirs[0], 'plots');
        charts = chartsFor(runs, { yScale: f.yScale });
      }
      const png = f.png && hasRsvg();
      // a chart replaces only a chart rnnlab drew; checked for every file before any is written
      for (const c of charts) {
        checkReplaceable(join(out, `${c.id}.svg`), '-o', 'chart');
        if (png) checkReplaceable(join(out, `${c.id}.png`), '-o', 'png');
      }
      const files: string[] = [];
      for (const c of charts) {
        const svg = join(out, `${c.id}.svg`);
        writeFileAtomic(svg, c.svg);
        files.push(svg);
        if (png) {
          const p = join(out, `${c.id}.png`);
          const r = spawnSync('rsvg-convert', ['-b', 'white', '-o', p, svg]);
          if (r.status === 0) files.push(p);
        }
      }
      if (f.json) {
        io.out(JSON.stringify({ files, charts: charts.map((c) => ({ id: c.id, title: c.title, series: c.series })) }));
        return;
      }
      if (!charts.length) io.out('nothing to plot in these runs');
      for (const file of files) io.out(`wrote ${file}`);
      if (f.png && !png) io.out('(no PNG: rsvg-convert is not installed; apt-get install librsvg2-bin)');
    });

  program
    .command('report')
    .description('one self-contained HTML file for runs: a summary card per run, charts, hidden states of text and series models, samples, settings (opens offline)')
    .argument('<runs...>', 'run directories')
    .option('-o, --out <file>', 'the HTML file to write', 'report.html')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  rnnlab report runs/text-20261122-101500 runs/check-20261122-110000 -o report.html')
    .action(async (dirs: string[], f: { out: string; json?: boolean }) => {
      checkOutputFile(f.out, '-o', dirs.map((d) => join(d, 'run.json')), 'report.html');
      checkReplaceable(f.out, '-o', 'report');
      const runs = dirs.flatMap(loadRuns);
      const states: Record<string, Chart[]> = {};
      for (const r of runs) {
        const views = await runStateCharts(r);
        if (views.length) states[r.name] = views;
      }
      const { html, charts } = reportHtml(runs, { states });
      writeFileAtomic(f.out, html);
      if (f.json) io.out(JSON.stringify({ file: f.out, runs: dirs, charts: charts.map((c) => ({ id: c.id, series: c.series })) }));
      else io.out(`wrote ${f.out} (${runs.length} run${runs.length > 1 ? 's' : ''}, ${charts.length} charts, ${(html.length / 1024).toFixed(0)} KiB)`);
    });
}
