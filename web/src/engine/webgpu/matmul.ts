/**
 * The WebGPU device and arena buffer, and the linear layer's forward and both gradient products as one
 * tiled GEMM (wgsl/matmul.wgsl) over ONE storage buffer holding the arena, with the same slot-offset
 * signatures as Kernels.matmulForward / matmulBackward. Calls only encode; `flush()` submits everything
 * encoded since the last flush as one command buffer (dispatch overhead dominates small models).
 * kernels.ts builds the rest of the step on `run()`.
 */
import { NONE } from '@shared/train';
import matmulWgsl from './wgsl/matmul.wgsl?raw';

/** 16×16 = 256 invocations and 2 KiB of workgroup memory: within WebGPU's guaranteed limits. */
const PREFERRED_TILE = 16;
const FALLBACK_TILE = 8;
/** Every kernel's arguments fit 32 words (params.wgsl: 16 u32 + 8 f32; the GEMM uses 16). */
const UNIFORM_BYTES = 128;
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension; larger 1-D dispatches fold into a second dimension. */
const MAX_GROUPS = 65535;
const NO_BIAS = 0xffffffff;

export class WebGpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuUnavailableError';
  }
}

export function tileFor(limits: GPUSupportedLimits): number {
  const fits = (t: number) =>
    t * t <= limits.maxComputeInvocationsPerWorkgroup &&
    t <= limits.maxComputeWorkgroupSizeX &&
    t <= limits.maxComputeWorkgroupSizeY &&
    2 * t * t * 4 <= limits.maxComputeWorkgroupStorageSize;
  return fits(PREFERRED_TILE) ? PREFERRED_TILE : FALLBACK_TILE;
}

interface GemmArgs {
  M: number;
  N: number;
  K: number;
  aOff: number;
  aRow: number;
  aCol: number;
  bOff: number;
  bRow: number;
  bCol: number;
  cOff: number;
  cRow: number;
  accumulate: boolean;
  biasOff: number;
}

/** A device, one storage buffer holding the arena, and the linear-layer kernels over it. */
export class GpuMatmul {
  private encoder: GPUCommandEncoder | null = null;
  private readonly uniforms: GPUBuffer[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly buffer: GPUBuffer,
    readonly tile: number,
    private readonly gemm: GPUComputePipeline,
    private readonly biasGrad: GPUComputePipeline,
  ) {}

  /** A device and one arena buffer of `slots` floats. */
  static async create(slots: number, gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuMatmul> {
    if (!gpu) throw new WebGpuUnavailableError('navigator.gpu is not available (WebGPU needs a secure context)');
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter');
    const bytes = slots * 4;
    if (bytes > adapter.limits.maxStorageBufferBindingSize || bytes > adapter.limits.maxBufferSize)
      throw new WebGpuUnavailableError(`an arena of ${bytes} bytes exceeds the adapter's buffer limits`);
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const tile = tileFor(device.limits);
    const module = device.createShaderModule({ code: matmulWgsl });
    const gemm = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'gemm', constants: { TILE: tile } },
    });
    const biasGrad = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'biasGrad' } });
    const buffer = device.createBuffer({
      size: Math.max(16, bytes),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    return new GpuMatmul(device, buffer, tile, gemm, biasGrad);
  }

  write(at: number, data: Float32Array): void {
    this.device.queue.writeBuffer(this.buffer, at * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(at: number, n: number): Promise<Float32Array> {
    this.flush();
    const staging = this.device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buffer, at * 4, staging, 0, n * 4);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  private dispatch(pipeline: GPUComputePipeline, args: GemmArgs, groupsX: number, groupsY: number) {
    const a = args;
    const words = [a.M, a.N, a.K, a.aOff, a.aRow, a.aCol, a.bOff, a.bRow, a.bCol, a.cOff, a.cRow, a.accumulate ? 1 : 0];
    this.run(pipeline, new Uint32Array([...words, a.biasOff, 0, 0, 0]).buffer, groupsX, groupsY);
  }

  /** Encodes one dispatch of `pipeline` over the arena with `args` as its uniform block. */
  run(pipeline: GPUComputePipeline, args: ArrayBuffer, groupsX: number, groupsY = 1): void {
    if (groupsX > MAX_GROUPS || groupsY > MAX_GROUPS)
      throw new WebGpuUnavailableError('dispatch exceeds 65,535 workgroups');
    const u = this.device.createBuffer({
      size: UNIFORM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(u, 0, args);
    this.uniforms.push(u);
    this.encoder ??= this.device.createCommandEncoder();
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.buffer } },
          { binding: 1, resource: { buffer: u } },
        ],
      }),
    );
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
  }

  /** Workgroups for one invocation per item, folded into 2-D past MAX_GROUPS (params.wgsl flat()). */
  static groups(items: number, size: number): [number, number] {
    const g = Math.max(1, Math.ceil(items / size));
    return g <= MAX_GROUPS ? [g, 1] : [MAX_GROUPS, Math.ceil(g / MAX_GROUPS)];
  }

  private gemmCall(a: GemmArgs) {
    this.dispatch(this.gemm, a, Math.ceil(a.N / this.tile), Math.ceil(a.M / this.tile));
  }

  /** out[n, o] = bias[o] + Σ_i inp[n, i] · w[o, i] (Kernels.matmulForward). */
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number): void {
    this.gemmCall({
      M: N,
      N: Cout,
      K: Cin,
      aOff: inp,
      aRow: Cin,
      aCol: 1,
      bOff: w,
      bRow: 1,
      bCol: Cin,
      cOff: out,
      cRow: Cout,
      accumulate: false,
      biasOff: bias === NONE ? NO_BIAS : bias,
    });
  }

  /** dinp += dout · w, dw += doutᵀ · inp, dbias += Σ_n dout (Kernels.matmulBackward). */
  matmulBackward(
    dinp: number,
    dw: number,
    dbias: number,
    dout: number,
    inp: number,
    w: number,
    N: number,
    Cin: number,
    Cout: number,
  ): void {
    const base = { accumulate: true, biasOff: NO_BIAS };
    this.gemmCall({
      ...base,
      M: N,
      N: Cin,
      K: Cout,
      aOff: dout,
      aRow: Cout,
      aCol: 1,
      bOff: w,
      bRow: Cin,
      bCol: 1,
      cOff: dinp,
      cRow: Cin,
    });
    this.gemmCall({
      ...base,
      M: Cout,
      N: Cin,
      K: N,
      aOff: dout,
      aRow: 1,
      aCol: Cout,
      bOff: inp,
      bRow: Cin,
      bCol: 1,
      cOff: dw,
      cRow: Cin,
    });
    if (dbias !== NONE) {
      const args = {
        ...base,
        M: N,
        N: Cout,
        K: 0,
        aOff: dout,
        aRow: Cout,
        aCol: 1,
        bOff: 0,
        bRow: 0,
        bCol: 0,
        cOff: dbias,
        cRow: 0,
      };
      this.dispatch(this.biasGrad, args, Math.ceil(Cout / 64), 1);
    }
  }

  /** Submits everything encoded since the last flush as one command buffer. */
  flush(): void {
    if (this.encoder === null) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    const done = this.uniforms.splice(0);
    void this.device.queue.onSubmittedWorkDone().then(() => {
      for (const u of done) u.destroy();
    });
  }

  destroy(): void {
    this.buffer.destroy();
    this.device.destroy();
  }
}
