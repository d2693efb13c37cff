import { describe, expect, it } from 'vitest';
import { CorruptPatchError } from './errors';
import { RawValueModel, UIntModel } from './models';
import { newContexts, RangeDecoder, RangeEncoder } from './rangecoder';
import { seededRandom } from './testing';

describe('PULSE range coder', () => {
  it('PULSE11: skewed and uniform bits, Exp-Golomb integers over the full range and raw values decode exactly', () => {
    const rand = seededRandom(5);
    const bits = Array.from({ length: 20_000 }, (_, i) => (rand() < (i % 3 === 0 ? 0.5 : 0.01) ? 1 : 0));
    const ints = [0, 1, 2, 3, 7, 8, 255, 65535, 2 ** 30, 2 ** 31 - 2, 2 ** 31 - 1, ...Array.from({ length: 2000 }, () => Math.floor(2 ** (rand() * 31)) - 1)];
    const values16 = Array.from({ length: 1000 }, () => Math.floor(rand() * 65536));
    const values32 = [0, 0xffffffff, 0x80000000, ...Array.from({ length: 1000 }, () => Math.floor(rand() * 2 ** 32))];

    const enc = new RangeEncoder();
    const ctx = newContexts(3);
    bits.forEach((b, i) => enc.encodeBit(ctx, i % 3, b));
    const uint = new UIntModel();
    ints.forEach((v) => uint.encode(enc, v));
    const raw16 = new RawValueModel('f16');
    values16.forEach((v) => raw16.encode(enc, v));
    const raw32 = new RawValueModel('f32');
    values32.forEach((v) => raw32.encode(enc, v));
    const { coded, raw } = enc.finish();

    const dec = new RangeDecoder(coded, raw);
    const dctx = newContexts(3);
    expect(bits.map((_, i) => dec.decodeBit(dctx, i % 3))).toEqual(bits);
    const duint = new UIntModel();
    expect(ints.map(() => duint.decode(dec))).toEqual(ints);
    const d16 = new RawValueModel('f16');
    expect(values16.map(() => d16.decode(dec))).toEqual(values16);
    const d32 = new RawValueModel('f32');
    expect(values32.map(() => d32.decode(dec))).toEqual(values32);
    expect(dec.consumedAll()).toBe(true);
    // Skewed bits cost far less than one bit each.
    const skewedOnly = new RangeEncoder();
    const sctx = newContexts(1);
    bits.forEach((b, i) => i % 3 !== 0 && skewedOnly.encodeBit(sctx, 0, b));
    expect(skewedOnly.finish().coded.length * 8).toBeLessThan(bits.length * 0.15);
  });

  it('PULSE15: reading past the end of either stream is a CorruptPatchError', () => {
    expect(() => new RangeDecoder(new Uint8Array(3), new Uint8Array(0))).toThrow(CorruptPatchError);
    const dec = new RangeDecoder(new Uint8Array(5), new Uint8Array(0));
    expect(() => dec.readRawBits(1)).toThrow(CorruptPatchError);
    const ctx = newContexts(1);
    expect(() => {
      for (let i = 0; i < 1_000_000; i++) dec.decodeBit(ctx, 0);
    }).toThrow(CorruptPatchError);
  });
});
