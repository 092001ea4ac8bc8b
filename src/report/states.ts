/**
 * Hidden-state views ("visualize hidden state dynamics"): run a checkpoint's model over one input,
 * one time step at a time with the state carried (any engine; the same numbers a whole-sequence
 * forward gives), and draw
 *   - a heat map of every hidden unit h (and the LSTM cell state c) of every layer over the steps;
 *   - for text, the input coloured by the activation of chosen units, the way character-level RNN
 *     visualisations show units that track quotes, line length or word boundaries.
 */
import { basename } from 'node:path';
import { carries } from '../cells.js';
import type { Engine, State } from '../engine.js';
import { referenceEngine } from '../engines/registry.js';
import { InputError } from '../errors.js';
import { type Checkpoint, readCheckpoint } from '../io/checkpoint.js';
import { resolveCheckpoint, runDirOf } from '../io/run-dir.js';
import { type Chart, extent, textOn, titleLines } from '../io/svg.js';
import { optimizerSpec } from '../optimizer.js';
import type { ModelSpec } from '../spec.js';
import { TASKS } from '../tasks/registry.js';
import type { StateInput, TaskStates } from '../tasks/task.js';
import type { Run } from './plots.js';

/** The states of one input: per layer, h (and c) as [T][H]; labels name the steps (characters, words, dates). */
export interface StateTrace {
  /** What was read, for titles: "text "Call me"" or "the last 24 rows of co2". */
  source: string;
  labels: string[];
  layers: { h: number[][]; c?: number[][] }[];
}

/** The task whose hidden-state views read this checkpoint (its data.json says which; a text model has none). */
function statesOf(ck: Checkpoint & { dir: string }): TaskStates {
  const t = TASKS.find((x) => x.report?.states?.owns(ck));
  if (!t?.report?.states) throw new InputError(`${ck.dir}: neither a text nor a classification checkpoint (no vocab.json or classify data.json)`);
  return t.report.states;
}

/** The model input of a checkpoint for a text (text and classification models) or the last window of a series. */
export function stateInput(ck: Checkpoint & { dir: string }, o: { text?: string; csv?: string; note?: (line: string) => void }): StateInput {
  if (ck.spec.bidirectional) throw new InputError(`${ck.dir}: the hidden-state views read a model one step at a time; a bidirectional model reads the whole sequence both ways, which they do not show yet`);
  return statesOf(ck).input(ck, o);
}

/** Runs the engine one step at a time with the state carried and records every layer's h (and c). */
export async function traceStates(engine: Engine, spec: ModelSpec, input: { x: Float32Array | Int32Array; labels: string[]; source: string }): Promise<StateTrace> {
  const T = input.labels.length;
  const F = spec.input === 'tokens' ? 1 : spec.inputSize;
  const withC = carries(spec).includes('c');
  const layers: StateTrace['layers'] = Array.from({ length: spec.layers }, () => (withC ? { h: [], c: [] } : { h: [] }));
  let state: State | undefined;
  for (let t = 0; t < T; t++) {
    const x = input.x.subarray(t * F, (t + 1) * F);
    const { finalState } = await engine.forward({ batchSize: 1, seqLen: 1, x, ...(state ? { initialState: state } : {}) });
    state = finalState;
    finalState.h.forEach((h, l) => layers[l].h.push(Array.from(h)));
    finalState.c?.forEach((c, l) => layers[l].c!.push(Array.from(c)));
  }
  return { source: input.source, labels: input.labels, layers };
}

/** The units whose activation varies most over the steps (the ones worth reading), most varied first. */
export function mostActiveUnits(h: number[][], n: number): number[] {
  const H = h[0]?.length ?? 0;
  const variance = Array.from({ length: H }, (_, j) => {
    const v = h.map((row) => row[j]);
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
  });
  return variance.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0]).slice(0, n).map(([, j]) => j);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A step's label as one visible glyph or short word: space, newline and tab shown as symbols. */
function glyph(s: string): string {
  return s.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥');
}

/** Diverging colour: blue for negative, white at 0, red for positive, full at |v| = m. */
function diverging(v: number, m: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v / (m || 1)));
  return t >= 0 ? [255, Math.round(255 * (1 - 0.8 * t)), Math.round(255 * (1 - 0.8 * t))] : [Math.round(255 * (1 + 0.8 * t)), Math.round(255 * (1 + 0.55 * t)), 255];
}

const rgb = (c: readonly number[]): string => `rgb(${c.join(',')})`;

/** A colour bar from -m to m, at (x, y). */
function colourBar(x: number, y: number, m: number, label: string): string {
  let s = '';
  for (let i = 0; i < 40; i++) s += `<rect x="${x + i * 4}" y="${y}" width="4" height="10" fill="${rgb(diverging(-m + (2 * m * i) / 39, m))}"/>`;
  s += `<text x="${x}" y="${y + 22}" font-size="10">${fmt(-m)}</text><text x="${x + 80}" y="${y + 22}" font-size="10" text-anchor="middle">0</text><text x="${x + 160}" y="${y + 22}" font-size="10" text-anchor="end">${fmt(m)}</text>`;
  return s + `<text x="${x + 170}" y="${y + 9}" font-size="11">${esc(label)}</text>`;
}

