import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './testing/hub-harness';
import { MemorySocket } from './testing/memory-socket';
import { IpAdmission, TokenBucket } from './rate-limit';
import { DEFAULT_LIMITS } from './hub';

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
