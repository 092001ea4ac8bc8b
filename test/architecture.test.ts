/**
 * The layout's rules (docs/architecture.md, "Floors"), which the compiler does not keep, checked on
 * every source file of the project (every folder; a new one must be put on a floor), and each shown
 * to catch what it forbids on a small planted tree:
 * - every file stands on a floor, and imports look down only (a floor imports its own and lower ones);
 * - nothing but the CLI imports src/commands/, and only the CLI (and the value parsers) imports commander;
 *   the training loop and the tasks do not import each other;
 * - no branch on a cell's name outside the cell table (src/cells.ts) and the cells' own code;
 * - the engine registry (src/engines/registry.ts) is the only way to an engine: the engines' homes,
 *   read from the registry, are imported only by src/engines/, never by each other, and only
 *   src/engines/ builds engines and kernel sets;
 * - the report knows no task by name; no function is longer than a screen (150 lines);
 * - the browser page reaches no Node module.
 */
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CELLS } from '../src/cells.js';
import { ENGINE_KINDS } from '../src/engines/registry.js';
import { TASKS } from '../src/tasks/registry.js';
import { ROOT } from './helpers/cli.js';
import {
  type EngineKindInfo,
  type Floor,
  type House,
  cellBranches,
  commanderOutsideCli,
  engineConstructions,
  engineImports,
  filesOnNoFloor,
  floorOf,
  importsOfCommands,
  importsUp,
  longFunctions,
  loopAndTasks,
  readHouse,
  reportTaskSwitches,
  runtimeImportsOf,
} from './helpers/house.js';

/** The engines' homes come from the registry: a new engine kind puts its folder on the engines' floor. */
const HOMES = [...new Set(ENGINE_KINDS.flatMap((k) => k.homes))];

/** The floors, from the ground up (docs/architecture.md draws them). */
const FLOORS: Floor[] = [
  { floor: 1, name: 'the model contract', paths: ['src/*', 'src/types/', 'src/seq2seq/spec.ts', 'src/seq2seq/params.ts', 'src/seq2seq/engine.ts', 'src/seq2seq/state.ts'] },
  { floor: 2, name: 'io: files, data, formats', paths: ['src/io/', 'src/data/', 'src/import/', 'src/seq2seq/data.ts', 'src/seq2seq/checkpoint.ts'] },
  { floor: 3, name: 'the engines', paths: ['src/engines/', ...HOMES] },
  { floor: 4, name: 'compare', paths: ['compare/'] },
  { floor: 5, name: 'tasks and the training loop', paths: ['src/tasks/', 'src/train/', 'src/seq2seq/decode.ts'] },
  { floor: 6, name: 'report', paths: ['src/report/'] },
  { floor: 7, name: 'the CLI', paths: ['src/commands/', 'src/cli.ts'] },
  { floor: 8, name: 'the library and the tools', paths: ['src/index.ts', 'scripts/', 'data/', 'vitest.config.ts'] },
];

/** Where a cell's name may be branched on: the cell table, the cells' scratch implementations (each picks its own). */
const CELL_PLACES = ['src/cells.ts', 'scratch/cells/'];

/** Functions longer than a screen, and why each may be: none today (an entry is a file:function with its reason). */
const LONG_EXEMPT: string[] = [];

const KINDS: EngineKindInfo[] = ENGINE_KINDS.map((k) => ({ kind: k.kind, homes: k.homes, builtIn: k.builtIn }));
const HOUSE = readHouse(ROOT);
const tree = (files: Record<string, string>): House => new Map(Object.entries(files));

