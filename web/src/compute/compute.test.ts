import { afterEach, describe, expect, it, vi } from 'vitest';
import * as v from 'valibot';
import { CapabilitiesSchema } from '@shared/protocol';
import { chooseBackend, detectCapabilities } from './capabilities';
import { median, type BenchmarkResult } from './benchmark';
import { ComputeWorker } from './client';
import { ComputeError } from './errors';
import { isTensor, WorkerRequestSchema } from './messages';
import type { WebGpuProbeResult } from './probe';
import { echoWorker, FakeWorker } from './fake-worker.test-util';

const swiftshader: WebGpuProbeResult = {
  available: true,
  adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: '' },
  features: ['subgroups', 'timestamp-query'],
  maxBufferSize: 2 ** 30,
  maxStorageBufferBindingSize: 2 ** 27,
  isFallbackAdapter: false,
};
const result = (backend: 'wasm' | 'webgpu', gflops: number): BenchmarkResult => ({
  backend,
  gflops,
  rows: 8,
  medianMs: 1,
  runs: 5,
});

describe('chooseBackend', () => {
  it('picks WASM over a software WebGPU adapter and says why', () => {
    const choice = chooseBackend({ wasm: result('wasm', 22), webgpu: result('webgpu', 0.2) }, swiftshader);
    expect(choice.backend).toBe('wasm');
    expect(choice.reason).toBe(
      'WASM: 22.0 GFLOP/s vs WebGPU on google swiftshader (a software adapter, no real GPU) 0.20 GFLOP/s',
    );
  });

  it('picks WebGPU when it is faster, or nearly as fast', () => {
    expect(chooseBackend({ wasm: result('wasm', 20), webgpu: result('webgpu', 400) }, swiftshader).backend).toBe(
      'webgpu',
    );
    expect(chooseBackend({ wasm: result('wasm', 20), webgpu: result('webgpu', 19) }, swiftshader).backend).toBe(
      'webgpu',
    );
    expect(chooseBackend({ wasm: result('wasm', 20), webgpu: result('webgpu', 17) }, swiftshader).backend).toBe('wasm');
  });

  it('falls back to WASM when WebGPU is missing or failed, naming the cause', () => {
    expect(chooseBackend({ wasm: result('wasm', 5) }, { available: false, reason: 'no adapter' }).reason).toMatch(
      /no adapter/,
    );
    expect(chooseBackend({ wasm: result('wasm', 5) }, swiftshader, { webgpu: 'device lost' }).reason).toMatch(
      /device lost/,
    );
  });
});

describe('detectCapabilities', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('returns Capabilities that pass the protocol schema', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 2 });
    const report = await detectCapabilities({ bench: async (backend) => result(backend, 12.3456) });
    expect(v.parse(CapabilitiesSchema, report.capabilities)).toEqual(report.capabilities);
    expect(report.capabilities).toMatchObject({
      backend: 'wasm',
      gflops: 12.346,
      measured: { wasm: 12.346 },
      features: [],
    });
    expect(report.capabilities.wasm).toEqual({ simd: true, threads: false, cores: 2 });
    expect(report.reason).toMatch(/navigator.gpu is missing/);
  });

  it('COMPUTE-SW1: a software WebGPU adapter is not benchmarked unless asked; with WASM failing it is tried; a real GPU always is', async () => {
    const gpuWith = (vendor: string, architecture: string) => ({
      requestAdapter: async () => ({
        info: { vendor, architecture, device: '', description: '' },
        features: new Set<string>(),
        limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 },
      }),
    });
    let asked: string[] = [];
    const bench = async (backend: 'wasm' | 'webgpu') => {
      asked.push(backend);
      return result(backend, backend === 'wasm' ? 18 : 0.07);
    };
    vi.stubGlobal('navigator', { hardwareConcurrency: 2, gpu: gpuWith('google', 'swiftshader') });
    let report = await detectCapabilities({ bench });
    expect(asked).toEqual(['wasm']);
    expect(report.capabilities).toMatchObject({ backend: 'wasm', gflops: 18, measured: { wasm: 18 } });
    expect(report.capabilities.measured.webgpu).toBeUndefined();
    expect(report.reason).toBe(
      'WASM (18.0 GFLOP/s): WebGPU here is google swiftshader, a software adapter that runs on the CPU (not benchmarked)',
    );
    // Asked for (the e2e tests of the WebGPU path on SwiftShader): both run.
    asked = [];
    report = await detectCapabilities({ bench, software: true });
    expect(asked).toEqual(['wasm', 'webgpu']);
    expect(report.capabilities.measured).toEqual({ wasm: 18, webgpu: 0.07 });
    // WebAssembly does not run: the software adapter is better than nothing.
    asked = [];
    report = await detectCapabilities({
      bench: async (backend) => {
        asked.push(backend);
        if (backend === 'wasm') throw new ComputeError('runtime-load-failed', 'wasm fetch failed');
        return result(backend, 0.07);
      },
    });
    expect(asked).toEqual(['wasm', 'webgpu']);
    expect(report.capabilities.backend).toBe('webgpu');
    // A hardware adapter is always measured.
    vi.stubGlobal('navigator', { hardwareConcurrency: 2, gpu: gpuWith('nvidia', 'ampere') });
    asked = [];
    report = await detectCapabilities({ bench });
    expect(asked).toEqual(['wasm', 'webgpu']);
  });

  it('reports a backend whose benchmark throws as a failure, not a crash', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 4 });
    const report = await detectCapabilities({
      bench: async () => {
        throw new ComputeError('runtime-load-failed', 'wasm fetch failed');
      },
    });
    expect(report.failures.wasm).toBe('wasm fetch failed');
    expect(report.capabilities.gflops).toBe(0);
  });
});

