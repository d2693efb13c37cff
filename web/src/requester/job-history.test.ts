/**
 * Issue 21, defect 1: a job's history tells the truth. The figures a finished
 * job showed are the ones stored (a reload reads the same), a resumed job counts
 * on from what it stored, and the event log says who joined, was checked and left.
 */
import { describe, expect, it } from 'vitest';
import { averageRowsPerSecond, emptyFigures } from '@shared/jobs';
import { ProviderNode } from '../provider/provider-node';
import { HistoryStore } from '../storage/history-store';
import { JobStore } from '../storage/job-store';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import { JobRunner } from './job-runner';
import { figuresOf } from './job-view';
import { acceptedAtMost } from './job-recorder';

const peers = memoryPeerFactory();

function startProvider(hub: FakeHub, id: string, delayMs = 1) {
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: functionEngine(f, { delayMs }),
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
  });
  node.start();
  return node;
}

async function runnerFor(
  hub: FakeHub,
  kv: ReturnType<typeof memoryStore>,
  id: string,
  rows: number,
  spotCheckRate = 0,
) {
  const jobs = new JobStore(kv);
  const { spec, inputs } = await affineJob(id, rows, { spotCheckRate });
  if ((await jobs.list()).length === 0) await jobs.create(spec, inputs);
  const runner = new JobRunner(spec, inputs, {
    signaling: hub.connect(`requester-${Math.random()}`),
    createPeer: peers,
    jobs,
    history: new HistoryStore(kv),
    model: await jobModelOf(MODEL),
    local: spotCheckRate > 0 ? functionEngine(f) : undefined,
  });
  return { runner, spec, jobs };
}

describe('job history (issue 21, defect 1)', () => {
  it('HIST-R1: a finished job stores the figures it shows: rows, units, per-provider rows and counters', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a');
    startProvider(hub, 'provider-b');
    const kv = memoryStore();
    const { runner, spec } = await runnerFor(hub, kv, 'job-history-1', 64, 0.5);
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    const view = runner.view.get();
    const stored = await new HistoryStore(kv).history(spec.id);
    expect(stored).toEqual(view.record);
    expect(stored).toMatchObject({ rowsDone: 64, unitsDone: 16 });
    expect(stored!.finishedAt).toBeGreaterThanOrEqual(spec.createdAt);
    expect(stored!.providers.reduce((n, p) => n + p.rows, 0)).toBe(64);
    expect(stored!.providers.reduce((n, p) => n + p.units, 0)).toBe(16);
    expect(stored!.figures).toEqual(figuresOf(view));
    expect(stored!.figures.verified + stored!.figures.unchecked).toBe(16);
    expect(stored!.progress.at(-1)![1]).toBe(64);
    // The average is over the running time, so reading it later gives the same figure.
    const average = averageRowsPerSecond(stored!);
    await new Promise((r) => setTimeout(r, 30));
    expect(averageRowsPerSecond((await new HistoryStore(kv).history(spec.id))!)).toBe(average);
  });

  it('HIST-R2: the event log records the job created, providers joining, checks and the end, in order', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a');
    const kv = memoryStore();
    const { runner, spec } = await runnerFor(hub, kv, 'job-history-2', 32, 1);
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    await runner.history!.save();
    const events = await new HistoryStore(kv).events(spec.id);
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('created');
    expect(kinds).toContain('join');
    expect(kinds.filter((k) => k === 'check').length).toBeGreaterThan(0);
    expect(kinds.at(-1)).toBe('done');
    expect(events.find((e) => e.kind === 'join')!.peerId).toBe('provider-a');
    expect(events.every((e, i) => i === 0 || e.at >= events[i - 1]!.at)).toBe(true);
  });

  it('HIST-R3: a job paused and resumed counts on from its stored figures (not from zero) and ends with every row', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a', 5);
    const kv = memoryStore();
    const first = await runnerFor(hub, kv, 'job-history-3', 128);
    await first.runner.start();
    await until(() => first.runner.view.get().done >= 8);
    first.runner.stop('paused');
    await first.runner.history!.save();
    const paused = (await new HistoryStore(kv).history(first.spec.id))!;
    expect(paused.rowsDone).toBeGreaterThanOrEqual(32);
    const before = paused.figures.unchecked;

    const second = await runnerFor(hub, kv, 'job-history-3', 128);
    await second.runner.start();
    // The reload's first view already carries the stored counters, and counts no more accepted units than stored ones.
    const resumed = second.runner.view.get();
    expect(resumed.verification.unchecked).toBeGreaterThan(0);
    expect(resumed.verification.unchecked).toBeLessThanOrEqual(before);
    expect(resumed.verification.verified + resumed.verification.unchecked).toBe(resumed.done);
    await until(() => second.runner.view.get().status === 'done', 20_000);
    const done = (await new HistoryStore(kv).history(first.spec.id))!;
    expect(done.rowsDone).toBe(128);
    expect(done.figures.verified + done.figures.unchecked).toBe(32);
    expect(done.activeMs).toBeGreaterThanOrEqual(paused.activeMs);
    const events = await new HistoryStore(kv).events(first.spec.id);
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['created', 'paused', 'started', 'done']));
  });

  it('HIST-R5: counters stored beside units accepted but not yet written are taken back on reload (unchecked first)', () => {
    const stored = { ...emptyFigures(), verified: 6, unchecked: 65, receiptsIssued: 71 };
    expect(acceptedAtMost(stored, 69)).toEqual({ ...stored, unchecked: 63 });
    expect(acceptedAtMost(stored, 4)).toEqual({ ...stored, unchecked: 0, verified: 4 });
    expect(acceptedAtMost(stored, 80)).toBe(stored);
  });

  it('HIST-R4 (defect 8): a job already complete when resumed sends no job-close for a job it never opened', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a');
    const kv = memoryStore();
    const first = await runnerFor(hub, kv, 'job-history-4', 16);
    await first.runner.start();
    await until(() => first.runner.view.get().status === 'done');
    const again = await runnerFor(hub, kv, 'job-history-4', 16);
    const port = hub.connect('requester-again');
    const sent: string[] = [];
    const send = port.send.bind(port);
    port.send = (message) => {
      sent.push(message.type);
      send(message);
    };
    const runner = new JobRunner(again.spec, await again.jobs.inputs(again.spec.id), {
      signaling: port,
      createPeer: peers,
      jobs: again.jobs,
      history: new HistoryStore(kv),
      model: await jobModelOf(MODEL),
    });
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    expect(sent.filter((t) => t === 'job-close' || t === 'job-open')).toEqual([]);
  });
});
