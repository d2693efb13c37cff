import { encodePolicyPatch, encodePolicySnapshot, publishPolicy } from '@shared/jobs/rl';
import { policyParams, RL_TEST_CONFIG } from '@shared/jobs/rl/testing';
import {
  decodeRlFromProvider,
  decodeRlToProvider,
  encodeRl,
  type RlFromProvider,
  type RlToProvider,
  RL_WIRE_VERSION,
  rolloutsFromBody,
} from '@shared/protocol';
import { describe, expect, it } from 'vitest';
import { until } from '../testing/wait';
import { ProviderRl } from './provider-rl';

const JOB = 'job-provider-rl';
const KEY = 'provider-key';

function harness() {
  const got: { header: RlFromProvider; body: Uint8Array }[] = [];
  const rl = new ProviderRl({ selfId: () => KEY, log: () => {} });
  const send = (header: RlToProvider, body?: Uint8Array) =>
    rl.receive('link', JOB, (b) => got.push(decodeRlFromProvider(b)), encodeRl(header, body));
  return { rl, got, send };
}

/** The rl-start of a job on this provider's key at policy `v0`. */
const startOf = (v0: { hash: string }): RlToProvider => ({
  type: 'rl-start',
  v: RL_WIRE_VERSION,
  jobId: JOB,
  config: RL_TEST_CONFIG,
  providerKey: KEY,
  version: 0,
  versionHash: v0.hash,
});

describe('ProviderRl (RL-PR1..3)', () => {
  it('RL-PR1: holds the policy it is sent, rolls out its round, applies a patch and reports the hash it rebuilt', async () => {
    const { rl, got, send } = harness();
    const v0 = await publishPolicy(0, policyParams(4));
    send(startOf(v0), await encodePolicySnapshot(v0));
    send({
      type: 'rl-round',
      jobId: JOB,
      round: 1,
      roundNonce: 'n',
      version: 0,
      versionHash: v0.hash,
      providerKey: KEY,
      prompts: [{ index: 3, ids: [2, 3, 4] }],
      samples: 2,
      maxNew: 4,
      temperature: 1,
    });
    const v1 = await publishPolicy(
      1,
      Float32Array.from(v0.params, (x, i) => (i % 5 === 0 ? x * 1.5 : x)),
    );
    send(
      { type: 'rl-patch', jobId: JOB, version: 1, baseHash: v0.hash, versionHash: v1.hash },
      await encodePolicyPatch(v0, v1),
    );
    await until(() => got.length >= 3);
    expect(got.map((m) => m.header.type)).toEqual(['rl-ready', 'rl-rollouts', 'rl-ready']);
    const claims = rolloutsFromBody(got[1]!.body) as { providerKey: string; promptIndex: number }[];
    expect(claims.map((c) => [c.providerKey, c.promptIndex])).toEqual([
      [KEY, 3],
      [KEY, 3],
    ]);
    expect(got[2]!.header).toMatchObject({ type: 'rl-ready', version: 1, versionHash: v1.hash });
    rl.close('link');
  });

  it('RL-PR2: a job for another key, a snapshot that does not hash to its name, and bytes that are no message get an error, not work', async () => {
    const { got, send, rl } = harness();
    const v0 = await publishPolicy(0, policyParams(5));
    const snapshot = await encodePolicySnapshot(v0);
    const start = { type: 'rl-start', v: RL_WIRE_VERSION, jobId: JOB, config: RL_TEST_CONFIG, version: 0 } as const;
    send({ ...start, providerKey: 'someone-else', versionHash: v0.hash }, snapshot);
    send({ ...start, providerKey: KEY, versionHash: 'ab'.repeat(16) }, snapshot);
    rl.receive('link', JOB, (b) => got.push(decodeRlFromProvider(b)), new Uint8Array([1, 2, 3]));
    await until(() => got.length >= 3);
    expect(got.map((m) => m.header.type)).toEqual(['rl-error', 'rl-error', 'rl-error']);
    const messages = got.map((m) => (m.header.type === 'rl-error' ? m.header.message : ''));
    expect(messages[0]).toMatch(/names this provider/);
    expect(messages[1]).toMatch(/does not hash/);
    expect(messages[2]).toMatch(/bad RL message/);
  });

  it('RL-PR3: a patch against a version it does not hold is not applied: it reports what it holds', async () => {
    const { got, send, rl } = harness();
    const v0 = await publishPolicy(0, policyParams(6));
    const other = await publishPolicy(0, policyParams(7));
    const v1 = await publishPolicy(1, policyParams(8));
    send(startOf(v0), await encodePolicySnapshot(v0));
    send(
      { type: 'rl-patch', jobId: JOB, version: 1, baseHash: other.hash, versionHash: v1.hash },
      await encodePolicyPatch(other, v1),
    );
    await until(() => got.length >= 2);
    expect(got[1]!.header).toMatchObject({ type: 'rl-ready', version: 0, versionHash: v0.hash });
    rl.close('link');
  });
});

