/**
 * Runs the WASM training backend inside a dedicated Web Worker (where the engine lives in a provider),
 * single-threaded or with worker threads of its own over a SharedArrayBuffer.
 */
import { ADAMW_DEFAULTS, arenaFor, newTrainState, PRESETS, restoreInto, trainStep, WasmBackend } from '@shared/train';
import { spawnBrowser } from '../src/engine/wasm/threads.browser.ts';
import { checksum, HARNESS_B, HARNESS_SEED, HARNESS_STEPS, harnessBatches } from './train-engine-data';

export interface TrainWorkerRequest {
  readonly threads: number;
}

export interface TrainWorkerReply {
  readonly backend: string;
  readonly losses: number[];
  readonly checksum: string;
  readonly ms: number;
  readonly error: string | null;
}

self.onmessage = async (e: MessageEvent<TrainWorkerRequest>) => {
  try {
    const config = PRESETS.tiny;
    const T = config.context;
    const b = await WasmBackend.create(arenaFor(config, HARNESS_B, T), {
      threads: e.data.threads,
      spawn: spawnBrowser,
    });
    restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, HARNESS_SEED));
    const t0 = performance.now();
    const losses = harnessBatches(config, HARNESS_B, T, HARNESS_STEPS, HARNESS_SEED).map((batch, k) =>
      trainStep(b, batch, ADAMW_DEFAULTS, k + 1),
    );
    const ms = performance.now() - t0;
    const sum = checksum(b.f.slice(0, 3 * b.arena.params.size));
    b.dispose();
    self.postMessage({ backend: b.name, losses, checksum: sum, ms, error: null } satisfies TrainWorkerReply);
  } catch (err) {
    self.postMessage({ backend: '', losses: [], checksum: '', ms: 0, error: String(err) } satisfies TrainWorkerReply);
  }
};
