/** The provider core under work limits (issue 21), over the in-memory hub and peers. */
import { describe, expect, it } from 'vitest';
import type { ClientMessage } from '@shared/protocol';
import { JobRunner } from '../requester/job-runner';
import { ContributionStore } from '../storage/contribution-store';
import { JobStore } from '../storage/job-store';
import { memoryStore, type KeyValueStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import { ProviderNode, type ProviderDeps } from './provider-node';

const peers = memoryPeerFactory();

async function runJob(hub: FakeHub, id: string, rows = 64) {
  const { spec, inputs } = await affineJob(id, rows);
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect(`requester-${id}`),
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL),
  });
  await runner.start();
  await until(() => runner.view.get().status === 'done');
  return runner;
}

function provider(hub: FakeHub, kv: KeyValueStore, extra: Partial<ProviderDeps> = {}) {
  const port = hub.connect('provider-a');
  const sent: ClientMessage[] = [];
  const node = new ProviderNode({
    signaling: { send: (m) => (sent.push(m), port.send(m)), on: (e, h) => port.on(e, h) },
    createPeer: peers,
    compute: functionEngine(f, { delayMs: 1 }),
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
    contribution: new ContributionStore(kv),
    ...extra,
  });
  node.start();
  return { node, sent };
}

describe('provider under work limits', () => {
  it('PROVLIM1: units done survive a reload (issue 21 #4)', async () => {
    const kv = memoryStore();
    const hub = new FakeHub();
    const first = provider(hub, kv);
    await runJob(hub, 'job-limits-a');
    const done = first.node.view.get().unitsDone;
    expect(done).toBeGreaterThan(0);
    first.node.stop();
    hub.disconnect('provider-a');
    const reloaded = provider(new FakeHub(), kv);
    await until(() => reloaded.node.view.get().unitsDone === done);
    reloaded.node.stop();
  });

  it('PROVLIM2: the duty cycle rests after every unit, with that unit’s compute time', async () => {
    const hub = new FakeHub();
    const rests: number[] = [];
    const { node } = provider(hub, memoryStore(), { pace: async (ms) => void rests.push(ms) });
    await runJob(hub, 'job-limits-b');
    expect(rests.length).toBe(node.view.get().unitsDone);
    expect(rests.every((ms) => ms > 0)).toBe(true);
    node.stop();
  });

  it('PROVLIM3: the rate decays to zero while idle (issue 21 #4)', async () => {
    let now = Date.now();
    const hub = new FakeHub();
    const { node } = provider(hub, memoryStore(), { now: () => now });
    await runJob(hub, 'job-limits-c');
    node.tick();
    expect(node.view.get().rowsPerSecond).toBeGreaterThan(0);
    now += 10 * 60_000;
    node.tick();
    expect(node.view.get().rowsPerSecond).toBe(0);
    node.stop();
  });

  it('PROVLIM4: new limits announce the new capacity; a pause names its reason', async () => {
    const hub = new FakeHub();
    const { node, sent } = provider(hub, memoryStore());
    await until(() => node.view.get().connection === 'open' && sent.some((m) => m.type === 'announce'));
    node.announce({ ...TEST_CAPABILITIES, gflops: TEST_CAPABILITIES.gflops / 2 });
    const announces = sent.filter((m) => m.type === 'announce');
    expect(announces).toHaveLength(2);
    expect(announces[1]).toMatchObject({ capabilities: { gflops: TEST_CAPABILITIES.gflops / 2 } });
    node.setPaused(true, 'on battery');
    expect(node.view.get()).toMatchObject({ paused: true, pauseReason: 'on battery' });
    expect(sent.at(-1)).toMatchObject({ type: 'status', paused: true });
    node.setPaused(false);
    expect(node.view.get().pauseReason).toBeUndefined();
    node.stop();
  });
});
