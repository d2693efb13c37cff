/**
 * What a training job would allocate, worked out from the config alone (no buffer is made), and the check
 * that refuses a job before allocating when a limit binds: WebAssembly's 4 GiB memory, or the WebGPU
 * adapter's largest storage binding and buffer.
 */
import { arenaFor, type GptConfig, TrainConfigError, WASM_MAX_BYTES, wasmMemoryBytes } from '../../train';

export interface TrainMemoryEstimate {
  readonly parameters: number;
  /** The WASM backend's memory for the training arena plus the 1-row sampler's. */
  readonly wasmBytes: number;
  /** The WebGPU arena buffer: the arena plus the attention scratch (B·heads·T² floats). */
  readonly gpuBytes: number;
  /** One checkpoint: weights and both AdamW moments in f32. */
  readonly checkpointBytes: number;
}

export interface DeviceLimits {
  /** WebAssembly memory available to one instance (wasm32: 4 GiB less a page). */
  readonly wasmMaxBytes: number;
  /** min(maxStorageBufferBindingSize, maxBufferSize) of the adapter, when WebGPU is considered. */
  readonly gpuMaxBufferBytes?: number;
}

export const DEFAULT_LIMITS: DeviceLimits = { wasmMaxBytes: WASM_MAX_BYTES };

export function estimateTrainMemory(config: GptConfig, batch: number): TrainMemoryEstimate {
  const arena = arenaFor(config, batch, config.context);
  const sampler = arenaFor(config, 1, config.context);
  return {
    parameters: arena.paramCount,
    wasmBytes: wasmMemoryBytes(arena) + wasmMemoryBytes(sampler),
    gpuBytes: 4 * (arena.size + batch * config.heads * config.context * config.context),
    checkpointBytes: 12 * arena.params.size,
  };
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Throws TrainConfigError naming the estimate and the binding limit when the job cannot fit the backend it
 * would run on; returns the estimate otherwise.
 */
export function checkFits(
  config: GptConfig,
  batch: number,
  backend: 'wasm' | 'webgpu',
  limits: DeviceLimits = DEFAULT_LIMITS,
): TrainMemoryEstimate {
  const e = estimateTrainMemory(config, batch);
  const advice = 'lower the batch, the context, the width or the layers';
  if (backend === 'wasm' && e.wasmBytes > limits.wasmMaxBytes)
    throw new TrainConfigError(
      `this model needs ${formatBytes(e.wasmBytes)} of WebAssembly memory, over WebAssembly's limit of ${formatBytes(limits.wasmMaxBytes)}: ${advice}`,
    );
  if (backend === 'webgpu') {
    const max = limits.gpuMaxBufferBytes;
    if (max === undefined) throw new TrainConfigError('no WebGPU adapter limits are known: choose the WASM backend');
    if (e.gpuBytes > max)
      throw new TrainConfigError(
        `this model needs a ${formatBytes(e.gpuBytes)} GPU buffer, over the adapter's largest buffer of ${formatBytes(max)}: ${advice}, or choose the WASM backend`,
      );
  }
  return e;
}
