/**
 * Weight distribution over the real provider and requester cores, on the
 * in-memory doubles: a job keeps its links open (its units wait on a gate)
 * while the requester publishes versions of a bf16 model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { hashModel, hashToHex } from '@shared/pulse';
import { modelVersion } from '@shared/tensor';
import type { ComputeEngine } from '../core/ports';
import { ProviderNode } from '../provider/provider-node';
import { JobRunner } from '../requester/job-runner';
import { JobStore } from '../storage/job-store';
import { memoryStore, type KeyValueStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL, jobModelOf } from '../testing/affine-job';
import { FakeHub, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { WeightsCache } from './cache';
import { demoModel, nudge } from './demo';
import { WeightsPublisher, type PublisherOptions } from './publisher';

const MODEL_BYTES = AFFINE_MODEL;

/** Units never finish until the test ends, so the job's links stay open. */
function gatedEngine(): ComputeEngine & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return {
    backend: 'wasm',
    release,
    async load() {},
    async run(_hash: string, inputs: RawTensor[]) {
      await gate;
      return [{ ...inputs[0]!, name: 'y' }];
    },
  };
}

async function makeJob(id: string): Promise<{ spec: JobSpec; inputs: RawTensor[] }> {
  const rows = 64;
  const spec: JobSpec = {
    schema: 2,
    id,
    name: 'weights',
    createdAt: 1,
    model: { hash: (await modelVersion(MODEL_BYTES)).hash, name: 'f', bytes: MODEL_BYTES.length },
    inputs: [{ name: 'x', dtype: 'float32', dims: [rows, 1] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [-1, 1] }],
    rows,
    unitRows: 1,
    redundancy: 1,
    spotCheckRate: 0,
    maxProviders: 4,
  };
  return { spec, inputs: [{ name: 'x', dtype: 'float32', dims: [rows, 1], bytes: new Uint8Array(rows * 4) }] };
}

function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () =>
      check()
        ? resolve()
        : Date.now() - started > ms
          ? reject(new Error(`timed out waiting for ${what}`))
          : setTimeout(tick, 2);
    tick();
  });
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface Provider {
  id: string;
  cache: WeightsCache;
  store: KeyValueStore;
  stop(): void;
}

async function startProvider(
  hub: FakeHub,
  peers: ReturnType<typeof memoryPeerFactory>,
  id: string,
  store: KeyValueStore = memoryStore(),
): Promise<Provider> {
  const signaling = hub.connect(id);
  const engine = gatedEngine();
  const cache = new WeightsCache({ store, signaling, createPeer: peers });
  // Both subscribe synchronously, before the double's welcome (a microtask away) arrives.
  const loaded = cache.start();
  const node = new ProviderNode({
    signaling,
    createPeer: peers,
    compute: engine,
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
    extension: cache,
  });
  node.start();
  await loaded;
  const stop = () => {
    node.stop();
    cache.stop();
    engine.release();
  };
  cleanups.push(stop);
  return { id, cache, store, stop };
}

async function startRequester(
  hub: FakeHub,
  peers: ReturnType<typeof memoryPeerFactory>,
  options: PublisherOptions = {},
) {
  const publisher = new WeightsPublisher(options);
  const { spec, inputs } = await makeJob('job-weights-1');
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect('requester'),
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL_BYTES),
    extension: publisher,
  });
  await runner.start();
  cleanups.push(() => runner.stop());
  return { publisher, runner };
}

const heldHash = (p: Provider, modelId: string) => p.cache.view.get().models.find((m) => m.modelId === modelId)?.hash;
const versionOf = (publisher: WeightsPublisher, modelId: string, version: number) =>
  publisher.view
    .get()
    .models.find((m) => m.modelId === modelId)!
    .versions.find((v) => v.version === version)!;
const providerOf = (publisher: WeightsPublisher, modelId: string, peerId: string) =>
  publisher.view
    .get()
    .models.find((m) => m.modelId === modelId)!
    .providers.find((p) => p.peerId === peerId)!;
const allCurrent = (publisher: WeightsPublisher, modelId: string, count: number) => {
  const m = publisher.view.get().models.find((x) => x.modelId === modelId);
  return m !== undefined && m.providers.length === count && m.providers.every((p) => p.state === 'current');
};

