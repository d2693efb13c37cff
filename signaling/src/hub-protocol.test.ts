import { afterEach, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, decodeClientMessage } from '@shared/protocol';
import { caps } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';

let h: Harness;
afterEach(() => h?.stop());

describe('protocol validation', () => {
  it('PROTO1: bad JSON, non-objects, unknown types and invalid shapes each get a clear error code', async () => {
    h = createHarness();
    const { socket } = await h.join('provider');
    const cases: Array<[string, string]> = [
      ['{nope', 'bad-json'],
      ['[1,2]', 'invalid'],
      ['"hello"', 'invalid'],
      ['{"no":"type"}', 'invalid'],
      ['{"type":"teleport"}', 'unknown-type'],
      ['{"type":"announce","capabilities":{},"slots":1}', 'invalid'],
      ['{"type":"status","busy":-1,"paused":false}', 'invalid'],
      ['{"type":"signal","to":"x","jobId":"job-00001","payload":{"type":"offer","sdp":""}}', 'invalid'],
    ];
    for (const [text, code] of cases) {
      socket.deliverText(text);
      const error = await socket.take('error');
      expect(error.code, text).toBe(code);
      expect(error.message.length).toBeGreaterThan(0);
    }
    expect(socket.closed).toBeNull();
  });

  it('PROTO5: extra fields are rejected, so a client cannot smuggle `from` or `__proto__`', () => {
    const signal = { type: 'signal', to: 'A'.repeat(43), jobId: 'job-00001', payload: { type: 'offer', sdp: 'v=0' } };
    expect(decodeClientMessage(JSON.stringify(signal)).ok).toBe(true);
    expect(decodeClientMessage(JSON.stringify({ ...signal, from: 'B'.repeat(43) })).ok).toBe(false);
    expect(decodeClientMessage(`{"__proto__":{"admin":true},${JSON.stringify(signal).slice(1)}`).ok).toBe(false);
    expect(
      decodeClientMessage(JSON.stringify({ type: 'announce', capabilities: { ...caps(), extra: 1 }, slots: 1 })).ok,
    ).toBe(false);
  });

  it('PROTO3: binary frames are refused with an error', async () => {
    h = createHarness();
    const { socket } = await h.join('provider');
    socket.deliverBinary(16);
    expect((await socket.take('error')).message).toMatch(/binary/);
  });

  it('PROTO2: oversized frames get too-large, then repeated ones close with 1009', async () => {
    h = createHarness({ limits: { oversizeStrikes: 2 } });
    const { socket } = await h.join('provider');
    const big = JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) });
    socket.deliverText(big);
    expect((await socket.take('error')).code).toBe('too-large');
    socket.deliverText(big);
    socket.deliverText(big);
    expect(await socket.closedWith()).toBe(1009);
  });

  it('ABUSE1: repeated protocol errors close the connection with 1008', async () => {
    h = createHarness({ limits: { protocolStrikes: 3 } });
    const { socket } = await h.join('requester');
    for (let i = 0; i < 4; i++) socket.deliverText('{garbage');
    expect(await socket.closedWith()).toBe(1008);
    expect(socket.all('error')).toHaveLength(4);
  });

  it('ROLE1: provider-only and requester-only messages are refused for the other role', async () => {
    h = createHarness();
    const provider = await h.join('provider');
    const requester = await h.join('requester');
    provider.socket.deliver({
      type: 'job-open',
      jobId: 'job-00001',
      needs: { kind: 'inference', maxProviders: 1, units: 1, modelBytes: 1 },
    });
    expect((await provider.socket.take('error')).code).toBe('wrong-role');
    requester.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
    expect((await requester.socket.take('error')).code).toBe('wrong-role');
    requester.socket.deliver({ type: 'status', busy: 0, paused: false });
    expect((await requester.socket.take('error')).code).toBe('wrong-role');
  });

  it('HB3: an app-level ping is answered with a pong carrying the same t', async () => {
    h = createHarness();
    const { socket } = await h.join('requester');
    socket.deliver({ type: 'ping', t: 42.5 });
    expect(await socket.take('pong')).toEqual({ type: 'pong', t: 42.5 });
  });

  it('HB1/HB2: sockets are pinged every heartbeat and reaped with 4003 after missing two', async () => {
    h = createHarness({ heartbeatMs: 10 });
    const alive = await h.join('provider');
    const dead = await h.join('provider');
    // Pings sent while it joined were answered (on a loaded machine a 10 ms heartbeat can fire during the join):
    // count only those it leaves unanswered.
    dead.socket.answerPings = false;
    const answered = dead.socket.pings;
    expect(await dead.socket.closedWith()).toBe(4003);
    expect(dead.socket.pings - answered).toBe(2);
    expect(alive.socket.closed).toBeNull();
    expect(alive.socket.pings).toBeGreaterThanOrEqual(2);
  });

  it('ABUSE2: a client that stops reading is closed as a slow consumer', async () => {
    h = createHarness({ limits: { maxBufferedBytes: 1000 } });
    const { socket } = await h.join('requester');
    socket.bufferedAmount = 5000;
    socket.deliver({ type: 'ping', t: 1 });
    expect(await socket.closedWith()).toBe(1008);
  });
});
