/**
 * Issue 17 in the runner, with a real provider core on both ends: a provider
 * that cannot load the model declines the job (not counted as faulty), the
 * card says what it waits for instead of "running", and a unit that fails
 * the same way on every provider ends the job with that error.
 */
import { describe, expect, it } from 'vitest';
import type { ComputeEngine } from '../core/ports';
import { ProviderNode } from '../provider/provider-node';
import { JobStore } from '../storage/job-store';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import { JobRunner } from './job-runner';

const peers = memoryPeerFactory();

function startProvider(hub: FakeHub, id: string, compute: ComputeEngine) {
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute,
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
  });
  node.start();
  return node;
}

async function startJob(hub: FakeHub, id: string) {
  const { spec, inputs } = await affineJob(id, 32, { spotCheckRate: 0 });
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect('requester'),
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL),
  });
  await runner.start();
  return runner;
}

const LOAD_ERROR =
  "the model does not load on webgpu: Can't create a session. ERROR_CODE: 9, ERROR_MESSAGE: Could not find an implementation for AveragePool(1) node with name ''";

describe('issue 17 in the runner', () => {
  it('BYOM5: a provider that cannot load the model declines it: not faulty, and the card waits instead of "running"', async () => {
    const hub = new FakeHub();
    const runner = await startJob(hub, 'job-byom-decline');
    expect(runner.view.get().waiting).toMatch(/^waiting for providers/);
    const broken = functionEngine(f);
    broken.load = async () => {
      throw new Error(LOAD_ERROR);
    };
    startProvider(hub, 'provider-no-load', broken);
    await until(() => runner.view.get().providers.some((p) => p.state === 'declined'));
    const view = runner.view.get();
    expect(view.status).toBe('running');
    expect(view.waiting).toBe(`waiting: 1 provider could not run this model (${LOAD_ERROR}); another provider may`);
    expect(view.verification.rejected).toBe(0);
    expect(view.providers[0]).toMatchObject({ state: 'declined', unitsFailed: 0 });
    // Another provider that can run it finishes the job.
    startProvider(hub, 'provider-ok', functionEngine(f));
    await until(() => runner.view.get().status === 'done');
    expect(runner.view.get().verification.rejected).toBe(0);
    expect(runner.view.get().waiting).toBeUndefined();
  });

  it('BYOM6: a unit that fails the same way on every try ends the job with that error; nobody is rejected', async () => {
    const hub = new FakeHub();
    const runner = await startJob(hub, 'job-byom-fails');
    const failing = functionEngine(f);
    let runs = 0;
    failing.run = async () => {
      runs++;
      throw new Error(
        'inference failed on wasm: Got invalid dimensions for input: x for the following indices index: 0 Got: 16 Expected: 20',
      );
    };
    startProvider(hub, 'provider-a', failing);
    startProvider(hub, 'provider-b', failing);
    await until(() => runner.view.get().status === 'failed');
    const view = runner.view.get();
    expect(view.message).toMatch(
      /^unit \d+ fails the same way on every try: inference failed on wasm: Got invalid dimensions/,
    );
    expect(view.verification.rejected).toBe(0);
    expect(view.inFlight).toBe(0);
    expect(runs).toBeLessThanOrEqual(8); // a few tries, not a retry storm
  });

  it('JOB-DONE: a job is done only once every accepted result is written, whatever order the writes land in', async () => {
    const hub = new FakeHub();
    const { spec, inputs } = await affineJob('job-byom-writes', 32, { spotCheckRate: 0 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    // The write holding unit 0 is slow: the coordinator accepts the other units while it is out.
    const put = jobs.putUnitResults.bind(jobs);
    jobs.putUnitResults = async (jobId, units) => {
      if (units.some((u) => u.unitId === 0)) await new Promise((r) => setTimeout(r, 50));
      return put(jobId, units);
    };
    const runner = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
    });
    await runner.start();
    let doneAtFinish: number | undefined;
    runner.view.subscribe((view) => {
      if (view.status === 'done' && doneAtFinish === undefined) doneAtFinish = view.done;
    });
    startProvider(hub, 'provider-ok', functionEngine(f));
    await until(() => runner.view.get().status === 'done');
    expect(doneAtFinish).toBe(runner.view.get().total);
    expect((await jobs.doneUnits(spec.id)).length).toBe(runner.view.get().total);
  });
});
