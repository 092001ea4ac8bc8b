/**
 * The machine's BLAS, reached through koffi (an optional dependency: an FFI package whose npm
 * tarball carries its prebuilt binaries), for the matrix products of the scratch engine.
 *
 * Finding it: `--blas PATH`, else RNNLAB_BLAS, else the usual places (`blasCandidates`: Debian's
 * openblas-pthread, OpenBLAS elsewhere, libblas.so.3, MKL's libmkl_rt, BLIS, macOS Accelerate).
 * The first that loads and has cblas_sgemm wins; what it is (OpenBLAS and its version, MKL, BLIS,
 * Accelerate) is read from the library itself. A library found in the usual places that cannot be
 * identified (the reference BLAS behind a plain libblas.so.3: slower than the WebAssembly gemm) is
 * passed over; one named by --blas or RNNLAB_BLAS is used whatever it is.
 *
 * Operands are passed as typed arrays: koffi hands C the address of the view's first element (no
 * copy), so the products run on the engine's own buffers, WebAssembly memory or plain arrays alike.
 *
 * Threads: every call first gives the library the calling engine's thread count (OpenBLAS:
 * openblas_set_num_threads; MKL: its thread-local setting; BLIS: bli_thread_set_num_threads), only
 * when it differs from the count last set. Accelerate has no such call: it uses its own. OpenBLAS
 * reads OPENBLAS_THREAD_TIMEOUT once, when it is loaded: unless the user set it, it is set to 20
 * (idle threads sleep after about 2^20 cycles instead of 2^28, as PyTorch's engine gets) for the
 * moment of loading only, so that the library's threads do not spin for ~80 ms after each product,
 * taking a core from whatever runs next, and no child process inherits the setting.
 */
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Arr } from './kernels.js';

/** The little of koffi used here (typed locally: koffi is optional, its types may be absent). */
interface KoffiLib {
  func(declaration: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
}

export interface Blas {
  /** What was loaded: the path given or found. */
  readonly path: string;
  /** What it is, e.g. "OpenBLAS 0.3.21 (Cooperlake, pthreads)", "MKL 2024.0", "BLAS (not identified)". */
  readonly library: string;
  /** Identified as an optimized library (OpenBLAS, MKL, BLIS, Accelerate). */
  readonly identified: boolean;
  /** Whether the thread count can be set (false: the library uses its own). */
  readonly threadControl: boolean;
  /** C = alpha op(A) op(B) + beta C, row-major (CblasRowMajor), float32 or float64 by the arrays. */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, A: Arr, lda: number, B: Arr, ldb: number, beta: number, C: Arr, ldc: number): void;
  /** Gives the library n threads for the calls that follow (a no-op when n was the last count set). */
  useThreads(n: number): void;
  /** The thread count the library says it uses now, or null when it cannot say. */
  currentThreads(): number | null;
}

/** A BLAS, or what is missing (short, for headers) and how to get it (for the error of --kernels blas). */
export type BlasLookup = { blas: Blas; missing?: undefined; how?: undefined } | { blas?: undefined; missing: string; how: string };

const KOFFI_HOW = 'install it with npm install koffi (its package carries prebuilt binaries)';
const LIBRARY_HOW = 'install one (apt-get install libopenblas0-pthread on Debian/Ubuntu), or name a CBLAS library with --blas PATH or RNNLAB_BLAS';

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

let koffiCache: { koffi: Koffi } | { missing: string } | null = null;

const NO_KOFFI = 'the optional package koffi is not installed';

function loadKoffi(): { koffi: Koffi } | { missing: string } {
  if (koffiCache) return koffiCache;
  try {
    koffiCache = { koffi: createRequire(import.meta.url)('koffi') as Koffi };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    koffiCache = {
      missing:
        err.code === 'MODULE_NOT_FOUND' ? NO_KOFFI : `the optional package koffi does not load (${(err.message ?? String(e)).split('\n')[0]})`,
    };
  }
  return koffiCache;
}

/** Why koffi cannot be used, or null when it loads. */
export function koffiMissing(): string | null {
  const k = loadKoffi();
  return 'missing' in k ? k.missing : null;
}

