/**
 * Training-engine harness: the tiny preset trained for a few seeded steps by the WASM backend in a Web
 * Worker (1 thread, and 2 threads over a SharedArrayBuffer — the page is cross-origin isolated) and by
 * the JS f32 reference on the page. e2e/train-engine.spec.ts compares them with Node's run.
 */
import {
  ADAMW_DEFAULTS,
  arenaFor,
  JsBackend,
  newTrainState,
  PRESETS,
  restoreInto,
  trainStep,
} from '../../shared/src/train/index';
import { HARNESS_B, HARNESS_SEED, HARNESS_STEPS, harnessBatches } from './train-engine-data';
import type { TrainWorkerReply, TrainWorkerRequest } from './train-engine.worker';

export interface TrainHarnessReport {
  readonly isolated: boolean;
  readonly workers: TrainWorkerReply[];
  readonly jsLosses: number[];
}

function inWorker(request: TrainWorkerRequest): Promise<TrainWorkerReply> {
  const worker = new Worker(new URL('./train-engine.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve) => {
    // A stuck worker (threads that never start) reports instead of hanging the test.
    const timer = setTimeout(() => {
      worker.terminate();
      resolve({
        backend: '',
        losses: [],
        checksum: '',
        ms: 0,
        error: `no answer from the ${request.threads}-thread worker in 60 s`,
      });
    }, 60_000);
    worker.onmessage = (e: MessageEvent<TrainWorkerReply>) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => resolve({ backend: '', losses: [], checksum: '', ms: 0, error: e.message });
    worker.postMessage(request);
  });
}

async function run(): Promise<TrainHarnessReport> {
  const workers = [await inWorker({ threads: 1 }), await inWorker({ threads: 2 })];
  const config = PRESETS.tiny;
  const b = new JsBackend(arenaFor(config, HARNESS_B, config.context), 'f32');
  restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, HARNESS_SEED));
  const jsLosses = harnessBatches(config, HARNESS_B, config.context, HARNESS_STEPS, HARNESS_SEED).map((batch, k) =>
    trainStep(b, batch, ADAMW_DEFAULTS, k + 1),
  );
  const report = { isolated: globalThis.crossOriginIsolated === true, workers, jsLosses };
  document.getElementById('log')!.textContent = JSON.stringify(report, null, 2);
  return report;
}

declare global {
  interface Window {
    trainHarness?: { run: () => Promise<TrainHarnessReport> };
  }
}

window.trainHarness = { run };
