/**
 * Rules of the layout (docs/architecture.md) that the compiler does not keep:
 * - one factory builds engines: only src/engines/ imports tfjs or constructs an engine (scratch,
 *   tfjs, kernels); src/index.ts re-exports the tfjs modules for library users (they load tfjs
 *   lazily), and compare/gradcheck.ts checks the scratch engine's own gradients with its own cell;
 * - scratch/ and tfjs/ never import each other;
 * - the training loop never imports a task, and tasks never import the loop.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(ROOT, dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(relative(ROOT, p)));
    else if (name.endsWith('.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

/** Every module a file imports (static, dynamic and type imports and re-exports), as written. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) out.push(m[1]);
  return out;
}

/** The modules a file loads when it runs: `import type` and `export type` are erased by the compiler. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue;
    out.push(m[3] ?? m[4] ?? m[5]);
  }
  return out;
}

const ALL = [...sources('src'), ...sources('compare'), ...sources('scratch'), ...sources('tfjs')];

describe('architecture', () => {
  it('the scan sees the project (imports of every kind are found)', () => {
    expect(ALL.length).toBeGreaterThan(60);
    expect(imports('src/engines/tfjs.ts')).toEqual(expect.arrayContaining(['../../tfjs/backend.js', '../../tfjs/engine.js']));
    expect(imports('src/engines/scratch.ts')).toEqual(expect.arrayContaining(['./mistakes/engine.js']));
  });

  it('only the engine factory (src/engines/) imports tfjs', () => {
    const offenders = ALL.filter((f) => !f.startsWith('tfjs/') && !f.startsWith('src/engines/') && f !== 'src/index.ts').flatMap((f) =>
      imports(f)
        .filter((m) => /(^|\/)tfjs\//.test(m) || m.startsWith('@tensorflow/'))
        .map((m) => `${f} imports ${m}`),
    );
    expect(offenders).toEqual([]);
  });

  it('only the engine factory constructs engines and kernels', () => {
    const allowed = new Set(['compare/gradcheck.ts']);
    const offenders = ALL.filter((f) => (f.startsWith('src/') || f.startsWith('compare/')) && !f.startsWith('src/engines/') && !allowed.has(f)).filter((f) =>
      /new (ScratchEngine|TfjsEngine)\b|\bmakeKernels\(|\bcreateTfjsEngine\(/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('scratch/ and tfjs/ never import each other', () => {
    const cross = ALL.flatMap((f) =>
      imports(f)
        .filter((m) => (f.startsWith('scratch/') && /(^|\/)tfjs\//.test(m)) || (f.startsWith('tfjs/') && /(^|\/)scratch\//.test(m)))
        .map((m) => `${f} imports ${m}`),
    );
    expect(cross).toEqual([]);
  });

  it('the training loop and the tasks do not import each other', () => {
    expect(imports('src/train/loop.ts').filter((m) => m.startsWith('./tasks/') && m !== './tasks/task.js')).toEqual([]);
    const back = sources('src/tasks').flatMap((f) => imports(f).filter((m) => m === '../train.js').map((m) => `${f} imports ${m}`));
    expect(back).toEqual([]);
  });

  it('the browser page (tfjs/page.ts) reaches no Node module: everything it imports runs in Chromium', () => {
    const seen = new Set<string>();
    const nodeOnly: string[] = [];
    const walk = (file: string, chain: string[]): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of runtimeImports(file)) {
        if (m.startsWith('.')) walk(relative(ROOT, join(ROOT, file, '..', m.replace(/\.js$/, '.ts'))), [...chain, file]);
        else if (!m.startsWith('@tensorflow/')) nodeOnly.push(`${[...chain, file].join(' -> ')} imports ${m}`);
      }
    };
    walk('tfjs/page.ts', []);
    expect(seen.size).toBeGreaterThan(5);
    expect(nodeOnly).toEqual([]);
  });
});
