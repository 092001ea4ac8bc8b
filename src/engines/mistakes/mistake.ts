/**
 * The mistakes people make when they write an RNN, LSTM or GRU by hand, as data: an id and the
 * parameters that say which instance (which gate, which pair, how many steps, which constant).
 * `check`'s diagnosis (compare/diagnosis/) plants each into the float64 scratch engine to see
 * which reproduces an engine under test; `check --fault` plants one into the float32 scratch
 * engine. How a mistake is planted: plans.ts.
 */
import { InputError } from '../../errors.js';
import { biasRows, carries, cellOf, variantOf } from '../../cells.js';
import type { ModelSpec } from '../../spec.js';

export const MISTAKE_IDS = [
  'cell-state-skips-forget-gate',
  'no-recurrent-gradient',
  'truncated-bptt',
  'gate-bias-gradient-dropped',
  'gates-swapped',
  'tanh-derivative',
  'sigmoid-derivative-at-preactivation',
  'loss-scale',
  'gru-update-convention',
  'gru-reset-position',
  'hard-sigmoid-definition',
  'weights-transposed',
  'initial-state-ignored',
  'mask-ignored',
  'head-last-step-only',
  'recurrent-weight-gradient-time-offset',
] as const;
export type MistakeId = (typeof MISTAKE_IDS)[number];

/** The forms of a wrong tanh derivative, each written from y = tanh(a). */
export const TANH_FORMS = ['one-minus-y', 'tanh-of-y', 'at-preactivation'] as const;
/** Where in an lstm the wrong tanh derivative is (rnn and gru have one tanh, the candidate). */
export const TANH_PLACES = ['everywhere', 'candidate', 'cell-output'] as const;
/** The forms of a wrong sigmoid derivative, written from y = sigmoid(a). */
export const SIGMOID_FORMS = ['at-preactivation', 'sigmoid-of-y'] as const;

/** One mistake and its parameters (only those of its id are set). */
export interface Mistake {
  id: MistakeId;
  /** truncated-bptt: each output's gradient goes back at most k steps (a tutorial's bptt_truncate). */
  k?: number;
  /** truncated-bptt: nothing passes from step cutAt back to step cutAt - 1. */
  cutAt?: number;
  /** gate-bias-gradient-dropped: the gate ('i', 'f', 'c', 'o'; 'z', 'r', 'h'; 'h' for an rnn). */
  gate?: string;
  /** gate-bias-gradient-dropped of a reset-after gru: which bias row (default both). */
  biasRow?: 'input' | 'recurrent' | 'both';
  /** gates-swapped: the two gates. */
  gates?: [string, string];
  /** gates-swapped: in the forward pass (the weights' blocks read in the wrong order, gradients consistent) or in the gradients only. */
  pass?: 'forward' | 'gradients';
  /** tanh-derivative / sigmoid-derivative-at-preactivation: which wrong formula. */
  form?: string;
  /** tanh-derivative of an lstm: at which tanh. */
  at?: (typeof TANH_PLACES)[number];
  /** loss-scale: the factor. */
  c?: number;
  /** loss-scale: what is scaled: the loss and the gradients, the gradients only, or the loss only. */
  scaled?: 'both' | 'gradients' | 'loss';
  /** gru-reset-position (reset-after asked): what becomes of the two bias rows: added, or the input row alone. */
  bias?: 'summed' | 'input-row';
  /** mask-ignored: padded steps count in the loss too, or only run through the recurrence. */
  loss?: 'counted' | 'masked';
}

/** The gate names of a cell: i f c o, z r h, or h (an rnn's one block). */
export function gateNames(spec: ModelSpec): readonly string[] {
  return cellOf(spec).gates;
}

/** "truncated-bptt k=3", "gates-swapped z+r forward": a mistake as --fault writes it. */
export function mistakeString(m: Mistake): string {
  const parts = Object.entries(m)
    .filter(([k, v]) => k !== 'id' && v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length ? `${m.id}:${parts.join(',')}` : m.id;
}

/** Old names of --fault. */
const ALIASES: Record<string, string> = { 'swap-gates': 'gates-swapped', 'drop-bptt': 'no-recurrent-gradient' };

/** `--fault id[:key=value,...]`, e.g. truncated-bptt:k=3, gates-swapped:gates=z+r,pass=forward; parameters left out take defaults. */
export function parseMistake(text: string, spec: ModelSpec): Mistake {
  const [rawId, rest] = text.split(/:(.*)/s);
  const id = (ALIASES[rawId] ?? rawId) as MistakeId;
  if (!MISTAKE_IDS.includes(id)) throw new InputError(`--fault: unknown mistake "${rawId}" (choose ${MISTAKE_IDS.join(', ')})`);
  const m: Mistake = { id };
  for (const kv of rest ? rest.split(',') : []) {
    const [k, v] = kv.split('=');
    if (v === undefined) throw new InputError(`--fault ${text}: "${kv}" is not key=value`);
    const rec = m as unknown as Record<string, unknown>;
    if (k === 'k' || k === 'cutAt' || k === 'c') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new InputError(`--fault ${text}: ${k} must be a number`);
      rec[k] = n;
    } else if (k === 'gates') rec[k] = v.split('+');
    else if (['gate', 'biasRow', 'pass', 'form', 'at', 'bias', 'loss', 'scaled'].includes(k)) rec[k] = v;
    else throw new InputError(`--fault ${text}: unknown parameter "${k}"`);
  }
  return withDefaults(m, spec);
}

