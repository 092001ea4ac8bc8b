/**
 * One self-contained HTML file for one or more runs: settings, results tables, the charts (inline
 * SVG), the samples at each breakpoint. No scripts, no external styles or fonts: it opens offline.
 */
import type { Chart } from '../io/svg.js';
import { duration, plural, readable as fmt } from '../io/table.js';
import { TASKS } from '../tasks/registry.js';
import type { TaskReport, View } from '../tasks/task.js';
import { VERSION } from '../version.js';
import { type Run, chartsFor } from './plots.js';

const esc = (s: unknown): string => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Text between tags: quotes need no escaping there. */
const escText = (s: unknown): string => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** What the run's task hands the report (its card, its results), from the task registry. */
const taskReport = (r: Run): TaskReport | undefined => (r.kind === 'train' ? TASKS.find((t) => t.name === r.task)?.report : undefined);

function table(headers: string[], rows: unknown[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const ratio = (x: number): string => `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`;

/** An object as a two-column table (nested objects as "a.b"), for settings people read. */
function kvTable(title: string, o: unknown): string {
  if (!o || typeof o !== 'object') return '';
  const rows: [string, string][] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
    else if (v !== undefined && v !== null && v !== '') rows.push([prefix, Array.isArray(v) ? v.join(', ') : typeof v === 'number' ? fmt(v) : String(v)]);
  };
  walk('', o);
  return rows.length ? `<div class="kv"><h4>${esc(title)}</h4>${table(['', ''], rows).replace('<thead><tr><th></th><th></th></tr></thead>', '')}</div>` : '';
}

function settings(r: Run): string {
  const i = r.info;
  const rows: [string, unknown][] = [
    ['command', i.command],
    ['kind', r.kind === 'train' ? `train (${r.task})` : r.kind],
    ['parameters', typeof i.parameters === 'number' ? i.parameters.toLocaleString('en-US') : i.parameters],
    ['engines', Array.isArray(i.engineDetails) ? (i.engineDetails as string[]).join('; ') : Array.isArray(i.engines) ? (i.engines as unknown[]).map((e) => (typeof e === 'string' ? e : `${(e as { name: string }).name}: ${(e as { detail: string }).detail}`)).join('; ') : ''],
    ['backend', i.backend],
    ['seed', i.seed],
    ['started', i.startedAt],
  ];
  const main = table(['setting', 'value'], rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, v]));
  return `<div class="settings">${main}${kvTable('model', i.spec)}${kvTable('optimizer', i.optimizer)}${kvTable('versions', i.versions)}${kvTable('machine', i.machine)}</div>`;
}