const fmt = (v: number): string => String(Number(v.toPrecision(2)));

/** The largest |x|. */
function maxAbs(xs: number[]): number {
  const [lo, hi] = extent(xs);
  return xs.length ? Math.max(-lo, hi) : 0;
}

/** Heat map of every unit (rows) over the steps (columns). values [T][H]. */
export function stateMapSvg(o: { title: string; labels: string[]; values: number[][]; what: string; tokens: boolean }): string {
  const T = o.values.length;
  const H = o.values[0]?.length ?? 0;
  const cw = Math.max(4, Math.min(16, Math.floor(760 / Math.max(1, T))));
  const ch = Math.max(3, Math.min(10, Math.floor(320 / Math.max(1, H))));
  const left = 56;
  const width = Math.max(480, left + T * cw + 24);
  const lines = titleLines(o.title, width);
  const top = 30 + 18 * lines.length;
  const showChars = o.tokens && cw >= 8;
  const height = top + H * ch + (showChars ? 26 : 20) + 50;
  const m = Math.max(1e-9, maxAbs(o.values.flat()));
  let s =
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="states" data-series="1" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    lines.map((l, i) => `<text class="title" x="${width / 2}" y="${20 + 18 * i}" text-anchor="middle" font-size="14" font-weight="600">${esc(l)}</text>`).join('');
  s += `<g class="series" data-name="${esc(o.what)}">`;
  const tips = T * H <= 4000; // a tooltip per cell while the file stays small
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < H; j++) {
      const cell = `<rect x="${left + t * cw}" y="${top + j * ch}" width="${cw}" height="${ch}" fill="${rgb(diverging(o.values[t][j], m))}"`;
      s += tips ? `${cell}><title>step ${t} (${esc(glyph(o.labels[t] ?? ''))}), unit ${j}: ${fmt(o.values[t][j])}</title></rect>` : `${cell}/>`;
    }
  }
  s += '</g>';
  // unit labels every few rows, step labels (the characters themselves when there is room)
  const every = Math.max(1, Math.ceil(H / 16));
  for (let j = 0; j < H; j += every) s += `<text x="${left - 4}" y="${top + j * ch + ch / 2 + 4}" text-anchor="end" font-size="10">${j}</text>`;
  s += `<text transform="translate(14 ${top + (H * ch) / 2}) rotate(-90)" text-anchor="middle">unit</text>`;
  const base = top + H * ch;
  if (showChars) {
    for (let t = 0; t < T; t++) s += `<text x="${left + t * cw + cw / 2}" y="${base + 13}" text-anchor="middle" font-family="monospace" font-size="${Math.min(12, cw)}">${esc(glyph(o.labels[t] ?? '').slice(0, Math.max(1, Math.floor(cw / 6))))}</text>`;
  } else {
    // sparse labels, whole (dates, row numbers; step numbers for long texts)
    const widest = o.tokens ? String(T).length : o.labels.reduce((w, l) => Math.max(w, l.length), 0);
    const stepEvery = Math.max(1, Math.ceil((widest * 7 + 12) / cw));
    for (let t = 0; t < T; t += stepEvery) s += `<text x="${left + t * cw + cw / 2}" y="${base + 13}" text-anchor="middle" font-size="10">${esc(o.tokens ? String(t) : (o.labels[t] ?? ''))}</text>`;
  }
  s += `<text x="${left + (T * cw) / 2}" y="${base + (showChars ? 26 : 24)}" text-anchor="middle">${showChars ? 'time step (the input read at it)' : o.tokens ? 'time step' : 'time step (row read)'}</text>`;
  s += colourBar(left, height - 34, m, o.what);
  return s + '</svg>';
}

/** The input text, once per unit, each token on a background coloured by that unit's activation. */
export function textActivationSvg(o: { title: string; labels: string[]; units: { unit: number; values: number[] }[]; what: string }): string {
  const perLine = 64;
  const cw = 10;
  const lh = 18;
  const left = 16;
  const width = Math.max(480, left * 2 + perLine * cw);
  const lines = titleLines(o.title, width);
  let y = 30 + 18 * lines.length;
  const m = Math.max(1e-9, maxAbs(o.units.flatMap((u) => u.values)));
  let body = '';
  for (const u of o.units) {
    body += `<g class="series" data-name="unit ${u.unit}"><text x="${left}" y="${y + 4}" font-weight="600">unit ${u.unit}</text>`;
    y += 10;
    // one glyph per character: words are spread over as many cells as they have characters
    const cells: { ch: string; v: number; br?: boolean }[] = [];
    o.labels.forEach((lab, t) => {
      const word = lab.length > 1 && cells.length > 0 && !/^[\s.,;:!?'")\]]/.test(lab) ? ' ' + lab : lab; // words read with spaces between them
      for (const ch of word.length ? word : ' ') cells.push(ch === '\n' ? { ch: '↵', v: u.values[t], br: true } : { ch: ch === '\t' ? '⇥' : ch, v: u.values[t] });
    });
    let col = perLine;
    for (let k = 0; k < cells.length; k++) {
      if (col >= perLine) {
        y += lh;
        col = 0;
      }
      const bg = diverging(cells[k].v, m);
      const fg = textOn(bg);
      body += `<rect x="${left + col * cw}" y="${y - lh + 4}" width="${cw}" height="${lh}" fill="${rgb(bg)}"/><text x="${left + col * cw + cw / 2}" y="${y}" text-anchor="middle" font-family="monospace" font-size="12" fill="${fg}" xml:space="preserve">${esc(cells[k].ch)}</text>`;
      col = cells[k].br ? perLine : col + 1;
    }
    body += '</g>';
    y += 22;
  }
  const height = y + 30;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="states-text" data-series="${o.units.length}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    lines.map((l, i) => `<text class="title" x="${width / 2}" y="${20 + 18 * i}" text-anchor="middle" font-size="14" font-weight="600">${esc(l)}</text>`).join('') +
    body +
    colourBar(left, height - 26, m, o.what) +
    '</svg>'
  );
}

