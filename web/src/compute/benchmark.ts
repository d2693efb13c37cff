/**
 * A short matmul benchmark per backend, run through the same worker and
 * runtime that will do the work, so the figure is what a unit will see.
 */
import type { Backend } from '@shared/protocol';
import { matmul256 } from '@shared/models';
import {
  BENCH_BUDGET_MS,
  BENCH_MAX_ROWS,
  BENCH_MIN_ROWS,
  BENCH_PROBE_ROWS,
  BENCH_RUNS,
  BENCH_SIZING_FRACTION,
  BENCH_SIZING_STEPS,
  BENCH_TARGET_RUN_MS,
} from './constants';
import { ComputeWorker, type ComputeWorkerOptions } from './client';

export interface BenchmarkResult {
  backend: Backend;
  gflops: number;
  rows: number;
  /** Median time of one run. */
  medianMs: number;
  runs: number;
}

const BENCH_HASH = `builtin:${matmul256.id}`;

/**
 * Rows for a run of about BENCH_TARGET_RUN_MS, found from tiny runs upwards so a
 * slow backend (SwiftShader WebGPU: ~0.05–0.2 GFLOP/s) is never handed a big one.
 * Rescales more than once because small runs are dominated by fixed costs.
 */
async function sizeRuns(worker: ComputeWorker): Promise<number> {
  let rows = BENCH_PROBE_ROWS;
  for (let step = 0; step < BENCH_SIZING_STEPS; step++) {
    const ms = median(await worker.bench(BENCH_HASH, matmul256.generateInputs(rows, 1), 1, 0));
    if (ms >= BENCH_SIZING_FRACTION * BENCH_TARGET_RUN_MS || rows >= BENCH_MAX_ROWS) break;
    // Grow at most 16× per step: the estimate from a tiny run is pessimistic, not reliable.
    rows = Math.min(rows * 16, Math.round((rows * BENCH_TARGET_RUN_MS) / Math.max(ms, 0.01)));
  }
  return Math.max(BENCH_MIN_ROWS, Math.min(BENCH_MAX_ROWS, rows));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A fresh worker on `backend` with the benchmark's model loaded: the slow part (starting the runtime). */
export async function prepareBenchmark(backend: Backend, options: ComputeWorkerOptions = {}): Promise<ComputeWorker> {
  const worker = await ComputeWorker.create(backend, options);
  try {
    await worker.loadModel(BENCH_HASH, matmul256.build());
    return worker;
  } catch (e) {
    worker.dispose();
    throw e;
  }
}

/** The timed part, on a worker from prepareBenchmark; the benchmark's model is unloaded after, the worker kept. */
export async function measureBenchmark(worker: ComputeWorker): Promise<BenchmarkResult> {
  try {
    const rows = await sizeRuns(worker);
    const times = await worker.bench(BENCH_HASH, matmul256.generateInputs(rows, 2), BENCH_RUNS, BENCH_BUDGET_MS);
    const medianMs = median(times);
    const gflops = (matmul256.flopsPerRow * rows) / (Math.max(medianMs, 1e-3) * 1e6);
    return { backend: worker.backend, gflops, rows, medianMs, runs: times.length };
  } finally {
    await worker.unloadModel(BENCH_HASH).catch(() => undefined);
  }
}
