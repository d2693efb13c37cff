/**
 * The engine's WASM side of bench:train-chromium, in a dedicated Web Worker as in a provider: a threaded
 * backend's calling thread blocks in Atomics.wait, which a page's main thread may not do.
 */
import { arenaFor, type Batch, evalLoss, PRESETS, restoreInto, trainStep, WasmBackend } from '@shared/train';
import type { TrainState } from '@shared/train';
import { spawnBrowser } from '../src/engine/wasm/threads.browser.ts';
import { HP, matmulOperands, type StepsRun } from '../../bench/train/case';

export type BenchWorkerRequest =
  | {
      readonly kind: 'train';
      readonly threads: number;
      readonly B: number;
      readonly T: number;
      readonly batches: Batch[];
      readonly val: Batch;
      readonly state: TrainState;
    }
  | { readonly kind: 'matmul'; readonly threads: number; readonly n: number; readonly repeats: number };

export type BenchWorkerReply =
  | ({ readonly ok: true; readonly name: string } & StepsRun)
  | { readonly ok: false; readonly error: string };

async function train(r: Extract<BenchWorkerRequest, { kind: 'train' }>) {
  const b = await WasmBackend.create(arenaFor(r.state.config, r.B, r.T), { threads: r.threads, spawn: spawnBrowser });
  try {
    restoreInto(b, r.state);
    const ms: number[] = [];
    const stepLosses: number[] = [];
    r.batches.forEach((batch, k) => {
      const t0 = performance.now();
      stepLosses.push(trainStep(b, batch, HP, k + 1));
      ms.push(performance.now() - t0);
    });
    return { name: b.name, ms, stepLosses, loss: evalLoss(b, r.val) };
  } finally {
    b.dispose();
  }
}

/** out = A·Bᵀ over the operands case.ts gives TF.js (the engine's weights are (out, in)). */
async function matmul(r: Extract<BenchWorkerRequest, { kind: 'matmul' }>) {
  const { n } = r;
  const arena = { ...arenaFor(PRESETS.tiny, 1, 1), size: 3 * n * n };
  const b = await WasmBackend.create(arena, { threads: r.threads, spawn: spawnBrowser });
  try {
    b.f.set(matmulOperands(n));
    const ms: number[] = [];
    for (let k = 0; k <= r.repeats; k++) {
      const t0 = performance.now();
      b.kernels.matmulForward(2 * n * n, 0, n * n, -1, n, n, n);
      ms.push(performance.now() - t0);
    }
    return { name: b.name, ms, stepLosses: [], loss: NaN };
  } finally {
    b.dispose();
  }
}

self.onmessage = async (e: MessageEvent<BenchWorkerRequest>) => {
  try {
    const out = e.data.kind === 'train' ? await train(e.data) : await matmul(e.data);
    self.postMessage({ ok: true, ...out } satisfies BenchWorkerReply);
  } catch (err) {
    self.postMessage({ ok: false, error: String(err) } satisfies BenchWorkerReply);
  }
};