describe('architecture: the house', () => {
  it('the scan sees every folder of the project, and the registry names the engines\' homes', () => {
    const folders = new Set([...HOUSE.keys()].map((f) => f.split('/')[0]));
    for (const f of ['src', 'scratch', 'tfjs', 'compare', 'python', 'scripts']) expect(folders).toContain(f);
    expect(HOUSE.size).toBeGreaterThan(150);
    expect(HOMES).toEqual(expect.arrayContaining(['scratch/', 'tfjs/', 'python/rnnlab_torch.py']));
  });

  it('every source file stands on a floor', () => {
    expect(filesOnNoFloor(HOUSE, FLOORS)).toEqual([]);
    // planted: a new folder nobody placed
    expect(filesOnNoFloor(tree({ 'src/spec.ts': '', 'src/extras/new.ts': '' }), FLOORS)).toEqual(['src/extras/new.ts is on no floor']);
    expect(floorOf(FLOORS, 'src/spec.ts')).toBe(1);
    expect(floorOf(FLOORS, 'src/io/csv.ts')).toBe(2);
    expect(floorOf(FLOORS, 'scratch/cells/lstm.ts')).toBe(3);
  });

  it('imports only look down', () => {
    expect(importsUp(HOUSE, FLOORS)).toEqual([]);
    // planted: a task that imports the CLI, the contract that imports an engine
    const planted = tree({
      'src/tasks/toy.ts': "import type { IO } from '../commands/io.js';\n",
      'src/spec.ts': "import { ScratchEngine } from '../scratch/engine.js';\n",
      'src/commands/io.ts': '',
      'scratch/engine.ts': '',
    });
    expect(importsUp(planted, FLOORS)).toEqual([
      'src/tasks/toy.ts (floor 5) imports src/commands/io.ts (floor 7)',
      'src/spec.ts (floor 1) imports scratch/engine.ts (floor 3)',
    ]);
  });

  it('nothing but the CLI imports src/commands/', () => {
    expect(importsOfCommands(HOUSE)).toEqual([]);
    const planted = tree({ 'src/report/html.ts': "import { flagName } from '../commands/flags.js';\n", 'src/cli.ts': "import { registerTrain } from './commands/train.js';\n" });
    expect(importsOfCommands(planted)).toEqual(['src/report/html.ts imports src/commands/flags.ts']);
  });

  it('argument parsing is the CLI\'s: the tasks declare their flags and use-commands as data, only src/commands/ and cli.ts import commander', () => {
    expect(commanderOutsideCli(HOUSE)).toEqual([]);
    const planted = tree({ 'src/tasks/text.ts': "import type { Command } from 'commander';\n", 'src/commands/use.ts': "import type { Command } from 'commander';\n", 'src/io/args.ts': "import { Option } from 'commander';\n" });
    expect(commanderOutsideCli(planted)).toEqual(['src/tasks/text.ts imports commander']);
  });

  it('the training loop and the tasks do not import each other', () => {
    expect(loopAndTasks(HOUSE)).toEqual([]);
    const planted = tree({ 'src/train/loop.ts': "import type { TrainTask } from '../tasks/task.js';\nimport { textTask } from '../tasks/text.js';\n", 'src/tasks/text.ts': "import { train } from '../train/loop.js';\n" });
    expect(loopAndTasks(planted)).toEqual(['src/train/loop.ts imports src/tasks/text.ts', 'src/tasks/text.ts imports src/train/loop.ts']);
  });
});

describe('architecture: one cell table', () => {
  it('no branch on a cell\'s name outside the cell table and the cells\' own code', () => {
    expect(cellBranches(HOUSE, CELLS, CELL_PLACES)).toEqual([]);
  });

  it('catches every form of it (planted)', () => {
    const planted = tree({
      'src/resume.ts': [
        "if (spec.cell === 'lstm') check(c);",
        "const x = s.cell !== 'rnn' ? 1 : 2;",
        "switch (spec.cell) { case 'gru': break; }",
        "const cells = ['rnn', 'lstm', 'gru'];",
        "type C = 'rnn' | 'lstm';",
        "const G = { rnn: 1, lstm: 4, gru: 3 };",
        "if (l.op === 'rnn') apply();", // an op named like a cell: not a cell
        "const fallback = 'lstm';", // a cell named as a value: not a branch
      ].join('\n'),
      'src/cells.ts': "export const CELLS = ['rnn', 'lstm', 'gru'] as const;",
    });
    const found = cellBranches(planted, CELLS, CELL_PLACES);
    expect(found.map((f) => f.split(' ')[0])).toEqual(['src/resume.ts:1', 'src/resume.ts:2', 'src/resume.ts:3', 'src/resume.ts:4', 'src/resume.ts:5', 'src/resume.ts:6']);
  });
});

