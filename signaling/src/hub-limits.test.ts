import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './testing/hub-harness';
import { MemorySocket } from './testing/memory-socket';
import { IpAdmission, TokenBucket } from './rate-limit';
import { DEFAULT_LIMITS } from './hub';
import { caps, needs, until } from './testing/fixtures';
import { PROTOCOL_VERSION } from '@shared/protocol';
import { authMessage, createIdentity, sign } from '@shared/identity';

let h: Harness;
afterEach(() => h?.stop());

describe('rate limits', () => {
  it('RATE3: a connection over its message budget gets rate-limited errors, then 1008', async () => {
    h = createHarness({ limits: { messageBurst: 5, messagesPerSecond: 1, rateLimitStrikes: 3 } });
    const { socket } = await h.join('requester'); // hello + auth used 2 of 5 tokens
    for (let i = 0; i < 10; i++) socket.deliver({ type: 'ping', t: i });
    expect(await socket.closedWith()).toBe(1008);
    expect(socket.all('error').map((e) => e.code)).toEqual(['rate-limited', 'rate-limited', 'rate-limited']);
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'messages' })).toBe(4);
  });

  it('RATE3: the message bucket refills with time', async () => {
    h = createHarness({ limits: { messageBurst: 3, messagesPerSecond: 10 } });
    const { socket } = await h.join('requester');
    socket.deliver({ type: 'ping', t: 1 });
    socket.deliver({ type: 'ping', t: 2 });
    expect((await socket.take('error')).code).toBe('rate-limited');
    h.clock.now += 1000;
    socket.deliver({ type: 'ping', t: 3 });
    expect((await socket.take('pong', (p) => p.t === 3)).t).toBe(3);
  });

  it('RATE1/RATE4: new connections per IP are rate limited, loopback included; other IPs are unaffected', async () => {
    h = createHarness({ limits: { connectionBurst: 3, connectionsPerSecond: 1 } });
    for (let i = 0; i < 3; i++) await h.open('127.0.0.1');
    const refused = new MemorySocket('127.0.0.1');
    h.hub.accept(refused);
    expect((await refused.take('error')).code).toBe('rate-limited');
    expect(await refused.closedWith()).toBe(1008);
    await h.open('10.0.0.2');
    h.clock.now += 1000;
    await h.open('127.0.0.1');
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'ip-rate' })).toBe(1);
  });

  it('RATE2: concurrent connections per IP are capped and freed on close', async () => {
    h = createHarness({ limits: { maxConnectionsPerIp: 2 } });
    const a = await h.open('10.0.0.1');
    await h.open('10.0.0.1');
    const refused = new MemorySocket('10.0.0.1');
    h.hub.accept(refused);
    expect(await refused.closedWith()).toBe(1008);
    a.socket.disconnect();
    await h.open('10.0.0.1');
  });

  it('RATE4: the default limits admit an e2e run of several tabs plus reloads from one IP', () => {
    const admission = new IpAdmission(DEFAULT_LIMITS, () => 0);
    for (let i = 0; i < 20; i++) expect(admission.admit('127.0.0.1').ok).toBe(true);
  });

  it('RATE3: a token bucket never exceeds its capacity', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 1, () => now);
    now = 100_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it('RATE5: a requester cannot open unbounded jobs', async () => {
    h = createHarness({ limits: { maxJobsPerRequester: 2 } });
    const { socket } = await h.join('requester');
    const open = (jobId: string) =>
      socket.deliver({
        type: 'job-open',
        jobId,
        needs: { kind: 'inference', maxProviders: 1, units: 1, modelBytes: 1 },
      });
    open('job-00001');
    open('job-00002');
    open('job-00001'); // re-opening an open job only updates it
    open('job-00003');
    const error = await socket.take('error');
    expect(error.code).toBe('rate-limited');
    expect(socket.all('error')).toHaveLength(1);
  });
});

