/**
 * The rules of the house (docs/architecture.md, "Floors"), as functions of a tree of files: a
 * `House` maps each source file's path to its text. test/architecture.test.ts runs every rule on the
 * project and on small planted trees, to show that each rule catches what it forbids.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import ts from 'typescript';

export type House = Map<string, string>;

/** Folders that hold no source of rnnlab's (or that is not rnnlab's: examples/ are users' engines), and hidden ones. */
const NOT_SOURCE = new Set(['node_modules', 'dist', 'test', 'docs', 'examples', 'runs', 'test-results']);
const SOURCE_EXT = /\.(ts|mjs|js|as|py)$/;

/** Every source file of the project, whatever its folder (a new folder is found, and must be put on a floor). */
export function readHouse(root: string): House {
  const house: House = new Map();
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      if (name.startsWith('.') || (dir === '' && NOT_SOURCE.has(name))) continue;
      const path = dir ? `${dir}/${name}` : name;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (SOURCE_EXT.test(name) && !name.endsWith('.d.ts.map')) house.set(path, readFileSync(join(root, path), 'utf8'));
    }
  };
  walk('');
  return house;
}

export interface Floor {
  floor: number;
  name: string;
  /** "dir/": everything under it; "dir/*": the files directly in it; else one file. The longest match wins. */
  paths: string[];
}

function matches(file: string, p: string): boolean {
  if (p.endsWith('/*')) return dirname(file) === p.slice(0, -2) || (p === '*' && !file.includes('/'));
  if (p.endsWith('/')) return file.startsWith(p);
  return file === p;
}

/** The floor a file stands on (the longest matching path wins), or null: on no floor. */
export function floorOf(floors: readonly Floor[], file: string): number | null {
  let best: { floor: number; len: number } | null = null;
  for (const f of floors) for (const p of f.paths) if (matches(file, p) && (!best || p.length > best.len)) best = { floor: f.floor, len: p.length };
  return best?.floor ?? null;
}

/** Every module a TypeScript file imports (static, dynamic and type imports, re-exports), as written. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) out.push(m[1]);
  return out;
}

/** The modules a file loads when it runs: `import type` and `export type` are erased by the compiler. */
export function runtimeImportsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue;
    out.push(m[3] ?? m[4] ?? m[5]);
  }
  return out;
}

/** The project file a relative import names (".js" written for the ".ts" source), or null for a package. */
export function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts');
}

const tsFiles = (house: House): [string, string][] => [...house].filter(([f]) => f.endsWith('.ts'));

/** Each file parsed once per house (the rules that read syntax share it). */
const parsed = new WeakMap<House, Map<string, ts.SourceFile>>();
function syntaxOf(house: House, file: string): ts.SourceFile {
  let m = parsed.get(house);
  if (!m) parsed.set(house, (m = new Map()));
  let sf = m.get(file);
  if (!sf) m.set(file, (sf = ts.createSourceFile(file, house.get(file) ?? '', ts.ScriptTarget.Latest, true, /\.(mjs|js)$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS)));
  return sf;
}

/** Each relative import of a TypeScript file, resolved. */
export function importEdges(house: House): { from: string; to: string }[] {
  return tsFiles(house).flatMap(([from, text]) => importsOf(text).flatMap((spec) => {
    const to = resolveImport(from, spec);
    return to ? [{ from, to }] : [];
  }));
}

// ---- the rules: each returns what breaks it, one line each ----

/** Every source file stands on a floor. */
export function filesOnNoFloor(house: House, floors: readonly Floor[]): string[] {
  return [...house.keys()].filter((f) => floorOf(floors, f) === null).map((f) => `${f} is on no floor`);
}

/** Imports only look down: a file imports files on its own floor or below. */
export function importsUp(house: House, floors: readonly Floor[]): string[] {
  return importEdges(house).flatMap(({ from, to }) => {
    const a = floorOf(floors, from);
    const b = floorOf(floors, to);
    return a !== null && b !== null && b > a ? [`${from} (floor ${a}) imports ${to} (floor ${b})`] : [];
  });
}

/** Nothing imports the CLI's commands but the CLI. */
export function importsOfCommands(house: House): string[] {
  return importEdges(house)
    .filter(({ from, to }) => to.startsWith('src/commands/') && !from.startsWith('src/commands/') && from !== 'src/cli.ts')
    .map(({ from, to }) => `${from} imports ${to}`);
}

