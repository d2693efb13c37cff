export {
  ComputeWorker,
  defaultThreadCount,
  type ComputeWorkerOptions,
  type RunOptions,
  type RunResult,
} from './client';
export { ComputeError, type ComputeErrorCode } from './errors';
export { probeWasm, probeWebGpu, type WasmProbe, type WebGpuProbe, type WebGpuProbeResult } from './probe';
export { measureBenchmark, median, prepareBenchmark, type BenchmarkResult } from './benchmark';
export { chooseBackend, detectCapabilities, type CapabilityReport, type DetectOptions } from './capabilities';