describe('weights over the job links', () => {
  it('WEIGHTS1: v2 with ~1% of bf16 values nudged costs ≤ 1/50 of v1 and both providers rebuild v2 bit for bit', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    const providers = [await startProvider(hub, peers, 'provider-a'), await startProvider(hub, peers, 'provider-b')];
    const { publisher } = await startRequester(hub, peers);
    await until(
      () => providers.every((p) => p.cache !== undefined) && publisher.view.get().models.length === 0,
      'start',
    );
    const v1 = demoModel(1);
    const v2 = nudge(v1, 2, 0.01);
    await publisher.publish('demo', v1);
    await until(() => allCurrent(publisher, 'demo', 2), 'v1 everywhere');
    const r2 = await publisher.publish('demo', v2);
    await until(
      () => allCurrent(publisher, 'demo', 2) && providers.every((p) => heldHash(p, 'demo') === r2.hash),
      'v2 everywhere',
    );
    const sent1 = versionOf(publisher, 'demo', 0).bytesSent;
    const sent2 = versionOf(publisher, 'demo', 1).bytesSent;
    expect(sent1).toBeGreaterThan(100_000);
    expect(sent2 * 50).toBeLessThanOrEqual(sent1);
    const expected = hashToHex(await hashModel(v2));
    expect(r2.hash).toBe(expected);
    for (const p of providers) expect(hashToHex(await hashModel((await p.cache.model('demo'))!.model))).toBe(expected);
  });

  it('WEIGHTS2: a late joiner holding v1 gets v3 by the two patches v1→v2→v3, not an anchor', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    const a = await startProvider(hub, peers, 'provider-a');
    const lateStore = memoryStore();
    let late = await startProvider(hub, peers, 'provider-late', lateStore);
    const { publisher } = await startRequester(hub, peers, { forward: false });
    const v1 = demoModel(3);
    const v2 = nudge(v1, 4);
    const v3 = nudge(v2, 5);
    await publisher.publish('demo', v1);
    await until(() => allCurrent(publisher, 'demo', 2), 'v1 everywhere');
    // The late provider's tab closes; its IndexedDB keeps v1.
    late.stop();
    hub.disconnect('provider-late');
    await until(() => publisher.view.get().models[0]!.providers.length === 1, 'late provider gone');
    await publisher.publish('demo', v2);
    const r3 = await publisher.publish('demo', v3);
    await until(() => heldHash(a, 'demo') === r3.hash, 'v3 at provider a');
    late = await startProvider(hub, peers, 'provider-late', lateStore);
    await until(() => heldHash(late, 'demo') === r3.hash, 'v3 at the late joiner');
    const sentToLate = providerOf(publisher, 'demo', 'provider-late').bytesSent;
    const anchorBytes = versionOf(publisher, 'demo', 0).entryBytes;
    const patchBytes = versionOf(publisher, 'demo', 1).entryBytes + versionOf(publisher, 'demo', 2).entryBytes;
    // Offer and headers aside, exactly the two patches travelled.
    expect(sentToLate).toBeGreaterThanOrEqual(patchBytes);
    expect(sentToLate).toBeLessThan(patchBytes + 1_000);
    expect(sentToLate * 20).toBeLessThan(anchorBytes);
    expect(hashToHex(await hashModel((await late.cache.model('demo'))!.model))).toBe(hashToHex(await hashModel(v3)));
  });

  it('WEIGHTS3: forwarding: the requester uploads v2 once and the second provider gets it from the first', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    const providers = [await startProvider(hub, peers, 'provider-a'), await startProvider(hub, peers, 'provider-b')];
    const { publisher } = await startRequester(hub, peers);
    const v1 = demoModel(6);
    const v2 = nudge(v1, 7);
    await publisher.publish('demo', v1);
    await until(() => allCurrent(publisher, 'demo', 2), 'v1 everywhere');
    const before = new Map(publisher.view.get().models[0]!.providers.map((p) => [p.peerId, p.bytesSent]));
    const r2 = await publisher.publish('demo', v2);
    await until(
      () => allCurrent(publisher, 'demo', 2) && providers.every((p) => heldHash(p, 'demo') === r2.hash),
      'v2 everywhere',
    );
    const patch = versionOf(publisher, 'demo', 1).entryBytes;
    const deltas = publisher.view
      .get()
      .models[0]!.providers.map((p) => ({ peerId: p.peerId, delta: p.bytesSent - before.get(p.peerId)!, via: p.via }));
    const seeded = deltas.filter((d) => d.delta >= patch);
    const forwarded = deltas.filter((d) => d.delta < patch);
    expect(seeded).toHaveLength(1);
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.via).toBe(seeded[0]!.peerId);
    expect(versionOf(publisher, 'demo', 1).bytesSent).toBeLessThan(patch + 1_000);
    expect(versionOf(publisher, 'demo', 1).relayedBytes).toBeGreaterThanOrEqual(patch);
    const receiver = providers.find((p) => p.id === forwarded[0]!.peerId)!;
    expect(receiver.cache.view.get().bytesReceived).toBeGreaterThan(0);
    expect(hashToHex(await hashModel((await receiver.cache.model('demo'))!.model))).toBe(
      hashToHex(await hashModel(v2)),
    );
  });
});
