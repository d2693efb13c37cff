/** Worker threads for the WASM training backend in Node (benchmarks, tests, the coordinator's checks). */
import { Worker } from 'node:worker_threads';
import type { Spawn } from '@shared/train';
import { WORKER_SOURCE } from '@shared/train';

export const spawnNode: Spawn = (init) => {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: init });
  // Workers block in Atomics.wait between kernels; they must not keep the process alive.
  worker.unref();
  return { terminate: () => void worker.terminate() };
};
