/** The provider cache against a hand-driven requester link: forged and corrupt input, and what it reads back from storage. */
import { describe, expect, it } from 'vitest';
import { decodeWeightsMessage, encodeWeightsMessage, packEntries, type WeightsHeader } from '@shared/protocol';
import { encode, hashModel, hashToHex, snapshot, diff, type Model } from '@shared/pulse';
import { memoryStore, type KeyValueStore } from '../storage/kv';
import { FakeHub, memoryPeerFactory } from '../testing/doubles';
import { WeightsCache } from './cache';
import { demoModel, nudge } from './demo';

const JOB = 'job-weights-1';

async function harness(store: KeyValueStore = memoryStore()) {
  const cache = new WeightsCache({
    store,
    signaling: new FakeHub().connect('provider'),
    createPeer: memoryPeerFactory(),
  });
  await cache.start();
  const replies: WeightsHeader[] = [];
  cache.attach({
    peerId: 'requester',
    jobId: JOB,
    send: async (bytes) => void replies.push(decodeWeightsMessage(bytes).header),
  });
  const say = async (header: WeightsHeader, body?: Uint8Array) => {
    const before = replies.length;
    cache.receive('requester', JOB, encodeWeightsMessage(header, body));
    for (let i = 0; i < 1000 && replies.length === before; i++) await new Promise((r) => setTimeout(r, 1));
    return replies.at(-1)!;
  };
  return { cache, store, say };
}

const hex = async (m: Model) => hashToHex(await hashModel(m));

async function holdingV1() {
  const h = await harness();
  const v1 = demoModel(11, 1, 32);
  const h1 = await hex(v1);
  await h.say({ type: 'weights-offer', modelId: 'm', version: 0, hash: h1 });
  const anchor = encode(await snapshot(v1));
  const { entries, body } = packEntries([{ from: null, to: h1, payload: anchor }]);
  expect(await h.say({ type: 'weights-patch', modelId: 'm', version: 0, target: h1, entries }, body)).toEqual({
    type: 'weights-ack',
    modelId: 'm',
    hash: h1,
  });
  return { ...h, v1, h1 };
}

async function expectStillV1(cache: WeightsCache, v1: Model, h1: string) {
  const held = (await cache.model('m'))!;
  expect(held.hash).toBe(h1);
  expect(await hex(held.model)).toBe(h1);
  expect(held.model.tensors.map((t) => [...t.data])).toEqual(v1.tensors.map((t) => [...t.data]));
}

describe('WeightsCache on bad input', () => {
  it('WEIGHTS4: a corrupted patch is refused with a clear error and the held version stays intact', async () => {
    const { cache, say, v1, h1 } = await holdingV1();
    const v2 = nudge(v1, 12);
    const h2 = await hex(v2);
    await say({ type: 'weights-offer', modelId: 'm', version: 1, hash: h2 });
    const payload = encode(await diff(v1, v2));
    // Flip one bit in the coded values, past the container header: it decodes, but to other values.
    payload[payload.length - 3]! ^= 0x10;
    const { entries, body } = packEntries([{ from: h1, to: h2, payload }]);
    const reply = await say({ type: 'weights-patch', modelId: 'm', version: 1, target: h2, entries }, body);
    expect(reply).toMatchObject({ type: 'weights-error', modelId: 'm' });
    expect(['corrupt', 'hash-mismatch']).toContain((reply as { code: string }).code);
    expect((reply as { reason: string }).reason).toMatch(/rejected/);
    await expectStillV1(cache, v1, h1);
  });

  it('WEIGHTS5: a well-formed patch to a version the requester never offered is refused (unwanted)', async () => {
    const { cache, say, v1, h1 } = await holdingV1();
    const evil = nudge(v1, 13, 0.5);
    const { entries, body } = packEntries([{ from: h1, to: await hex(evil), payload: encode(await diff(v1, evil)) }]);
    const reply = await say(
      { type: 'weights-patch', modelId: 'm', version: 1, target: await hex(evil), entries },
      body,
    );
    expect(reply).toMatchObject({ type: 'weights-error', code: 'unwanted' });
    await expectStillV1(cache, v1, h1);
  });

  it('WEIGHTS6: an entry whose header names another version than its container is refused', async () => {
    const { cache, say, v1, h1 } = await holdingV1();
    const v2 = nudge(v1, 14);
    const h2 = await hex(v2);
    await say({ type: 'weights-offer', modelId: 'm', version: 1, hash: h2 });
    const other = nudge(v1, 15);
    const { entries, body } = packEntries([{ from: h1, to: h2, payload: encode(await diff(v1, other)) }]);
    const reply = await say({ type: 'weights-patch', modelId: 'm', version: 1, target: h2, entries }, body);
    expect(reply).toMatchObject({ type: 'weights-error', code: 'corrupt' });
    expect((reply as { reason: string }).reason).toMatch(/does not match/);
    await expectStillV1(cache, v1, h1);
  });

  it('WEIGHTS7: a stored version that does not hash to its key is dropped on read, not served', async () => {
    const { store, h1 } = await holdingV1();
    const key = (await store.keys('weights/model/'))[0]!;
    const bytes = (await store.get(key)) as Uint8Array;
    const tampered = bytes.slice();
    tampered[tampered.length - 2]! ^= 0x01;
    await store.set(key, tampered);
    const reopened = await harness(store);
    expect(await reopened.cache.model('m')).toBeNull();
    expect(await reopened.say({ type: 'weights-offer', modelId: 'm', version: 1, hash: h1 })).toEqual({
      type: 'weights-have',
      modelId: 'm',
      held: [],
    });
    await store.set('weights/index/m', { modelId: 'm', held: 'not a hash' });
    expect(await (await harness(store)).cache.model('m')).toBeNull();
  });
});
