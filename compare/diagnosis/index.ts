/**
 * The diagnosis of an engine that disagrees: where it first goes wrong (stage.ts), where in time
 * when it gives no per-step gradients (localise.ts), and which known mistake reproduces it: every
 * applicable variant of the catalogue (catalogue.ts) runs on the same weights and batch as the
 * float64 reference with that mistake planted, and those that reproduce the engine within its
 * dtype's limits are reported, best first (match.ts). The catalogue never changes the verdict; it
 * stops at a deadline (a few times the check's own time) and says so.
 */
import type { Precision } from '../../src/tolerance.js';
import type { Batch, Engine } from '../../src/engine.js';
import { type DiagnosisEngines, type Mistake, derivable, deriveResult, diagnosisEngines, mistakePlan } from '../../src/engines/registry.js';
import { type NamedParams, castParams } from '../../src/params.js';
import type { ModelSpec } from '../../src/spec.js';
import type { Diagnosis, MistakeMatch } from '../check-report.js';
import { CATALOGUE } from './catalogue.js';
import type { Entry, SearchContext } from './entry.js';
import { lengthWords, shortestFailingLength } from './localise.js';
import { type Computed, distance } from './match.js';
import { sci } from './stage.js';

export { CATALOGUE } from './catalogue.js';
export type { MistakeMatch } from '../check-report.js';
export { whereItGoesWrong, type StageEvidence, stepSlice } from './stage.js';


export interface DiagnoseInput {
  spec: ModelSpec;
  batch: Batch;
  /** The weights every engine started from. */
  initial: NamedParams;
  /** The engine under test (rerun on cut batches, from the initial weights). */
  engine: Engine;
  /** How the float64 reference and the mistakes are built (default: on the default float64 kernels). */
  variants?: DiagnosisEngines;
  dtype: Precision;
  /** What it computed at the initial weights. */
  computed: Computed;
  /** The gradients the check compares for it. */
  grads: readonly string[];
  /** It gives no per-step gradients: localise in time by rerunning on cut batches. */
  localise: boolean;
  referenceName: string;
  /** performance.now() after which the catalogue stops. */
  deadline: number;
  /** How the deadline was set, for the line that says the catalogue was cut short. */
  budget: string;
}

const same = (a: Mistake, b: Mistake): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Adds the time localisation and the catalogue's findings to a failing engine's diagnosis. */
export async function diagnose(d: Diagnosis, o: DiagnoseInput): Promise<void> {
  d.mistakes = [];
  if (d.stage === 'training') return;
  const t0 = performance.now();
  const { spec, batch } = o;
  const f64 = castParams(o.initial, 'F64');
  const variants = o.variants ?? diagnosisEngines();
  const reference = variants.reference(spec, f64);
  try {
    const wantDh = !!o.computed.dh;
    const refOut = await reference.forward(batch);
    const refG = await reference.lossAndGrads(batch, { stateGrads: wantDh });
    const ref: Computed = { output: refOut.output, loss: refG.loss, grads: refG.grads, ...(wantDh ? { dh: refG.dh } : {}) };
    const x: SearchContext = { spec, batch, engine: o.computed, reference: ref, grads: o.grads, dhStep: d.dhStep?.t };
    if (o.localise && !(d.stage === 'forward' && d.outputStep !== undefined)) {
      await o.engine.setParams(o.initial);
      const widths = { inputWidth: spec.inputSize, outputWidth: spec.outputSize, perStep: spec.returnSequences };
      const loc = await shortestFailingLength({ engine: o.engine, reference, batch, widths, dtype: o.dtype, grads: o.grads, deadline: o.deadline });
      if (loc) {
        d.shortestFailingLength = loc.length;
        x.shortestFailingLength = loc.length;
        d.lines.push(lengthWords(loc.length, batch.seqLen));
      }
    }
    const found = await runCatalogue(o, x, ref);
    d.mistakes = found.matches;
    d.catalogue = { tried: found.tried, of: found.of, seconds: Math.round((performance.now() - t0) / 10) / 100, cutShort: found.tried < found.of };
    d.lines.push(...catalogueLines(d, o, found));
  } finally {
    reference.dispose();
  }
}

