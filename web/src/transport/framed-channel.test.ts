import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ChannelClosedError,
  ChannelFailedError,
  CONTROL_STREAM,
  encodeFrame,
  HIGH_WATER_MARK_BYTES,
  IntegrityError,
  LimitError,
  loadHasher,
  MAX_FRAME_BYTES,
  type MessageHasher,
} from '@shared/transport';
import { patternBytes, sameBytes } from './contract';
import { FramedChannel, type FramedMessage } from './framed-channel';
import { MemoryLink } from './memory-channel';

let hasher: MessageHasher;
beforeAll(async () => {
  hasher = await loadHasher();
});

/** Lets queued microtasks (the batched pump) run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function pair(
  options: ConstructorParameters<typeof MemoryLink>[0] = {},
  framing: ConstructorParameters<typeof FramedChannel>[2] = {},
) {
  const link = new MemoryLink(options);
  const a = new FramedChannel(link.a, hasher, framing);
  const b = new FramedChannel(link.b, hasher, framing);
  const received: FramedMessage[] = [];
  b.onMessage((m) => received.push(m));
  return { link, a, b, received };
}

describe('FramedChannel', () => {
  it('FC-B1 never buffers more than the high-water mark plus one frame, and still delivers everything', async () => {
    const { link, a, received } = pair();
    const bytes = patternBytes(20 * 1024 * 1024, 3);
    let sent = false;
    void a.send(1, bytes).then(() => (sent = true));
    await settle();
    // Nothing is delivered yet: the channel holds only what fits under the mark.
    expect(link.a.bufferedAmount).toBeGreaterThan(HIGH_WATER_MARK_BYTES - MAX_FRAME_BYTES);
    expect(link.a.bufferedAmount).toBeLessThanOrEqual(HIGH_WATER_MARK_BYTES + MAX_FRAME_BYTES);
    expect(sent).toBe(false);
    while (!sent) {
      link.flush(256 * 1024);
      await settle();
    }
    link.flush();
    expect(link.a.peakBufferedAmount).toBeLessThanOrEqual(HIGH_WATER_MARK_BYTES + MAX_FRAME_BYTES);
    expect(received.length).toBe(1);
    expect(sameBytes(received[0]!.bytes, bytes)).toBe(true);
  });

  it('FC-B2 resumes only on bufferedamountlow: with the event suppressed, sending stalls instead of overflowing', async () => {
    const { link, a } = pair();
    void a.send(1, new Uint8Array(8 * 1024 * 1024));
    await settle();
    const calls = link.a.sendCalls;
    link.a.onbufferedamountlow = null; // as if the event never came
    link.flush(Infinity);
    await settle();
    expect(link.a.sendCalls).toBe(calls);
    expect(link.a.bufferedAmount).toBe(0);
  });

  it('FC-B3 a send on a channel whose send queue would overflow closes it with ChannelFailedError, rejecting pending sends', async () => {
    // A capacity below our mark makes the double throw like Chromium's "send queue is full".
    const { a } = pair({ capacity: 200 * 1024 });
    const first = a.send(1, new Uint8Array(1024 * 1024));
    const second = a.send(2, new Uint8Array(1024 * 1024));
    await expect(first).rejects.toBeInstanceOf(ChannelFailedError);
    await expect(second).rejects.toBeInstanceOf(ChannelFailedError);
    expect(a.isOpen).toBe(false);
  });

  it("FC-B4 the peer's close() reported as an error event (SCTP cause 12) ends the channel as closed; other channel errors fail it", async () => {
    const errorEvent = (errorDetail: string, sctpCauseCode: number | null): RTCErrorEvent =>
      ({
        type: 'error',
        error: { errorDetail, sctpCauseCode, message: 'User-Initiated Abort, reason=Close called' },
      }) as unknown as RTCErrorEvent;
    const closed = pair();
    closed.link.b.onerror?.(errorEvent('sctp-failure', 12));
    await expect(closed.b.send(1, new Uint8Array(4))).rejects.toBeInstanceOf(ChannelClosedError);
    const failed = pair();
    failed.link.b.onerror?.(errorEvent('sctp-failure', 1));
    await expect(failed.b.send(1, new Uint8Array(4))).rejects.toBeInstanceOf(ChannelFailedError);
  });

  it('FC-F1 a control message sent during a bulk transfer arrives after at most one mark of bulk bytes', async () => {
    const { link, a, b, received } = pair();
    void a.send(1, new Uint8Array(16 * 1024 * 1024));
    await settle();
    link.flush(3 * 1024 * 1024);
    await settle();
    const bulkBytesBefore = b.stats.bytesReceived;
    void a.send(CONTROL_STREAM, patternBytes(50, 1));
    await settle();
    while (!received.some((m) => m.stream === CONTROL_STREAM)) {
      link.flush(64 * 1024);
      await settle();
    }
    expect(b.stats.bytesReceived - bulkBytesBefore).toBeLessThanOrEqual(HIGH_WATER_MARK_BYTES + 2 * MAX_FRAME_BYTES);
    expect(received.map((m) => m.stream)).toEqual([CONTROL_STREAM]);
  });

  it('FC-F2 two bulk streams share the link: both progress while both are busy', async () => {
    const { link, a, b } = pair();
    const perStream = new Map<number, number>();
    link.b.onmessage = ((original) => (event: MessageEvent) => {
      const stream = new DataView(event.data as ArrayBuffer).getUint16(2);
      perStream.set(stream, (perStream.get(stream) ?? 0) + 1);
      original?.(event);
    })(link.b.onmessage);
    void a.send(1, new Uint8Array(8 * 1024 * 1024));
    void a.send(2, new Uint8Array(8 * 1024 * 1024));
    await settle();
    for (let i = 0; i < 10; i++) {
      link.flush(256 * 1024);
      await settle();
    }
    const [one, two] = [perStream.get(1) ?? 0, perStream.get(2) ?? 0];
    expect(one + two).toBeGreaterThan(20);
    expect(Math.abs(one - two)).toBeLessThanOrEqual(1);
    expect(b.stats.messagesReceived).toBe(0);
  });

  it('FC-E1 a corrupted frame surfaces as an IntegrityError event; later messages on the channel arrive', async () => {
    let n = 0;
    const { link, a, b, received } = pair({ intercept: (frame) => (++n === 2 ? flipLast(frame) : frame) });
    const errors: unknown[] = [];
    b.onError((e) => errors.push(e));
    void a.send(4, patternBytes(200_000, 1));
    void a.send(4, patternBytes(10, 2));
    await settle();
    link.flush();
    await settle();
    expect(errors).toEqual([expect.any(IntegrityError)]);
    expect(errors[0]).toMatchObject({ stream: 4, messageId: 0 });
    expect(received.map((m) => m.bytes.length)).toEqual([10]);
  });

  it('FC-E2 receive limits apply per channel: an oversized message is refused, the channel stays open', async () => {
    const { link, a, b, received } = pair({}, { limits: { maxMessageBytes: 1000 } });
    const errors: unknown[] = [];
    b.onError((e) => errors.push(e));
    void a.send(1, new Uint8Array(5000));
    void a.send(1, new Uint8Array(500));
    await settle();
    link.flush();
    expect(errors).toEqual([expect.any(LimitError)]);
    expect(received.map((m) => m.bytes.length)).toEqual([500]);
    expect(b.isOpen).toBe(true);
  });

  it('FC-E3 text messages and junk frames are errors, not crashes', async () => {
    const { link, b } = pair();
    const errors: unknown[] = [];
    b.onError((e) => errors.push(e));
    link.b.onmessage?.({ data: 'hello' } as MessageEvent);
    link.b.onmessage?.({ data: new ArrayBuffer(3) } as MessageEvent);
    expect(errors.length).toBe(2);
    expect(b.isOpen).toBe(true);
  });

  it('FC-C1 frames that arrived before the framing took over, and messages before anyone listened, reach the first listener in order', async () => {
    const link = new MemoryLink();
    const early = [patternBytes(10, 1), patternBytes(20, 2)].map(
      (bytes, i) => encodeFrame(6, i, 0, bytes, hasher.digest(bytes)).buffer,
    );
    const b = new FramedChannel(link.b, hasher, { earlyFrames: early });
    const third = patternBytes(30, 3);
    link.b.onmessage?.({ data: encodeFrame(6, 2, 0, third, hasher.digest(third)).buffer } as MessageEvent);
    const got: number[] = [];
    b.onMessage((m) => got.push(m.bytes.length));
    const fourth = patternBytes(40, 4);
    // Arrives before the held ones are released: must still come after them.
    link.b.onmessage?.({ data: encodeFrame(6, 3, 0, fourth, hasher.digest(fourth)).buffer } as MessageEvent);
    await settle();
    expect(got).toEqual([10, 20, 30, 40]);
  });

  it('FC-C2 closing rejects queued sends with ChannelClosedError and fires onClose once on both ends', async () => {
    const { link, a, b } = pair();
    const pending = a.send(1, new Uint8Array(4 * 1024 * 1024));
    let closes = 0;
    a.onClose(() => closes++);
    b.onClose(() => closes++);
    await settle();
    a.close();
    a.close();
    await expect(pending).rejects.toBeInstanceOf(ChannelClosedError);
    await settle();
    expect(closes).toBe(2);
    expect(link.b.readyState).toBe('closed');
    await expect(b.send(1, new Uint8Array(1))).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('FC-P1 any mix of sizes and streams arrives intact and in per-stream order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            stream: fc.integer({ min: 0, max: 3 }),
            size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 60_000, max: 300_000 })),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        fc.integer({ min: 1, max: 400_000 }),
        async (messages, bytesPerFlush) => {
          const { link, a, received } = pair();
          const sends = messages.map((m, i) => a.send(m.stream, patternBytes(m.size, i + 1)));
          let done = false;
          void Promise.all(sends).then(() => (done = true));
          while (!done || link.a.queuedFrames > 0) {
            await settle();
            link.flush(bytesPerFlush);
          }
          expect(received.length).toBe(messages.length);
          for (const stream of [0, 1, 2, 3]) {
            const expected = messages.map((m, i) => ({ ...m, i })).filter((m) => m.stream === stream);
            const got = received.filter((m) => m.stream === stream);
            expect(got.length).toBe(expected.length);
            got.forEach((m, k) =>
              expect(sameBytes(m.bytes, patternBytes(expected[k]!.size, expected[k]!.i + 1))).toBe(true),
            );
          }
          expect(link.a.peakBufferedAmount).toBeLessThanOrEqual(HIGH_WATER_MARK_BYTES + MAX_FRAME_BYTES);
        },
      ),
      { numRuns: 25 },
    );
  });
});

function flipLast(frame: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const copy = frame.slice();
  copy[copy.length - 1]! ^= 0xff;
  return copy;
}