describe('architecture: one engine registry', () => {
  it('only src/engines/ imports an engine\'s home; homes never import each other; outside, only the registry', () => {
    expect(engineImports(HOUSE, KINDS)).toEqual([]);
    const planted = tree({
      'compare/gradcheck.ts': "import { ScratchEngine } from '../scratch/engine.js';\n",
      'scratch/engine.ts': "import { TfjsEngine } from '../tfjs/engine.js';\n",
      'src/commands/bench.ts': "import { profileScratch } from '../engines/scratch.js';\nimport { openProvider } from '../engines/registry.js';\n",
      'src/engines/scratch.ts': "import { ScratchEngine } from '../../scratch/engine.js';\n",
    });
    expect(engineImports(planted, KINDS)).toEqual([
      'compare/gradcheck.ts imports scratch/engine.ts, the home of an engine (only src/engines/ may)',
      'scratch/engine.ts imports tfjs/engine.ts, the home of an engine (only src/engines/ may)',
      'src/commands/bench.ts imports src/engines/scratch.ts (outside src/engines/, only the registry)',
    ]);
  });

  it('only src/engines/ builds engines and kernel sets', () => {
    expect(engineConstructions(HOUSE, KINDS)).toEqual([]);
    const planted = tree({
      'scratch/engine.ts': 'export class ScratchEngine implements Engine {}\n',
      'scratch/profile.ts': 'const e = new ScratchEngine(spec, { kernels });\n',
      'tfjs/engine.ts': 'export class TfjsEngine implements Engine {}\nexport async function createTfjsEngine() { return new TfjsEngine(); }\n',
      'src/engines/mistakes/engine.ts': 'export class PlantedEngine extends ScratchEngine {}\n',
      'compare/gradcheck.ts': 'const e = new PlantedEngine(spec);\nconst k = float64Kernels("auto");\nconst t = await createTfjsEngine(spec);\n',
      'src/engines/scratch.ts': 'const e = new ScratchEngine(spec);\n',
    });
    expect(engineConstructions(planted, KINDS)).toEqual([
      'scratch/profile.ts constructs ScratchEngine',
      'compare/gradcheck.ts constructs PlantedEngine',
      'compare/gradcheck.ts calls createTfjsEngine',
      'compare/gradcheck.ts makes a kernel set (float64Kernels)',
    ]);
  });

  it('each kind of the registry parses its own names and declares its home', () => {
    for (const k of ENGINE_KINDS) {
      for (const n of k.names) expect(k.parse(n, 'auto')?.kind, n).toBe(k.kind);
      for (const h of k.homes) expect([...HOUSE.keys()].some((f) => (h.endsWith('/') ? f.startsWith(h) : f === h)), h).toBe(true);
    }
  });
});

describe('architecture: report, screens, the page', () => {
  it('the report knows no task by name: the tasks hand it their cards and views', () => {
    const names = TASKS.map((t) => t.name);
    expect(reportTaskSwitches(HOUSE, names)).toEqual([]);
    const planted = tree({ 'src/report/html.ts': "import type { ClassMetrics } from '../tasks/classify.js';\nif (r.task === 'series') card();\n" });
    expect(reportTaskSwitches(planted, names)).toEqual(['src/report/html.ts imports src/tasks/classify.ts', 'src/report/html.ts compares with the task name "series"']);
  });

  it('no function is longer than a screen (150 lines)', () => {
    expect(longFunctions(HOUSE, 150, LONG_EXEMPT)).toEqual([]);
    const body = Array.from({ length: 151 }, (_, i) => `  x += ${i};`).join('\n');
    const planted = tree({ 'src/commands/check.ts': `export function registerCheck(): void {\n${body}\n}\nfunction short(): void {}\n`, 'scratch/wasm/gemm.as': `export function gemm_ab(): void {\n${body}\n}\n` });
    expect(longFunctions(planted, 150, LONG_EXEMPT)).toEqual(['src/commands/check.ts:1 registerCheck has 153 lines', 'scratch/wasm/gemm.as:1 gemm_ab has 153 lines']);
  });

  it('the browser page (tfjs/page.ts) reaches no Node module: everything it imports runs in Chromium', () => {
    const seen = new Set<string>();
    const nodeOnly: string[] = [];
    const walk = (file: string, chain: string[]): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of runtimeImportsOf(HOUSE.get(file) ?? '')) {
        if (m.startsWith('.')) walk(relative(ROOT, join(ROOT, file, '..', m.replace(/\.js$/, '.ts'))), [...chain, file]);
        else if (!m.startsWith('@tensorflow/')) nodeOnly.push(`${[...chain, file].join(' -> ')} imports ${m}`);
      }
    };
    walk('tfjs/page.ts', []);
    expect(seen.size).toBeGreaterThan(5);
    expect(nodeOnly).toEqual([]);
  });
});
