import { defaultTrainSpec, type TrainSpec } from '@shared/jobs';
import {
  COMPRESS_DEFAULTS,
  compress,
  encodeChain,
  encodeContribution,
  initialVersion,
  encodeRoundPatch,
  makeVersion,
  outerStep,
  type Version,
} from '@shared/jobs/together';
import {
  decodeTogetherFromProvider,
  encodeTogether,
  type TogetherFromProvider,
  type TogetherToProvider,
  TOGETHER_WIRE_VERSION,
} from '@shared/protocol';
import { arenaFor, PRESETS } from '@shared/train';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../storage/kv';
import { until } from '../testing/wait';
import { ProviderTogether, type TogetherActivity } from './provider-together';

const JOB = 'job-provider-together';
const OUTER = { lr: 0.5, momentum: 0 };
const TOP_K = 8;

function spec(): TrainSpec {
  return {
    ...defaultTrainSpec(JOB, 0),
    model: { ...PRESETS.tiny, layers: 1, width: 32, heads: 2, context: 16, vocab: 256 },
    corpus: { kind: 'upload', name: 'ids.txt', format: 'txt' },
    batch: 1,
    steps: 4,
    where: 'together',
    together: { providers: 2, innerSteps: 2, outerLr: OUTER.lr, topK: TOP_K },
  };
}

type Start = Extract<TogetherToProvider, { type: 'together-start' }>;

/** A provider with its messages to the requester, what it forwarded and what its page shows. */
function provider() {
  const got: { header: TogetherFromProvider; body: Uint8Array }[] = [];
  const forwarded: { peerId: string; bytes: Uint8Array }[] = [];
  const statuses: string[] = [];
  const activity: TogetherActivity[] = [];
  const provider = new ProviderTogether({
    report: (a) => {
      statuses.push(a.status);
      activity.push(a);
    },
    sign: async () => 'A'.repeat(85) + 'A',
    store: memoryStore(),
    log: () => {},
    forward: async (_jobId, peerId, bytes) => void forwarded.push({ peerId, bytes }),
  });
  const send = (header: TogetherToProvider, body?: Uint8Array) =>
    provider.receive('link', JOB, (b) => got.push(decodeTogetherFromProvider(b)), encodeTogether(header, body));
  return { provider, got, send, forwarded, statuses, activity };
}

const TOKENS = Uint16Array.from({ length: 4096 }, (_, i) => (i * 7) % 256);

/** A together-start with the corpus and, after it, `state` (the version whole or a chain). */
function startWith(round: number, versionHash: string, state: Uint8Array, chain: boolean): [Start, Uint8Array] {
  const body = new Uint8Array(TOKENS.byteLength + state.length);
  body.set(new Uint8Array(TOKENS.buffer), 0);
  body.set(state, TOKENS.byteLength);
  const header: Start = {
    type: 'together-start',
    v: TOGETHER_WIRE_VERSION,
    jobId: JOB,
    spec: spec(),
    shard: 0,
    shards: 2,
    round,
    versionHash,
    tokens: TOKENS.length,
    paramBytes: chain ? 0 : state.length,
    momentumBytes: 0,
    ...(chain && { chainBytes: state.length }),
  };
  return [header, body];
}

/** A started job on one ProviderTogether, with what it sent its requester and what it forwarded. */
async function started() {
  const p = provider();
  const s = spec();
  const n = arenaFor(s.model, 1, s.model.context).params.size;
  const params = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02);
  const v0 = await makeVersion(0, params, null);
  p.send(...startWith(0, v0.hash, new Uint8Array(params.buffer), false));
  await until(() => p.got.length >= 1);
  if (p.got[0]!.header.type === 'together-error') throw new Error(p.got[0]!.header.message);
  expect(p.got[0]!.header).toMatchObject({ type: 'together-ready', versionHash: v0.hash });
  return { ...p, v0 };
}

