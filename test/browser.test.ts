/**
 * The browser engines (tfjs-webgl, tfjs-webgpu, tfjs-webgl-f16): the tfjs twin in headless Chromium
 * through playwright-core. Small models only, one browser for the library tests of this file (the
 * fault tests each start their own: a fault closes the browser). Needs Chromium (CI installs it:
 * .ci/run); without it the file is skipped, except under CI=true, where it must run.
 *
 * Tolerances: the float32 policy of src/tolerance.ts for webgl and webgpu, the half-float
 * policy for webgl-f16, through `check` itself (which compares with float64 scratch).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BrowserSession, findBrowser, largestTensor, overLimit, pageFile } from '../src/engines/browser.js';
import { type EngineProvider, createEngines, createSeq2SeqEngine, openProvider } from '../src/engines/registry.js';
import { TOLERANCES, compareArrays } from '../src/tolerance.js';
import { EngineError, InputError } from '../src/errors.js';
import { optimizerSpec } from '../src/optimizer.js';
import { randomTestParams } from '../src/params.js';
import { parseSpec } from '../src/spec.js';
import { randomBatch } from '../src/data/synthetic.js';
import { ScratchSeq2Seq } from '../scratch/seq2seq.js';
import { jsKernels } from '../scratch/kernels.js';
import { type Decoded, beamSearch } from '../src/seq2seq/decode.js';
import { randomSeq2SeqBatch } from '../src/seq2seq/params.js';
import { parseSeq2SeqSpec } from '../src/seq2seq/spec.js';
import { CLI, ROOT, expectOneLineError, rnnlab } from './helpers/cli.js';
import { halfFloatLines, halfFloatMisses } from '../src/commands/check-half.js';

const chromium = (() => {
  try {
    return findBrowser();
  } catch {
    return null;
  }
})();

/** Processes whose command line holds `marker` (a browser's profile directory under a test's own TMPDIR). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) out.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Chromium processes started by this process (playwright spawns the browser as our child). */
function ourBrowsers(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && /chrom/i.test(stat)) out.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe('finding the browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-browsers-'));
  const fake = (name: string): string => {
    const p = join(dir, name);
    writeFileSync(p, '#!/bin/sh\nexit 0\n');
    chmodSync(p, 0o755);
    return p;
  };

  test('--browser, else RNNLAB_BROWSER, else chromium, chromium-browser, google-chrome on PATH', () => {
    const chrome = fake('google-chrome');
    const browser = fake('chromium-browser');
    expect(findBrowser(undefined, { PATH: dir })).toBe(browser);
    expect(findBrowser(undefined, { PATH: `/nonexistent:${dir}`, RNNLAB_BROWSER: chrome })).toBe(chrome);
    expect(findBrowser(browser, { PATH: '', RNNLAB_BROWSER: chrome })).toBe(browser);
  });

  test('none, or one that is not there: one line saying how to install it', () => {
    expect(() => findBrowser(undefined, { PATH: '/nonexistent' })).toThrow(/none was found .*apt-get install chromium/);
    expect(() => findBrowser(undefined, { PATH: '/nonexistent' })).toThrow(InputError);
    expect(() => findBrowser('/nonexistent/chromium', {})).toThrow(/--browser \/nonexistent\/chromium: no such executable file; install it with apt-get install chromium/);
    expect(() => findBrowser(undefined, { RNNLAB_BROWSER: dir })).toThrow(/RNNLAB_BROWSER .*: no such executable file/);
    const r = rnnlab(['check', '--engines', 'scratch,tfjs-webgl', '--browser', '/nonexistent/chromium', '--hidden', '4']);
    expectOneLineError(r, /^rnnlab: --browser \/nonexistent\/chromium: no such executable file; install it with apt-get install chromium/, expect);
  });

  test('the page gets only the two tfjs bundles and the compiled modules under dist/src and dist/tfjs', () => {
    expect(pageFile('/lib/tf.min.js')).toMatch(/@tensorflow\/tfjs\/dist\/tf\.min\.js$/);
    expect(pageFile('/dist/tfjs/page.js')).toMatch(/dist\/tfjs\/page\.js$/);
    for (const bad of ['/dist/../package.json', '/dist/tfjs/../../package.json', '/package.json', '/dist/src/cli.js.map', '/node_modules/commander/index.js', '/etc/passwd']) {
      expect(pageFile(bad), bad).toBeNull();
    }
  });

  test('half floats: each comparison against the float32 policy too, printed as a multiple of its limit', () => {
    const c = (what: string, engine: string, kind: 'forward' | 'loss' | 'grad', maxRelError: number, limit: number) => ({ what, engine, against: 'scratch-f64', kind, maxAbsError: 0, maxRelError, cosine: 1, limit, pass: maxRelError <= limit });
    const report = {
      forward: [c('output', 'tfjs-webgl', 'forward', 3e-7, 1e-5), c('output', 'tfjs-webgl-f16', 'forward', 1.5e-3, 1e-2)],
      loss: { values: {}, comparisons: [c('loss', 'tfjs-webgl-f16', 'loss', 5e-6, 1e-2)] },
      gradients: [c('layers.0.kernel', 'tfjs-webgl-f16', 'grad', 6e-2, 5e-2)],
      dtypes: { 'tfjs-webgl': 'float32' as const, 'tfjs-webgl-f16': 'float16' as const },
    };
    const misses = halfFloatMisses(report as never);
    expect(misses.map((m) => [m.what, m.float32Limit, m.timesFloat32])).toEqual([
      ['output', 1e-5, 1.5e-3 / 1e-5],
      ['loss', 1e-5, 5e-6 / 1e-5],
      ['layers.0.kernel', 1e-4, 6e-2 / 1e-4],
    ]);
    const text = halfFloatLines(misses).join('\n');
    expect(text).toMatch(/output +tfjs-webgl-f16 +1\.50e-3 +1e-5 +150x +1e-2 +ok/);
    expect(text).toMatch(/loss +tfjs-webgl-f16 +5\.00e-6 +1e-5 +within +1e-2 +ok/);
    expect(text).toMatch(/layers\.0\.kernel +tfjs-webgl-f16 +6\.00e-2 +1e-4 +600x +5e-2 +FAIL/);
    expect(halfFloatLines(halfFloatMisses({ ...report, dtypes: { 'tfjs-webgl': 'float32', 'tfjs-webgl-f16': 'float32' } } as never))).toEqual([]);
  });

  test("a model over the GPU's texture or buffer limit is named with the limit", () => {
    const spec = parseSpec({ cell: 'lstm', inputSize: 40, hiddenSize: 8, outputSize: 3 });
    expect(largestTensor(spec)).toEqual({ what: 'layers.0.kernel', shape: [40, 32], size: 1280 });
    expect(overLimit(spec, { maxTextureSize: 32 })).toBe("layers.0.kernel [40, 32] holds 1,280 floats, more than webgl's largest texture here (32 x 32 = 1,024 values, MAX_TEXTURE_SIZE 32)");
    expect(overLimit(spec, { maxTextureSize: 64 })).toBeNull();
    expect(overLimit(spec, { maxBufferBytes: 4096 }, 8, 20)).toMatch(/^the input \[8, 20, 40\] holds 6,400 floats \(25,600 bytes\), more than webgpu's largest buffer here \(4,096 bytes/);
  });
});

