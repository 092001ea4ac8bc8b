/**
 * Which Python the PyTorch engine and the NumPy example can use here: RNNLAB_PYTHON, python3 or
 * /usr/bin/python3, the first that imports the modules. Tests that need one skip, naming why, when
 * none does (CI installs Debian's python3-torch and python3-numpy; see .ci/run).
 */
import { spawnSync } from 'node:child_process';

const cache = new Map<string, string | null>();

export function pythonWith(modules: string): string | null {
  if (cache.has(modules)) return cache.get(modules)!;
  const candidates = [process.env.RNNLAB_PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  let found: string | null = null;
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', `import ${modules}`], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      found = py;
      break;
    }
  }
  cache.set(modules, found);
  return found;
}

/** A test title that says why it is skipped when the Python it needs is missing. */
export function needing(modules: string, title: string): string {
  return pythonWith(modules) ? title : `${title} (skipped: no Python here imports ${modules}; apt-get install python3-torch python3-numpy libopenblas0-pthread)`;
}
