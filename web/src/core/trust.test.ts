/**
 * Trust in the job cores over in-memory ports (SPEC TRUST-S2, TRUST-P2, TRUST-R*):
 * keyed providers sign, a keyed requester drops unsigned or mis-signed results,
 * reports caught providers, checks new keys on every unit, and issues receipts
 * the providers verify and keep.
 */
import { describe, expect, it } from 'vitest';
import { modelVersion } from '@shared/tensor';
import { createIdentity, type Identity } from '@shared/identity';
import type { JobSpec } from '@shared/jobs';
import { concatRows } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import type { ClientMessage } from '@shared/protocol';
import { matmul256 } from '@shared/models';
import { issueReceipt, PROBATION_UNITS, ReputationBook, seededRandom } from '@shared/trust';
import { ProviderNode } from '../provider/provider-node';
import { JobRunner } from '../requester/job-runner';
import { JobStore } from '../storage/job-store';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { ProviderReceipts } from '../storage/receipt-store';
import type { ComputeEngine } from './ports';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../testing/affine-job';
import { FakeHub, functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until, storedResults as results } from '../testing/wait';

const ROWS = 256;
const peers = memoryPeerFactory();

const makeJob = (overrides: Partial<JobSpec> = {}) => affineJob('job-trust-1', ROWS, overrides);

/** `signAs`: the key that signs (a different one than the connection's = mis-signed); null: unsigned. */
async function startProvider(
  hub: FakeHub,
  fn = f,
  signAs?: Identity | null,
  compute: ComputeEngine = functionEngine(fn, { delayMs: 1 }),
) {
  const identity = await createIdentity();
  const kv = memoryStore();
  const receipts = new ProviderReceipts(kv, identity.peerId);
  const node = new ProviderNode({
    signaling: hub.connect(identity.peerId),
    createPeer: peers,
    compute,
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
    identity: signAs === null ? undefined : (signAs ?? identity),
    receipts,
  });
  node.start();
  return { node, identity, receipts, kv };
}

/** A requester connection that records what it sends and answers `receipts` the way the server's log does. */
async function startRequester(hub: FakeHub) {
  const identity = await createIdentity();
  const port = hub.connect(identity.peerId);
  const sent: ClientMessage[] = [];
  const send = port.send.bind(port);
  port.send = (message) => {
    sent.push(message);
    if (message.type === 'receipts') {
      queueMicrotask(() =>
        port.events.emit('receipts-ack', {
          type: 'receipts-ack',
          accepted: message.receipts.length,
          rejected: [],
          head: { seq: 0, hash: '0'.repeat(64) } as never,
        }),
      );
    }
    send(message);
  };
  return { identity, port, sent };
}

const reference = (inputs: RawTensor[]) => new Float32Array(inputs[0]!.bytes.slice().buffer).map(f);

async function runJob(
  hub: FakeHub,
  overrides: Partial<JobSpec> = {},
  local = false,
  reputation = new ReputationBook(),
  random?: () => number,
) {
  const job = await startJob(hub, overrides, local, reputation, random);
  await until(() => job.runner.view.get().status === 'done');
  return job;
}

async function startJob(
  hub: FakeHub,
  overrides: Partial<JobSpec>,
  local: boolean,
  reputation: ReputationBook,
  random?: () => number,
) {
  const { spec, inputs } = await makeJob(overrides);
  const jobs = new JobStore(memoryStore());
  await jobs.create(spec, inputs);
  const requester = await startRequester(hub);
  const runner = new JobRunner(spec, inputs, {
    signaling: requester.port,
    createPeer: peers,
    jobs,
    model: await jobModelOf(MODEL),
    identity: requester.identity,
    reputation,
    flopsPerRow: 10,
    local: local ? functionEngine(f) : undefined,
    random,
  });
  await runner.start();
  return { runner, spec, inputs, jobs, requester, reputation };
}