describe.skipIf(!chromium && process.env.CI !== 'true')(`the browser engines in headless Chromium${chromium ? '' : ' (skipped: no Chromium; apt-get install chromium)'}`, () => {
  test('check on webgl, webgpu and half-float webgl: the float32 policy, the half-float one and how far it is from float32, dumps named after the engines', () => {
    expect(chromium, 'CI=true needs Chromium (apt-get install chromium)').not.toBeNull();
    const dump = mkdtempSync(join(tmpdir(), 'rnnlab-dump-'));
    // sizes over 128 outputs per product: below that tfjs's webgpu backend picks a matmul program that SwiftShader runs very slowly
    const r = rnnlab([
      // token input (tfjs-webgpu's int32 one-hot does not compile) and a clipped norm of 8 gradients (its addN of more than 7 tensors fails): the twin avoids both
      'check', '--cell', 'gru', '--layers', '2', '--tokens', '--hidden', '12', '--input', '5', '--output', '12', '--batch', '4', '--seq', '3', '--steps', '1', '--optimizer', 'sgd', '--clip-norm', '1',
      '--engines', 'scratch,tfjs-webgl,tfjs-webgpu,tfjs-webgl-f16', '--per-step', '--dump', dump, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass).toBe(true);
    const engines = Object.fromEntries(j.engines.map((e: { name: string; detail: string; role: string }) => [e.name, e]));
    for (const name of ['tfjs-webgl', 'tfjs-webgpu', 'tfjs-webgl-f16']) {
      expect(engines[name].role, name).toBe('under test');
      // the detail names the browser, tfjs's backend and the GPU's renderer
      expect(engines[name].detail).toMatch(/Chrom(e|ium) \d+.*tfjs 4\.22\.0 backend (webgl|webgpu), renderer \S+/);
    }
    expect(engines['tfjs-webgl-f16'].detail).toMatch(/half-float textures/);
    expect(j.dtypes).toMatchObject({ 'tfjs-webgl': 'float32', 'tfjs-webgpu': 'float32', 'tfjs-webgl-f16': 'float16' });
    // webgl and webgpu under the float32 limits; webgl-f16 under the half ones, and its misses of float32 reported per gradient
    const limits = (e: string): number[] => [...j.forward, ...j.loss.comparisons, ...j.gradients].filter((c: { engine: string }) => c.engine === e).map((c: { limit: number }) => c.limit);
    expect(new Set(limits('tfjs-webgl'))).toEqual(new Set([1e-5, 1e-4]));
    expect(Math.min(...limits('tfjs-webgl-f16'))).toBeGreaterThan(1e-4);
    const half = j.halfFloat as { what: string; engine: string; maxRelError: number; float32Limit: number; timesFloat32: number }[];
    expect(half.map((h) => h.what)).toEqual(['output', 'loss', ...j.gradients.filter((g: { engine: string }) => g.engine === 'tfjs-webgl-f16').map((g: { what: string }) => g.what)]);
    for (const h of half) expect(h.timesFloat32).toBeCloseTo(h.maxRelError / h.float32Limit, 10);
    // half floats do miss the float32 policy somewhere (an 11-bit significand), and that is what the block says
    expect(Math.max(...half.map((h) => h.timesFloat32))).toBeGreaterThan(1);
    expect(j.perStep.length).toBe(2 * 3);
    for (const row of j.perStep) for (const e of ['tfjs-webgl', 'tfjs-webgpu']) expect(row.errors[e], e).toBeLessThan(1e-4);
    expect(readdirSync(dump).sort()).toEqual(['scratch-f64.safetensors', 'scratch.safetensors', 'tfjs-webgl-f16.safetensors', 'tfjs-webgl.safetensors', 'tfjs-webgpu.safetensors']);
  });

  test('check --seq2seq on webgl, webgpu and half-float webgl: the encoder-decoder twin in the page (masks, bidirectional encoder, concat attention)', () => {
    const r = rnnlab([
      'check', '--seq2seq', '--cell', 'lstm', '--attention', 'concat', '--bidirectional', '--mask', '--hidden', '8', '--input', '6', '--output', '6',
      '--batch', '3', '--seq', '4', '--steps', '2', '--optimizer', 'sgd', '--engines', 'scratch,tfjs-webgl,tfjs-webgpu,tfjs-webgl-f16', '--per-step', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass, j.failures.join('; ')).toBe(true);
    const engines = Object.fromEntries(j.engines.map((e: { name: string; detail: string; role: string }) => [e.name, e]));
    for (const name of ['tfjs-webgl', 'tfjs-webgpu', 'tfjs-webgl-f16']) {
      expect(engines[name].role, name).toBe('under test');
      expect(engines[name].detail).toMatch(/Chrom(e|ium) \d+.*tfjs 4\.22\.0 backend (webgl|webgpu), renderer \S+/);
    }
    // webgl and webgpu under the float32 limits, webgl-f16 under the half-float ones (its logits and attention with padding: no NaN)
    const limits = (e: string): number[] => [...j.forward, ...j.loss.comparisons, ...j.gradients, ...j.final].filter((c: { engine: string }) => c.engine === e).map((c: { limit: number }) => c.limit);
    for (const e of ['tfjs-webgl', 'tfjs-webgpu']) expect(Math.max(...limits(e)), e).toBeLessThanOrEqual(2e-3);
    expect(Math.min(...limits('tfjs-webgl-f16'))).toBeGreaterThan(1e-4);
    expect(j.forward.filter((c: { engine: string }) => c.engine === 'tfjs-webgl-f16').map((c: { what: string }) => c.what)).toEqual(['logits', 'attention weights']);
  });

  test('a backend the browser cannot give is skipped with the browser\'s reason (a Chromium without WebGL)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnlab-no3d-'));
    const wrapper = join(dir, 'chromium-without-webgl');
    writeFileSync(wrapper, `#!/bin/sh\nexec "${chromium}" "$@" --disable-3d-apis\n`);
    chmodSync(wrapper, 0o755);
    const r = rnnlab(['check', '--engines', 'scratch,tfjs-webgl', '--browser', wrapper, '--hidden', '4', '--seq', '3', '--batch', '2', '--steps', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tfjs-webgl +skipped: Chrom(e|ium) \d+\S*: no WebGL 2 context/);
    expect(r.stdout).toMatch(/tfjs-webgl: the whole check, because it cannot run here: no WebGL 2 context/);
    expect(r.stdout).toMatch(/verdict: PASS/);
  });

  test('bench times a browser engine and says what its times are', () => {
    const r = rnnlab(['bench', '--engine', 'scratch,tfjs-webgl', '--cell', 'rnn', '--hidden', '16', '--batch', '4', '--seq', '3', '--repeats', '2', '--warmup', '1', '--threads', '1', '--budget', '2', '--memory-steps', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tfjs-webgl +float32; Chrom(e|ium) \d+\S*, tfjs 4\.22\.0 backend webgl, renderer /);
    expect(r.stdout).toMatch(/\(a step is timed from Node: the batch to the page, the step, and the loss and final state read back from the GPU/);
    if (/SwiftShader/.test(r.stdout)) expect(r.stdout).toMatch(/SwiftShader is a CPU emulation of a GPU, so these are not a GPU's times\)/);
    const row = r.stdout.split('\n').find((l) => /^rnn +16 +4 +tfjs-webgl /.test(l));
    expect(row, r.stdout).toBeDefined();
    // the tensors column: no growth over the memory steps
    expect(row!.trim().split(/\s+/).pop()).toBe('0');
  });

  test('check --model runs the Keras model in the page too', () => {
    const model = join(ROOT, 'test', 'fixtures', 'keras', 'gru-reset-after', 'model.json');
    const r = rnnlab(['check', '--model', model, '--engines', 'scratch,tfjs-webgl', '--batch', '4', '--seq', '6', '--steps', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.engines.map((e: { name: string }) => e.name)).toEqual(['scratch', 'tfjs-webgl', 'keras-model-webgl', 'scratch-f64']);
    expect(j.engines[2].detail).toMatch(/model\.json through tf\.loadLayersModel; float32; Chrom(e|ium) \d+\S*, tfjs 4\.22\.0 backend webgl/);
    expect(j.gradients.filter((g: { engine: string; pass: boolean }) => g.engine === 'keras-model-webgl' && g.pass).length).toBeGreaterThan(0);
  });

  describe('through the library, one browser', () => {
    let provider: EngineProvider;
    beforeAll(async () => {
      provider = await openProvider({ kind: 'browser', backend: 'webgl' });
    });
    afterAll(async () => {
      await provider?.close();
    });

    test('train\'s engine set: scratch and tfjs-webgl step side by side from the same weights, within the trajectory policy', async () => {
      const spec = parseSpec({ cell: 'gru', inputSize: 3, hiddenSize: 12, outputSize: 12 });
      const set = await createEngines([{ kind: 'scratch', dtype: 'float32' }, { kind: 'browser', backend: 'webgl' }], spec, { params: randomTestParams(spec, 2), optimizer: optimizerSpec('adam') });
      try {
        expect(set.descriptions[1]).toMatch(/^tfjs-webgl \(float32; Chrom(e|ium) \d+/);
        const batch = randomBatch(spec, 4, 3, 2);
        for (let i = 0; i < 3; i++) {
          const [a, b] = [await set.engines[0].step(batch), await set.engines[1].step(batch)];
          expect(Math.abs(a.loss - b.loss) / Math.abs(a.loss)).toBeLessThan(TOLERANCES.trajectory.limit);
        }
        const [pa, pb] = [await set.engines[0].getParams(), await set.engines[1].getParams()];
        for (const name of Object.keys(pa)) expect(compareArrays(pb[name].data, pa[name].data).maxRelError, name).toBeLessThan(TOLERANCES.trajectory.limit);
        // the optimizer state travels too (a checkpoint of a side-by-side run holds it)
        expect((await set.engines[1].optimizerState()).iterations.data[0]).toBe(3);
      } finally {
        await set.close();
      }
    });

    test('tf.memory().numTensors in the page stays flat over 200 training steps', async () => {
      const spec = parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 3 });
      const e = await provider.open(spec, { params: randomTestParams(spec, 1), optimizer: optimizerSpec('adam', { clipNorm: 1 }) });
      const batch = randomBatch(spec, 2, 3, 1, { mask: true, initialState: true });
      let at5 = -1;
      for (let i = 1; i <= 200; i++) {
        await e.step(batch);
        if (i === 5) at5 = await provider.tfjs!.numTensors();
      }
      expect(await provider.tfjs!.numTensors()).toBe(at5);
      // reads of outputs, gradients (with per-step ones) and optimizer state leave nothing behind either
      await e.forward(batch);
      await e.lossAndGrads(batch, { stateGrads: true, inputGrad: true });
      await e.setOptimizerState(await e.optimizerState());
      expect(await provider.tfjs!.numTensors()).toBe(at5);
      const all = await provider.tfjs!.numTensors();
      await e.dispose();
      expect(await provider.tfjs!.numTensors()).toBeLessThan(all);
    });
  });

  test('translate\'s decoding in the page: the twin steps (encode / decodeStep, read back with data()) on webgl and webgpu, with float64 scratch\'s tokens and its own whole-prefix decoding\'s', async () => {
    // a model trained a little (20 Adam steps) so that its choices are clear; float32 in the page
    // against float64: log-probabilities within 1e-4 relative (sums of a few log-softmax values,
    // float32 rounding of order 1e-6 each); stepped against the page's own whole-prefix decoding
    // (the same arithmetic in another order) within 1e-4 too
    const spec = parseSeq2SeqSpec({ cell: 'lstm', hiddenSize: 6, srcVocab: 9, tgtVocab: 8, embedding: 4, attention: 'general', bidirectional: true });
    const t = new ScratchSeq2Seq(spec, { dtype: 'float64', kernels: jsKernels('float64'), seed: 1, optimizer: optimizerSpec('adam', { lr: 0.05 }) });
    const b = randomSeq2SeqBatch(spec, 6, 6, 7, 2, { mask: true });
    for (let i = 0; i < 20; i++) t.step(b);
    const sources = Array.from({ length: 6 }, (_, r) => b.src.slice(r * 6, r * 6 + b.srcMask.subarray(r * 6, (r + 1) * 6).reduce((a, v) => a + v, 0)));
    const params = t.getParams();
    const o = { maxLen: 8, beam: 3, batchSize: 6 };
    const want = await beamSearch(t, sources, o);
    const close = (got: Decoded[], ref: Decoded[], what: string): void => {
      expect(got.map((d) => d.ids), what).toEqual(ref.map((d) => d.ids));
      got.forEach((d, i) => expect(Math.abs(d.logProb - ref[i].logProb), `${what} ${i}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(ref[i].logProb))));
    };
    for (const name of ['tfjs-webgl', 'tfjs-webgpu']) {
      const made = await createSeq2SeqEngine(name, spec, { params, optimizer: optimizerSpec('sgd'), training: false });
      try {
        expect(typeof made.engine.decodeStep, name).toBe('function');
        const stepped = await beamSearch(made.engine, sources, o);
        close(stepped, want, `${name} against scratch-f64`);
        close(stepped, await beamSearch(made.engine, sources, { ...o, wholePrefix: true }), `${name} against its whole-prefix decoding`);
      } finally {
        await made.engine.dispose();
        await made.close();
      }
    }
  });

  describe('faults: one line naming the engine, the browser closed', () => {
    const spec = parseSpec({ cell: 'rnn', inputSize: 3, hiddenSize: 4, outputSize: 3 });
    const batch = randomBatch(spec, 2, 3, 1);
    const open = async (o: { timeoutMs?: number; webglMaxTextureSize?: number } = {}) => {
      const p = await openProvider({ kind: 'browser', backend: 'webgl' }, o);
      const session = (await BrowserSession.get(findBrowser())) as BrowserSession;
      return { p, session, e: await p.open(spec, { params: randomTestParams(spec, 1), optimizer: optimizerSpec('sgd') }) };
    };

    test('a lost WebGL context', async () => {
      const { e, session } = await open();
      await e.step(batch);
      await session.evaluateInPages("tf.backend().gpgpu.gl.getExtension('WEBGL_lose_context').loseContext()");
      await new Promise((r) => setTimeout(r, 100));
      const err = await Promise.resolve(e.step(batch)).catch((x) => x);
      expect(err).toBeInstanceOf(EngineError);
      expect(err.message).toMatch(/^engine tfjs-webgl: the WebGL context was lost \(webglcontextlost\) during step; the browser was closed$/);
      expect(session.gone).not.toBeNull();
      expect(ourBrowsers()).toEqual([]);
    });

    test('a page that hangs: the engine timeout', async () => {
      const { e, session } = await open({ timeoutMs: 1500 });
      await session.evaluateInPages('setTimeout(() => { for (;;) {} }, 0)');
      const err = await Promise.resolve(e.step(batch)).catch((x) => x);
      expect(err).toBeInstanceOf(EngineError);
      expect(err.message).toMatch(/^engine tfjs-webgl: the page did not answer step within 1\.5 s \(hung\); the browser was closed/);
      expect(ourBrowsers()).toEqual([]);
    });

    test('a browser that exits', async () => {
      const { e } = await open();
      await e.step(batch);
      for (const pid of ourBrowsers()) process.kill(pid, 'SIGKILL');
      const err = await Promise.resolve(e.step(batch)).catch((x) => x);
      expect(err).toBeInstanceOf(EngineError);
      expect(err.message).toMatch(/^engine tfjs-webgl: the browser exited/);
    });

    test('a model over the texture limit (a phone-sized limit, set small)', async () => {
      const p = await openProvider({ kind: 'browser', backend: 'webgl' }, { webglMaxTextureSize: 8 });
      try {
        const big = parseSpec({ cell: 'rnn', inputSize: 10, hiddenSize: 8, outputSize: 3 });
        const err = await p.open(big, { params: randomTestParams(big, 1), optimizer: optimizerSpec('sgd') }).catch((x) => x);
        expect(err).toBeInstanceOf(EngineError);
        expect(err.message).toBe("engine tfjs-webgl: the model is too large for this GPU: layers.0.kernel [10, 8] holds 80 floats, more than webgl's largest texture here (8 x 8 = 64 values, MAX_TEXTURE_SIZE 8)");
      } finally {
        await p.close();
      }
    });

    test('SIGTERM during a check: rnnlab ends, and its browser and profile directory with it', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'rnnlab-sigterm-'));
      mkdirSync(join(tmp, 't'));
      const child = spawn(process.execPath, [CLI, 'check', '--engines', 'tfjs-webgl', '--hidden', '16', '--seq', '30', '--steps', '100000'], { env: { ...process.env, TMPDIR: join(tmp, 't') }, stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
      // wait for the browser to be up (its profile directory lives under our TMPDIR)
      for (let i = 0; i < 300 && processesWith(join(tmp, 't')).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(processesWith(join(tmp, 't')).length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      await new Promise((r) => setTimeout(r, 300));
      expect(processesWith(join(tmp, 't'))).toEqual([]);
      expect(existsSync(join(tmp, 't')) ? readdirSync(join(tmp, 't')) : []).toEqual([]);
    });
  });
});
