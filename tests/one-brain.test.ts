/**
 * The requester that ships and the trust bench decide with one code: the
 * JobCoordinator. The source check proves that nothing but the coordinator
 * reaches the decision modules (quorum, sampling, verifier) from either side;
 * the run proves both actually drive the coordinator's class.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { JobCoordinator } from '@shared/jobs';
import { DEFAULT_POLICY } from '@shared/trust';
import { BACKEND_VARIANTS } from '@shared/trust/testing/backends';
import { simulateJob } from '@shared/trust/testing/simulateJob';
import { ProviderNode } from '../web/src/provider/provider-node';
import { JobRunner } from '../web/src/requester/job-runner';
import { JobStore } from '../web/src/storage/job-store';
import { memoryStore } from '../web/src/storage/kv';
import { ModelStore } from '../web/src/storage/model-store';
import { AFFINE_MODEL, affine, affineJob, jobModelOf } from '../web/src/testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../web/src/testing/doubles';
import { until } from '../web/src/testing/wait';
import { closure, code, ROOT } from './support/imports';

const COORDINATOR = join(ROOT, 'shared/src/jobs/coordinator.ts');
const DECISIONS = ['quorum.ts', 'sampling.ts', 'jobVerifier.ts'].map((f) => join(ROOT, 'shared/src/trust', f));
const RUNNER = join(ROOT, 'web/src/requester/job-runner.ts');
const BENCH = join(ROOT, 'bench/trust.ts');

/** The decision code's public names: who uses one of them decides. */
const DECISION_NAMES = /\b(UnitQuorum|JobVerifier|planCheck|checkProbability|UnitQueue)\b/;

/** Files reachable from `entry`, outside the decision modules, whose code uses a decision name. */
function decidersFrom(entry: string): string[] {
  const out: string[] = [];
  for (const file of closure([entry]).keys())
    if (!DECISIONS.includes(file) && DECISION_NAMES.test(code(readFileSync(file, 'utf8'))))
      out.push(relative(ROOT, file));
  return out.sort();
}

describe('one brain', () => {
  it('ONE1: the shipped runner and bench:trust reach the decision code only through the JobCoordinator', () => {
    for (const entry of [RUNNER, BENCH]) {
      expect(closure([entry]).has(COORDINATOR), `${relative(ROOT, entry)} reaches the coordinator`).toBe(true);
      expect(decidersFrom(entry), relative(ROOT, entry)).toEqual(['shared/src/jobs/coordinator.ts']);
    }
  });

  it('ONE2: a job run by the shipped runner and a simulated bench job both drive JobCoordinator', async () => {
    const results = vi.spyOn(JobCoordinator.prototype, 'resultArrived');
    const variant = BACKEND_VARIANTS[0]!;
    simulateJob({ seed: 1, units: 8, rows: 2, sizes: [4, 4], honest: [variant], policy: DEFAULT_POLICY });
    const fromBench = results.mock.calls.length;
    expect(fromBench).toBeGreaterThanOrEqual(8);

    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    new ProviderNode({
      signaling: hub.connect('provider'),
      createPeer: peers,
      compute: functionEngine(affine),
      models: new ModelStore(memoryStore()),
      capabilities: TEST_CAPABILITIES,
    }).start();
    const { spec, inputs } = await affineJob('job-one-brain', 16, { unitRows: 4, spotCheckRate: 0 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    const runner = new JobRunner(spec, inputs, {
      signaling: hub.connect('requester'),
      createPeer: peers,
      jobs,
      model: await jobModelOf(AFFINE_MODEL),
    });
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    expect(results.mock.calls.length - fromBench).toBe(4);
    results.mockRestore();
  });
});