describe('trust in the job cores', () => {
  it('TRUST-S2: signed results from keyed providers are accepted; every accepted unit earns one receipt, kept by its provider and logged', async () => {
    const hub = new FakeHub();
    const a = await startProvider(hub);
    const b = await startProvider(hub);
    const { runner, spec, inputs, jobs, requester } = await runJob(hub);
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const view = runner.view.get();
    expect(view.verification).toMatchObject({ rejected: 0, unchecked: 64 });
    expect(view.receipts.issued).toBe(64);
    await until(() => a.receipts.all().length + b.receipts.all().length === 64);
    for (const p of [a, b]) {
      const done = view.providers.find((x) => x.peerId === p.identity.peerId)!.unitsDone;
      expect(p.receipts.all().length).toBe(done);
      expect(p.node.view.get().credits).toEqual({ receipts: done, flops: done * 4 * 10 });
    }
    const logged = requester.sent.flatMap((m) => (m.type === 'receipts' ? m.receipts : []));
    expect(new Set(logged.map((r) => r.unitId)).size).toBe(64);
    await until(() => runner.view.get().receipts.logged === 64);
  });

  it('TRUST-S2: unsigned results are dropped, the sender rejected and reported, and the job completes with the honest provider', async () => {
    const hub = new FakeHub();
    await startProvider(hub);
    const unsigned = await startProvider(hub, f, null);
    const { runner, spec, inputs, jobs, requester, reputation } = await runJob(hub);
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const p = runner.view.get().providers.find((x) => x.peerId === unsigned.identity.peerId)!;
    expect(p.state).toBe('rejected');
    expect(p.note).toMatch(/unsigned/);
    expect(p.unitsDone).toBe(0);
    expect(requester.sent).toContainEqual(
      expect.objectContaining({ type: 'report', peerId: unsigned.identity.peerId, verdict: 'rejected' }),
    );
    expect(reputation.isExcluded(unsigned.identity.peerId)).toBe(true);
    expect(unsigned.receipts.all()).toHaveLength(0);
  });

  it('TRUST-S2: results signed by another key than the sender are dropped and the sender rejected', async () => {
    const hub = new FakeHub();
    await startProvider(hub);
    const forger = await startProvider(hub, f, await createIdentity());
    const { runner, spec, inputs, jobs } = await runJob(hub);
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const p = runner.view.get().providers.find((x) => x.peerId === forger.identity.peerId)!;
    expect(p.state).toBe('rejected');
    expect(p.note).toMatch(/wrong-provider/);
    expect(p.unitsDone).toBe(0);
  });

  it('TRUST-P2: a signing provider with wrong values is caught on its first unit (new keys are checked on every unit), reported, excluded; output equals the reference', async () => {
    const hub = new FakeHub();
    await startProvider(hub);
    const cheater = await startProvider(hub, (x) => 2 * x + 1.001);
    const { runner, spec, inputs, jobs, requester, reputation } = await runJob(hub, { spotCheckRate: 0.03 }, true);
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const p = runner.view.get().providers.find((x) => x.peerId === cheater.identity.peerId)!;
    expect(p.state).toBe('rejected');
    expect(p.unitsDone).toBe(0);
    expect(runner.view.get().verification.rejected).toBe(1);
    expect(runner.view.get().verification.reasons[0]).toMatch(/spot check/);
    expect(requester.sent).toContainEqual(expect.objectContaining({ type: 'report', peerId: cheater.identity.peerId }));
    expect(reputation.get(cheater.identity.peerId)).toMatchObject({ excluded: true, accepted: 0 });
  });

  it('TRUST-P3: adaptive checking: a new key is checked on each of its first units, a key with a clean history far less', async () => {
    const hub = new FakeHub();
    const honest = await startProvider(hub);
    const reputation = new ReputationBook();
    const first = await runJob(hub, { spotCheckRate: 0.03, maxProviders: 1 }, true, reputation);
    const checkedNew = first.runner.view.get().spotChecks.checked;
    expect(checkedNew).toBeGreaterThanOrEqual(PROBATION_UNITS);
    expect(reputation.get(honest.identity.peerId)!.accepted).toBe(64);
    // Same key, long clean history: the check probability has decayed to the floor.
    for (let i = 0; i < 200; i++) reputation.recordAccepted(honest.identity.peerId, false);
    const second = await runJob(hub, { id: 'job-trust-2', spotCheckRate: 0.03, maxProviders: 1 }, true, reputation);
    expect(second.runner.view.get().verification.rejected).toBe(0);
    expect(second.runner.view.get().spotChecks.checked).toBeLessThan(PROBATION_UNITS);
  });

  it('TRUST-P2: a trusted key that turns bad is caught by sampling, and the units it had delivered unchecked are computed again', async () => {
    const hub = new FakeHub();
    const turncoat = await startProvider(hub, f, undefined, turncoatEngine(12));
    const reputation = new ReputationBook();
    // A long clean history: checked at the spot-check rate, here the draw says yes every 8th result.
    for (let i = 0; i < 500; i++) reputation.recordAccepted(turncoat.identity.peerId, true);
    let draws = 0;
    const { runner, spec, inputs, jobs } = await startJob(
      hub,
      { spotCheckRate: 0.03, maxProviders: 1 },
      true,
      reputation,
      () => (++draws % 8 === 0 ? 0 : 0.99),
    );
    await until(() => runner.view.get().verification.rejected === 1);
    // Its replacement: a new honest key, paired once the turncoat is released.
    const honest = await startProvider(hub);
    await until(() => runner.view.get().status === 'done');
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const view = runner.view.get();
    expect(view.providers.find((p) => p.peerId === turncoat.identity.peerId)!.state).toBe('rejected');
    expect(view.verification.reasons.join('\n')).toMatch(/unverified units re-queued/);
    expect(honest.node.view.get().unitsDone).toBeGreaterThan(64 - 12);
  });
});

