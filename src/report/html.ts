/**
 * One self-contained HTML file for one or more runs: settings, results tables, the charts (inline
 * SVG), the samples at each breakpoint. No scripts, no external styles or fonts: it opens offline.
 */
import type { ClassMetrics } from '../tasks/classify.js';
import { FORECASTER_NAMES, type ForecastMetrics, type Forecaster } from '../tasks/series.js';
import { duration, plural } from './table.js';
import { VERSION } from '../version.js';
import { type Chart, type Run, chartsFor } from './plots.js';

const esc = (s: unknown): string => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function table(headers: string[], rows: unknown[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** Numbers as people read them: 4 significant digits (errors in exponent form), never a float's tail. */
function fmt(x: unknown): string {
  if (typeof x !== 'number') return x === undefined || x === null ? '' : String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return a >= 1000 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toPrecision(4)));
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const ratio = (x: number): string => `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`;

function settings(r: Run): string {
  const i = r.info;
  const rows: [string, unknown][] = [
    ['command', i.command],
    ['kind', r.kind === 'train' ? `train (${r.task})` : r.kind],
    ['spec', i.spec ? JSON.stringify(i.spec) : ''],
    ['parameters', i.parameters],
    ['optimizer', i.optimizer ? JSON.stringify(i.optimizer) : ''],
    ['engines', Array.isArray(i.engines) ? (i.engines as unknown[]).map((e) => (typeof e === 'string' ? e : `${(e as { name: string }).name}: ${(e as { detail: string }).detail}`)).join('; ') : ''],
    ['backend', i.backend],
    ['seed', i.seed],
    ['versions', i.versions ? JSON.stringify(i.versions) : ''],
    ['machine', i.machine ? JSON.stringify(i.machine) : ''],
    ['started', i.startedAt],
  ];
  return table(['setting', 'value'], rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, v]));
}

function results(r: Run): string {
  const f = r.final;
  let html = '';
  if (r.kind === 'train' && f) {
    const loss = f.loss as Record<string, number>;
    const ms = f.msPerStep as Record<string, number>;
    html += table(
      ['engine', 'last loss', 'ms per step', ...Object.keys(Object.values((f.validation as Record<string, Record<string, number>>) ?? {})[0] ?? {})],
      Object.keys(loss).map((e) => [e, fmt(loss[e]), fmt(ms[e]), ...Object.values((f.validation as Record<string, Record<string, number>>)?.[e] ?? {}).map(fmt)]),
    );
    html += `<p>${esc(plural(f.steps as number, 'step'))}, ${esc(plural(f.epochs as number, 'epoch'))}, ${esc(duration(f.elapsedSeconds as number))}${typeof f.maxParamDiff === 'number' ? `; largest parameter difference between the engines ${fmt(f.maxParamDiff)}` : ''}.</p>`;
    if (r.task === 'series' && f.test) {
      const t = f.test as Record<string, ForecastMetrics>;
      html += `<h4>test errors (${esc(f.testWindows)} windows, ${esc(f.horizon)} steps ahead${f.unit ? `, ${esc(f.unit)}` : ''})</h4>`;
      const name = (k: string): string => FORECASTER_NAMES[k as Forecaster] ?? k;
      html += table(['forecaster', 'MAE', 'RMSE', 'MAPE'], Object.entries(t).map(([k, m]) => [name(k), fmt(m.mae), fmt(m.rmse), `${m.mape.toFixed(1)}%`]));
      html += `<p class="${f.beatsBaselines ? 'ok' : 'warn'}">${f.beatsBaselines ? 'The model beats every baseline.' : `The model does not beat: ${esc((f.notBeaten as string[]).map(name).join(', '))}.`}</p>`;
    }
    if (r.task === 'classify' && f.test) {
      const t = f.test as ClassMetrics;
      html += `<p>test accuracy ${pct(t.accuracy)} on ${t.n} sequences; majority-class baseline ("${esc(t.majorityClass)}") ${pct(t.baselineAccuracy)}.</p>`;
      html += table(['class', 'precision', 'recall', 'F1', 'support'], t.perClass.map((c) => [c.label, fmt(c.precision), fmt(c.recall), fmt(c.f1), c.support]));
    }
  }
  if (r.kind === 'check' && r.check) {
    const c = r.check;
    html += `<p class="${c.pass ? 'ok' : 'warn'}">verdict: ${c.pass ? 'PASS' : `FAIL (${c.failures.length} comparisons outside the tolerance policy)`}</p>`;
    html += table(
      ['what', 'engine', 'against', 'max abs err', 'max rel err', 'cosine', 'worst gate', 'limit', 'verdict'],
      [...c.forward, ...c.loss.comparisons, ...c.gradients, ...c.final].map((x) => [x.what, x.engine, x.against, fmt(x.maxAbsError), fmt(x.maxRelError), fmt(x.cosine), x.worst?.gate ?? '', fmt(x.limit), x.pass ? 'ok' : 'FAIL']),
    );
  }
  if (r.kind === 'bench' && r.bench) {
    html += table(
      ['cell', 'H', 'B', 'engine', 'threads', 'train ms (median)', 'p10', 'p90', 'forward ms', 'tokens/s', 'ratio'],
      r.bench.rows.map((x) => [x.cell, x.hidden, x.batch, x.engine, x.threads, fmt(x.trainStepMs.median), fmt(x.trainStepMs.p10), fmt(x.trainStepMs.p90), fmt(x.forwardMs.median), Math.round(x.tokensPerSecond).toLocaleString('en-US'), x.ratio === null ? '' : ratio(x.ratio)]),
    );
  }
  return html;
}

