import { afterEach, describe, expect, it } from 'vitest';
import { caps, needs } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';

let h: Harness;
afterEach(() => h?.stop());

const offer = { type: 'offer', sdp: 'v=0' } as const;

/** A requester with one job and two providers assigned to it. */
async function twoProviders(harness: Harness) {
  const a = await harness.join('provider');
  const b = await harness.join('provider');
  const requester = await harness.join('requester');
  a.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
  b.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
  requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs({ maxProviders: 2 }) });
  await a.socket.take('matched');
  await b.socket.take('matched');
  return { a, b, requester };
}

describe('provider to provider relay', () => {
  it('RELAY3: two providers assigned to the same job signal each other, stamped with the sender key', async () => {
    h = createHarness();
    const { a, b } = await twoProviders(h);
    a.socket.deliver({ type: 'signal', to: b.identity.peerId, jobId: 'job-00001', payload: offer });
    expect(await b.socket.take('signal')).toEqual({
      type: 'signal',
      from: a.identity.peerId,
      jobId: 'job-00001',
      payload: offer,
    });
    b.socket.deliver({
      type: 'signal',
      to: a.identity.peerId,
      jobId: 'job-00001',
      payload: { type: 'answer', sdp: 'v=0 a' },
    });
    expect((await a.socket.take('signal')).from).toBe(b.identity.peerId);
  });

  it('RELAY3: refused for another job id, for the same id of another requester, and after one is released', async () => {
    h = createHarness();
    // Same job id, different requester: c is on requester 2's job-00001, a and b on requester 1's.
    const other = await h.join('requester');
    const c = await h.join('provider');
    c.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    other.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs({ maxProviders: 1 }) });
    expect((await other.socket.take('matched')).peerId).toBe(c.identity.peerId);
    const { a, b, requester } = await twoProviders(h);

    a.socket.deliver({ type: 'signal', to: b.identity.peerId, jobId: 'job-00002', payload: offer });
    expect((await a.socket.take('error')).code).toBe('not-paired');
    a.socket.deliver({ type: 'signal', to: c.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await a.socket.take('error')).code).toBe('not-paired');
    c.socket.deliver({ type: 'signal', to: a.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await c.socket.take('error')).code).toBe('not-paired');

    requester.socket.deliver({ type: 'release', jobId: 'job-00001', peerId: b.identity.peerId });
    await b.socket.take('unmatched');
    a.socket.deliver({ type: 'signal', to: b.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await a.socket.take('error')).code).toBe('not-paired');
    b.socket.deliver({ type: 'signal', to: a.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await b.socket.take('error')).code).toBe('not-paired');
    expect(b.socket.all('signal')).toHaveLength(0);
    expect(c.socket.all('signal')).toHaveLength(0);
  });

  it('RELAY3: a requester cannot use it to reach a provider of a job it does not own', async () => {
    h = createHarness();
    const { a } = await twoProviders(h);
    const stranger = await h.join('requester');
    stranger.socket.deliver({ type: 'signal', to: a.identity.peerId, jobId: 'job-00001', payload: offer });
    expect((await stranger.socket.take('error')).code).toBe('not-paired');
    expect(a.socket.all('signal')).toHaveLength(0);
  });
});