/** A round patch with one contribution (a compressed random direction), as the requester makes them. */
async function onePatch(base: Version): Promise<{ bytes: Uint8Array; next: Version }> {
  const direction = Float32Array.from(base.params, (_, i) => Math.cos(i * 1.7) * 0.01);
  const contribution = compress(direction, { ...COMPRESS_DEFAULTS, topK: TOP_K });
  const next = await outerStep(base, [{ contribution, weight: 1 }], OUTER);
  expect(next.hash).not.toBe(base.hash);
  const entries = [{ provider: 'provider', weight: 1, bytes: encodeContribution(contribution) }];
  return {
    bytes: encodeRoundPatch({ round: base.round, baseHash: base.hash, resultHash: next.hash, outer: OUTER, entries }),
    next,
  };
}

const peers = ['A', 'B', 'C'].map((c) => `${c.repeat(42)}A`);

describe('ProviderTogether relays round patches (TOGETHER-RELAY1..2)', () => {
  it('TOGETHER-RELAY1: a patch naming volunteers is applied, then forwarded to the heads of its list', async () => {
    const { provider, got, send, forwarded, v0 } = await started();
    const { bytes, next } = await onePatch(v0);
    send({ type: 'together-patch', jobId: JOB, round: 0, relay: peers }, bytes);
    await until(() => forwarded.length >= 2);
    expect(got.at(-1)!.header).toMatchObject({ type: 'together-ready', versionHash: next.hash });
    expect(forwarded.map((f) => f.peerId)).toEqual([peers[0], peers[1]]);
    provider.close('link');
  });

  it('TOGETHER-RELAY2: a forwarded patch is taken only as announced; one for another result leaves the version as it was', async () => {
    const { provider, got, send, v0 } = await started();
    const { bytes, next } = await onePatch(v0);
    const other = await makeVersion(1, new Float32Array(v0.params.length), null);
    // Announced: v0 → other. The co-volunteer's patch leads v0 → next: not what the requester announced.
    send({ type: 'together-relayed', jobId: JOB, round: 0, baseHash: v0.hash, versionHash: other.hash });
    provider.relayed(JOB, peers[0]!, encodeTogether({ type: 'together-patch', jobId: JOB, round: 0 }, bytes));
    await until(() => got.length >= 2);
    expect(got[1]!.header).toMatchObject({ type: 'together-ready', versionHash: v0.hash });
    // The right announcement; the patch came early and waited for it.
    const second = await started();
    second.provider.relayed(JOB, peers[0]!, encodeTogether({ type: 'together-patch', jobId: JOB, round: 0 }, bytes));
    second.send({ type: 'together-relayed', jobId: JOB, round: 0, baseHash: v0.hash, versionHash: next.hash });
    await until(() => second.got.length >= 2);
    expect(second.got[1]!.header).toMatchObject({ type: 'together-ready', versionHash: next.hash });
    provider.close('link');
    second.provider.close('link');
  });
});