/** For tests: behave as if koffi could not be loaded (true), or look again (false). */
export function pretendKoffiMissing(missing: boolean): void {
  koffiCache = missing ? { missing: NO_KOFFI } : null;
  found.clear();
}

/** The usual places of a CBLAS library on this platform, most wanted first. */
export function blasCandidates(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string[] {
  if (platform === 'darwin') {
    return [
      '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
      '/usr/local/opt/openblas/lib/libopenblas.dylib',
      'libmkl_rt.dylib',
      '/System/Library/Frameworks/Accelerate.framework/Accelerate',
    ];
  }
  if (platform === 'win32') return ['libopenblas.dll', 'openblas.dll', 'mkl_rt.2.dll', 'mkl_rt.dll'];
  const triplet = ({ x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu', riscv64: 'riscv64-linux-gnu' } as Record<string, string>)[arch];
  const deb = triplet ? `/usr/lib/${triplet}` : null;
  return [
    ...(deb ? [`${deb}/openblas-pthread/libopenblas.so.0`, `${deb}/openblas-openmp/libopenblas.so.0`] : []),
    'libopenblas.so.0', // the loader's search path: Fedora, Arch, conda, LD_LIBRARY_PATH
    'libopenblasp.so.0', // Fedora's pthreads build
    ...(deb ? [`${deb}/libblas.so.3`] : []), // Debian's alternative: OpenBLAS, BLIS, or the reference BLAS
    'libblas.so.3',
    'libmkl_rt.so.2',
    'libmkl_rt.so',
    'libblis.so.4',
  ];
}

const found = new Map<string, BlasLookup>();

/**
 * The BLAS to use: `explicit` (--blas), else RNNLAB_BLAS, else the first usual place that loads,
 * has cblas_sgemm and is identified. Cached per request (a library once loaded stays loaded).
 */
export function findBlas(explicit?: string): BlasLookup {
  const given = explicit ?? (process.env.RNNLAB_BLAS || undefined);
  const key = `${explicit ? 'flag' : 'env'}:${given ?? ''}`;
  const cached = found.get(key);
  if (cached) return cached;
  const r = lookup(given, explicit ? '--blas' : 'RNNLAB_BLAS');
  found.set(key, r);
  return r;
}

function lookup(given: string | undefined, source: string): BlasLookup {
  const k = loadKoffi();
  if ('missing' in k) return { missing: k.missing, how: KOFFI_HOW };
  if (given) {
    const r = open(k.koffi, given);
    return 'blas' in r ? { blas: r.blas } : { missing: `${source} ${given} ${r.why}`, how: LIBRARY_HOW };
  }
  const tried: string[] = [];
  for (const path of blasCandidates()) {
    // a path that does not exist is not worth a dlopen (bare names go to the loader's search)
    if (path.startsWith('/') && !existsSync(path)) continue;
    const r = open(k.koffi, path);
    if ('blas' in r && r.blas.identified) return { blas: r.blas };
    if ('blas' in r) tried.push(`${path}: not an optimized BLAS (${r.blas.library})`);
    else if (!/cannot open|No such file|not found|image not found|could not be found/i.test(r.why)) tried.push(`${path}: ${r.why}`);
  }
  return { missing: `no BLAS library was found${tried.length ? ` (${tried.join('; ')})` : ''}`, how: LIBRARY_HOW };
}

/**
 * One Blas per library file: the same file reached by two names (--blas and the usual place, a
 * symlink such as libblas.so.3) is one library with one thread setting, so it gets one object,
 * whose record of the count last set is then the library's own.
 */
const opened = new Map<string, { blas: Blas } | { why: string }>();

function open(koffi: Koffi, path: string): { blas: Blas } | { why: string } {
  let key = path;
  try {
    if (path.startsWith('/') || path.startsWith('.')) key = realpathSync(path);
  } catch {
    /* not there: the load will say so */
  }
  const known = opened.get(key);
  if (known) return known;
  const r = load(koffi, path);
  opened.set(key, r);
  return r;
}

/** Loads one library and binds its products; { why } when it cannot. */
function load(koffi: Koffi, path: string): { blas: Blas } | { why: string } {
  let lib: KoffiLib;
  const setTimeout = !process.env.OPENBLAS_THREAD_TIMEOUT;
  if (setTimeout) process.env.OPENBLAS_THREAD_TIMEOUT = '20';
  try {
    lib = koffi.load(path);
  } catch (e) {
    return { why: `cannot be loaded (${firstLine(e)})` };
  } finally {
    if (setTimeout) delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
  const fn = (decl: string): ((...args: unknown[]) => unknown) | null => {
    try {
      return lib.func(decl);
    } catch {
      return null;
    }
  };
  const sgemm = fn('void cblas_sgemm(int, int, int, int, int, int, float, float *, int, float *, int, float, float *, int)');
  const dgemm = fn('void cblas_dgemm(int, int, int, int, int, int, double, double *, int, double *, int, double, double *, int)');
  if (!sgemm || !dgemm) return { why: 'has no cblas_sgemm and cblas_dgemm (not a CBLAS library)' };
  const { library, identified, setThreads, getThreads } = identify(fn, path);
  let current = -1;
  return {
    blas: {
      path,
      library,
      identified,
      threadControl: setThreads !== null,
      gemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc) {
        (A instanceof Float32Array ? sgemm : dgemm)(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, 1, A, lda, B, ldb, beta, C, ldc);
      },
      useThreads(n) {
        if (n === current || !setThreads) return;
        setThreads(n);
        current = n;
      },
      currentThreads: () => (getThreads ? getThreads() : null),
    },
  };
}

/** What the library is (from its own functions), and how to set its threads. */
interface Identity {
  library: string;
  identified: boolean;
  setThreads: ((n: number) => void) | null;
  getThreads: (() => number) | null;
}

function identify(fn: (decl: string) => ((...args: unknown[]) => unknown) | null, path: string): Identity {
  const getter = (decl: string): (() => number) | null => {
    const f = fn(decl);
    return f ? () => Number(f()) : null;
  };
  const openblasConfig = fn('const char *openblas_get_config()');
  if (openblasConfig) {
    const config = String(openblasConfig() ?? '');
    const version = /OpenBLAS\s+([\d.]+\w*)/.exec(config)?.[1];
    const core = fn('const char *openblas_get_corename()')?.();
    const parallel = fn('int openblas_get_parallel()')?.();
    const how = parallel === 0 ? 'single-threaded build' : parallel === 2 ? 'OpenMP' : parallel === 1 ? 'pthreads' : null;
    const set = fn('void openblas_set_num_threads(int)');
    const about = [core ? String(core) : null, how].filter(Boolean).join(', ');
    return { library: `OpenBLAS${version ? ` ${version}` : ''}${about ? ` (${about})` : ''}`, identified: true, setThreads: set ? (n) => void set(n) : null, getThreads: getter('int openblas_get_num_threads()') };
  }
  const mklVersion = fn('int MKL_Get_Version_String(_Out_ uint8_t *buf, int len)');
  if (mklVersion) {
    const buf = Buffer.alloc(256);
    mklVersion(buf, buf.length);
    const text = buf.toString('latin1').replace(/\0[\s\S]*$/, '').trim();
    const version = /(\d{4}(\.\d+)*)/.exec(text)?.[1];
    const set = fn('int MKL_Set_Num_Threads_Local(int)') ?? fn('int mkl_set_num_threads_local(int)');
    return { library: `MKL${version ? ` ${version}` : ''}`, identified: true, setThreads: set ? (n) => void set(n) : null, getThreads: getter('int MKL_Get_Max_Threads()') };
  }
  const blisVersion = fn('const char *bli_info_get_version_str()');
  if (blisVersion) {
    const set = fn('void bli_thread_set_num_threads(int64_t)');
    return { library: `BLIS ${String(blisVersion() ?? '')}`.trim(), identified: true, setThreads: set ? (n) => void set(n) : null, getThreads: getter('int64_t bli_thread_get_num_threads()') };
  }
  if (/Accelerate\.framework/.test(path)) return { library: 'Apple Accelerate', identified: true, setThreads: null, getThreads: null };
  return { library: 'BLAS (not identified: perhaps the reference BLAS)', identified: false, setThreads: null, getThreads: null };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