/** Argument parsing is the CLI's: only src/commands/, src/cli.ts and the value parsers (src/io/args.ts) import commander. */
export function commanderOutsideCli(house: House): string[] {
  const cli = (f: string): boolean => f.startsWith('src/commands/') || f === 'src/cli.ts' || f === 'src/io/args.ts';
  return tsFiles(house)
    .filter(([f, text]) => !cli(f) && importsOf(text).includes('commander'))
    .map(([f]) => `${f} imports commander`);
}

/** The training loop imports no task (but the TrainTask interface), and no task imports src/train/ (the loop, a run, resume). */
export function loopAndTasks(house: House): string[] {
  return importEdges(house)
    .filter(({ from, to }) => (from === 'src/train/loop.ts' && to.startsWith('src/tasks/') && to !== 'src/tasks/task.ts') || (from.startsWith('src/tasks/') && to.startsWith('src/train/')))
    .map(({ from, to }) => `${from} imports ${to}`);
}

export interface EngineKindInfo {
  kind: string;
  homes: readonly string[];
  builtIn?: readonly string[];
}

const inHome = (file: string, home: string): boolean => (home.endsWith('/') ? file.startsWith(home) : file === home);

/**
 * The engine registry's rules: an engine's home (scratch/, tfjs/, python/...) is imported only by
 * the registry's folder (src/engines/), by itself, and by the library's face (src/index.ts); homes
 * never import each other; outside src/engines/ a file imports only the registry itself from it.
 */
export function engineImports(house: House, kinds: readonly EngineKindInfo[]): string[] {
  const homes = [...new Set(kinds.flatMap((k) => k.homes))];
  const homeOf = (f: string): string | undefined => homes.find((h) => inHome(f, h));
  return importEdges(house).flatMap(({ from, to }) => {
    const target = homeOf(to);
    const source = homeOf(from);
    if (from.startsWith('src/engines/') || from === 'src/index.ts') return [];
    if (target && target !== source && !(source && (inHome(target, source) || inHome(source, target)))) {
      return [`${from} imports ${to}, the home of an engine (only src/engines/ may)`];
    }
    if (to.startsWith('src/engines/') && to !== 'src/engines/registry.ts') return [`${from} imports ${to} (outside src/engines/, only the registry)`];
    return [];
  });
}

/** The classes that implement an engine (Engine, Seq2SeqEngine, or a subclass of one), found by scanning every file. */
export function engineClasses(house: House): string[] {
  const found = new Set<string>();
  for (const [, text] of tsFiles(house)) for (const m of text.matchAll(/\bclass\s+(\w+)\b[^{]*\bimplements\s+(?:\w+\s*,\s*)*(?:Engine|Seq2SeqEngine)\b/g)) found.add(m[1]);
  const subclasses = tsFiles(house).flatMap(([, text]) => [...text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)].map((m) => [m[1], m[2]] as const));
  for (let before = -1; before !== found.size; ) {
    before = found.size;
    for (const [sub, base] of subclasses) if (found.has(base)) found.add(sub);
  }
  return [...found];
}

/** What makes a kernel set (scratch/kernel-choice.ts and the kernel sets' own makers). */
const KERNEL_MAKERS = ['makeKernels', 'float64Kernels', 'createWasmKernels', 'blasKernels'];

/**
 * Only the registry's folder builds engines and kernel sets. Elsewhere an engine is built only in
 * the file that defines its class or its factory (a home's create*Engine), and in a kind's builtIn
 * files (the browser page); a kernel set only inside scratch/ (the kernel choice builds them).
 */
export function engineConstructions(house: House, kinds: readonly EngineKindInfo[]): string[] {
  const classes = engineClasses(house);
  const homes = kinds.flatMap((k) => k.homes);
  const factories = tsFiles(house)
    .filter(([f]) => homes.some((h) => inHome(f, h)))
    .flatMap(([, text]) => [...text.matchAll(/export\s+(?:async\s+)?function\s+(create\w*Engine)\b/g)].map((m) => m[1]));
  const builtIn = new Set(kinds.flatMap((k) => k.builtIn ?? []));
  const out: string[] = [];
  for (const [file, text] of tsFiles(house)) {
    if (file.startsWith('src/engines/') || builtIn.has(file)) continue;
    const defines = (name: string): boolean => new RegExp(`\\b(class|function)\\s+${name}\\b`).test(text);
    for (const c of classes) if (!defines(c) && new RegExp(`\\bnew\\s+${c}\\s*\\(|\\b${c}\\.(open|load)\\s*\\(`).test(text)) out.push(`${file} constructs ${c}`);
    for (const f of factories) if (!defines(f) && new RegExp(`\\b${f}\\s*\\(`).test(text)) out.push(`${file} calls ${f}`);
    if (!file.startsWith('scratch/')) for (const k of KERNEL_MAKERS) if (!defines(k) && new RegExp(`\\b${k}\\s*\\(`).test(text)) out.push(`${file} makes a kernel set (${k})`);
  }
  return out;
}