describe('worker messages', () => {
  it('accepts only well-formed tensors', () => {
    expect(isTensor({ dtype: 'float32', dims: [2, 2], data: new Float32Array(4) })).toBe(true);
    expect(isTensor({ dtype: 'float32', dims: [2, 2], data: new Float32Array(3) })).toBe(false);
    expect(isTensor({ dtype: 'float32', dims: [2], data: new Int32Array(2) })).toBe(false);
    expect(isTensor({ dtype: 'int64', dims: [1], data: new BigInt64Array(1) })).toBe(true);
    expect(isTensor({ dtype: 'float16', dims: [1], data: new Uint16Array(1) })).toBe(false);
    expect(isTensor({ dtype: 'uint8', dims: [-1], data: new Uint8Array(0) })).toBe(false);
  });

  it('rejects requests with unknown types or extra keys, and drops __proto__ input names', () => {
    expect(v.safeParse(WorkerRequestSchema, { type: 'run', id: 1, hash: 'h', inputs: {} }).success).toBe(true);
    expect(v.safeParse(WorkerRequestSchema, { type: 'eval', id: 1 }).success).toBe(false);
    expect(v.safeParse(WorkerRequestSchema, { type: 'unload', id: 1, hash: 'h', extra: 1 }).success).toBe(false);
    const proto = JSON.parse('{"__proto__": {"dtype": "uint8", "dims": [0], "data": null}}') as unknown;
    const parsed = v.parse(WorkerRequestSchema, { type: 'run', id: 1, hash: 'h', inputs: proto });
    expect(parsed.type === 'run' && Object.keys(parsed.inputs)).toEqual([]);
    expect(Object.getPrototypeOf(parsed.type === 'run' ? parsed.inputs : null)).toBe(Object.prototype);
  });
});

describe('ComputeWorker', () => {
  const create = (fake: FakeWorker) => ComputeWorker.create('wasm', { spawn: () => fake.asWorker(), numThreads: 1 });

  it('loads, runs and benches through typed messages', async () => {
    const fake = echoWorker();
    const worker = await create(fake);
    expect(worker.ortVersion).toBe('fake');
    expect(await worker.loadModel('h', new Uint8Array([1]))).toEqual({ inputNames: ['x'], outputNames: ['y'] });
    const x = { dtype: 'float32' as const, dims: [1], data: new Float32Array([5]) };
    const { outputs } = await worker.run('h', { x });
    expect(outputs['y']).toEqual(x);
    expect(median(await worker.bench('h', { x }, 3, 100))).toBe(2);
    worker.dispose();
    expect(fake.terminated).toBe(true);
  });

  it('turns worker error replies into ComputeErrors with their code', async () => {
    const fake = new FakeWorker((r) =>
      r.type === 'init'
        ? { type: 'ready', id: r.id, backend: 'wasm', numThreads: 1, ortVersion: 'x' }
        : { type: 'error', id: r.id, code: 'model-load-failed', message: 'bad graph' },
    );
    const worker = await create(fake);
    await expect(worker.loadModel('h', new Uint8Array([1]))).rejects.toMatchObject({
      name: 'ComputeError',
      code: 'model-load-failed',
      message: 'bad graph',
    });
    worker.dispose();
  });

  it('rejects create with backend-unavailable and stops the worker', async () => {
    const fake = new FakeWorker((r) => ({
      type: 'error',
      id: r.id,
      code: 'backend-unavailable',
      message: 'WebGPU is not available',
    }));
    await expect(create(fake)).rejects.toMatchObject({ code: 'backend-unavailable' });
    expect(fake.terminated).toBe(true);
  });

  const readyThen = (after: (r: { type: string; id: number }) => unknown) =>
    new FakeWorker((r) =>
      r.type === 'init' ? { type: 'ready', id: r.id, backend: 'wasm', numThreads: 1, ortVersion: 'x' } : after(r),
    );

  it('treats a malformed reply as a broken worker', async () => {
    const fake = readyThen((r) => ({
      type: 'result',
      id: r.id,
      outputs: { y: { dtype: 'float32', dims: [2], data: [1, 2] } },
      ms: 1,
    }));
    const worker = await create(fake);
    await expect(worker.run('h', {})).rejects.toMatchObject({ code: 'bad-message' });
    await expect(worker.unloadModel('h')).rejects.toMatchObject({ code: 'bad-message' });
  });

  it('rejects pending and later calls when the worker crashes, saying what to do', async () => {
    const fake = readyThen(() => undefined);
    const worker = await create(fake);
    const pending = worker.unloadModel('h');
    fake.crash('out of memory');
    await expect(pending).rejects.toMatchObject({
      code: 'worker-crashed',
      message: expect.stringMatching(/out of memory.*reload/),
    });
    await expect(worker.unloadModel('h')).rejects.toMatchObject({ code: 'worker-crashed' });
  });

  it('rejects pending calls with disposed on dispose', async () => {
    const worker = await create(readyThen(() => undefined));
    const never = worker.run('h', {});
    worker.dispose();
    await expect(never).rejects.toMatchObject({ code: 'disposed' });
  });
});