function samples(r: Run): string {
  if (!r.samples.length) return '';
  return (
    `<h3>samples</h3>` +
    r.samples
      .map((s) => `<div class="sample"><div class="meta">step ${esc(s.step)}, ${esc(s.engine)}, temperature ${esc(s.temperature)}</div><pre>${esc(String(s.prime ?? '') + String(s.text ?? ''))}</pre></div>`)
      .join('')
  );
}

function figure(c: Chart): string {
  return `<figure class="chart-box" data-chart-id="${esc(c.id)}" data-expected-series="${c.series}">${c.svg}<figcaption>${esc(c.title)}</figcaption></figure>`;
}

export function reportHtml(runs: Run[]): { html: string; charts: Chart[] } {
  const charts = chartsFor(runs);
  const shared = charts.filter((c) => /^(loss-steps|loss-time|param-diff)/.test(c.id));
  const own = (r: Run): Chart[] => charts.filter((c) => c.id.endsWith(`-${r.name}`));
  const style = `
    body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
    h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 32px; }
    table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
    th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; word-break: break-word; max-width: 640px; }
    th { background: #f5f5f5; }
    figure { margin: 12px 0; } figcaption { font-size: 12px; color: #666; }
    .sample pre { background: #f8f8f8; padding: 8px; white-space: pre-wrap; font-size: 12px; }
    .meta { font-size: 12px; color: #666; } .ok { color: #1a7f37; } .warn { color: #b35900; font-weight: 600; }
    svg { max-width: 100%; height: auto; }`;
  const body =
    `<h1>rnnlab report</h1><p class="meta">${runs.length} run${runs.length > 1 ? 's' : ''}: ${runs.map((r) => esc(r.dir)).join(', ')}; made by rnnlab ${esc(VERSION)} on ${esc(new Date().toISOString())}</p>` +
    (shared.length ? `<h2>training curves</h2>${shared.map(figure).join('')}` : '') +
    runs
      .map((r) => `<section class="run"><h2>${esc(r.name)}</h2><h3>settings</h3>${settings(r)}<h3>results</h3>${results(r)}${own(r).map(figure).join('')}${samples(r)}</section>`)
      .join('');
  return { html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rnnlab report</title><style>${style}</style></head><body>${body}</body></html>\n`, charts };
}
