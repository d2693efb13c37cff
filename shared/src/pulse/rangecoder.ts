/**
 * Adaptive binary range coder (the LZMA construction with 15-bit probabilities)
 * plus a side stream of raw bits for near-uniform bits, which are cheaper to
 * write as plain bits than through the coder. All arithmetic is exact in JS
 * numbers: range < 2^32, (range >>> 15) · p < 2^32, low < 2^33.
 */

import { ADAPT_SHIFT, PROB_BITS } from './constants';
import { CorruptPatchError } from './errors';

const PROB_ONE = 1 << PROB_BITS;
const PROB_INIT = PROB_ONE >>> 1;
const TOP = 2 ** 24;
const TWO32 = 2 ** 32;

/** 2^i for i in 0..32, so hot loops multiply instead of calling Math.pow. */
export const POW2: readonly number[] = Array.from({ length: 33 }, (_, i) => 2 ** i);

/** A set of adaptive probabilities (of the bit being 0), all starting at 1/2. */
export function newContexts(count: number): Uint16Array {
  return new Uint16Array(count).fill(PROB_INIT);
}

class ByteSink {
  bytes = new Uint8Array(1 << 12);
  length = 0;
  push(b: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = b;
  }
  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

export class RangeEncoder {
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private readonly out = new ByteSink();
  private readonly raw = new ByteSink();
  private rawAcc = 0;
  private rawCount = 0;

  encodeBit(probs: Uint16Array, index: number, bit: number): void {
    const p = probs[index]!;
    const bound = (this.range >>> PROB_BITS) * p;
    if (bit === 0) {
      this.range = bound;
      probs[index] = p + ((PROB_ONE - p) >>> ADAPT_SHIFT);
    } else {
      this.low += bound;
      this.range -= bound;
      probs[index] = p - (p >>> ADAPT_SHIFT);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  /** Appends the low `count` (≤ 32) bits of `value`, most significant first, to the raw side stream (a byte at a time). */
  writeRawBits(value: number, count: number): void {
    let left = count;
    while (left > 0) {
      const room = 8 - this.rawCount;
      const take = left < room ? left : room;
      left -= take;
      const bits = Math.floor(value / POW2[left]!) & ((1 << take) - 1);
      this.rawAcc = (this.rawAcc << take) | bits;
      this.rawCount += take;
      if (this.rawCount === 8) {
        this.raw.push(this.rawAcc);
        this.rawAcc = 0;
        this.rawCount = 0;
      }
    }
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.out.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (this.low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low & 0x00ffffff) * 256;
  }

  /** Flushes both streams: the coded stream and the raw-bit stream. */
  finish(): { coded: Uint8Array; raw: Uint8Array } {
    for (let i = 0; i < 5; i++) this.shiftLow();
    if (this.rawCount > 0) this.raw.push((this.rawAcc << (8 - this.rawCount)) & 0xff);
    return { coded: this.out.result(), raw: this.raw.result() };
  }
}

/** Slack past the end of the coded stream the decoder may read (its 4-byte lookahead) before the input counts as truncated. */
const READ_SLACK = 4;

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos = 0;
  private rawBitPos = 0;

  constructor(
    private readonly coded: Uint8Array,
    private readonly raw: Uint8Array,
  ) {
    if (coded.length < 5 || coded[0] !== 0) throw new CorruptPatchError('range-coded stream too short or malformed');
    this.pos = 1;
    for (let i = 0; i < 4; i++) this.code = ((this.code * 256) >>> 0) + this.nextByte();
  }

  private nextByte(): number {
    const p = this.pos++;
    if (p < this.coded.length) return this.coded[p]!;
    if (p >= this.coded.length + READ_SLACK) throw new CorruptPatchError('range-coded stream is truncated');
    return 0;
  }

  decodeBit(probs: Uint16Array, index: number): number {
    const p = probs[index]!;
    const bound = (this.range >>> PROB_BITS) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[index] = p + ((PROB_ONE - p) >>> ADAPT_SHIFT);
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      probs[index] = p - (p >>> ADAPT_SHIFT);
      bit = 1;
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code * 256) >>> 0) + this.nextByte();
    }
    return bit;
  }

  readRawBits(count: number): number {
    let pos = this.rawBitPos;
    if (pos + count > this.raw.length * 8) throw new CorruptPatchError('raw-bit stream is truncated');
    let v = 0;
    let left = count;
    while (left > 0) {
      const avail = 8 - (pos & 7);
      const take = left < avail ? left : avail;
      v = v * POW2[take]! + ((this.raw[pos >>> 3]! >>> (avail - take)) & ((1 << take) - 1));
      pos += take;
      left -= take;
    }
    this.rawBitPos = pos;
    return v;
  }

  /**
   * True when both streams ended exactly where the encoder's flush put them
   * (the decoder reads exactly the bytes the encoder wrote), with zero padding
   * bits: no trailing garbage can ride along in a valid patch.
   */
  consumedAll(): boolean {
    if (this.pos !== this.coded.length) return false;
    const pos = this.rawBitPos;
    if (Math.ceil(pos / 8) !== this.raw.length) return false;
    return (pos & 7) === 0 || (this.raw[pos >>> 3]! & (0xff >>> (pos & 7))) === 0;
  }
}
