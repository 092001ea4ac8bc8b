/**
 * The provider of the browser engines (src/engines/browser.ts): tfjs-webgl, tfjs-webgpu,
 * tfjs-webgl-f16, and the Keras model of `check --model` on those backends. One page per provider,
 * in the one browser of the process; the page says what it runs on (the browser, tfjs's backend,
 * the GPU's renderer string) or why the browser cannot give that backend.
 */
import { FULL_SUPPORT } from '../supports.js';
import { type BrowserBackend, BrowserEngine, BrowserSession, findBrowser } from './browser.js';
import type { EngineProvider, EngineRef, ProviderOptions } from './index.js';

export type BrowserRef = Extract<EngineRef, { kind: 'browser' }> | (Extract<EngineRef, { kind: 'keras' }> & { browser: BrowserBackend });

export async function openBrowserProvider(ref: BrowserRef, o: ProviderOptions, kerasSupports: EngineProvider['supports']): Promise<EngineProvider> {
  const backend = ref.kind === 'browser' ? ref.backend : ref.browser;
  const f16 = backend === 'webgl-f16';
  const tfBackend = backend === 'webgpu' ? 'webgpu' : 'webgl';
  const name = ref.kind === 'keras' ? `keras-model-${backend}` : `tfjs-${backend}`;
  const session = await BrowserSession.get(findBrowser(o.browser), o.onProgress);
  const bp = await session.openPage({ backend: tfBackend, f16, engineName: name, ...(o.webglMaxTextureSize ? { maxTextureSize: o.webglMaxTextureSize } : {}) }, o.onProgress);
  const info = bp.info;
  const runsOn = info.ok
    ? `float32${f16 ? ' arithmetic on half-float textures (WEBGL_FORCE_F16_TEXTURES, as a phone without float32 render targets)' : ''}; ${session.version}, tfjs ${info.tfjs} backend ${tfBackend}, renderer ${info.renderer}`
    : `${session.version}: ${info.reason}`;
  const swiftShader = info.ok && /swiftshader/i.test(info.renderer);
  const notes: string[] = [];
  const detail = ref.kind === 'keras' ? `${ref.model.source.path} through tf.loadLayersModel; ${runsOn}` : runsOn;
  return {
    ref,
    name,
    dtype: 'float32',
    threads: 1,
    detail,
    supports: ref.kind === 'keras' ? kerasSupports : { ...FULL_SUPPORT, dtypes: ['float32'] },
    notes,
    ...(info.ok ? {} : { unavailable: info.reason }),
    timing:
      'a step is timed from Node: the batch to the page, the step, and the loss and final state read back from the GPU' +
      (swiftShader ? '; SwiftShader is a CPU emulation of a GPU, so these are not a GPU\'s times' : ''),
    ...(info.ok ? { tfjs: { backend: backend, version: info.tfjs, numTensors: () => bp.call<number>('numTensors', {}, o.timeoutMs) } } : {}),
    open: async (spec, m) => {
      const r = await BrowserEngine.open(bp, {
        name,
        spec,
        detail,
        dtype: f16 ? 'float16' : 'float32',
        params: m.params,
        optimizer: m.optimizer,
        ...(ref.kind === 'keras' ? { keras: ref.model } : {}),
        timeoutMs: o.timeoutMs,
      });
      for (const n of r.notes) if (!notes.includes(n)) notes.push(n);
      return r.engine;
    },
    close: () => bp.close(),
  };
}