/** The mistake with its parameters filled in (the first gate, the first pair, ...), checked against the model. */
export function withDefaults(m: Mistake, spec: ModelSpec): Mistake {
  const gates = gateNames(spec);
  const bad = (why: string): never => {
    throw new InputError(`--fault ${m.id}: ${why}`);
  };
  const out: Mistake = { ...m };
  // what the model has, from the cell table: a cell state, gates by name, its gate activation
  const cellState = carries(spec).includes('c');
  const gateActivation = variantOf(spec, 'recurrentActivation');
  switch (m.id) {
    case 'cell-state-skips-forget-gate':
      if (!cellState) bad('an lstm has a cell state; this model is a ' + spec.cell);
      break;
    case 'truncated-bptt':
      if (out.k === undefined && out.cutAt === undefined) out.k = 2;
      if (out.k !== undefined && out.cutAt !== undefined) bad('give k (a window per output) or cutAt (a fixed step), not both');
      if (out.k !== undefined && !(Number.isInteger(out.k) && out.k >= 0)) bad('k must be an integer >= 0');
      if (out.cutAt !== undefined && !(Number.isInteger(out.cutAt) && out.cutAt >= 1)) bad('cutAt must be an integer >= 1');
      if (out.k !== undefined && (!spec.returnSequences || spec.bidirectional)) bad('a window per output needs a many-to-many, one-directional model (use cutAt)');
      break;
    case 'gate-bias-gradient-dropped':
      out.gate ??= gates[0];
      if (!gates.includes(out.gate)) bad(`gate ${out.gate} is not one of ${gates.join(', ')}`);
      if (biasRows(spec) === 2) out.biasRow ??= 'both';
      else if (out.biasRow !== undefined) bad('biasRow is for a reset-after gru, whose bias has two rows');
      break;
    case 'gates-swapped':
      if (gates.length < 2) bad('an rnn has one gate block');
      out.gates ??= [gates[0], gates[1]];
      out.pass ??= 'forward';
      if (out.gates.length !== 2 || out.gates.some((g) => !gates.includes(g)) || out.gates[0] === out.gates[1]) bad(`gates must be two of ${gates.join(', ')}`);
      if (!['forward', 'gradients'].includes(out.pass)) bad('pass is forward or gradients');
      break;
    case 'tanh-derivative':
      if ((variantOf(spec, 'activation') ?? 'tanh') !== 'tanh') bad('this rnn has no tanh (relu)');
      out.form ??= 'one-minus-y';
      out.at ??= 'everywhere';
      if (!(TANH_FORMS as readonly string[]).includes(out.form)) bad(`form is one of ${TANH_FORMS.join(', ')}`);
      if (!TANH_PLACES.includes(out.at) || (!cellState && out.at === 'cell-output')) bad(`at is ${cellState ? TANH_PLACES.join(', ') : 'everywhere or candidate'}`);
      break;
    case 'sigmoid-derivative-at-preactivation':
      if (gateActivation !== 'sigmoid') bad('needs sigmoid gates (an lstm or gru)');
      out.form ??= 'at-preactivation';
      if (!(SIGMOID_FORMS as readonly string[]).includes(out.form)) bad(`form is one of ${SIGMOID_FORMS.join(', ')}`);
      break;
    case 'loss-scale':
      out.c ??= 2;
      out.scaled ??= 'both';
      if (!Number.isFinite(out.c) || out.c === 0 || out.c === 1) bad('c must be a number other than 0 and 1');
      if (!['both', 'gradients', 'loss'].includes(out.scaled)) bad('scaled is both, gradients or loss');
      break;
    case 'gru-update-convention':
      if (!gates.includes('z')) bad('a gru has an update gate');
      break;
    case 'gru-reset-position':
      if (!gates.includes('r')) bad('a gru has a reset gate');
      if (spec.gruResetAfter) out.bias ??= 'summed';
      else if (out.bias !== undefined) bad('bias is for a reset-after gru computed as reset-before');
      break;
    case 'hard-sigmoid-definition':
      if (gateActivation !== 'hardSigmoid') bad('needs hardSigmoid gates');
      break;
    case 'mask-ignored':
      out.loss ??= 'counted';
      if (!['counted', 'masked'].includes(out.loss)) bad('loss is counted or masked');
      break;
  }
  return out;
}