/** Every hidden-state chart of a trace: h (and c) of each layer, and for text the chosen units of the top layer. */
export function stateCharts(trace: StateTrace, o: { name: string; units?: number[]; text: boolean }): Chart[] {
  const charts: Chart[] = [];
  trace.layers.forEach((L, l) => {
    charts.push({ id: `states-h-layer${l}-${o.name}`, title: `hidden state h, layer ${l}`, svg: stateMapSvg({ title: `${o.name}: hidden state h of layer ${l} reading ${trace.source}`, labels: trace.labels, values: L.h, what: `h, layer ${l}`, tokens: o.text }), series: 1 });
    if (L.c) charts.push({ id: `states-c-layer${l}-${o.name}`, title: `cell state c, layer ${l}`, svg: stateMapSvg({ title: `${o.name}: LSTM cell state c of layer ${l} reading ${trace.source}`, labels: trace.labels, values: L.c, what: `c, layer ${l}`, tokens: o.text }), series: 1 });
  });
  if (o.text) {
    const top = trace.layers[trace.layers.length - 1].h;
    const H = top[0].length;
    for (const u of o.units ?? []) if (!Number.isInteger(u) || u < 0 || u >= H) throw new InputError(`--units: unit ${u} does not exist (the layer has units 0..${H - 1})`);
    const units = o.units?.length ? o.units : mostActiveUnits(top, 4);
    charts.push({
      id: `states-text-${o.name}`,
      title: 'the input coloured by unit activations',
      svg: textActivationSvg({ title: `${o.name}: the input coloured by ${o.units?.length ? 'the chosen units' : `the ${units.length} most active units`} of layer ${trace.layers.length - 1}`, labels: trace.labels, units: units.map((unit) => ({ unit, values: top.map((row) => row[unit]) })), what: 'activation h' }),
      series: units.length,
    });
  }
  return charts;
}

/** The hidden-state charts of a checkpoint over a text, or over the last window of a series (its CSV, --csv, or the data it was trained on). */
export async function checkpointStateCharts(ck: Checkpoint & { dir: string }, o: { text?: string; csv?: string; units?: number[]; name?: string; note?: (line: string) => void }): Promise<Chart[]> {
  const text = statesOf(ck).text;
  if (o.csv !== undefined && text) throw new InputError(`--csv is for forecasting models; ${ck.dir} reads text: give --text`);
  if (o.units !== undefined && !text) throw new InputError('--units chooses the units that colour a text; a forecasting model reads no text (its views show every unit)');
  const input = stateInput(ck, { text: o.text, csv: o.csv, note: o.note });
  const engine = referenceEngine(ck.spec, { params: ck.params, optimizer: optimizerSpec('sgd') });
  try {
    const trace = await traceStates(engine, ck.spec, input);
    return stateCharts(trace, { name: o.name ?? basename(runDirOf(ck.dir) ?? ck.dir), units: o.units, text });
  } finally {
    engine.dispose();
  }
}

/**
 * The report's hidden-state views of a training run that holds a text or series checkpoint (its
 * newest): a text model reads the start of its last sample (the model's own text), a forecasting
 * model the last window of its data. Nothing for other runs, or when the data is gone.
 */
export async function runStateCharts(r: Run): Promise<Chart[]> {
  const states = r.kind === 'train' ? TASKS.find((t) => t.name === r.task)?.report?.states : undefined;
  if (!states?.runInput) return [];
  let dir: string;
  try {
    dir = resolveCheckpoint(r.dir);
  } catch {
    return [];
  }
  const ck = readCheckpoint(dir);
  const input = states.runInput(r.samples, ck);
  if (!input) return [];
  const { text } = input;
  try {
    return await checkpointStateCharts(ck, { text, name: r.name });
  } catch (e) {
    if (e instanceof InputError) return []; // a series whose CSV is gone: the report goes on without the view
    throw e;
  }
}
