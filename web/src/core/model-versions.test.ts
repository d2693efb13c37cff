/**
 * New versions of a running job's model, over the in-memory ports: the
 * requester publishes v2 mid-job; providers switch by patch; units sent after
 * the switch are computed with v2, units in flight are checked against their
 * own version, so nobody is rejected for the switch. A patch that fails its
 * hash leaves a provider on the version it had.
 */
import { describe, expect, it } from 'vitest';
import type { JobSpec } from '@shared/jobs';
import type { PeerHeader } from '@shared/protocol';
import { modelVersion, type ModelVersion } from '@shared/tensor';
import { ProviderModels } from '../provider/provider-models';
import { ProviderNode } from '../provider/provider-node';
import { JobModel } from '../requester/job-model';
import { JobRunner } from '../requester/job-runner';
import { JobStore } from '../storage/job-store';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { affineJob, affineModel } from '../testing/affine-job';
import { affineEngine, FakeHub, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';

const ROWS = 256;
const UNITS = ROWS / 4;
const peers = memoryPeerFactory();

/** ~256 kB of float weights the graph carries but does not use; `nudged` moves ~1% of them by one ulp. */
function ballast(nudged = 0): Float32Array {
  const w = Float32Array.from({ length: 65_536 }, (_, i) => Math.sin(i * 0.37) * 0.02);
  const bits = new Uint32Array(w.buffer);
  for (let i = 0; i < bits.length && nudged > 0; i += 97) bits[i]! += nudged;
  return w;
}

const V1 = affineModel(2, 1, ballast());
/** b moves from 1 to 1.5 (so outputs show which version computed them) and ~1% of the ballast by one ulp. */
const V2 = affineModel(2, 1.5, ballast(1));
const ref = (b: number) => (x: number) => Math.fround(Math.fround(2 * x) + b);

function startProvider(hub: FakeHub, id: string) {
  const models = new ModelStore(memoryStore());
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: affineEngine({ delayMs: 2 }),
    models,
    capabilities: TEST_CAPABILITIES,
  });
  node.start();
  return { node, models };
}

async function startJob(hub: FakeHub, id: string, overrides: Partial<JobSpec>) {
  const v1 = await modelVersion(V1);
  const { spec, inputs } = await affineJob(id, ROWS, {
    model: { hash: v1.hash, name: 'f', bytes: V1.length },
    ...overrides,
  });
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect('requester'),
    createPeer: peers,
    jobs,
    model: await JobModel.open([v1]),
    local: affineEngine(),
  });
  await runner.start();
  return { runner, spec, inputs, jobs, v1 };
}

/** Which version computed each unit: 1 or 2 by its values, 0 for neither. */
async function versionsOfUnits(jobs: JobStore, spec: JobSpec, inputs: { bytes: Uint8Array }[]): Promise<number[]> {
  const xs = new Float32Array(inputs[0]!.bytes.slice().buffer);
  const out: number[] = [];
  for (let u = 0; u < UNITS; u++) {
    const ys = new Float32Array((await jobs.unitResult(spec.id, u))[0]!.bytes.slice().buffer);
    const slice = xs.subarray(u * 16, (u + 1) * 16);
    const is = (f: (x: number) => number) => ys.every((y, i) => y === f(slice[i]!));
    out.push(is(ref(1)) ? 1 : is(ref(1.5)) ? 2 : 0);
  }
  return out;
}

