/**
 * The job's own verification settings reach the runner's checks (SPEC TRUST-J2):
 * the same two results fail under the default tolerance and pass under a looser
 * one the requester set, both in the spot check and in the replica quorum.
 */
import { describe, expect, it } from 'vitest';
import type { JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { DEFAULT_TOLERANCES, type ToleranceTable } from '@shared/trust';
import { ProviderNode } from '../provider/provider-node';
import { JobStore } from '../storage/job-store';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { storedResults, until } from '../testing/wait';
import { JobRunner } from './job-runner';

const ROWS = 64;
/** 1e-3 relative off: outside every default tolerance (cross-class rtol is 1e-4), inside rtol 1e-2. */
const drifted = (x: number) => f(x) * (1 + 1e-3);
const peers = memoryPeerFactory();

/** Loose in both rows: the spot check compares same-backend results, the quorum's test providers report no adapter (cross class). */
const LOOSE: ToleranceTable = {
  ...DEFAULT_TOLERANCES,
  sameClass: { rtol: 1e-2, atol: 0 },
  crossClass: { rtol: 1e-2, atol: 0 },
};

function startProvider(hub: FakeHub, id: string, fn: (x: number) => number) {
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: functionEngine(fn, { delayMs: 1 }),
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
  });
  node.start();
  return node;
}

async function startJob(hub: FakeHub, overrides: Partial<JobSpec>, local?: (x: number) => number) {
  const { spec, inputs } = await affineJob('job-tolerance-1', ROWS, { spotCheckRate: 0.03, ...overrides });
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect('requester'),
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL),
    local: local ? functionEngine(local) : undefined,
  });
  await runner.start();
  return { runner, spec, inputs, jobs };
}

const reference = (inputs: RawTensor[]) => new Float32Array(inputs[0]!.bytes.slice().buffer).map(f);

describe("the job's tolerance in the runner (SPEC TRUST-J2)", () => {
  it("TRUST-J2: spot check: results 1e-3 off the requester's own are rejected under the default tolerance", async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-drifted', drifted);
    const { runner } = await startJob(hub, {}, f);
    await until(() => runner.view.get().verification.rejected === 1);
    const view = runner.view.get();
    expect(view.providers.find((p) => p.peerId === 'provider-drifted')).toMatchObject({
      state: 'rejected',
      unitsDone: 0,
    });
    expect(view.verification.reasons[0]).toMatch(/spot check/);
    runner.stop();
  });

  it('TRUST-J2: spot check: the same results pass when the job sets rtol 1e-2', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-drifted', drifted);
    const { runner } = await startJob(hub, { tolerance: LOOSE }, f);
    await until(() => runner.view.get().status === 'done');
    const view = runner.view.get();
    // A new key is on probation: every one of the 16 units was checked, and passed.
    expect(view.spotChecks).toEqual({ checked: 16, failed: 0 });
    expect(view.verification).toMatchObject({ verified: 16, rejected: 0 });
  });

  it('TRUST-J2: quorum: a replica 1e-3 off is outvoted under the default tolerance, and agrees under rtol 1e-2', async () => {
    const tight = new FakeHub();
    startProvider(tight, 'provider-a', f);
    startProvider(tight, 'provider-b', f);
    startProvider(tight, 'provider-drifted', drifted);
    const strict = await startJob(tight, { redundancy: 2, spotCheckRate: 0, maxProviders: 3 });
    await until(() => strict.runner.view.get().status === 'done');
    expect(strict.runner.view.get().providers.find((p) => p.peerId === 'provider-drifted')).toMatchObject({
      state: 'rejected',
      unitsDone: 0,
    });
    expect(strict.runner.view.get().verification.reasons.join('\n')).toMatch(/disagreed/);
    expect(await storedResults(strict.jobs, strict.spec)).toEqual(reference(strict.inputs));

    const lenient = new FakeHub();
    startProvider(lenient, 'provider-a', f);
    startProvider(lenient, 'provider-b', f);
    const drifter = startProvider(lenient, 'provider-drifted', drifted);
    const loose = await startJob(lenient, { redundancy: 2, spotCheckRate: 0, maxProviders: 3, tolerance: LOOSE });
    await until(() => loose.runner.view.get().status === 'done');
    expect(loose.runner.view.get().verification).toMatchObject({ verified: 16, rejected: 0 });
    expect(drifter.view.get().unitsDone).toBeGreaterThan(0);
  });
});

describe('the job on the signaling server', () => {
  it('a finished job closes once: one job-close, not one per path that ends it', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a', f);
    const { spec, inputs } = await affineJob('job-close-once', ROWS, { spotCheckRate: 0 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    const port = hub.connect('requester');
    const sent: string[] = [];
    const send = port.send.bind(port);
    port.send = (message) => {
      sent.push(message.type);
      send(message);
    };
    const runner = new JobRunner(spec, inputs, {
      signaling: port,
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    runner.stop(); // a later stop (the dashboard's pause of a finished job) sends nothing more
    await new Promise((r) => setTimeout(r, 20));
    expect(sent.filter((t) => t === 'job-close')).toHaveLength(1);
    expect(sent.filter((t) => t === 'job-open')).toHaveLength(1);
  });
});

describe('progress a reload keeps', () => {
  it('"done" counts a unit only once its result is written: a reload resumes with at least as many', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a', f);
    const { spec, inputs } = await affineJob('job-durable-done', ROWS, { spotCheckRate: 0 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    // Result writes wait until released, as a slow disk would make them.
    const held: (() => void)[] = [];
    const put = jobs.putUnitResults.bind(jobs);
    jobs.putUnitResults = async (...args) => {
      await new Promise<void>((release) => held.push(release));
      return put(...args);
    };
    const runner = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await runner.start();
    // The first write holds one unit; units accepted meanwhile wait for the next.
    await until(() => held.length === 1 && runner.view.get().verification.unchecked >= 3);
    expect(runner.view.get().done).toBe(0);
    held.shift()!();
    await until(() => runner.view.get().done >= 1);
    const shown = runner.view.get().done;
    runner.stop();
    expect((await jobs.doneUnits(spec.id)).length).toBeGreaterThanOrEqual(shown);
  });
});

describe('the provider table tells what happened (issue 21, defect 6)', () => {
  it('a provider linked when the job completes shows finished, not gone; a resumed one loses its "paused" note', async () => {
    const hub = new FakeHub();
    const node = startProvider(hub, 'provider-a', f);
    const { spec, inputs } = await affineJob('job-table', ROWS, { spotCheckRate: 0 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    const runner = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await runner.start();
    const row = () => runner.view.get().providers.find((p) => p.peerId === 'provider-a');
    await until(() => row()?.state === 'working');
    node.setPaused(true);
    await until(() => row()?.state === 'paused');
    node.setPaused(false);
    await until(() => row()?.state === 'working');
    expect(row()?.note).toBeUndefined();
    await until(() => runner.view.get().status === 'done');
    await new Promise((r) => setTimeout(r, 20));
    expect(row()?.state).toBe('finished');
  });
});
