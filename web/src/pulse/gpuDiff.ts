/**
 * WebGPU diff: compares two weight buffers and compacts the changed positions
 * on the GPU in three passes (per-workgroup flags + scan, scan of group counts,
 * scatter). Tensors larger than one storage binding are processed in chunks.
 * Produces exactly what findChangesCpu produces (ascending flat indices).
 */

import flagsWgsl from './wgsl/flags.wgsl?raw';
import paramsWgsl from './wgsl/params.wgsl?raw';
import scanWgsl from './wgsl/scan.wgsl?raw';
import scatterWgsl from './wgsl/scatter.wgsl?raw';
import type { ChangeFinder, TensorData } from '@shared/pulse';
import { PREFERRED_WORKGROUP_SIZE } from './constants';
import { GpuDiffError, GpuUnavailableError } from './errors';

export interface GpuDifferOptions {
  readonly gpu?: GPU;
  /** Caps elements per chunk below what the device allows (tests use it to exercise chunking at tiny sizes). */
  readonly maxChunkElements?: number;
  /** Caps workgroups per dispatch dimension (tests use it to exercise the 2-D dispatch). */
  readonly maxGroupsPerDimension?: number;
}

export interface GpuDiffer {
  readonly findChanges: ChangeFinder;
  readonly workgroupSize: number;
  readonly chunkElements: number;
  readonly adapterInfo: { vendor: string; architecture: string };
  destroy(): void;
}

const PARAMS_BYTES = 16;

export async function createGpuDiffer(options: GpuDifferOptions = {}): Promise<GpuDiffer> {
  const gpu = options.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu) throw new GpuUnavailableError('navigator.gpu is not available (WebGPU needs a secure context)');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new GpuUnavailableError('no WebGPU adapter');
  // Ask for the adapter's largest buffers; everything else at defaults.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  const lim = device.limits;
  const wg = Math.min(PREFERRED_WORKGROUP_SIZE, lim.maxComputeInvocationsPerWorkgroup, lim.maxComputeWorkgroupSizeX);
  if (wg < 1 || (wg + 1) * 4 > lim.maxComputeWorkgroupStorageSize)
    throw new GpuUnavailableError('adapter limits too small for the diff kernels');
  // 4 bytes per element in the offset and position buffers bound the chunk; keep it a multiple of 2·wg so 16-bit chunks start on a word.
  const byLimits = Math.floor(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / 4);
  const chunkElements = Math.max(
    2 * wg,
    Math.floor(Math.min(byLimits, options.maxChunkElements ?? Infinity) / (2 * wg)) * 2 * wg,
  );
  const maxPerDim = Math.min(lim.maxComputeWorkgroupsPerDimension, options.maxGroupsPerDimension ?? Infinity);

  const pipeline = (code: string): GPUComputePipeline =>
    device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main', constants: { WG: wg } },
    });
  const flags = pipeline(paramsWgsl + flagsWgsl);
  const scan = pipeline(paramsWgsl + scanWgsl);
  const scatter = pipeline(paramsWgsl + scatterWgsl);

  let lost: string | null = null;
  void device.lost.then((info) => {
    lost = info.message || 'device lost';
  });

  const storage = (size: number, extra = 0): GPUBuffer =>
    device.createBuffer({
      size: Math.max(4, Math.ceil(size / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extra,
    });

  async function readU32(src: GPUBuffer, count: number): Promise<Uint32Array> {
    if (count === 0) return new Uint32Array(0);
    const staging = device.createBuffer({ size: count * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, staging, 0, count * 4);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Bytes of elements [start, start+count) as a 4-byte-aligned, 4-byte-padded view. */
  function chunkBytes(data: TensorData, start: number, count: number): Uint8Array<ArrayBuffer> {
    const size = count * data.BYTES_PER_ELEMENT;
    const view = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset + start * data.BYTES_PER_ELEMENT, size);
    if (size % 4 === 0 && view.byteOffset % 4 === 0) return view;
    const padded = new Uint8Array(Math.ceil(size / 4) * 4);
    padded.set(view);
    return padded;
  }

  async function diffChunk(a: TensorData, b: TensorData, start: number, count: number): Promise<Uint32Array> {
    const halfWords = a.BYTES_PER_ELEMENT === 2 ? 1 : 0;
    const groups = Math.ceil(count / wg);
    const groupsX = Math.min(groups, maxPerDim);
    const groupsY = Math.ceil(groups / groupsX);
    if (groupsY > maxPerDim) throw new GpuDiffError('chunk needs more workgroups than the device dispatches');
    const params = device.createBuffer({ size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(params, 0, new Uint32Array([count, halfWords, groupsX, groups]));
    const aBytes = chunkBytes(a, start, count);
    const bufA = storage(aBytes.length);
    const bufB = storage(aBytes.length);
    device.queue.writeBuffer(bufA, 0, aBytes);
    device.queue.writeBuffer(bufB, 0, chunkBytes(b, start, count));
    const localOffset = storage(count * 4);
    const groupCount = storage(groups * 4);
    const total = storage(4);
    const positions = storage(count * 4);
    const buffers = [params, bufA, bufB, localOffset, groupCount, total, positions];
    try {
      const bind = (p: GPUComputePipeline, resources: GPUBuffer[]): GPUBindGroup =>
        device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: resources.map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(flags);
      pass.setBindGroup(0, bind(flags, [params, bufA, bufB, localOffset, groupCount]));
      pass.dispatchWorkgroups(groupsX, groupsY);
      pass.setPipeline(scan);
      pass.setBindGroup(0, bind(scan, [params, groupCount, total]));
      pass.dispatchWorkgroups(1);
      pass.setPipeline(scatter);
      pass.setBindGroup(0, bind(scatter, [params, bufA, bufB, localOffset, groupCount, positions]));
      pass.dispatchWorkgroups(groupsX, groupsY);
      pass.end();
      device.queue.submit([enc.finish()]);
      const [changed] = await readU32(total, 1);
      if (changed === undefined || changed > count)
        throw new GpuDiffError(`kernel reported ${changed} changes in ${count} elements`);
      return await readU32(positions, changed);
    } finally {
      for (const buf of buffers) buf.destroy();
    }
  }

  const findChanges: ChangeFinder = async (a, b) => {
    if (a.length !== b.length || a.BYTES_PER_ELEMENT !== b.BYTES_PER_ELEMENT)
      throw new GpuDiffError('tensors differ in length or width');
    if (lost !== null) throw new GpuDiffError(`WebGPU device lost: ${lost}`);
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const parts: Uint32Array[] = [];
    let total = 0;
    let failure: unknown = null;
    try {
      for (let start = 0; start < a.length; start += chunkElements) {
        const part = await diffChunk(a, b, start, Math.min(chunkElements, a.length - start));
        for (let i = 0; i < part.length; i++) part[i]! += start;
        parts.push(part);
        total += part.length;
      }
    } catch (e) {
      failure = e;
    }
    const errors = [await device.popErrorScope(), await device.popErrorScope()].filter((e) => e !== null);
    if (errors.length > 0)
      throw new GpuDiffError(`WebGPU error during diff: ${errors.map((e) => e!.message).join('; ')}`);
    if (failure !== null) throw failure;
    const out = new Uint32Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };

  const info = adapter.info;
  return {
    findChanges,
    workgroupSize: wg,
    chunkElements,
    adapterInfo: { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '' },
    destroy: () => device.destroy(),
  };
}