describe('publishing a new version of a running job', () => {
  it("MV1: providers switch by patch (≤ 1/50 of v1's bytes); units after the switch use v2; none is rejected", async () => {
    const hub = new FakeHub();
    const providers = [startProvider(hub, 'provider-a'), startProvider(hub, 'provider-b')];
    const { runner, spec, inputs, jobs } = await startJob(hub, 'job-versions-1', { spotCheckRate: 0.25 });
    await until(() => runner.view.get().done >= 8, 10_000, '8 units done');
    const doneAtSwitch = runner.view.get().done;
    const v2: ModelVersion = await modelVersion(V2);
    expect(await runner.publish(v2)).toBe(2);
    await until(() => runner.view.get().status === 'done', 20_000, 'job done');

    const view = runner.view.get();
    expect(view.verification.rejected).toBe(0);
    expect(view.providers.every((p) => p.state !== 'rejected')).toBe(true);
    const [first, second] = view.versions;
    expect(second).toMatchObject({ number: 2, hash: v2.hash, reached: 2 });
    expect(first!.bytesSent).toBeGreaterThan(2 * 200_000); // the whole model, to each provider
    expect(second!.bytesSent * 50).toBeLessThanOrEqual(first!.bytesSent);
    for (const p of providers) expect(await p.models.has(v2.hash)).toBe(true);

    const used = await versionsOfUnits(jobs, spec, inputs);
    expect(used.filter((v) => v === 0)).toEqual([]);
    // At the switch at most 2 units per provider were out and a few accepted ones were still being written.
    expect(used.filter((v) => v === 1).length).toBeLessThanOrEqual(doneAtSwitch + 6);
    expect(used.filter((v) => v === 2).length).toBeGreaterThanOrEqual(UNITS - doneAtSwitch - 6);
    expect(await jobs.modelVersions(spec.id)).toEqual([view.versions[0]!.hash, v2.hash]);
    // Each stored result names the version that computed it, and the view counts them.
    const named = await Promise.all(used.map((_, u) => jobs.unitRecord(spec.id, u).then((r) => r.modelHash)));
    expect(named).toEqual(used.map((v) => view.versions[v - 1]!.hash));
    expect(view.versions.map((v) => v.units)).toEqual([1, 2].map((n) => used.filter((v) => v === n).length));
  });

  it('MV2: with redundancy 2, replicas of a unit in flight at the switch are computed with the same version and agree', async () => {
    const hub = new FakeHub();
    for (const id of ['provider-a', 'provider-b', 'provider-c']) startProvider(hub, id);
    const { runner, spec, inputs, jobs } = await startJob(hub, 'job-versions-2', { redundancy: 2, spotCheckRate: 0 });
    await until(() => runner.view.get().done >= 6, 10_000, '6 units done');
    await runner.publish(await modelVersion(V2));
    await until(() => runner.view.get().status === 'done', 20_000, 'job done');
    const view = runner.view.get();
    expect(view.verification.rejected).toBe(0);
    expect(view.providers.every((p) => p.state !== 'rejected')).toBe(true);
    const used = await versionsOfUnits(jobs, spec, inputs);
    expect(used).not.toContain(0);
    expect(used).toContain(2);
  });
});

describe('a provider receiving a version', () => {
  it('MV3: a patch that fails its hash leaves the provider on its version; it asks once for a snapshot and recovers', async () => {
    const store = new ModelStore(memoryStore());
    const v1 = await store.putOnnx(V1);
    const replies: PeerHeader[] = [];
    const models = new ProviderModels({
      models: store,
      compute: affineEngine(),
      reply: (_s, header) => replies.push(header),
      state: () => {},
      log: () => {},
    });
    const session = { modelHash: v1.hash, frameHash: v1.frameHash, view: { jobId: 'job-x' } };
    await models.want(session, v1.hash);
    expect(replies.at(-1)).toMatchObject({ type: 'ready', modelHash: v1.hash });

    const job = await JobModel.open([v1, await modelVersion(V2)]);
    const v2 = job.current;
    const patch = await job.transfer(v2.hash, [v1.hash], true);
    const corrupt = patch.body.slice();
    corrupt[corrupt.length - 1]! ^= 0xff;
    session.modelHash = v2.hash;
    await models.receive(session, patch.header, corrupt);
    expect(await store.has(v2.hash)).toBe(false);
    expect(await store.has(v1.hash)).toBe(true);
    expect(replies.at(-2)).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/failed its check.*kept version/),
    });
    expect(replies.at(-1)).toEqual({ type: 'model-status', modelHash: v2.hash, cached: false, held: [], frame: true });

    const snapshot = await job.transfer(v2.hash, [], true);
    await models.receive(session, snapshot.header, snapshot.body);
    expect(await store.has(v2.hash)).toBe(true);
    expect(replies.at(-1)).toMatchObject({ type: 'ready', modelHash: v2.hash });
  });

  it('MV4: the engine keeps two versions loaded; a unit naming an older one loads it again from the store', async () => {
    const store = new ModelStore(memoryStore());
    const versions = [];
    for (const b of [1, 2, 3]) versions.push(await store.putOnnx(affineModel(2, b)));
    const engine = affineEngine();
    const unloaded: string[] = [];
    engine.unload = async (hash) => void unloaded.push(hash);
    const models = new ProviderModels({
      models: store,
      compute: engine,
      reply: () => {},
      state: () => {},
      log: () => {},
    });
    const session = { frameHash: versions[0]!.frameHash, view: { jobId: 'job-x' } };
    for (const v of versions) expect(await models.ready(session, v.hash)).toBe(true);
    expect(unloaded).toEqual([versions[0]!.hash]);
    expect(await models.ready(session, versions[0]!.hash)).toBe(true);
    expect(unloaded).toEqual([versions[0]!.hash, versions[1]!.hash]);
  });
});
