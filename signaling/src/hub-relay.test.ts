import { afterEach, describe, expect, it } from 'vitest';
import { caps, needs, TEST_NETWORK } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';

let h: Harness;
afterEach(() => h?.stop());

const offer = { type: 'offer', sdp: 'v=0' } as const;

async function paired(harness: Harness) {
  const provider = await harness.join('provider');
  const requester = await harness.join('requester');
  provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
  requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
  await provider.socket.take('matched');
  await requester.socket.take('matched');
  return { provider, requester };
}

describe('matching and relay through the hub', () => {
  it('MATCH8: both sides are told; the requester gets the provider capabilities', async () => {
    h = createHarness();
    const provider = await h.join('provider');
    const requester = await h.join('requester');
    provider.socket.deliver({ type: 'announce', capabilities: caps({ gflops: 12 }), slots: 1 });
    requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
    const toRequester = await requester.socket.take('matched');
    expect(toRequester).toEqual({
      type: 'matched',
      jobId: 'job-00001',
      peerId: provider.identity.peerId,
      role: 'provider',
      capabilities: caps({ gflops: 12 }),
      session: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      network: TEST_NETWORK,
    });
    // BIND2: one session id per pairing, the same on both sides
    expect(await provider.socket.take('matched')).toEqual({
      type: 'matched',
      jobId: 'job-00001',
      peerId: requester.identity.peerId,
      role: 'requester',
      session: toRequester.session,
      network: TEST_NETWORK,
    });
  });

  it('RELAY1: signals flow both ways between paired peers, stamped with the sender key', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    requester.socket.deliver({ type: 'signal', to: provider.identity.peerId, jobId: 'job-00001', payload: offer });
    expect(await provider.socket.take('signal')).toEqual({
      type: 'signal',
      from: requester.identity.peerId,
      jobId: 'job-00001',
      payload: offer,
    });
    const answer = { type: 'answer', sdp: 'v=0 answer' };
    provider.socket.deliver({ type: 'signal', to: requester.identity.peerId, jobId: 'job-00001', payload: answer });
    expect((await requester.socket.take('signal')).from).toBe(provider.identity.peerId);
    expect(h.metrics.get('signaling_signals_relayed_total')).toBe(2);
  });

  it('RELAY1: signals to unpaired peers, other jobs or other requesters are refused with not-paired', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    const stranger = await h.join('requester');
    const otherProvider = await h.join('provider');
    stranger.socket.deliver({ type: 'signal', to: provider.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await stranger.socket.take('error')).code).toBe('not-paired');
    requester.socket.deliver({ type: 'signal', to: provider.identity.peerId, jobId: 'job-00002', payload: offer });
    expect((await requester.socket.take('error')).code).toBe('not-paired');
    requester.socket.deliver({ type: 'signal', to: otherProvider.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await requester.socket.take('error')).code).toBe('not-paired');
    otherProvider.socket.deliver({ type: 'signal', to: requester.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await otherProvider.socket.take('error')).code).toBe('not-paired');
    expect(provider.socket.all('signal')).toHaveLength(0);
  });

  it('RELAY2 / MATCH6: after release the pair is unmatched and the relay stops; the provider is not re-matched', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    requester.socket.deliver({ type: 'release', jobId: 'job-00001', peerId: provider.identity.peerId });
    expect(await provider.socket.take('unmatched')).toMatchObject({ jobId: 'job-00001', reason: 'released' });
    expect(await requester.socket.take('unmatched')).toMatchObject({ peerId: provider.identity.peerId });
    requester.socket.deliver({ type: 'signal', to: provider.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await requester.socket.take('error')).code).toBe('not-paired');
    expect(provider.socket.all('matched')).toHaveLength(1);
  });

  it('RELAY2: a route signalled before is checked again after any change: a reconnected provider, then a release', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    const signal = () =>
      requester.socket.deliver({ type: 'signal', to: provider.identity.peerId, jobId: 'job-00001', payload: offer });
    signal();
    await provider.socket.take('signal');
    // The provider's key comes back on a new connection and is paired again: signals reach the new one.
    provider.socket.disconnect();
    await requester.socket.take('unmatched');
    const again = await h.join('provider', provider.identity);
    again.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    await again.socket.take('matched');
    await requester.socket.take('matched');
    signal();
    expect((await again.socket.take('signal')).from).toBe(requester.identity.peerId);
    requester.socket.deliver({ type: 'release', jobId: 'job-00001', peerId: provider.identity.peerId });
    await requester.socket.take('unmatched');
    signal();
    expect((await requester.socket.take('error')).code).toBe('not-paired');
    expect(again.socket.all('signal')).toHaveLength(1);
  });

  it('MATCH7: a requester that disconnects has its jobs dropped; reconnecting and re-opening matches again', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    requester.socket.disconnect();
    expect(await provider.socket.take('unmatched')).toMatchObject({ reason: 'requester-left' });
    const again = await h.join('requester', requester.identity);
    again.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
    expect((await again.socket.take('matched')).peerId).toBe(provider.identity.peerId);
    expect((await provider.socket.take('matched')).peerId).toBe(requester.identity.peerId);
  });

  it('MATCH7: a provider that disconnects is unmatched and its job goes to another provider', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    const spare = await h.join('provider');
    spare.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    expect((await requester.socket.take('matched')).peerId).toBe(spare.identity.peerId);
    provider.socket.disconnect();
    expect(await requester.socket.take('unmatched')).toMatchObject({
      peerId: provider.identity.peerId,
      reason: 'provider-left',
    });
  });

  it('MATCH4: a paused provider gets no new job; resuming makes it eligible again', async () => {
    h = createHarness();
    const provider = await h.join('provider');
    const requester = await h.join('requester');
    provider.socket.deliver({ type: 'status', busy: 0, paused: true });
    provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
    requester.socket.deliver({ type: 'ping', t: 1 });
    await requester.socket.take('pong');
    expect(requester.socket.all('matched')).toHaveLength(0);
    provider.socket.deliver({ type: 'status', busy: 0, paused: false });
    expect((await requester.socket.take('matched')).peerId).toBe(provider.identity.peerId);
  });

  it('MATCH5: job-close unmatches its providers; closing an unknown job is an error', async () => {
    h = createHarness();
    const { provider, requester } = await paired(h);
    requester.socket.deliver({ type: 'job-close', jobId: 'job-00001' });
    expect(await provider.socket.take('unmatched')).toMatchObject({ reason: 'job-closed' });
    requester.socket.deliver({ type: 'job-close', jobId: 'job-00001' });
    expect((await requester.socket.take('error')).code).toBe('unknown-job');
  });
});
