/**
 * PyTorch through python/rnnlab_torch.py (`pytorch`, float32; `pytorch-f64`): a process speaking
 * the engine protocol (./process.ts), started with the Python that imports torch and numpy, and
 * with the thread counts of its BLAS set so that it computes on --threads threads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { EngineDType } from '../supports.js';
import { projectRoot } from '../version.js';
import { EngineProcess, openProcessSeq2Seq, processProvider } from './process.js';
import type { EngineKind, ProviderOptions } from './provider.js';

export interface PytorchRef {
  kind: 'pytorch';
  dtype: EngineDType;
}

export const pytorchKind: EngineKind<PytorchRef> = {
  kind: 'pytorch',
  names: ['pytorch', 'pytorch-f64'],
  parse: (name) => {
    if (name === 'pytorch' || name === 'pytorch-f32' || name === 'torch') return { kind: 'pytorch', dtype: 'float32' };
    if (name === 'pytorch-f64') return { kind: 'pytorch', dtype: 'float64' };
    return null;
  },
  homes: ['python/rnnlab_torch.py'],
  open: async (ref, o) => {
    const { proc, name } = await startTorch(ref, o);
    return processProvider(ref, proc, name, ref.dtype, o.threads);
  },
  openSeq2Seq: async (ref, spec, o) => {
    const threads = o.threads ?? 1;
    const { proc, name } = await startTorch(ref, { ...o, threads });
    return openProcessSeq2Seq(proc, name, ref.dtype, spec, { ...o, threads });
  },
};

/** The adapter's process, on the Python that imports torch, its BLAS on `threads` threads. */
async function startTorch(ref: PytorchRef, o: Pick<ProviderOptions, 'python' | 'onProgress' | 'timeoutMs'> & { threads: number }): Promise<{ proc: EngineProcess; name: string }> {
  const python = findPython(o.python, o.onProgress);
  const adapter = join(projectRoot(), 'python', 'rnnlab_torch.py');
  if (!existsSync(adapter)) throw new InputError(`the PyTorch adapter ${adapter} is missing from this installation of rnnlab`);
  const name = ref.dtype === 'float64' ? 'pytorch-f64' : 'pytorch';
  o.onProgress?.(`starting ${name} (${python})`);
  const blasThreads = torchThreadEnv(o.threads, process.env);
  const proc = await EngineProcess.start(`${quote(python)} ${quote(adapter)}`, { timeoutMs: o.timeoutMs, name, env: blasThreads });
  return { proc, name };
}

function quote(s: string): string {
  return /[\s"']/.test(s) ? `"${s}"` : s;
}

let pythonFound: Map<string, string> = new Map();

/**
 * The Python that runs the PyTorch adapter: --python, else RNNLAB_PYTHON, else the first of
 * python3 and /usr/bin/python3 that imports torch and numpy.
 */
export function findPython(explicit?: string, onProgress?: (what: string) => void): string {
  const given = explicit ?? (process.env.RNNLAB_PYTHON || undefined);
  const key = given ?? '';
  const cached = pythonFound.get(key);
  if (cached) return cached;
  const candidates = given ? [given] : ['python3', '/usr/bin/python3'];
  const tried: string[] = [];
  for (const py of candidates) {
    onProgress?.(`looking for torch in ${py}`);
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      pythonFound.set(key, py);
      return py;
    }
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message) : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${py}: ${why}`);
  }
  const how = 'install it with apt-get install python3-torch python3-numpy libopenblas0-pthread (Debian), or pip install torch numpy';
  if (given) throw new InputError(`the PyTorch engine needs a Python that imports torch and numpy; ${tried[0]}; ${how}`);
  throw new InputError(`the PyTorch engine needs a Python that imports torch and numpy, and none was found (${tried.join('; ')}); ${how}, or name one with --python PATH or RNNLAB_PYTHON`);
}

/** For tests: forget which Python was found. */
export function resetPythonCache(): void {
  pythonFound = new Map();
}

/**
 * The environment that makes a PyTorch process use `threads` threads, and only while it computes
 * (variables the user set are left alone).
 */
export function torchThreadEnv(threads: number, env: NodeJS.ProcessEnv): Record<string, string> {
  // torch.set_num_threads does not reach OpenBLAS's own thread pool (one thread per core): set
  // the BLAS libraries' thread counts for the process too
  const out: Record<string, string> = Object.fromEntries(['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'].filter((k) => !env[k]).map((k) => [k, String(threads)]));
  // With more than one thread, torch's OpenMP pool and OpenBLAS's pthread pool both spin while
  // idle and take the cores from each other: on 2 cores an lstm H=256 B=32 step took 154 ms at
  // 2 threads against 55 at one. Idle OpenMP threads that sleep give 49 ms (a fair baseline).
  // OpenBLAS's threads spin 2^28 cycles (~80 ms) after each product, long after PyTorch's step
  // ended, slowing whatever runs next (the other engine of a bench, timed in alternation);
  // 2^20 cycles (~0.3 ms) still spans the gaps between the products of one step.
  if (threads > 1 && !env.OMP_WAIT_POLICY) out.OMP_WAIT_POLICY = 'PASSIVE';
  if (threads > 1 && !env.OPENBLAS_THREAD_TIMEOUT) out.OPENBLAS_THREAD_TIMEOUT = '20';
  return out;
}
