// Compiles scratch/wasm/gemm.as (AssemblyScript) to dist/scratch/wasm/gemm.wasm with the
// assemblyscript devDependency: SIMD on, memory imported and shared (threads feature), no runtime.
// Run by `npm run build` after tsc; `node scratch/wasm/build.mjs --wat` also writes gemm.wat.
//
// asc insists on a .ts entry, but a .ts file under scratch/ would be type-checked by the
// project's tsc: the source keeps its .as name and the readFile hook below serves it to asc.
import asc from 'assemblyscript/asc';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outDir = join(root, 'dist/scratch/wasm');
mkdirSync(outDir, { recursive: true });

/** The maximum the module declares (4 GiB, the wasm32 limit); the JS side picks its own, smaller one. */
const MAX_PAGES = 65536;

const argv = [
  join(here, 'gemm.as'),
  '--outFile', join(outDir, 'gemm.wasm'),
  ...(process.argv.includes('--wat') ? ['--textFile', join(outDir, 'gemm.wat')] : []),
  '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', String(MAX_PAGES),
];

const { error, stderr } = await asc.main(argv, {
  // "gemm.as" is asked for as "gemm.as.ts" (asc appends the extension)
  readFile(name, baseDir) {
    for (const f of [name, name.replace(/\.ts$/, '')]) {
      try {
        return readFileSync(resolve(baseDir, f), 'utf8');
      } catch {
        /* try the next name */
      }
    }
    return null;
  },
});
if (error) {
  console.error(stderr.toString());
  console.error(`scratch/wasm/build.mjs: ${error.message}`);
  process.exit(1);
}

// The module must not carry data segments: it imports the engine's shared memory, and every
// instantiation (the calling thread's and each worker's) would write them over whatever the
// engine keeps at those addresses. (AssemblyScript's Math.log, for one, brings lookup tables.)
const wasm = readFileSync(join(outDir, 'gemm.wasm'));
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at++];
  let size = 0;
  for (let shift = 0; ; shift += 7) {
    const b = wasm[at++];
    size |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (id === 11 && wasm[at] !== 0) {
    console.error('scratch/wasm/build.mjs: gemm.wasm has data segments (static data in gemm.as); they would overwrite the shared memory');
    process.exit(1);
  }
  at += size;
}
