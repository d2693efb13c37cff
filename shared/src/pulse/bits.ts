/**
 * The raw-bit side stream: near-uniform low bits (below an integer's bucket,
 * below a float's sign and exponent) cost exactly their width, so they skip
 * the entropy coder. MSB-first; the last byte is zero-padded.
 */

import { CorruptPatchError } from './errors';

/** Widest field one call moves; wider ones are split (32-bit shifts must hold the ≤ 7 pending bits plus the field). */
export const MAX_FIELD = 24;

/** Fields are public so a hot loop can hold them in locals (see payload.ts encodeHeads) and store them back. */
export class BitWriter {
  bytes: Uint8Array;
  length = 0;
  /** The `pending` (< 8) bits not yet in a byte. */
  acc = 0;
  pending = 0;

  /** `buffer`, if given, is written from its start (a caller's reusable scratch; finish() returns a view of it). */
  constructor(capacityBytes = 256, buffer?: Uint8Array) {
    this.bytes = buffer !== undefined && buffer.length >= 16 ? buffer : new Uint8Array(Math.max(16, capacityBytes));
  }

  /** Appends the low `count` (0..32) bits of the unsigned `value`. */
  write(value: number, count: number): void {
    if (count > MAX_FIELD) {
      this.write(Math.floor(value / 65536), count - 16);
      this.write(value & 0xffff, 16);
      return;
    }
    if (this.length + 4 > this.bytes.length) this.grow();
    let acc = (this.acc << count) | (value & ((1 << count) - 1));
    let pending = this.pending + count;
    while (pending >= 8) {
      pending -= 8;
      this.bytes[this.length++] = acc >>> pending;
    }
    this.acc = acc & ((1 << pending) - 1);
    this.pending = pending;
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    while (this.length + n > this.bytes.length) this.grow();
  }

  private grow(): void {
    const grown = new Uint8Array(this.bytes.length * 2);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  finish(): Uint8Array {
    if (this.pending > 0) {
      if (this.length + 1 > this.bytes.length) this.grow();
      this.bytes[this.length++] = (this.acc << (8 - this.pending)) & 0xff;
      this.pending = 0;
      this.acc = 0;
    }
    return this.bytes.subarray(0, this.length);
  }
}

/** `bytes` and `pos` are public so a hot loop can read fields in place (see payload.ts decodeHeads). */
export class BitReader {
  /** A copy with 4 zero bytes of slack, so a read near the end never leaves the array. */
  readonly bytes: Uint8Array;
  pos = 0;
  readonly endBits: number;

  constructor(source: Uint8Array) {
    this.bytes = new Uint8Array(source.length + 4);
    this.bytes.set(source);
    this.endBits = source.length * 8;
  }

  /** Reads `count` (0..32) bits; throws once the stream is overrun. */
  read(count: number): number {
    if (count > MAX_FIELD) return this.read(count - 16) * 65536 + this.read(16);
    const pos = this.pos;
    const end = pos + count;
    if (end > this.endBits) throw new CorruptPatchError('raw-bit stream is truncated');
    this.pos = end;
    return count === 0 ? 0 : peekBits(this.bytes, pos, count);
  }

  /** True when reading stopped in the last byte and its padding bits are zero: nothing can ride along. */
  consumedAll(): boolean {
    return bitsConsumedAll(this.bytes, this.pos, this.endBits);
  }
}

/**
 * `count` (1..MAX_FIELD) bits MSB-first at bit `pos` of a BitReader's bytes, for hot loops that hold the
 * position in a local (see scaled.ts); the caller checked they are in the stream.
 */
export function peekBits(bytes: Uint8Array, pos: number, count: number): number {
  const i = pos >>> 3;
  const word = (bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!;
  return (word << (pos & 7)) >>> (32 - count);
}

/** Whether a reader of the `endBits`-bit stream `bytes` that stopped at bit `pos` used it all: last byte reached, padding zero. */
export function bitsConsumedAll(bytes: Uint8Array, pos: number, endBits: number): boolean {
  if (Math.ceil(pos / 8) * 8 !== endBits) return false;
  return pos % 8 === 0 || (bytes[Math.floor(pos / 8)]! & (0xff >>> (pos % 8))) === 0;
}
