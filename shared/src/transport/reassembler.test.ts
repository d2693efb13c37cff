import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIRST_PAYLOAD_BYTES, NEXT_PAYLOAD_BYTES } from './constants';
import { FrameError, IntegrityError, LimitError } from './errors';
import { encodeFrame } from './frame';
import { loadHasher, type MessageHasher } from './hash';
import { Reassembler, type ReassemblyResult } from './reassembler';
import { bytesOf, framesOf } from './test-helpers';

let hasher: MessageHasher;
beforeAll(async () => {
  hasher = await loadHasher();
});

function feed(reassembler: Reassembler, frames: Uint8Array[]): ReassemblyResult[] {
  return frames.map((frame) => reassembler.push(frame)).filter((r) => r.kind !== 'pending');
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('reassembly', () => {
  it('R1 a message cut into frames comes back whole, in its own buffer', () => {
    const bytes = bytesOf(FIRST_PAYLOAD_BYTES + 2 * NEXT_PAYLOAD_BYTES + 5);
    const [result] = feed(new Reassembler(hasher), framesOf(3, 9, bytes, hasher));
    expect(result?.kind).toBe('message');
    if (result?.kind !== 'message') return;
    expect(result.message).toMatchObject({ stream: 3, messageId: 9 });
    expect(result.message.bytes.byteOffset).toBe(0);
    expect(result.message.bytes.buffer.byteLength).toBe(bytes.length);
    expect(same(result.message.bytes, bytes)).toBe(true);
  });

  it('R2 interleaved messages on different streams reassemble independently (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 * FIRST_PAYLOAD_BYTES }), { minLength: 1, maxLength: 4 }),
        fc.infiniteStream(fc.nat()),
        (sizes, picks) => {
          const reassembler = new Reassembler(hasher);
          const messages = sizes.map((size, i) => bytesOf(size, i + 7));
          const queues = messages.map((bytes, i) => framesOf(i + 1, 100 + i, bytes, hasher));
          const got: ReassemblyResult[] = [];
          const pick = picks[Symbol.iterator]();
          // Random interleaving that keeps each stream's own frame order.
          while (queues.some((q) => q.length > 0)) {
            const live = queues.filter((q) => q.length > 0);
            const queue = live[pick.next().value! % live.length]!;
            const result = reassembler.push(queue.shift()!);
            if (result.kind !== 'pending') got.push(result);
          }
          expect(got.every((r) => r.kind === 'message')).toBe(true);
          for (const result of got) {
            if (result.kind !== 'message') continue;
            expect(same(result.message.bytes, messages[result.message.stream - 1]!)).toBe(true);
          }
          expect(got.length).toBe(sizes.length);
          expect(reassembler.partialBytes).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('R3 a flipped byte in any frame is an IntegrityError on that message; the next message still arrives', () => {
    const bytes = bytesOf(FIRST_PAYLOAD_BYTES + NEXT_PAYLOAD_BYTES + 100, 5);
    for (let target = 0; target < 3; target++) {
      const reassembler = new Reassembler(hasher);
      const frames = framesOf(2, 77, bytes, hasher);
      const frame = frames[target]!;
      frame[frame.length - 1]! ^= 1;
      const results = feed(reassembler, [...frames, ...framesOf(2, 78, bytesOf(10), hasher)]);
      expect(results.map((r) => r.kind)).toEqual(['error', 'message']);
      const error = results[0]!.kind === 'error' ? results[0]!.error : undefined;
      expect(error).toBeInstanceOf(IntegrityError);
      expect(error).toMatchObject({ stream: 2, messageId: 77, code: 'integrity' });
    }
  });

  it('R4 an oversized message is refused on its first frame, before allocating, and its other frames are skipped quietly', () => {
    const reassembler = new Reassembler(hasher, { maxMessageBytes: 100_000 });
    const frames = framesOf(4, 1, bytesOf(200_000), hasher);
    const results = feed(reassembler, [...frames, ...framesOf(4, 2, bytesOf(50), hasher)]);
    expect(results.map((r) => r.kind)).toEqual(['error', 'message']);
    expect(results[0]!.kind === 'error' && results[0]!.error).toBeInstanceOf(LimitError);
    expect(reassembler.partialBytes).toBe(0);
  });

  it('R5 a first frame that declares 4 GiB is refused without allocating it', () => {
    const reassembler = new Reassembler(hasher);
    const frame = encodeFrame(1, 1, 0, bytesOf(FIRST_PAYLOAD_BYTES + 1), new Uint8Array(8));
    new DataView(frame.buffer).setUint32(12, 0xffff_ffff);
    const result = reassembler.push(frame);
    expect(result.kind === 'error' && result.error).toBeInstanceOf(LimitError);
    expect(reassembler.partialCount).toBe(0);
  });

  it('R6 concurrent partial messages and their reserved bytes are capped', () => {
    const reassembler = new Reassembler(hasher, { maxPartialMessages: 2, maxPartialBytes: 10 * FIRST_PAYLOAD_BYTES });
    const firsts = [1, 2, 3].map((stream) => framesOf(stream, stream, bytesOf(2 * FIRST_PAYLOAD_BYTES), hasher)[0]!);
    expect(firsts.map((f) => reassembler.push(f).kind)).toEqual(['pending', 'pending', 'error']);
    expect(reassembler.partialCount).toBe(2);

    const byBytes = new Reassembler(hasher, { maxPartialBytes: 3 * FIRST_PAYLOAD_BYTES });
    const big = (stream: number) => framesOf(stream, stream, bytesOf(2 * FIRST_PAYLOAD_BYTES), hasher)[0]!;
    expect(byBytes.push(big(1)).kind).toBe('pending');
    const refused = byBytes.push(big(2));
    expect(refused.kind === 'error' && refused.error).toBeInstanceOf(LimitError);
    expect(byBytes.partialBytes).toBe(2 * FIRST_PAYLOAD_BYTES);
  });

  it('R7 frames out of sequence, from nowhere, or contradicting their message are FrameErrors and free the partial', () => {
    const bytes = bytesOf(FIRST_PAYLOAD_BYTES + 2 * NEXT_PAYLOAD_BYTES);
    const frames = framesOf(1, 5, bytes, hasher);
    const cases: Uint8Array[][] = [
      [frames[0]!, frames[2]!], // skipped a frame
      [frames[1]!], // continues nothing
      [frames[0]!, frames[0]!], // restarts on the same stream
      [frames[0]!, framesOf(1, 6, bytes, hasher)[1]!], // another message's frame
    ];
    for (const sequence of cases) {
      const reassembler = new Reassembler(hasher);
      const results = feed(reassembler, sequence);
      expect(results.length).toBe(1);
      expect(results[0]!.kind === 'error' && results[0]!.error).toBeInstanceOf(FrameError);
      expect(reassembler.partialBytes).toBe(0);
    }
    // A continuation that lies about the total length.
    const reassembler = new Reassembler(hasher);
    reassembler.push(frames[0]!);
    const liar = frames[1]!.slice();
    new DataView(liar.buffer).setUint32(12, bytes.length + 1);
    expect(reassembler.push(liar).kind).toBe('error');
    expect(reassembler.partialCount).toBe(0);
  });

  it('R8 random garbage frames never throw and never leave reserved bytes unaccounted (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { maxLength: 30 }), (raws) => {
        const reassembler = new Reassembler(hasher, { maxMessageBytes: 1 << 20, maxPartialBytes: 1 << 21 });
        for (const raw of raws) {
          // Make some of them look like frames so the deeper checks run too.
          if (raw.length >= 16 && raw[0]! % 2 === 0) raw[0] = 1;
          if (raw.length >= 16) raw[1] = raw[1]! & 3;
          expect(() => reassembler.push(raw)).not.toThrow();
        }
        expect(reassembler.partialBytes).toBeGreaterThanOrEqual(0);
        expect(reassembler.partialBytes).toBeLessThanOrEqual(1 << 21);
      }),
      { numRuns: 300 },
    );
  });
});
