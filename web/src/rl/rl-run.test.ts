import { hash32, type RlSpec } from '@shared/jobs/rl';
import { describe, expect, it } from 'vitest';
import { ProviderNode } from '../provider/provider-node';
import { CoVolunteers } from '../provider/co-volunteers';
import { ProviderRl } from '../provider/provider-rl';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { affineEngine, FakeHub, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import { RlRun } from './rl-run';
import { type RlRecord, RlStore } from './rl-store';
import { useRl } from './rl-view';

/** Two sums the seeded split (jsonl.ts, seed 1) keeps for training and one it holds out. */
function sums(): string {
  const train: string[] = [];
  const heldOut: string[] = [];
  for (let a = 10; train.length < 2 || heldOut.length < 1; a++) {
    const prompt = `${a}+${a}=`;
    const line = JSON.stringify({ prompt, answer: [...String(2 * a).padStart(3, '0')].reverse().join('') });
    if (hash32([1, prompt]) / 2 ** 32 < 0.1) heldOut.length < 1 && heldOut.push(line);
    else if (train.length < 2) train.push(line);
  }
  return [...train, ...heldOut].join('\n');
}
const JSONL = sums();

function record(id: string, steps: number): RlRecord {
  const spec: RlSpec = {
    v: 1,
    id,
    name: id,
    createdAt: 0,
    task: { kind: 'jsonl', name: 'sums.jsonl', lines: 3 },
    preset: 'tiny',
    seed: 1,
    steps,
    lr: 1e-3,
    providers: 2,
    promptsPerProvider: 2,
    samples: 2,
    temperature: 1,
    evalSize: 8,
    warmupSteps: 2,
    warmupLr: 3e-3,
    warmupTarget: 1,
  };
  return {
    spec,
    status: 'warming',
    message: '',
    warmup: null,
    accuracyBefore: null,
    modelBytes: 0,
    steps: [],
    samples: [],
    rollbacks: [],
  };
}

function network() {
  const hub = new FakeHub();
  const peers = memoryPeerFactory();
  // Peer ids as the server spells them (the relay list in a patch's header is checked against that form).
  const providers = ['P', 'Q'].map((c) => {
    const signaling = hub.connect(`${c.repeat(42)}A`);
    const coVolunteers = new CoVolunteers(signaling, peers);
    const rl = new ProviderRl({
      selfId: () => undefined,
      log: () => {},
      forward: coVolunteers.forward,
    });
    coVolunteers.serve({ rl });
    const node = new ProviderNode({
      signaling,
      createPeer: peers,
      compute: affineEngine(),
      models: new ModelStore(memoryStore()),
      capabilities: TEST_CAPABILITIES,
      rl,
    });
    node.start();
    return node;
  });
  return { hub, peers, providers };
}

describe('RlRun (RL-RUN1..2)', () => {
  it('RL-RUN1: warms up, runs every step with two volunteers, who end on the last version; nobody is refused', async () => {
    const { hub, peers } = network();
    const store = new RlStore(memoryStore());
    const r = record('rl-run-1', 3);
    useRl.getState().put(r);
    const run = new RlRun({ signaling: hub.connect('requester'), createPeer: peers, store }, r, JSONL);
    await run.run();
    const job = useRl.getState().jobs['rl-run-1']!;
    expect(job.record.message).toBe('done: 3 steps');
    expect(job.record.status).toBe('done');
    expect(job.record.steps.map((s) => s.version)).toEqual([1, 2, 3]);
    expect(job.record.warmup?.steps).toBe(2);
    const rows = Object.values(job.providers);
    expect(rows).toHaveLength(2);
    for (const p of rows) {
      expect(p.refused).toBe(0);
      expect(p.accepted).toBeGreaterThan(0);
    }
    await until(() =>
      Object.values(useRl.getState().jobs['rl-run-1']!.providers).every((p) => p.holds === job.versionHash),
    );
    // Each version was uploaded once and relayed by one volunteer to the other (none fell back).
    await until(() => useRl.getState().jobs['rl-run-1']!.relay.relayed === 3);
    expect(useRl.getState().jobs['rl-run-1']!.relay).toEqual({ uploads: 3, relayed: 3, fallbacks: 0 });
    expect((await store.versions('rl-run-1')).at(-1)).toBe(3);
  }, 60_000);

  it('RL-RUN2: a rollback publishes a kept version’s weights as the next version', async () => {
    const { hub, peers } = network();
    const store = new RlStore(memoryStore());
    const r = record('rl-run-2', 4);
    useRl.getState().put(r);
    const run = new RlRun({ signaling: hub.connect('requester'), createPeer: peers, store }, r, JSONL);
    const done = run.run();
    await until(() => (useRl.getState().jobs['rl-run-2']?.record.steps.length ?? 0) >= 2, 30_000);
    run.rollback(1);
    await done;
    const job = useRl.getState().jobs['rl-run-2']!;
    expect(job.record.status).toBe('done');
    expect(job.record.rollbacks).toHaveLength(1);
    const { at, to } = job.record.rollbacks[0]!;
    expect(to).toBe(1);
    // Four GRPO steps and one rollback: five versions, and the rollback's weights are version 1's.
    expect(job.version).toBe(5);
    const parameters = job.record.modelBytes / 2;
    const [rolledBack, original] = await Promise.all([at, to].map((v) => store.master('rl-run-2', v, parameters)));
    expect(at).toBeGreaterThan(2);
    expect(rolledBack?.master).toEqual(original?.master);
  }, 60_000);
});

describe('RlRun across a reload (RL-RUN3)', () => {
  it('RL-RUN3: a run stopped mid-job and started again goes on from its last step with its optimizer state', async () => {
    const { hub, peers } = network();
    const store = new RlStore(memoryStore());
    const r = record('rl-run-3', 4);
    useRl.getState().put(r);
    const first = new RlRun({ signaling: hub.connect('requester'), createPeer: peers, store }, r, JSONL);
    const stopped = first.run();
    await until(() => (useRl.getState().jobs['rl-run-3']?.record.steps.length ?? 0) >= 2, 30_000);
    await first.cancel();
    await stopped;
    const { records } = await store.list();
    const saved = records.find((x) => x.spec.id === 'rl-run-3')!;
    const doneBefore = saved.steps.length;
    expect(doneBefore).toBeGreaterThanOrEqual(2);
    // What a reload finds: the record as it was while running.
    const reloaded: RlRecord = { ...saved, status: 'running', message: '' };
    useRl.getState().put(reloaded);
    await new RlRun({ signaling: hub.connect('requester-2'), createPeer: peers, store }, reloaded, JSONL).run();
    const job = useRl.getState().jobs['rl-run-3']!;
    expect(job.record.status).toBe('done');
    expect(job.record.steps.map((s) => s.version)).toEqual([1, 2, 3, 4]);
    // AdamW's step counter went on from where the first run left it: one update per step, none restarted.
    expect((await store.state('rl-run-3', 4))?.t).toBe(4);
  }, 60_000);
});