/** An engine computing `f` honestly for its first `honestUnits` units, then 0.5 off on every one. */
function turncoatEngine(honestUnits: number): ComputeEngine {
  let units = 0;
  const honest = functionEngine(f, { delayMs: 1 });
  return {
    ...honest,
    run: async (hash, inputs) => {
      const out = await honest.run(hash, inputs);
      if (++units <= honestUnits) return out;
      const ys = new Float32Array(out[0]!.bytes.slice().buffer).map((y) => y + 0.5);
      return [{ ...out[0]!, bytes: new Uint8Array(ys.buffer) }];
    },
  };
}

/** An engine computing `fn` that records, per unit (keyed by its first input value), that it ran it. */
function recordingEngine(fn: (x: number) => number, ran: Map<number, Set<string>>, who: () => string): ComputeEngine {
  const inner = functionEngine(fn, { delayMs: 1 });
  return {
    ...inner,
    run: async (hash, inputs) => {
      const key = new Float32Array(inputs[0]!.bytes.slice(0, 4).buffer)[0]!;
      if (!ran.has(key)) ran.set(key, new Set());
      ran.get(key)!.add(who());
      return inner.run(hash, inputs);
    },
  };
}

describe('exclusion across jobs (SPEC TRUST-P2)', () => {
  it('TRUST-P2: a key excluded in the shared book is released at once by a later job and computes nothing', async () => {
    const hub = new FakeHub();
    const banned = await startProvider(hub);
    await startProvider(hub);
    const reputation = new ReputationBook();
    reputation.recordPending(banned.identity.peerId);
    reputation.recordRejected(banned.identity.peerId, 'caught earlier');
    const { spec, inputs, jobs, requester } = await runJob(hub, {}, false, reputation);
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    expect(banned.node.view.get().unitsDone).toBe(0);
    expect(requester.sent).toContainEqual(expect.objectContaining({ type: 'release', peerId: banned.identity.peerId }));
  });
});

describe('units to re-run survive a reload (SPEC TRUST-P2)', () => {
  it('TRUST-P2: a caught provider\'s unverified units are stored as "to re-run"; a runner resumed before they ran computes them again', async () => {
    const hub = new FakeHub();
    const turncoat = await startProvider(hub, f, undefined, turncoatEngine(12));
    const reputation = new ReputationBook();
    for (let i = 0; i < 500; i++) reputation.recordAccepted(turncoat.identity.peerId, true);
    let draws = 0;
    const first = await startJob(hub, { spotCheckRate: 0.03, maxProviders: 1 }, true, reputation, () =>
      ++draws % 8 === 0 ? 0 : 0.99,
    );
    await until(() => first.runner.view.get().verification.rejected === 1);
    // The page reloads before anything is re-run.
    first.runner.stop('paused');
    hub.disconnect(turncoat.identity.peerId);
    const rerun = await first.jobs.rerunUnits(first.spec.id);
    expect(rerun.length).toBeGreaterThan(0);
    const stored = await first.jobs.doneUnits(first.spec.id);
    expect(rerun.every((u) => stored.includes(u))).toBe(true); // their (wrong) results are still on disk

    await startProvider(hub);
    const requester = await startRequester(hub);
    const resumed = new JobRunner(first.spec, first.inputs, {
      signaling: requester.port,
      createPeer: peers,
      jobs: first.jobs,
      model: await jobModelOf(MODEL),
      identity: requester.identity,
      reputation,
    });
    await resumed.start();
    expect(resumed.view.get().done).toBe(stored.length - rerun.length);
    await until(() => resumed.view.get().status === 'done');
    expect(await results(first.jobs, first.spec)).toEqual(reference(first.inputs));
    expect(await first.jobs.rerunUnits(first.spec.id)).toEqual([]);
  });
});