/** The cells of the cell table, as names to look for. */
const cellNames = (cells: readonly string[]) => (n: ts.Node | undefined): boolean =>
  !!n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && cells.includes(n.text);

/**
 * Branches on a cell's name: a comparison of a cell's name with something that holds a cell
 * (`spec.cell === 'lstm'`), a `case 'gru':` of a switch on one, and a list, union type or record
 * that names two cells or more (the cells written out again).
 */
export function cellBranches(house: House, cells: readonly string[], allowed: readonly string[]): string[] {
  const isCell = cellNames(cells);
  const out: string[] = [];
  for (const [file] of tsFiles(house)) {
    if (allowed.some((a) => inHome(file, a))) continue;
    const sf = syntaxOf(house, file);
    const hit = (n: ts.Node): void => {
      out.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${n.getText().replace(/\s+/g, ' ').slice(0, 80)}`);
    };
    const equality = [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken];
    const visit = (n: ts.Node): void => {
      if (ts.isBinaryExpression(n) && equality.includes(n.operatorToken.kind)) {
        const other = isCell(n.right) ? n.left : isCell(n.left) ? n.right : null;
        if (other && /cell/i.test(other.getText())) hit(n);
      } else if (ts.isCaseClause(n) && isCell(n.expression) && /cell/i.test(n.parent.parent.expression.getText())) hit(n);
      else if (ts.isArrayLiteralExpression(n) && n.elements.filter(isCell).length >= 2) hit(n);
      else if (ts.isUnionTypeNode(n) && n.types.filter((t) => ts.isLiteralTypeNode(t) && isCell(t.literal)).length >= 2) hit(n);
      else if (ts.isObjectLiteralExpression(n) && n.properties.filter((p) => p.name && cells.includes(p.name.getText().replace(/['"]/g, ''))).length >= 2) hit(n);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** The report knows no task by name: it imports only the task registry and interfaces, and compares nothing with a task's name. */
export function reportTaskSwitches(house: House, tasks: readonly string[]): string[] {
  const out: string[] = [];
  for (const [file, text] of tsFiles(house)) {
    if (!file.startsWith('src/report/')) continue;
    for (const spec of importsOf(text)) {
      const to = resolveImport(file, spec);
      if (to?.startsWith('src/tasks/') && to !== 'src/tasks/registry.ts' && to !== 'src/tasks/task.ts') out.push(`${file} imports ${to}`);
    }
    for (const t of tasks) {
      if (new RegExp(`(===|!==|==|!=)\\s*['"\`]${t}['"\`]|['"\`]${t}['"\`]\\s*(===|!==|==|!=)|case\\s+['"\`]${t}['"\`]`).test(text)) out.push(`${file} compares with the task name "${t}"`);
    }
  }
  return out;
}

/** Functions longer than `max` lines (TypeScript, AssemblyScript and JavaScript sources), but the exempted ones ("file:name"). */
export function longFunctions(house: House, max: number, exempt: readonly string[]): string[] {
  const out: string[] = [];
  for (const file of house.keys()) {
    if (!/\.(ts|as|mjs|js)$/.test(file)) continue;
    const sf = syntaxOf(house, file);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const start = sf.getLineAndCharacterOfPosition(n.getStart()).line;
        const lines = sf.getLineAndCharacterOfPosition(n.end).line - start + 1;
        const name = (n as { name?: ts.Node }).name?.getText() ?? ((n.parent as { name?: ts.Node }).name?.getText() ?? '(anonymous)');
        if (lines > max && !exempt.includes(`${file}:${name}`)) out.push(`${file}:${start + 1} ${name} has ${lines} lines`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}
