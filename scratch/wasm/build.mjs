// Compiles scratch/wasm/kernels.as and the .as files it imports (AssemblyScript) to
// dist/scratch/wasm/kernels.wasm with the assemblyscript devDependency: SIMD on, memory imported
// and shared (threads feature), no runtime. Run by `npm run build` after tsc;
// `node scratch/wasm/build.mjs --wat` also writes kernels.wat.
//
// asc insists on .ts sources, but a .ts file under scratch/ would be type-checked by the
// project's tsc: the sources keep their .as names and the readFile hook below serves them to asc.
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
  join(here, 'kernels.as'),
  '--outFile', join(outDir, 'kernels.wasm'),
  ...(process.argv.includes('--wat') ? ['--textFile', join(outDir, 'kernels.wat')] : []),
  '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', String(MAX_PAGES),
];

const { error, stderr } = await asc.main(argv, {
  // "kernels.as" is asked for as "kernels.as.ts" (asc appends the extension), an import of
  // "./math" as "math.ts": each is served from its .as file
  readFile(name, baseDir) {
    for (const f of [name, name.replace(/\.ts$/, ''), name.replace(/\.ts$/, '.as')]) {
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
const wasm = readFileSync(join(outDir, 'kernels.wasm'));
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at++];
  let size = 0;
  for (let shift = 0; ; shift += 7) {
    const b = wasm[at++];
    size |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (id === 11 && wasm[at] !== 0) {
    console.error('scratch/wasm/build.mjs: kernels.wasm has data segments (static data in an .as file); they would overwrite the shared memory');
    process.exit(1);
  }
  at += size;
}
