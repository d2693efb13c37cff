/**
 * Loads onnxruntime-web inside the compute worker, with its wasm served from
 * our own origin. The default `onnxruntime-web` entry is the JSEP build: one
 * wasm binary that has both the WASM and the WebGPU execution providers.
 * Importing the files with `?url` makes Vite emit them as assets of the build,
 * so the app never fetches anything from a CDN.
 */
import * as ort from 'onnxruntime-web';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import type { Backend } from '@shared/protocol';

export { ort };

export function configureOrt(numThreads: number): void {
  ort.env.wasm.wasmPaths = {
    wasm: new URL(wasmUrl, self.location.href).href,
    mjs: new URL(mjsUrl, self.location.href).href,
  };
  ort.env.wasm.numThreads = numThreads;
  // We already are a worker; ort's own proxy worker would only add a hop.
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

export function executionProviders(backend: Backend): string[] {
  return backend === 'webgpu' ? ['webgpu'] : ['wasm'];
}
