import { describe, expect, it } from 'vitest';
import type { JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { ProviderNode } from '../provider/provider-node';
import { JobRunner, type JobRunnerDeps } from '../requester/job-runner';
import { memoryStore } from '../storage/kv';
import { JobStore } from '../storage/job-store';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import type { ExtensionChannel } from './ports';
import { until, storedResults as results } from '../testing/wait';

const ROWS = 256;

const makeJob = (overrides: Partial<JobSpec> = {}) => affineJob('job-memory-1', ROWS, overrides);

/** Stores a fresh job in an in-memory job store and starts its runner, connected to `hub` as "requester". */
async function startRunner(hub: FakeHub, overrides: Partial<JobSpec> = {}, deps: Partial<JobRunnerDeps> = {}) {
  const { spec, inputs } = await makeJob(overrides);
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect('requester'),
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL),
    ...deps,
  });
  await runner.start();
  return { runner, spec, inputs, jobs };
}

function startProvider(hub: FakeHub, id: string, fn = f, delayMs = 0) {
  const models = new ModelStore(memoryStore());
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: functionEngine(fn, { delayMs }),
    models,
    capabilities: TEST_CAPABILITIES,
  });
  node.start();
  return { node, models };
}

const peers = memoryPeerFactory();

function expected(inputs: RawTensor[]): Float32Array {
  return new Float32Array(inputs[0]!.bytes.slice().buffer).map(f);
}

describe('provider and requester cores over in-memory ports', () => {
  it('NET1: two providers complete a 64-unit job; results equal the reference; the model is sent once per provider', async () => {
    const hub = new FakeHub();
    const a = startProvider(hub, 'provider-a', f, 1);
    const b = startProvider(hub, 'provider-b', f, 1);
    const { runner, spec, inputs, jobs } = await startRunner(hub);
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    const view = runner.view.get();
    expect(view.done).toBe(64);
    expect(view.providers.map((p) => p.unitsDone).reduce((x, y) => x + y)).toBe(64);
    expect(a.node.view.get().unitsDone).toBeGreaterThan(0);
    expect(b.node.view.get().unitsDone).toBeGreaterThan(0);
    expect(await a.models.list()).toEqual([spec.model.hash]);
  });

  it('NET2: a provider that disappears mid-job loses nothing: its units go back and the job completes', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a', f, 2);
    const b = startProvider(hub, 'provider-b', f, 2);
    const { runner, spec, inputs, jobs } = await startRunner(hub);
    await until(() => b.node.view.get().unitsDone >= 5);
    b.node.stop();
    hub.disconnect('provider-b');
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    expect((await jobs.doneUnits(spec.id)).length).toBe(64);
  });

  it('NET3: a new runner over the same store resumes without recomputing finished units', async () => {
    const hub = new FakeHub();
    const a = startProvider(hub, 'provider-a', f, 1);
    const { spec, inputs } = await makeJob();
    const store = memoryStore();
    const jobs = new JobStore(store);
    await jobs.create(spec, inputs);
    const first = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await first.start();
    await until(() => first.view.get().done >= 20);
    first.stop('paused');
    hub.disconnect('requester');
    const doneBefore = (await jobs.doneUnits(spec.id)).length;
    const second = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await second.start();
    await until(() => second.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    // Units finished before the reload are not dispatched again (a couple abandoned in flight may have run twice).
    expect(a.node.view.get().unitsDone).toBeLessThanOrEqual(64 + 2 * 2);
    expect(second.view.get().providers[0]!.unitsDone).toBeLessThanOrEqual(64 - doneBefore);
  });

  it('NET4: a provider returning wrong values is caught by spot checks and rejected; the job still completes correctly', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'honest', f, 1);
    startProvider(hub, 'cheater', (x) => 2 * x + 1.5, 1);
    const { runner, spec, inputs, jobs } = await startRunner(hub, { spotCheckRate: 1 }, { local: functionEngine(f) });
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    const cheater = runner.view.get().providers.find((p) => p.peerId === 'cheater')!;
    expect(cheater.state).toBe('rejected');
    expect(cheater.note).toMatch(/spot check/);
    expect(runner.view.get().spotChecks.failed).toBeGreaterThanOrEqual(1);
  });

  it('NET5: a paused provider gets no work; the job waits and completes after it resumes', async () => {
    const hub = new FakeHub();
    const a = startProvider(hub, 'provider-a');
    a.node.setPaused(true);
    const { runner } = await startRunner(hub);
    await new Promise((r) => setTimeout(r, 50));
    expect(runner.view.get().done).toBe(0);
    a.node.setPaused(false);
    await until(() => runner.view.get().status === 'done');
    expect(a.node.view.get().unitsDone).toBe(64);
  });

  it('NET6: redundancy 2 runs every unit on two providers and stores the agreed result', async () => {
    const hub = new FakeHub();
    const a = startProvider(hub, 'provider-a');
    const b = startProvider(hub, 'provider-b');
    const { runner, spec, inputs, jobs } = await startRunner(hub, { redundancy: 2, maxProviders: 2 });
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    expect(a.node.view.get().unitsDone).toBe(64);
    expect(b.node.view.get().unitsDone).toBe(64);
  });

  it('NET7: data channels that die while the server still pairs the peers are re-established; the job completes', async () => {
    const hub = new FakeHub();
    const a = startProvider(hub, 'provider-a', f, 2);
    const { runner, spec, inputs, jobs } = await startRunner(hub);
    await until(() => runner.view.get().done >= 10);
    peers.cutAll();
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
    // One session before the cut, at least one after it.
    expect(
      a.node.view.get().log.filter((line) => line.includes('paired with requester')).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('NET8: a link extension sees each link open and close and exchanges messages on its own stream, apart from the job', async () => {
    const hub = new FakeHub();
    const seen: string[] = [];
    const providerExtension = {
      attach: (c: ExtensionChannel) => void c.send(new TextEncoder().encode(`hello from provider to ${c.peerId}`)),
      receive: (peer: string, _job: string, bytes: Uint8Array) =>
        seen.push(`provider got "${new TextDecoder().decode(bytes)}" from ${peer}`),
      detach: (peer: string) => seen.push(`provider detached ${peer}`),
    };
    const requesterExtension = {
      attach: (c: ExtensionChannel) => void c.send(new TextEncoder().encode('hello from requester')),
      receive: (peer: string, _job: string, bytes: Uint8Array) =>
        seen.push(`requester got "${new TextDecoder().decode(bytes)}" from ${peer}`),
      detach: (peer: string) => seen.push(`requester detached ${peer}`),
    };
    const node = new ProviderNode({
      signaling: hub.connect('provider-a'),
      createPeer: peers,
      compute: functionEngine(f),
      models: new ModelStore(memoryStore()),
      capabilities: TEST_CAPABILITIES,
      extension: providerExtension,
    });
    node.start();
    const { runner, spec, inputs, jobs } = await startRunner(hub, {}, { extension: requesterExtension });
    await until(() => runner.view.get().status === 'done');
    await until(() => seen.length >= 4);
    expect(seen).toContain('provider got "hello from requester" from requester');
    expect(seen).toContain('requester got "hello from provider to requester" from provider-a');
    expect(seen).toContain('requester detached provider-a');
    expect(seen).toContain('provider detached requester');
    expect(await results(jobs, spec)).toEqual(expected(inputs));
  });
});
