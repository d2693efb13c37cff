/**
 * The Train job's engine view over the WebGPU backend: forward and backward in one command buffer, the
 * loss read back, then clip and AdamW in a second only when the loss is finite (one extra round trip per
 * step buys never writing NaN into the weights).
 */
import type { StepResult, TrainEngine } from '@shared/jobs';
import {
  type AdamWHyper,
  type Arena,
  backward,
  type Batch,
  encodeForward,
  GRAD_CLIP,
  loadBatch,
  SCALAR_GRAD_NORM,
  SCALAR_LOSS,
  type TrainState,
} from '@shared/train';
import { evalLossGpu, WebGpuBackend } from '../engine/webgpu/kernels';

export class WebGpuTrainEngine implements TrainEngine {
  readonly name = 'webgpu';
  /** Set when the device goes away (driver reset, GPU process crash, tab backgrounded on some systems). */
  lost: string | null = null;
  private constructor(private readonly b: WebGpuBackend) {
    b.gpu.device.lost.then((info) => {
      // destroy() on our own dispose is not a loss to recover from.
      if (info.reason !== 'destroyed') this.lost = info.message || 'unknown reason';
    });
  }

  static async create(arena: Arena): Promise<WebGpuTrainEngine> {
    return new WebGpuTrainEngine(await WebGpuBackend.create(arena));
  }

  async step(batch: Batch, hp: AdamWHyper, t: number): Promise<StepResult> {
    const b = this.b;
    const a = b.arena;
    loadBatch(b, batch);
    encodeForward(b);
    backward(b);
    b.gpu.flush();
    const loss = (await b.readAsync(a.scalarsAt + SCALAR_LOSS, 1))[0]!;
    if (!Number.isFinite(loss)) return { loss, applied: false };
    b.kernels.clipAdamw(
      a.paramsAt,
      a.gradsAt,
      a.mAt,
      a.vAt,
      a.params.size,
      hp,
      t,
      GRAD_CLIP,
      a.scalarsAt + SCALAR_GRAD_NORM,
    );
    b.gpu.flush();
    return { loss, applied: true };
  }
  evalLoss(batch: Batch): Promise<number> {
    return evalLossGpu(this.b, batch);
  }
  async load(s: TrainState): Promise<void> {
    const a = this.b.arena;
    this.b.writeFloats(a.paramsAt, s.params);
    this.b.writeFloats(a.mAt, s.m);
    this.b.writeFloats(a.vAt, s.v);
  }
  async save(s: TrainState): Promise<void> {
    const a = this.b.arena;
    s.params.set(await this.b.readAsync(a.paramsAt, s.params.length));
    s.m.set(await this.b.readAsync(a.mAt, s.m.length));
    s.v.set(await this.b.readAsync(a.vAt, s.v.length));
  }
  params(): Promise<Float32Array> {
    return this.b.readAsync(this.b.arena.paramsAt, this.b.arena.params.size);
  }
  dispose(): void {
    this.b.destroy();
  }
}

/** The adapter's largest usable buffer (min of binding and buffer size) and whether it is software, or null without one. */
export async function webGpuAdapter(): Promise<{ maxBytes: number; software: boolean } | null> {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info;
  // SwiftShader (and any fallback adapter) trains ~100× slower than WASM here (DESIGN.md, measured facts).
  const software =
    info.architecture === 'swiftshader' || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    maxBytes: Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize),
    software,
  };
}