describe('redundancy with quorum (SPEC TRUST-Q*)', () => {
  it('TRUST-Q2: redundancy 2 with one cheater: disagreement sends a third replica, the majority result is stored, the cheater (the minority) is reported and excluded', async () => {
    const hub = new FakeHub();
    const ran = new Map<number, Set<string>>();
    const names: string[] = [];
    const start = async (fn: (x: number) => number) => {
      const i = names.length;
      names.push('');
      const p = await startProvider(
        hub,
        fn,
        undefined,
        recordingEngine(fn, ran, () => names[i]!),
      );
      names[i] = p.identity.peerId;
      return p;
    };
    const a = await start(f);
    const b = await start(f);
    const cheater = await start((x) => 2 * x + 1.5);
    const { runner, spec, inputs, jobs, requester, reputation } = await runJob(hub, { redundancy: 2, maxProviders: 3 });
    expect(await results(jobs, spec)).toEqual(reference(inputs));
    const cheaterId = cheater.identity.peerId;
    // Some unit the cheater answered went to both honest providers as well: the third replica.
    const third = [...ran.values()].filter(
      (who) => who.has(cheaterId) && who.has(a.identity.peerId) && who.has(b.identity.peerId),
    );
    expect(third.length).toBeGreaterThanOrEqual(1);
    const view = runner.view.get();
    expect(view.providers.find((p) => p.peerId === cheaterId)).toMatchObject({ state: 'rejected', unitsDone: 0 });
    expect(view.verification.reasons.join('\n')).toMatch(/disagreed with the majority/);
    expect(requester.sent).toContainEqual(
      expect.objectContaining({ type: 'report', peerId: cheaterId, verdict: 'rejected' }),
    );
    expect(reputation.get(cheaterId)).toMatchObject({ excluded: true, accepted: 0 });
    expect(reputation.get(a.identity.peerId)!.rejected).toBe(0);
    expect(reputation.get(b.identity.peerId)!.rejected).toBe(0);
    // Every unit was confirmed by an agreeing majority.
    expect(view.verification).toMatchObject({ verified: 64, unchecked: 0, rejected: 1 });
    expect(cheater.receipts.all()).toHaveLength(0);
  });
});

const MM = Number(matmul256.inputs[0]!.dims[1]);

/** Y = X·W through the model's reference; `cheat` alters the product. */
function matmulEngine(cheat?: (y: Float32Array) => void): ComputeEngine {
  return {
    backend: 'wasm',
    async load() {},
    async run(_hash, inputs) {
      const x = inputs[0]!;
      const data = new Float32Array(x.bytes.slice().buffer);
      const y = matmul256.reference({ x: { dtype: 'float32', dims: [...x.dims], data } }).y!;
      const out = Float32Array.from(y.data as ArrayLike<number>);
      cheat?.(out);
      return [{ name: 'y', dtype: 'float32', dims: [x.dims[0]!, MM], bytes: new Uint8Array(out.buffer) }];
    },
  };
}