/** The card at the top of a run: its verdict, final losses, the task metric against its baseline, time per step and the ratio. */
function summaryCard(r: Run): string {
  const f = r.final;
  let verdict = '';
  let ok = true;
  const lines: string[] = [];
  let rows = '';
  if (r.kind === 'train' && !f) {
    ok = false;
    verdict = 'no final record: the run stopped before it finished (resume it with rnnlab train --resume)';
  }
  if (r.kind === 'train' && f) {
    const loss = (f.loss ?? {}) as Record<string, number>;
    const ms = (f.msPerStep ?? {}) as Record<string, number>;
    const val = (f.validation ?? {}) as Record<string, Record<string, number>>;
    const engines = Object.keys(loss);
    rows = table(['engine', 'train loss', 'validation loss', 'ms / step'], engines.map((e) => [e, fmt(loss[e]), fmt(val[e]?.valLoss), fmt(ms[e])]));
    if (engines.length > 1) {
      const byTime = [...engines].sort((a, b) => ms[a] - ms[b]);
      lines.push(`${byTime[0]} ${ratio(ms[byTime[byTime.length - 1]] / ms[byTime[0]])} faster per step than ${byTime[byTime.length - 1]}`);
      const d = f.paramDiff as { max: number; driftStep: number | null; limit: number } | undefined;
      if (d) {
        ok = d.driftStep === null;
        verdict = ok ? `engines agree (parameters within ${d.limit.toExponential(0)}; largest difference ${fmt(d.max)})` : `engines part ways from step ${d.driftStep} (largest parameter difference ${fmt(d.max)})`;
      }
    }
    // the task's line on its result against its baseline, first
    const card = taskReport(r)?.card?.(f, r.info);
    if (card) {
      ok &&= card.ok;
      if (card.line) lines.unshift(card.line);
    }
    lines.push(`${plural(f.steps as number, 'step')}, ${plural(f.epochs as number, 'epoch')} in ${duration(f.elapsedSeconds as number)}`);
    verdict ||= lines[0] ?? '';
  } else if (r.kind === 'check' && r.check) {
    const c = r.check;
    ok = c.pass;
    const n = c.forward.length + c.loss.comparisons.length + c.gradients.length + c.final.length;
    verdict = c.pass ? `PASS: ${plural(n, 'comparison')} within the tolerance policy` : `FAIL: ${c.failures.length} of ${plural(n, 'comparison')} outside the tolerance policy`;
    const names = (c.engines as unknown[]).map((e) => (typeof e === 'string' ? e : (e as { name: string }).name)).filter((n) => n !== c.reference);
    lines.push(`${names.join(', ')} against ${c.reference}`);
  } else if (r.kind === 'bench' && r.bench) {
    const b = r.bench;
    const configs = new Set(b.rows.map((x) => `${x.cell}/${x.hidden}/${x.batch}`)).size;
    verdict = `${plural(configs, 'configuration')}, ${plural(new Set(b.rows.map((x) => x.engine)).size, 'engine')}; ratios against ${b.baseline}`;
    const best = [...b.rows].filter((x) => x.engine !== b.baseline && x.ratio !== null).sort((a, c) => (c.ratio ?? 0) - (a.ratio ?? 0))[0];
    if (best) lines.push(`fastest against ${b.baseline}: ${best.engine} x${best.threads} on ${best.cell} H${best.hidden} B${best.batch}, ${ratio(best.ratio!)}`);
  }
  return (
    `<div class="summary-card ${ok ? 'good' : 'bad'}"><div class="card-title">${esc(r.name)} <span class="meta">${esc(r.kind === 'train' ? `train ${r.task}` : r.kind)}</span></div>` +
    `<div class="verdict">${esc(verdict)}</div>${lines.filter((l) => l !== verdict).map((l) => `<div class="line">${esc(l)}</div>`).join('')}${rows}</div>`
  );
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
    html += (taskReport(r)?.results?.(f) ?? []).map(view).join('');
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

/** A block of a task's results. */
function view(v: View): string {
  if ('heading' in v) return `<h4>${escText(v.heading)}</h4>`;
  if ('table' in v) return table(v.table.headers, v.table.rows);
  return v.tone ? `<p class="${v.tone}">${escText(v.text)}</p>` : `<p>${escText(v.text)}</p>`;
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

const grid = (cs: Chart[]): string => (cs.length ? `<div class="charts">${cs.map(figure).join('')}</div>` : '');

/** The report; `states` adds each run's hidden-state charts (computed by the caller, which runs the model). */
export function reportHtml(runs: Run[], o: { states?: Record<string, Chart[]> } = {}): { html: string; charts: Chart[] } {
  const base = chartsFor(runs);
  const charts = [...base, ...Object.values(o.states ?? {}).flat()];
  const shared = base.filter((c) => /^(loss-steps|loss-time|param-diff)/.test(c.id));
  const own = (r: Run): Chart[] => base.filter((c) => c.id.endsWith(`-${r.name}`));
  const style = `
    body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1500px; color: #222; padding: 0 16px; }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
    .summary-card { border: 1px solid #ddd; border-left: 6px solid #1a7f37; border-radius: 6px; padding: 10px 14px; background: #fbfbfb; }
    .summary-card.bad { border-left-color: #b35900; }
    .summary-card .card-title { font-weight: 600; font-size: 15px; } .summary-card .verdict { font-weight: 600; margin: 6px 0; }
    .summary-card .line { font-size: 13px; margin: 2px 0; } .summary-card table { margin: 8px 0 0; }
    .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; align-items: start; }
    .settings { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; } .kv h4 { margin: 8px 0 0; font-size: 13px; }
    h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 32px; }
    table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
    th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; word-break: break-word; max-width: 640px; }
    th { background: #f5f5f5; }
    figure { margin: 12px 0; } figcaption { font-size: 12px; color: #666; }
    .sample pre { background: #f8f8f8; padding: 8px; white-space: pre-wrap; font-size: 12px; }
    .meta { font-size: 12px; color: #666; } .ok { color: #1a7f37; } .warn { color: #b35900; font-weight: 600; }
    figure svg { width: 100%; height: auto; }`;
  const body =
    `<h1>rnnlab report</h1><p class="meta">${plural(runs.length, 'run')}: ${runs.map((r) => esc(r.dir)).join(', ')}; made by rnnlab ${esc(VERSION)} on ${esc(new Date().toISOString())}</p>` +
    `<div class="cards">${runs.map(summaryCard).join('')}</div>` +
    (shared.length ? `<h2>training curves</h2>${grid(shared)}` : '') +
    runs
      .map((r) => {
        const states = o.states?.[r.name] ?? [];
        return `<section class="run"><h2>${esc(r.name)}</h2><h3>results</h3>${results(r)}${grid(own(r))}${states.length ? `<h3>hidden states</h3>${grid(states)}` : ''}${samples(r)}<h3>settings</h3>${settings(r)}</section>`;
      })
      .join('');
  return { html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="rnnlab ${esc(VERSION)}"><title>rnnlab report</title><style>${style}</style></head><body>${body}</body></html>\n`, charts };
}
