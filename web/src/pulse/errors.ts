/** Errors of the browser diff paths (the codec's own errors live in shared/src/pulse/errors.ts). */

/** No WebGPU adapter/device, or it lacks what the diff kernels need. Callers fall back to the worker path. */
export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

/** A WebGPU validation/out-of-memory error or device loss during a diff. */
export class GpuDiffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuDiffError';
  }
}

/** The diff worker failed or was terminated with requests outstanding. */
export class WorkerDiffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerDiffError';
  }
}