describe('algebraic checks (SPEC TRUST-F*)', () => {
  it('TRUST-F3: on a matmul-256 job a cheater is caught by Freivalds without a local engine; honest products pass; the output equals the reference', async () => {
    const hub = new FakeHub();
    const honest = await startProvider(hub, f, undefined, matmulEngine());
    // Subtle: one entry of each unit's product off by 1 (far above f32 rounding, far below noise).
    const cheater = await startProvider(
      hub,
      f,
      undefined,
      matmulEngine((y) => {
        y[5] = y[5]! + 1;
      }),
    );
    const rows = 64;
    const x = Float32Array.from({ length: rows * MM }, (_, i) => Math.sin(i));
    const spec: JobSpec = {
      schema: 2,
      id: 'job-matmul-1',
      name: 'matmul',
      createdAt: 1,
      model: { hash: (await modelVersion(MODEL)).hash, name: 'matmul', bytes: MODEL.length, builtinId: 'matmul-256' },
      inputs: [{ name: 'x', dtype: 'float32', dims: [rows, MM] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [-1, MM] }],
      rows,
      unitRows: 4,
      redundancy: 1,
      spotCheckRate: 0.03,
      maxProviders: 4,
    };
    const inputs: RawTensor[] = [{ name: 'x', dtype: 'float32', dims: [rows, MM], bytes: new Uint8Array(x.buffer) }];
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    const requester = await startRequester(hub);
    const reputation = new ReputationBook();
    const runner = new JobRunner(spec, inputs, {
      signaling: requester.port,
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
      identity: requester.identity,
      reputation,
      rng: seededRandom(7),
    });
    await runner.start();
    await until(() => runner.view.get().status === 'done');
    const expected = matmul256.reference({ x: { dtype: 'float32', dims: [rows, MM], data: x } }).y!
      .data as Float32Array;
    const parts: RawTensor[] = [];
    for (let u = 0; u < rows / 4; u++) parts.push((await jobs.unitResult(spec.id, u))[0]!);
    expect(new Float32Array(concatRows(parts).bytes.slice().buffer)).toEqual(expected);
    const view = runner.view.get();
    expect(view.providers.find((p) => p.peerId === cheater.identity.peerId)).toMatchObject({
      state: 'rejected',
      unitsDone: 0,
    });
    expect(view.verification.reasons[0]).toMatch(/Freivalds/);
    expect(view.providers.find((p) => p.peerId === honest.identity.peerId)).toMatchObject({
      state: 'finished', // linked until the job completed (issue 21, defect 6: not "gone")
      unitsDone: 16,
    });
    expect(view.spotChecks.failed).toBe(1);
    expect(view.verification.rejected).toBe(1);
    expect(reputation.get(cheater.identity.peerId)).toMatchObject({ excluded: true });
  });
});

describe('provider receipts (SPEC TRUST-R*)', () => {
  it('TRUST-R3: receipts are verified on arrival and on read; forged, replayed and other-key receipts are refused; tampered storage is skipped', async () => {
    const requester = await createIdentity();
    const provider = await createIdentity();
    const kv = memoryStore();
    const store = new ProviderReceipts(kv, provider.peerId);
    const good = await issueReceipt(requester, {
      network: 'test-network',
      provider: provider.peerId,
      jobId: 'job-1',
      unitId: 0,
      flops: 100,
      durationMs: 5,
    });
    await store.add(good);
    await expect(store.add(good)).rejects.toThrow(/already/);
    await expect(store.add({ ...good, flops: 1e9 })).rejects.toThrow();
    const other = await issueReceipt(requester, {
      network: 'test-network',
      provider: requester.peerId,
      jobId: 'job-1',
      unitId: 1,
      flops: 1,
      durationMs: 1,
    });
    await expect(store.add(other)).rejects.toThrow(/is for/);
    const second = await issueReceipt(requester, {
      network: 'test-network',
      provider: provider.peerId,
      jobId: 'job-1',
      unitId: 2,
      flops: 50,
      durationMs: 1,
    });
    await store.add(second);
    expect(store.summary()).toEqual({ receipts: 2, flops: 150 });
    // Someone edits IndexedDB to inflate a receipt: on the next load it no longer counts.
    kv.map.set(`receipt:${second.id}`, { ...second, flops: 5000 });
    const reloaded = new ProviderReceipts(kv, provider.peerId);
    expect(await reloaded.load()).toBe(1);
    expect(reloaded.summary()).toEqual({ receipts: 1, flops: 100 });
    expect(JSON.parse(reloaded.exportJson())).toEqual({ provider: provider.peerId, receipts: [good] });
  });
});
