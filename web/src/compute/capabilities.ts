/** Probe + benchmark → the `Capabilities` a provider announces, and why it chose its backend. */
import { messageOf } from '@shared/errors';
import { CapabilitiesSchema, type Backend, type Capabilities } from '@shared/protocol';
import * as v from 'valibot';
import { WASM_MAX_BUFFER_BYTES, WEBGPU_PREFERENCE } from './constants';
import { measureBenchmark, prepareBenchmark, type BenchmarkResult } from './benchmark';
import type { ComputeWorker } from './client';
import { isSoftwareAdapter, probeWasm, probeWebGpu, type WasmProbe, type WebGpuProbeResult } from './probe';

export interface CapabilityReport {
  capabilities: Capabilities;
  /** One sentence for the provider page: what was chosen and why. */
  reason: string;
  webgpu: WebGpuProbeResult;
  wasm: WasmProbe;
  benchmarks: Partial<Record<Backend, BenchmarkResult>>;
  /** Backends that failed to start or run, with the error. */
  failures: Partial<Record<Backend, string>>;
  /**
   * With `keep`: the benchmark's worker on the chosen backend, its runtime started, for the caller to
   * compute on (or dispose). Starting onnxruntime in a worker costs ~2.5 s here; a provider tab started
   * it once to benchmark and again for its first unit.
   */
  worker?: ComputeWorker;
}

export interface DetectOptions {
  /** Skip benchmarking these (e.g. to save time in tests). */
  skip?: Backend[];
  /** Replaces the benchmark (tests): one backend at a time, nothing kept. */
  bench?: (backend: Backend) => Promise<BenchmarkResult>;
  /** Keep the chosen backend's benchmark worker (CapabilityReport.worker). */
  keep?: boolean;
  /** Benchmark a software WebGPU adapter too (isSoftwareAdapter): tests of the WebGPU path on SwiftShader. */
  software?: boolean;
}

export async function detectCapabilities(options: DetectOptions = {}): Promise<CapabilityReport> {
  const skip = new Set(options.skip ?? []);
  const wasm = probeWasm();
  const webgpu = await probeWebGpu();
  const benchmarks: Partial<Record<Backend, BenchmarkResult>> = {};
  const failures: Partial<Record<Backend, string>> = {};
  const gpuWorthIt = webgpu.available && (options.software || !isSoftwareAdapter(webgpu));
  const candidates = (gpuWorthIt ? (['wasm', 'webgpu'] as const) : (['wasm'] as const)).filter((b) => !skip.has(b));
  const workers = new Map<Backend, ComputeWorker>();
  const measure = async (backends: readonly Backend[]) => {
    if (options.bench) {
      for (const backend of backends) {
        try {
          benchmarks[backend] = await options.bench(backend);
        } catch (e) {
          failures[backend] = messageOf(e);
        }
      }
      return;
    }
    // Every runtime starts at once (loading onnxruntime is most of the wait), then the timed runs go one
    // backend at a time: both share the CPU here, so timing them together would skew both.
    const started = await Promise.allSettled(backends.map((b) => prepareBenchmark(b)));
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') workers.set(backends[i]!, s.value);
      else failures[backends[i]!] = messageOf(s.reason);
    });
    for (const backend of backends) {
      const worker = workers.get(backend);
      if (!worker) continue;
      try {
        benchmarks[backend] = await measureBenchmark(worker);
      } catch (e) {
        failures[backend] = messageOf(e);
      }
    }
  };
  await measure(candidates);
  // WebAssembly did not run: a software adapter is better than nothing.
  if (!benchmarks.wasm && webgpu.available && !gpuWorthIt && !skip.has('webgpu')) await measure(['webgpu']);
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
  const kept = options.keep && benchmarks[backend] ? workers.get(backend) : undefined;
  for (const worker of workers.values()) if (worker !== kept) worker.dispose();
  return { capabilities, reason, webgpu, wasm, benchmarks, failures, ...(kept && { worker: kept }) };
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
  const adapter = `${webgpu.adapter.vendor} ${webgpu.adapter.architecture}`.trim() || 'unknown adapter';
  const software = isSoftwareAdapter(webgpu);
  if (!gpu && software && !failures.webgpu)
    return {
      backend: 'wasm',
      reason: `WASM${cpu ? ` (${fmt(cpu)})` : ''}: WebGPU here is ${adapter}, a software adapter that runs on the CPU (not benchmarked)`,
    };
  if (!gpu)
    return {
      backend: 'wasm',
      reason: `WASM${cpu ? ` (${fmt(cpu)})` : ''}: WebGPU did not run (${failures.webgpu ?? 'not measured'})`,
    };
  if (!cpu)
    return { backend: 'webgpu', reason: `WebGPU (${fmt(gpu)}): WASM did not run (${failures.wasm ?? 'not measured'})` };
  if (gpu.gflops >= WEBGPU_PREFERENCE * cpu.gflops) {
    return { backend: 'webgpu', reason: `WebGPU on ${adapter}: ${fmt(gpu)} vs WASM ${fmt(cpu)}` };
  }
  const note = software ? ' (a software adapter, no real GPU)' : '';
  return { backend: 'wasm', reason: `WASM: ${fmt(cpu)} vs WebGPU on ${adapter}${note} ${fmt(gpu)}` };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
