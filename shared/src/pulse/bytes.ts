/** Little byte reader/writer for the container header: LEB128 varints, bounds-checked reads. */

import { CorruptPatchError } from './errors';

/** Most UTF-8 bytes `text` can take: a UTF-16 code unit is at most 3 (a surrogate pair, two units, is 4). */
export function utf8MaxBytes(text: string): number {
  return 3 * text.length;
}

export class ByteWriter {
  private bytes = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u8(v: number): void {
    this.reserve(1);
    this.bytes[this.length++] = v & 0xff;
  }

  /** Unsigned LEB128 of a safe integer below 2^35. */
  varint(v: number): void {
    this.reserve(5);
    while (v >= 0x80) {
      this.bytes[this.length++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.length++] = v;
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  /** Empty again, for reuse (encode keeps one writer: see idleWriter in container.ts); a buffer grown past 64 KiB is let go. */
  clear(): void {
    this.length = 0;
    if (this.bytes.length > 1 << 16) this.bytes = new Uint8Array(256);
  }
}

export class ByteReader {
  pos = 0;
  constructor(private bytes: Uint8Array) {}

  /** Reads `bytes` from the start (decode reuses one reader: see its comment). */
  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.pos = 0;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  u8(): number {
    if (this.pos >= this.bytes.length) throw new CorruptPatchError('header is truncated');
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128, at most 5 bytes (values below 2^35), minimal encoding only. */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new CorruptPatchError('non-minimal varint');
        return v;
      }
      scale *= 128;
    }
    throw new CorruptPatchError('varint too long');
  }

  /** Copies the next `n` bytes into `target` at `at`, with no view allocated (tensor names: a few bytes each, one per tensor). */
  copyTo(target: Uint8Array, at: number, n: number): void {
    if (n > this.remaining) throw new CorruptPatchError('header is truncated');
    const { bytes, pos } = this;
    for (let k = 0; k < n; k++) target[at + k] = bytes[pos + k]!;
    this.pos += n;
  }

  take(n: number): Uint8Array {
    if (n > this.remaining) throw new CorruptPatchError('header is truncated');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