describe('bursts within the limits (RATE6)', () => {
  const candidate = (i: number) => ({
    type: 'candidate',
    candidate: {
      candidate: `candidate:${i} 1 udp 2122260223 192.168.1.${i} 5000${i % 10} typ host`,
      sdpMid: '0',
      sdpMLineIndex: 0,
    },
  });

  it('RATE6: an offer plus 80 ICE candidates in one socket read are all relayed; the connection stays open', async () => {
    h = createHarness();
    const provider = await h.join('provider');
    const requester = await h.join('requester');
    provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
    await provider.socket.take('matched');
    const to = provider.identity.peerId;
    // One synchronous burst, as ws delivers the frames of one TCP read.
    requester.socket.deliver({ type: 'signal', to, jobId: 'job-00001', payload: { type: 'offer', sdp: 'v=0' } });
    for (let i = 0; i < 80; i++)
      requester.socket.deliver({ type: 'signal', to, jobId: 'job-00001', payload: candidate(i) });
    await until(() => provider.socket.all('signal').length === 81, '81 relayed signals');
    expect(requester.socket.closed).toBeNull();
    expect(requester.socket.all('error')).toHaveLength(0);
  });

  it('RATE6: a full message burst (256) in one read is answered in order, never closed', async () => {
    h = createHarness();
    const { socket } = await h.join('requester'); // 2 of 256 tokens used
    for (let i = 0; i < DEFAULT_LIMITS.messageBurst - 2; i++) socket.deliver({ type: 'ping', t: i });
    await until(() => socket.all('pong').length === DEFAULT_LIMITS.messageBurst - 2, 'every pong');
    expect(socket.all('pong').map((p) => p.t)).toEqual([...Array(DEFAULT_LIMITS.messageBurst - 2).keys()]);
    expect(socket.closed).toBeNull();
  });

  it('RATE6: frames that arrive while auth is being verified are queued and handled after it, in order', async () => {
    h = createHarness();
    const id = await createIdentity();
    const { socket, nonce } = await h.open();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' });
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, 'requester')) });
    for (let i = 0; i < 100; i++) socket.deliver({ type: 'ping', t: i });
    await until(() => socket.all('pong').length === 100, '100 pongs');
    expect(socket.sent.map((m) => m.type).slice(0, 3)).toEqual(['challenge', 'welcome', 'pong']);
    expect(socket.all('pong').map((p) => p.t)).toEqual([...Array(100).keys()]);
    expect(socket.closed).toBeNull();
  });

  it('RATE6: past the pending-frame cap each frame is refused with rate-limited; the connection stays open', async () => {
    h = createHarness({ limits: { maxPendingFrames: 4 } });
    const id = await createIdentity();
    const { socket, nonce } = await h.open();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' });
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, 'requester')) });
    // auth is in flight; 4 frames may wait behind it, the other 6 are refused one by one
    for (let i = 0; i < 10; i++) socket.deliver({ type: 'ping', t: i });
    await until(() => socket.all('pong').length === 4, '4 pongs');
    expect(socket.all('pong').map((p) => p.t)).toEqual([0, 1, 2, 3]);
    expect(socket.all('error').map((e) => e.code)).toEqual(Array(6).fill('rate-limited'));
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'pending' })).toBe(6);
    expect(socket.closed).toBeNull();
    socket.deliver({ type: 'ping', t: 99 });
    expect((await socket.take('pong', (p) => p.t === 99)).t).toBe(99);
  });
});

describe('open jobs per IP (RATE7)', () => {
  it('RATE7: keys minted on one IP share its open-job cap; another IP is unaffected', async () => {
    h = createHarness({ limits: { maxJobsPerRequester: 2, maxJobsPerIp: 3 } });
    const open = (socket: MemorySocket, jobId: string) => socket.deliver({ type: 'job-open', jobId, needs: needs() });
    const a = await h.join('requester', undefined, '203.0.113.5');
    const b = await h.join('requester', undefined, '203.0.113.5');
    open(a.socket, 'job-00001');
    open(a.socket, 'job-00002');
    open(b.socket, 'job-00003');
    open(b.socket, 'job-00004'); // the IP's fourth
    expect((await b.socket.take('error')).code).toBe('rate-limited');
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'jobs-ip' })).toBe(1);
    open(b.socket, 'job-00003'); // re-opening an open job only updates it
    const elsewhere = await h.join('requester', undefined, '198.51.100.5');
    open(elsewhere.socket, 'job-00001');
    open(elsewhere.socket, 'job-00002');
    // a leaving requester frees the IP's share
    a.socket.disconnect();
    await until(() => h.hub.connectionCounts().requester === 2, 'a to leave');
    open(b.socket, 'job-00004');
    expect(b.socket.all('error')).toHaveLength(1);
    expect(elsewhere.socket.all('error')).toHaveLength(0);
  });
});
