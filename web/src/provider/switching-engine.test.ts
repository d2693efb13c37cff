import { describe, expect, it } from 'vitest';
import type { Backend, RawTensor } from '@shared/protocol';
import { ComputeError } from '../compute/errors';
import { adoptFirst, SwitchingEngine, type DisposableEngine } from './switching-engine';

interface FakeEngine extends DisposableEngine {
  threads: number;
  disposed: boolean;
  loads: string[];
  lose?: boolean;
}

function factory() {
  const made: FakeEngine[] = [];
  const create = async (backend: Backend, threads: number): Promise<FakeEngine> => {
    const loaded = new Set<string>();
    const engine: FakeEngine = {
      backend,
      threads,
      disposed: false,
      loads: [],
      async load(hash) {
        loaded.add(hash);
        engine.loads.push(hash);
      },
      async run(hash, inputs: RawTensor[]) {
        if (engine.disposed) throw new Error('ran on a disposed worker');
        if (!loaded.has(hash)) throw new ComputeError('model-not-loaded', 'not loaded');
        if (engine.lose) throw new ComputeError('inference-failed', 'GPUDevice was lost: destroyed');
        return inputs;
      },
      dispose() {
        engine.disposed = true;
      },
    };
    made.push(engine);
    return engine;
  };
  return { made, create };
}

const input: RawTensor[] = [];

describe('switching engine', () => {
  it('LIMITS7: a thread change restarts the worker before the next unit and reloads its models', async () => {
    const { made, create } = factory();
    const log: string[] = [];
    const engine = await SwitchingEngine.start({ backend: 'wasm', threads: 0 }, create, (l) => log.push(l));
    await engine.load('m', new Uint8Array([1]));
    const inFlight = engine.run('m', input);
    const applied = engine.configure({ backend: 'wasm', threads: 2 });
    await inFlight; // the fake refuses to run on a disposed worker: this unit finished on the old one
    await applied;
    expect(made).toHaveLength(2);
    await engine.run('m', input);
    expect(made[0]!.disposed).toBe(true);
    expect(made[1]!.threads).toBe(2);
    expect(made[1]!.loads).toEqual(['m']);
    expect(log.join('\n')).toMatch(/restarted: wasm → wasm, default threads → 2 threads/);
  });

  it('LIMITS8: a lost WebGPU device falls back to WASM, says so, and the unit still completes', async () => {
    const { made, create } = factory();
    const log: string[] = [];
    const engine = await SwitchingEngine.start({ backend: 'webgpu', threads: 0 }, create, (l) => log.push(l));
    await engine.load('m', new Uint8Array([1]));
    made[0]!.lose = true;
    await expect(engine.run('m', input)).resolves.toBe(input);
    expect(engine.backend).toBe('wasm');
    expect(log[0]).toMatch(/WebGPU device lost .*switched to WebAssembly/);
    await engine.configure({ backend: 'webgpu', threads: 0 });
    await engine.run('m', input);
    expect(engine.backend).toBe('wasm');
  });

  it('LIMITS9: other errors are not taken for a lost device, and a failed restart keeps the old worker', async () => {
    const { made, create } = factory();
    const log: string[] = [];
    const failing = async (backend: Backend, threads: number) => {
      if (made.length > 0) throw new Error('no adapter');
      return create(backend, threads);
    };
    const engine = await SwitchingEngine.start({ backend: 'webgpu', threads: 0 }, failing, (l) => log.push(l));
    await expect(engine.run('absent', input)).rejects.toThrow('not loaded');
    expect(engine.backend).toBe('webgpu');
    await engine.configure({ backend: 'wasm', threads: 1 });
    await engine.load('m', new Uint8Array([1]));
    expect(engine.backend).toBe('webgpu');
    expect(log[0]).toMatch(/could not start a wasm worker \(no adapter\); still on webgpu/);
  });

  it("LIMITS10: the benchmark's started worker serves the first engine when its backend and threads fit; otherwise it is disposed and a new one made", async () => {
    // Fits: the default threads it started with, or the same count asked for; WebGPU whatever the count.
    for (const [kept, backend, threads] of [
      ['wasm', 'wasm', 0],
      ['wasm', 'wasm', 3],
      ['webgpu', 'webgpu', 2],
    ] as const) {
      const { made, create } = factory();
      const spare = await create(kept, 3);
      const engines = adoptFirst({ engine: spare, threads: 3 }, create);
      const engine = await SwitchingEngine.start({ backend, threads }, engines.create, () => undefined);
      engines.release();
      expect(made).toHaveLength(1);
      expect(spare.disposed).toBe(false);
      await engine.load('m', new Uint8Array([1]));
      expect(spare.loads).toEqual(['m']);
      // A later restart makes a new worker: the kept one is offered once.
      await engine.configure({ backend, threads: threads + 1 });
      expect(made).toHaveLength(2);
      expect(spare.disposed).toBe(true);
    }
    // Does not fit: another backend, or another thread count.
    for (const [backend, threads] of [
      ['webgpu', 0],
      ['wasm', 2],
    ] as const) {
      const { made, create } = factory();
      const spare = await create('wasm', 3);
      const engines = adoptFirst({ engine: spare, threads: 3 }, create);
      await SwitchingEngine.start({ backend, threads }, engines.create, () => undefined);
      engines.release();
      expect(spare.disposed).toBe(true);
      expect(made).toHaveLength(2);
      expect(made[1]).toMatchObject({ backend, threads, disposed: false });
    }
    // Nothing asked for it: release disposes it.
    const { create } = factory();
    const spare = await create('wasm', 1);
    adoptFirst({ engine: spare, threads: 1 }, create).release();
    expect(spare.disposed).toBe(true);
  });
});
