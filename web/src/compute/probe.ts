/** What this browser offers for compute, found by feature detection only (no benchmarks here). */
import type { AdapterInfo } from '@shared/protocol';

export interface WebGpuProbe {
  available: true;
  adapter: AdapterInfo;
  /** Adapter features, sorted (e.g. "shader-f16", "timestamp-query"). */
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** SwiftShader and other CPU fallbacks report this (see isSoftwareAdapter). */
  isFallbackAdapter: boolean;
}

/**
 * A WebGPU adapter that rasterises on the CPU (SwiftShader, llvmpipe/lavapipe, Microsoft's Basic Render
 * Driver): it shares the cores WebAssembly would use and is far slower on them (CI measures SwiftShader at
 * 0.07 GFLOP/s against WASM's 18), so a provider does not spend its start benchmarking it.
 */
export function isSoftwareAdapter(p: WebGpuProbe): boolean {
  const { vendor, architecture, description } = p.adapter;
  return (
    p.isFallbackAdapter ||
    /swiftshader|llvmpipe|lavapipe|software|basic render/i.test(`${vendor} ${architecture} ${description}`)
  );
}
export type WebGpuProbeResult = WebGpuProbe | { available: false; reason: string };

export interface WasmProbe {
  simd: boolean;
  /** SharedArrayBuffer usable: needs cross-origin isolation (COOP/COEP headers). */
  threads: boolean;
  cores: number;
  crossOriginIsolated: boolean;
}

/** A 1-function module using v128 ops (from wasm-feature-detect); validates only where SIMD is supported. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

const clip = (text: unknown) => String(text ?? '').slice(0, 256);

export function probeWasm(): WasmProbe {
  const simd = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  const isolated = typeof crossOriginIsolated === 'boolean' && crossOriginIsolated;
  let threads = false;
  if (isolated && typeof SharedArrayBuffer === 'function') {
    try {
      threads = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      threads = false;
    }
  }
  const cores = Math.max(1, Math.min(1024, Math.floor(navigator.hardwareConcurrency || 1)));
  return { simd, threads, cores, crossOriginIsolated: isolated };
}

export async function probeWebGpu(): Promise<WebGpuProbeResult> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    const reason =
      typeof isSecureContext !== 'boolean' || isSecureContext
        ? 'this browser has no WebGPU (navigator.gpu is missing)'
        : 'WebGPU needs a secure context (https or localhost)';
    return { available: false, reason };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `requestAdapter failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!adapter) return { available: false, reason: 'no WebGPU adapter (GPU blocklisted or disabled in this browser)' };
  const info = await adapterInfo(adapter);
  return {
    available: true,
    adapter: {
      vendor: clip(info.vendor),
      architecture: clip(info.architecture),
      device: clip(info.device),
      description: clip(info.description),
    },
    features: [...adapter.features].map(String).sort(),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    isFallbackAdapter: Boolean(
      (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
  };
}

/** `adapter.info` (Chrome 127+), else the older `requestAdapterInfo()`. */
async function adapterInfo(adapter: GPUAdapter): Promise<Partial<GPUAdapterInfo>> {
  if ('info' in adapter && adapter.info) return adapter.info;
  const legacy = (adapter as { requestAdapterInfo?: () => Promise<GPUAdapterInfo> }).requestAdapterInfo;
  if (legacy) {
    try {
      return await legacy.call(adapter);
    } catch {
      return {};
    }
  }
  return {};
}
