/** RL rollouts on WebGPU: the training engine's forward kernels, read back a row of logits per token. */
import type { Backend } from '@shared/train';
import { WebGpuBackend } from '../engine/webgpu/kernels';
import type { RolloutEngineFactory } from './provider-rl';

export const webgpuRolloutEngine: RolloutEngineFactory = async (arena) => {
  const b = await WebGpuBackend.create(arena);
  const backend: Backend = b;
  return { backend, name: 'webgpu', read: (at, n) => b.readAsync(at, n), dispose: () => b.destroy() };
};
