/** Browser diff paths for PULSE: pass `findChanges` to `diff(base, next, { findChanges })`. */
export { createGpuDiffer, type GpuDiffer, type GpuDifferOptions } from './gpuDiff';
export { createWorkerDiffer, type WorkerDiffer } from './workerDiff';
export { GpuDiffError, GpuUnavailableError, WorkerDiffError } from './errors';
