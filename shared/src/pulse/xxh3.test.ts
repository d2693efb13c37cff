import { createXXHash128 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { XXH3_MIDSIZE_MAX, Xxh3Stream } from './xxh3';
import { seededRandom } from './testing';

describe('xxh3-128 kernel', () => {
  it('PULSE9: equals hash-wasm (the reference C) for lengths across every stripe, block and buffer boundary, fed in any pieces', async () => {
    const reference = await createXXHash128();
    const rand = seededRandom(9);
    const data = Uint8Array.from({ length: 40_000 }, () => Math.floor(rand() * 256));
    const lengths = [
      241, 255, 256, 257, 319, 320, 321, 1023, 1024, 1025, 1087, 1088, 1089, 2048, 4095, 4096, 4097, 16_385, 40_000,
    ];
    for (let i = 0; i < 60; i++) lengths.push(XXH3_MIDSIZE_MAX + 1 + Math.floor(rand() * 39_000));
    for (const length of lengths) {
      const input = data.subarray(0, length);
      reference.init();
      reference.update(input);
      const expected = reference.digest('binary');
      // Whole, then in random pieces (0 to 1,500 bytes, so the 256-byte buffer fills, spills and is skipped).
      const whole = new Xxh3Stream();
      whole.update(input);
      expect(Buffer.from(whole.digest()).toString('hex'), `length ${length}`).toBe(
        Buffer.from(expected).toString('hex'),
      );
      const pieces = new Xxh3Stream();
      for (let at = 0; at < length; ) {
        const size = Math.min(length - at, Math.floor(rand() * 1500));
        pieces.update(input.subarray(at, at + size));
        at += size;
      }
      expect(Buffer.from(pieces.digest()).toString('hex'), `length ${length} in pieces`).toBe(
        Buffer.from(expected).toString('hex'),
      );
    }
  });

  it('PULSE9: a stream of 240 bytes or fewer is left to the short-input paths (no kernel digest)', () => {
    const s = new Xxh3Stream();
    s.update(new Uint8Array(XXH3_MIDSIZE_MAX));
    expect(s.buffered.length).toBe(XXH3_MIDSIZE_MAX);
    expect(() => s.digest()).toThrow(/240/);
  });
});
