/** Errors of the compute layer. Every message says what the user can do about it. */

export type ComputeErrorCode =
  | 'backend-unavailable' // the browser lacks WebGPU / the adapter is gone
  | 'runtime-load-failed' // onnxruntime's wasm could not be fetched or compiled
  | 'model-load-failed' // the model does not load on this backend
  | 'model-not-loaded'
  | 'inference-failed'
  | 'bad-message'
  | 'worker-crashed'
  | 'disposed'
  | 'timeout';

export class ComputeError extends Error {
  override readonly name = 'ComputeError';
  constructor(
    readonly code: ComputeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
