import { defaultTrainSpec, type TrainSpec } from '@shared/jobs';
import {
  COMPRESS_DEFAULTS,
  compress,
  encodeContribution,
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
import { ProviderTogether } from './provider-together';

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

/** A started job on one ProviderTogether, with what it sent its requester and what it forwarded. */
async function started() {
  const got: { header: TogetherFromProvider; body: Uint8Array }[] = [];
  const forwarded: { peerId: string; bytes: Uint8Array }[] = [];
  const statuses: string[] = [];
  const provider = new ProviderTogether({
    report: (a) => void statuses.push(a.status),
    sign: async () => 'A'.repeat(85) + 'A',
    store: memoryStore(),
    log: () => {},
    forward: async (_jobId, peerId, bytes) => void forwarded.push({ peerId, bytes }),
  });
  const send = (header: TogetherToProvider, body?: Uint8Array) =>
    provider.receive('link', JOB, (b) => got.push(decodeTogetherFromProvider(b)), encodeTogether(header, body));
  const s = spec();
  const tokens = Uint16Array.from({ length: 4096 }, (_, i) => (i * 7) % 256);
  const n = arenaFor(s.model, 1, s.model.context).params.size;
  const params = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02);
  const v0 = await makeVersion(0, params, null);
  const body = new Uint8Array(tokens.byteLength + params.byteLength);
  body.set(new Uint8Array(tokens.buffer), 0);
  body.set(new Uint8Array(params.buffer), tokens.byteLength);
  send(
    {
      type: 'together-start',
      v: TOGETHER_WIRE_VERSION,
      jobId: JOB,
      spec: s,
      shard: 0,
      shards: 2,
      round: 0,
      versionHash: v0.hash,
      tokens: tokens.length,
      paramBytes: params.byteLength,
      momentumBytes: 0,
    },
    body,
  );
  await until(() => got.length >= 1);
  if (got[0]!.header.type === 'together-error') throw new Error(got[0]!.header.message);
  expect(got[0]!.header).toMatchObject({ type: 'together-ready', versionHash: v0.hash });
  return { provider, got, send, forwarded, v0, statuses };
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