interface Found {
  matches: MistakeMatch[];
  tried: number;
  of: number;
}

async function runCatalogue(o: DiagnoseInput, x: SearchContext, ref: Computed): Promise<Found> {
  const { spec, batch } = o;
  const candidates: { entry: Entry; m: Mistake; cost: number }[] = [];
  for (const entry of CATALOGUE) {
    if (!entry.applies(spec, batch)) continue;
    for (const m of entry.candidates(x)) {
      if (candidates.some((c) => same(c.m, m))) continue;
      let plan;
      try {
        plan = mistakePlan(spec, m);
      } catch {
        continue; // an instance this model cannot have
      }
      const cost = derivable(plan) ? 0 : plan.replicas ? batch.seqLen : 1;
      candidates.push({ entry, m, cost });
    }
  }
  // cheap ones first (derived from the reference's result, then one pass each, then the repeated batches)
  const order = candidates.map((c, i) => ({ ...c, i })).sort((a, b) => a.cost - b.cost || a.i - b.i);
  const matches: MistakeMatch[] = [];
  let tried = 0;
  const wantDh = !!o.computed.dh;
  const found = new Set<string>();
  for (const { entry, m, cost } of order) {
    if (performance.now() > o.deadline) break;
    // another value of a mistake that already reproduced the engine cannot (their results differ)
    if (found.has(m.id)) {
      tried++;
      continue;
    }
    let v: Computed;
    if (cost === 0) v = deriveResult(mistakePlan(spec, m), ref);
    else {
      const e = (o.variants ?? diagnosisEngines()).mistake(spec, castParams(o.initial, 'F64'), m);
      try {
        const out = e.forward(batch);
        const g = e.lossAndGrads(batch, { stateGrads: wantDh });
        v = { output: out.output, loss: g.loss, grads: g.grads, ...(wantDh ? { dh: g.dh } : {}) };
      } finally {
        e.dispose();
      }
    }
    tried++;
    // a variant the engine's dtype cannot tell from the reference on this batch says nothing
    if (distance(v, ref, o.dtype, o.grads).within) continue;
    const fit = distance(o.computed, v, o.dtype, o.grads);
    if (!fit.within) continue;
    const { id, ...parameters } = m;
    const w = entry.words(m, x);
    matches.push({ id, parameters, detail: w.detail, where: w.where, matchedWithin: fit.maxRelError, score: fit.score });
    found.add(id);
  }
  matches.sort((a, b) => a.score - b.score);
  return { matches, tried, of: candidates.length };
}

function catalogueLines(d: Diagnosis, o: DiagnoseInput, f: Found): string[] {
  const who = d.engine;
  const parts = [...(d.stage === 'forward' ? ['outputs'] : []), ...(d.stage !== 'gradients' ? ['loss'] : []), 'gradients', ...(o.computed.dh ? ['dLoss/dh_t'] : [])];
  const what = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
  const dh = '';
  const lines: string[] = [];
  if (f.matches.length === 1) {
    const m = f.matches[0];
    lines.push(`that is the mistake: ${m.detail}`);
    lines.push(`  ${who}'s ${what}${dh} equal ${o.referenceName}'s with that mistake planted, to ${sci(m.matchedWithin)} on every tensor compared`);
    lines.push(`  where to look: ${m.where}`);
  } else if (f.matches.length > 1) {
    lines.push(`known mistakes reproduce it, best fit first (${who}'s ${what}${dh} equal ${o.referenceName}'s with each planted):`);
    f.matches.forEach((m, i) => lines.push(`  ${i + 1}. ${m.detail} (to ${sci(m.matchedWithin)}); where to look: ${m.where}`));
  } else lines.push(`no known mistake reproduces it (${f.tried === f.of ? `all ${f.of}` : `${f.tried} of ${f.of}`} variants of ${o.referenceName} with a catalogued mistake planted, on the same weights and batch)`);
  if (f.tried < f.of) lines.push(`the catalogue was cut short: ${f.tried} of ${f.of} variants tried within ${o.budget}; --diagnose-seconds S gives it more time`);
  return lines;
}