describe('ProviderTogether trains the next round ahead (TOGETHER-AHEAD4)', () => {
  it('TOGETHER-AHEAD4: after a commit it trains on, still answers the reveal, and commits the next round on its version', async () => {
    const { provider, got, send, v0, statuses } = await started();
    const of = (type: string, round: number) =>
      got.find((m) => m.header.type === type && (m.header as { round?: number }).round === round);
    send({ type: 'together-round', jobId: JOB, round: 0, versionHash: v0.hash });
    await until(() => of('together-commit', 0) !== undefined);
    await until(() => statuses.some((s) => s.includes('training round 2 ahead')));
    // The tab is training round 1 (0-based) from its own end and waits there for v1: the reveal is not held behind it.
    send({ type: 'together-reveal', jobId: JOB, round: 0 });
    await until(() => of('together-contribution', 0) !== undefined);
    const { bytes, next } = await onePatch(v0);
    send({ type: 'together-patch', jobId: JOB, round: 0 }, bytes);
    await until(() => got.some((m) => m.header.type === 'together-ready' && m.header.versionHash === next.hash));
    send({ type: 'together-round', jobId: JOB, round: 1, versionHash: next.hash });
    await until(() => of('together-commit', 1) !== undefined);
    expect(of('together-commit', 1)!.header).toMatchObject({ baseHash: next.hash });
    // Round 2 of 2 was the last: nothing is trained ahead after it.
    expect(statuses.at(-1)).toMatch(/round 2: committed; waiting/);
    send({ type: 'together-reveal', jobId: JOB, round: 1 });
    await until(() => of('together-contribution', 1) !== undefined);
    expect(of('together-contribution', 1)!.body.length).toBeGreaterThan(0);
    provider.close('link');
  });

  it('TOGETHER-AHEAD5: a job closed while training ahead stops there and sends nothing more', async () => {
    const { provider, got, send, v0, statuses } = await started();
    send({ type: 'together-round', jobId: JOB, round: 0, versionHash: v0.hash });
    await until(() => statuses.some((s) => s.includes('ahead')));
    provider.close('link');
    expect(provider.busy).toBe(false);
    expect(statuses.at(-1)).toMatch(/link to its requester closed/);
    // Nothing more comes from the closed job: no commit for round 1 even once its version would be here.
    const { bytes } = await onePatch(v0);
    send({ type: 'together-patch', jobId: JOB, round: 0 }, bytes);
    await new Promise((r) => setTimeout(r, 50));
    expect(got.filter((m) => m.header.type === 'together-commit')).toHaveLength(1);
  });
});

describe('ProviderTogether joins by the chain of round patches (TOGETHER-CHAIN1..2)', () => {
  it('TOGETHER-CHAIN1: version 0 from the seed and the round patches since rebuild the current version', async () => {
    const v0 = await initialVersion(spec());
    const first = await onePatch(v0);
    const second = await onePatch(first.next);
    const chain = encodeChain([first.bytes, second.bytes]);
    expect(chain.length).toBeLessThan(v0.params.byteLength / 10);
    const p = provider();
    p.send(...startWith(2, second.next.hash, chain, true));
    await until(() => p.got.length >= 1);
    expect(p.got[0]!.header).toMatchObject({ type: 'together-ready', round: 2, versionHash: second.next.hash });
    expect(p.activity.at(-1)).toMatchObject({ joinedBy: 'chain', round: 2 });
    expect(p.activity.at(-1)!.joinedVia).toMatch(/through 2 round patches/);
    p.provider.close('link');
  });

  it('TOGETHER-CHAIN2: a chain that rebuilds another version is reported as such, and the version sent whole replaces it', async () => {
    const v0 = await initialVersion(spec());
    const first = await onePatch(v0);
    const named = await makeVersion(
      1,
      Float32Array.from(first.next.params, (x) => x + 1e-3),
      null,
    );
    const p = provider();
    p.send(...startWith(1, named.hash, encodeChain([first.bytes]), true));
    await until(() => p.got.length >= 1);
    // It holds what the chain rebuilt, says so, and takes the snapshot the requester answers with.
    expect(p.got[0]!.header).toMatchObject({ type: 'together-ready', versionHash: first.next.hash });
    expect(p.activity.at(-1)!.joinedVia).toMatch(/did not rebuild it/);
    const body = new Uint8Array(named.params.buffer.slice(0));
    p.send({ type: 'together-snapshot', jobId: JOB, round: 1, versionHash: named.hash, paramBytes: body.length }, body);
    await until(() => p.got.length >= 2);
    expect(p.got[1]!.header).toMatchObject({ type: 'together-ready', versionHash: named.hash });
    // A chain cut short is refused with the reason, and the tab holds no job.
    const q = provider();
    const cut = encodeChain([first.bytes]).subarray(0, 40);
    q.send(...startWith(1, first.next.hash, cut, true));
    await until(() => q.got.length >= 1);
    expect(q.got[0]!.header).toMatchObject({ type: 'together-error', message: expect.stringMatching(/truncated/) });
    expect(q.provider.busy).toBe(false);
    p.provider.close('link');
  });
});
