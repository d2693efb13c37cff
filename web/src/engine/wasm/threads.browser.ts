/**
 * Worker threads for the WASM training backend in a browser. Needs a
 * cross-origin-isolated page (SharedArrayBuffer), and the backend itself must
 * run in a Web Worker: the caller blocks in Atomics.wait while the others work.
 */
import type { Spawn } from '@shared/train';
import { WORKER_SOURCE } from '@shared/train';

let url: string | null = null;

export const spawnBrowser: Spawn = (init) => {
  url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(url);
  worker.postMessage(init);
  return { terminate: () => worker.terminate() };
};

export function threadsAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated === true;
}