describe('ProviderRl relays new versions (RL-RELAY1..2)', () => {
  async function started() {
    const forwarded: { peerId: string; header: RlToProvider; body: Uint8Array }[] = [];
    const got: { header: RlFromProvider; body: Uint8Array }[] = [];
    const rl = new ProviderRl({
      selfId: () => KEY,
      log: () => {},
      forward: async (jobId, peerId, bytes) => {
        expect(jobId).toBe(JOB);
        forwarded.push({ peerId, ...decodeRlToProvider(bytes) });
      },
    });
    const send = (header: RlToProvider, body?: Uint8Array) =>
      rl.receive('link', JOB, (b) => got.push(decodeRlFromProvider(b)), encodeRl(header, body));
    const v0 = await publishPolicy(0, policyParams(4));
    const v1 = await publishPolicy(
      1,
      Float32Array.from(v0.params, (x, i) => (i % 7 === 0 ? x * 1.25 : x)),
    );
    send(startOf(v0), await encodePolicySnapshot(v0));
    const patch = { type: 'rl-patch', jobId: JOB, version: 1, baseHash: v0.hash, versionHash: v1.hash } as const;
    return { rl, got, send, forwarded, v0, v1, patch, body: await encodePolicyPatch(v0, v1) };
  }
  const peers = ['A', 'B', 'C', 'D', 'E'].map((c) => `${c.repeat(42)}A`);

  it('RL-RELAY1: a patch naming volunteers is applied, then forwarded to the heads of its list with their shares', async () => {
    const { rl, got, send, forwarded, v1, patch, body } = await started();
    send({ ...patch, relay: peers }, body);
    await until(() => forwarded.length >= 2);
    expect(got.at(-1)!.header).toMatchObject({ type: 'rl-ready', version: 1, versionHash: v1.hash });
    expect(forwarded.map((f) => [f.peerId, f.header.type === 'rl-patch' && f.header.relay])).toEqual([
      [peers[0], [peers[2], peers[3]]],
      [peers[1], [peers[4]]],
    ]);
    expect(forwarded.every((f) => f.body.length === body.length)).toBe(true);
    rl.close('link');
  });

  it('RL-RELAY2: a forwarded patch is taken only as the requester announced it; a forged one leaves the policy as it was', async () => {
    const { rl, got, send, v0, v1, patch, body } = await started();
    const other = await publishPolicy(1, policyParams(9));
    const from = peers[0]!;
    // Forged: announced v1, but the co-volunteer's patch builds another policy under v1's name.
    send({ type: 'rl-relayed', jobId: JOB, version: 1, baseHash: v0.hash, versionHash: v1.hash });
    rl.relayed(JOB, from, encodeRl(patch, await encodePolicyPatch(v0, other)));
    await until(() => got.length >= 2);
    expect(got[1]!.header).toMatchObject({ type: 'rl-ready', version: 0, versionHash: v0.hash });
    // Early: the true patch before the notice waits for it, then applies.
    const { rl: rl2, got: got2, send: send2 } = await started();
    rl2.relayed(JOB, from, encodeRl(patch, body));
    await new Promise((r) => setTimeout(r, 50));
    expect(got2).toHaveLength(1);
    send2({ type: 'rl-relayed', jobId: JOB, version: 1, baseHash: v0.hash, versionHash: v1.hash });
    await until(() => got2.length >= 2);
    expect(got2[1]!.header).toMatchObject({ type: 'rl-ready', version: 1, versionHash: v1.hash });
    // A co-volunteer cannot start rounds or send snapshots: only patches are taken from it.
    rl2.relayed(JOB, from, encodeRl({ type: 'rl-snapshot', jobId: JOB, version: 1, versionHash: v1.hash }, body));
    await new Promise((r) => setTimeout(r, 50));
    expect(got2).toHaveLength(2);
    rl.close('link');
    rl2.close('link');
  });
});
