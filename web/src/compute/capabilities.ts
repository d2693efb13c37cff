/** Probe + benchmark → the `Capabilities` a provider announces, and why it chose its backend. */
import { CapabilitiesSchema, type Backend, type Capabilities } from '@shared/protocol';
import * as v from 'valibot';
import { WASM_MAX_BUFFER_BYTES, WEBGPU_PREFERENCE } from './constants';
import { benchmarkBackend, type BenchmarkResult } from './benchmark';
import { probeWasm, probeWebGpu, type WasmProbe, type WebGpuProbeResult } from './probe';

export interface CapabilityReport {
  capabilities: Capabilities;
  /** One sentence for the provider page: what was chosen and why. */
  reason: string;
  webgpu: WebGpuProbeResult;
  wasm: WasmProbe;
  benchmarks: Partial<Record<Backend, BenchmarkResult>>;
  /** Backends that failed to start or run, with the error. */
  failures: Partial<Record<Backend, string>>;
}

export interface DetectOptions {
  /** Skip benchmarking these (e.g. to save time in tests). */
  skip?: Backend[];
  bench?: typeof benchmarkBackend;
}

export async function detectCapabilities(options: DetectOptions = {}): Promise<CapabilityReport> {
  const bench = options.bench ?? benchmarkBackend;
  const skip = new Set(options.skip ?? []);
  const wasm = probeWasm();
  const webgpu = await probeWebGpu();
  const benchmarks: Partial<Record<Backend, BenchmarkResult>> = {};
  const failures: Partial<Record<Backend, string>> = {};
  // One backend at a time: both share the CPU here, so running them together would skew both.
  const candidates: Backend[] = webgpu.available ? ['wasm', 'webgpu'] : ['wasm'];
  for (const backend of candidates) {
    if (skip.has(backend)) continue;
    try {
      benchmarks[backend] = await bench(backend);
    } catch (e) {
      failures[backend] = e instanceof Error ? e.message : String(e);
    }
  }
  const { backend, reason } = chooseBackend(benchmarks, webgpu, failures);
  const chosen = benchmarks[backend];
  const capabilities = v.parse(CapabilitiesSchema, {
    backend,
    gflops: round(chosen?.gflops ?? 0),
    measured: {
      ...(benchmarks.webgpu ? { webgpu: round(benchmarks.webgpu.gflops) } : {}),
      ...(benchmarks.wasm ? { wasm: round(benchmarks.wasm.gflops) } : {}),
    },
    ...(webgpu.available ? { adapter: webgpu.adapter } : {}),
    features: webgpu.available ? webgpu.features.slice(0, 64) : [],
    maxBufferBytes:
      backend === 'webgpu' && webgpu.available ? webgpu.maxStorageBufferBindingSize : WASM_MAX_BUFFER_BYTES,
    wasm: { simd: wasm.simd, threads: wasm.threads, cores: wasm.cores },
  } satisfies Capabilities);
  return { capabilities, reason, webgpu, wasm, benchmarks, failures };
}

/** The faster backend, preferring WebGPU within WEBGPU_PREFERENCE of WASM; pure, for tests. */
export function chooseBackend(
  benchmarks: Partial<Record<Backend, BenchmarkResult>>,
  webgpu: WebGpuProbeResult,
  failures: Partial<Record<Backend, string>> = {},
): { backend: Backend; reason: string } {
  const gpu = benchmarks.webgpu;
  const cpu = benchmarks.wasm;
  const fmt = (r: BenchmarkResult) => `${r.gflops.toFixed(r.gflops < 10 ? 2 : 1)} GFLOP/s`;
  if (!webgpu.available) return { backend: 'wasm', reason: `WASM${cpu ? ` (${fmt(cpu)})` : ''}: ${webgpu.reason}` };
  if (!gpu)
    return {
      backend: 'wasm',
      reason: `WASM${cpu ? ` (${fmt(cpu)})` : ''}: WebGPU did not run (${failures.webgpu ?? 'not measured'})`,
    };
  if (!cpu)
    return { backend: 'webgpu', reason: `WebGPU (${fmt(gpu)}): WASM did not run (${failures.wasm ?? 'not measured'})` };
  const adapter = `${webgpu.adapter.vendor} ${webgpu.adapter.architecture}`.trim() || 'unknown adapter';
  if (gpu.gflops >= WEBGPU_PREFERENCE * cpu.gflops) {
    return { backend: 'webgpu', reason: `WebGPU on ${adapter}: ${fmt(gpu)} vs WASM ${fmt(cpu)}` };
  }
  const software =
    webgpu.isFallbackAdapter || /swiftshader|llvmpipe|software/i.test(adapter)
      ? ' (a software adapter, no real GPU)'
      : '';
  return { backend: 'wasm', reason: `WASM: ${fmt(cpu)} vs WebGPU on ${adapter}${software} ${fmt(gpu)}` };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
