import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIRST_PAYLOAD_BYTES, HASH_BYTES, HEADER_BYTES, MAX_FRAME_BYTES, NEXT_PAYLOAD_BYTES } from './constants';
import { FrameError } from './errors';
import { chunkOffset, decodeFrame, encodeFrame, FrameFlag, frameCount } from './frame';

const HASH = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

describe('frame format', () => {
  it('F1 a 0-byte message is one frame with FIRST|LAST and its hash', () => {
    const frame = decodeFrame(encodeFrame(7, 42, 0, new Uint8Array(0), HASH));
    expect(frame).toMatchObject({
      flags: FrameFlag.first | FrameFlag.last,
      stream: 7,
      messageId: 42,
      chunkIndex: 0,
      totalLength: 0,
    });
    expect([...frame.hash!]).toEqual([...HASH]);
    expect(frame.payload.length).toBe(0);
  });

  it('F2 no frame exceeds 64 KiB, at the edges of the first and later frames', () => {
    for (const size of [
      FIRST_PAYLOAD_BYTES,
      FIRST_PAYLOAD_BYTES + 1,
      FIRST_PAYLOAD_BYTES + NEXT_PAYLOAD_BYTES,
      FIRST_PAYLOAD_BYTES + NEXT_PAYLOAD_BYTES + 1,
    ]) {
      const bytes = new Uint8Array(size);
      const frames = Array.from({ length: frameCount(size) }, (_, i) => encodeFrame(1, 1, i, bytes, HASH));
      for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(frames[0]!.length).toBe(Math.min(MAX_FRAME_BYTES, HEADER_BYTES + HASH_BYTES + size));
      expect(frames.reduce((sum, f) => sum + f.length, 0)).toBe(size + HEADER_BYTES * frames.length + HASH_BYTES);
    }
    expect(frameCount(FIRST_PAYLOAD_BYTES)).toBe(1);
    expect(frameCount(FIRST_PAYLOAD_BYTES + 1)).toBe(2);
  });

  it('F3 encode/decode round-trips every frame of any message (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * MAX_FRAME_BYTES }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.nat(),
        (size, stream, id) => {
          const bytes = new Uint8Array(size).map((_, i) => i * 31);
          const count = frameCount(size);
          const rebuilt = new Uint8Array(size);
          for (let i = 0; i < count; i++) {
            const frame = decodeFrame(encodeFrame(stream, id, i, bytes, HASH));
            if (
              frame.stream !== stream ||
              frame.messageId !== id >>> 0 ||
              frame.chunkIndex !== i ||
              frame.totalLength !== size
            )
              return false;
            if (((frame.flags & FrameFlag.last) !== 0) !== (i === count - 1)) return false;
            rebuilt.set(frame.payload, chunkOffset(i));
          }
          return rebuilt.every((value, i) => value === bytes[i]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('F4 malformed frames are FrameErrors, never crashes (property over random bytes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        try {
          decodeFrame(raw);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 500 },
    );
    const good = encodeFrame(1, 1, 0, new Uint8Array(10), HASH);
    const badVersion = good.slice();
    badVersion[0] = 9;
    expect(() => decodeFrame(badVersion)).toThrow(/version/);
    const badFlags = good.slice();
    badFlags[1] = 0x80 | FrameFlag.first;
    expect(() => decodeFrame(badFlags)).toThrow(/flags/);
    expect(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(FrameError);
    expect(() => decodeFrame(good.subarray(0, HEADER_BYTES + 4))).toThrow(/hash/);
  });
});
