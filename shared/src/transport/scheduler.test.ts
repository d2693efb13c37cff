import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTROL_STREAM, FIRST_PAYLOAD_BYTES, NEXT_PAYLOAD_BYTES } from './constants';
import { decodeFrame, frameCount } from './frame';
import { ChunkScheduler } from './scheduler';

const HASH = new Uint8Array(8);

function enqueue(scheduler: ChunkScheduler<string>, stream: number, size: number, tag: string, messageId = 0) {
  scheduler.enqueue({ stream, messageId, bytes: new Uint8Array(size), hash: HASH, tag });
}

function drain(scheduler: ChunkScheduler<string>) {
  const out: { stream: number; finished?: string }[] = [];
  for (let next = scheduler.next(); next; next = scheduler.next())
    out.push({ stream: next.stream, finished: next.finished?.tag });
  return out;
}

describe('chunk scheduler', () => {
  const big = FIRST_PAYLOAD_BYTES + 9 * NEXT_PAYLOAD_BYTES; // 10 frames

  it('S1 busy streams take turns one frame each', () => {
    const scheduler = new ChunkScheduler<string>();
    enqueue(scheduler, 1, big, 'one');
    enqueue(scheduler, 2, big, 'two');
    const streams = drain(scheduler).map((f) => f.stream);
    expect(streams.slice(0, 6)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(streams.length).toBe(20);
  });

  it('S2 the control stream goes ahead of a bulk transfer already under way', () => {
    const scheduler = new ChunkScheduler<string>();
    enqueue(scheduler, 1, big, 'bulk');
    scheduler.next();
    scheduler.next();
    enqueue(scheduler, CONTROL_STREAM, 10, 'ping');
    expect(scheduler.next()).toMatchObject({ stream: CONTROL_STREAM, finished: { tag: 'ping' } });
    expect(drain(scheduler).every((f) => f.stream === 1)).toBe(true);
  });

  it('S3 a small message on a new stream leaves within one round of the busy streams', () => {
    const scheduler = new ChunkScheduler<string>();
    for (const stream of [1, 2, 3]) enqueue(scheduler, stream, big, `bulk${stream}`);
    for (let i = 0; i < 7; i++) scheduler.next();
    enqueue(scheduler, 9, 100, 'small');
    const order = drain(scheduler);
    expect(order.findIndex((f) => f.finished === 'small')).toBeLessThanOrEqual(3);
  });

  it('S4 per stream, messages leave in order and each frame exactly once; finished fires on the last frame (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            stream: fc.integer({ min: 0, max: 4 }),
            size: fc.integer({ min: 0, max: 3 * FIRST_PAYLOAD_BYTES }),
          }),
          { maxLength: 12 },
        ),
        (messages) => {
          const scheduler = new ChunkScheduler<number>();
          messages.forEach((m, i) =>
            scheduler.enqueue({ stream: m.stream, messageId: i, bytes: new Uint8Array(m.size), hash: HASH, tag: i }),
          );
          const seen = new Map<number, number[]>(); // message id -> chunk indices
          const finishedOrder: number[] = [];
          for (let next = scheduler.next(); next; next = scheduler.next()) {
            const frame = decodeFrame(next.frame);
            seen.set(frame.messageId, [...(seen.get(frame.messageId) ?? []), frame.chunkIndex]);
            if (next.finished) finishedOrder.push(next.finished.tag);
          }
          messages.forEach((m, i) =>
            expect(seen.get(i)).toEqual(Array.from({ length: frameCount(m.size) }, (_, k) => k)),
          );
          for (const stream of [0, 1, 2, 3, 4]) {
            const ids = messages.map((m, i) => (m.stream === stream ? i : -1)).filter((i) => i >= 0);
            expect(finishedOrder.filter((id) => messages[id]!.stream === stream)).toEqual(ids);
          }
          expect(scheduler.hasPending).toBe(false);
          expect(scheduler.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('S5 drain() hands back every queued message and leaves nothing pending', () => {
    const scheduler = new ChunkScheduler<string>();
    enqueue(scheduler, 1, big, 'a');
    enqueue(scheduler, 0, 5, 'b');
    enqueue(scheduler, 2, 5, 'c');
    scheduler.next();
    expect(
      scheduler
        .drain()
        .map((m) => m.tag)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(scheduler.hasPending).toBe(false);
    expect(scheduler.next()).toBeUndefined();
  });
});
