/** `rnnlab plot` (SVG, and PNG where rsvg-convert is installed) and `rnnlab report` (one HTML file). */
import { checkOutputFile } from '../io/files.js';
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { reportHtml } from '../report/html.js';
import { chartsFor, loadRuns } from '../report/plots.js';
import type { IO } from './io.js';
import { choice } from './options.js';
import type { YScale } from '../report/svg.js';

function hasRsvg(): boolean {
  const r = spawnSync('rsvg-convert', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export function registerPlot(program: Command, io: IO): void {
  program
    .command('plot')
    .description('plot runs: loss curves (training and validation, against steps and wall time), check errors, bench timings, forecasts, confusion matrices')
    .argument('<runs...>', 'run directories (train, check or bench runs, or a sweep: its runs); loss curves of several runs are overlaid')
    .option('-o, --out <dir>', 'where to write the plots (default: <first run>/plots)')
    .option('--no-png', 'SVG only (PNG needs rsvg-convert, from Debian librsvg2-bin)')
    .addOption(choice('--y-scale <s>', 'loss curves: auto (log when they span two decades), linear or log', ['auto', 'linear', 'log'], 'auto'))
    .option('--json', 'print one JSON object with the files written')
    .addHelpText('after', '\nExample:\n  rnnlab plot runs/text-20261122-101500 runs/text-20261122-103000 -o plots/')
    .action((dirs: string[], f: { out?: string; png: boolean; yScale: YScale; json?: boolean }) => {
      if (f.out !== undefined && existsSync(f.out) && !statSync(f.out).isDirectory()) throw new InputError(`${f.out}: is a file; -o names the directory for the plots`);
      const runs = dirs.flatMap(loadRuns);
      const out = f.out ?? join(dirs[0], 'plots');
      const charts = chartsFor(runs, { yScale: f.yScale });
      const png = f.png && hasRsvg();
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
    .description('one self-contained HTML file for runs: settings, tables, charts, samples (opens offline)')
    .argument('<runs...>', 'run directories')
    .option('-o, --out <file>', 'the HTML file to write', 'report.html')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  rnnlab report runs/text-20261122-101500 runs/check-20261122-110000 -o report.html')
    .action((dirs: string[], f: { out: string; json?: boolean }) => {
      checkOutputFile(f.out, '-o', dirs.map((d) => join(d, 'run.json')), 'report.html');
      const runs = dirs.flatMap(loadRuns);
      const { html, charts } = reportHtml(runs);
      writeFileAtomic(f.out, html);
      if (f.json) io.out(JSON.stringify({ file: f.out, runs: dirs, charts: charts.map((c) => ({ id: c.id, series: c.series })) }));
      else io.out(`wrote ${f.out} (${runs.length} run${runs.length > 1 ? 's' : ''}, ${charts.length} charts, ${(html.length / 1024).toFixed(0)} KiB)`);
    });
}
