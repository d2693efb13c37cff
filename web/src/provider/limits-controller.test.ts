import { describe, expect, it } from 'vitest';
import { Observable } from '../core/emitter';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import { bindLimits, dutyPacer } from './limits-controller';
import { ProviderNode } from './provider-node';
import { SwitchingEngine } from './switching-engine';
import { DEFAULT_LIMITS, type PowerState, type WorkLimits } from './work-limits';

const caps = { ...TEST_CAPABILITIES, backend: 'webgpu' as const, gflops: 40, measured: { webgpu: 40, wasm: 10 } };

async function setup() {
  const made: { backend: string; threads: number }[] = [];
  const engine = await SwitchingEngine.start(
    { backend: 'webgpu', threads: 0 },
    async (backend, threads) => {
      made.push({ backend, threads });
      return { ...functionEngine((x) => x), backend, dispose() {} };
    },
    () => {},
  );
  const hub = new FakeHub();
  const node = new ProviderNode({
    signaling: hub.connect('provider-a'),
    createPeer: memoryPeerFactory(),
    compute: engine,
    models: new ModelStore(memoryStore()),
    capabilities: caps,
  });
  node.start();
  await until(() => node.view.get().connection === 'open');
  const limits = new Observable<WorkLimits>(DEFAULT_LIMITS);
  const power = new Observable<PowerState | undefined>(undefined);
  const hidden = new Observable(false);
  const off = bindLimits({ limits, power, hidden }, node, engine, caps);
  return { made, engine, node, limits, power, hidden, off };
}

describe('limits controller', () => {
  it('LIMITS10: WebGPU off and a thread count restart the engine on WASM and re-announce', async () => {
    const t = await setup();
    t.limits.set({ ...DEFAULT_LIMITS, webgpu: false, threads: 2, dutyPercent: 50 });
    await until(() => t.node.view.get().backend === 'wasm');
    expect(t.made.at(-1)).toEqual({ backend: 'wasm', threads: 2 });
    await until(() => t.node.view.get().log.some((l) => l.includes('capacity announced: wasm, 5.00 GFLOP/s')));
    t.off();
    t.node.stop();
  });

  it('LIMITS11: Pause, battery and a hidden tab pause the node with their reason, and lift it again', async () => {
    const t = await setup();
    t.limits.set({ ...DEFAULT_LIMITS, mainsOnly: true, pauseWhenHidden: true });
    expect(t.node.view.get().paused).toBe(false);
    t.power.set({ charging: false, level: 0.5 });
    expect(t.node.view.get()).toMatchObject({ paused: true, pauseReason: 'on battery' });
    t.power.set({ charging: true, level: 0.5 });
    t.hidden.set(true);
    expect(t.node.view.get()).toMatchObject({ paused: true, pauseReason: 'tab hidden' });
    t.hidden.set(false);
    expect(t.node.view.get().paused).toBe(false);
    t.off();
    t.node.stop();
  });

  it('LIMITS12: the pacer rests in proportion to the unit and reads the limit at each unit', async () => {
    const limits = new Observable<WorkLimits>({ ...DEFAULT_LIMITS, dutyPercent: 25 });
    const slept: number[] = [];
    const pace = dutyPacer(limits, async (ms) => void slept.push(ms));
    await pace(100);
    limits.set({ ...DEFAULT_LIMITS, dutyPercent: 100 });
    await pace(100);
    expect(slept).toEqual([300]);
  });
});
