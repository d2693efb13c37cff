/**
 * The PULSE WebAssembly kernels (shared/assembly/pulse.ts) and the memory
 * they work in. A call lays out everything it needs in one arena: `arena(n)`
 * hands back an instance whose memory holds at least n bytes past the fixed
 * tables, with a bump allocator reset to its start; nothing grows after
 * that, so typed views taken from it stay valid for the whole call.
 *
 * Calls up to SHARED_ARENA_BYTES share one instance per realm (a tab, a
 * worker, a Node process); larger ones get an instance of their own, dropped
 * with the call, so one big snapshot does not pin its memory for the tab's
 * lifetime (WebAssembly memory never shrinks). Above MAX_ARENA_BYTES the
 * codec stays in JS (payload.ts): wasm32 memory tops out at 4 GiB.
 *
 * The module is ~4 KB, so it is compiled synchronously on first use, which
 * Chromium allows on the main thread for modules this small.
 */

import { base64urlDecode } from '../bytes';
import { BUCKETS } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import { CorruptPatchError } from './errors';
import { KERNELS_WASM } from './kernels.wasm';
import { XXH3_SECRET } from './xxh3-secret';

export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  bucketMantissaBits(): number;
  setBuckets(base: number, extra: number, count: number): void;
  buildDecodeTable(freq: number, alphabet: number, sym: number, step: number): void;
  reverseBytes(src: number, dst: number, len: number): void;
  applyRaw16(data: number, n: number, positions: number, bits: number, count: number): number;
  applyRaw32(data: number, n: number, positions: number, bits: number, count: number): number;
  applyUlp16(data: number, n: number, positions: number, flips: number, mags: number, count: number): number;
  applyUlp32(data: number, n: number, positions: number, flips: number, mags: number, count: number): number;
  applyScaled16(
    data: number,
    n: number,
    mantissaBits: number,
    expMask: number,
    positions: number,
    symbols: number,
    count: number,
    r: number,
  ): number;
  applyScaled32(
    data: number,
    n: number,
    mantissaBits: number,
    expMask: number,
    positions: number,
    symbols: number,
    count: number,
    r: number,
  ): number;
  decodeGaps(s: number, r: number, n: number, elements: number, out: number): number;
  decodeGapsPaired(s: number, r: number, n: number, elements: number, out: number, v: number, outSym: number): number;
  decodeRuns(s: number, r: number, n: number, elements: number, out: number): number;
  decodeDeltas(
    s: number,
    r: number,
    n: number,
    half: number,
    magMask: number,
    outFlips: number,
    outMags: number,
  ): number;
  decodeHeads(s: number, r: number, n: number, mantissaBits: number, out: number, width: number): number;
  encodeGaps(positions: number, n: number, syms: number, at: number, counts: number, w: number): number;
  encodeRuns(positions: number, n: number, syms: number, at: number, counts: number, w: number): number;
  encodeDeltas(
    flips: number,
    mags: number,
    exps: number,
    n: number,
    half: number,
    syms: number,
    at: number,
    counts: number,
    w: number,
  ): number;
  encodeHeads(
    data: number,
    n: number,
    width: number,
    mantissaBits: number,
    syms: number,
    at: number,
    counts: number,
    w: number,
  ): number;
  finishBits(w: number): number;
  setSecret(at: number): void;
  xxh3Update(st: number, input: number, len: number): void;
  xxh3Digest(st: number, out: number): void;
  scan(
    a: number,
    b: number,
    n: number,
    width: number,
    mantissaBits: number,
    first: number,
    positionsOnly: boolean,
    positions: number,
    flips: number,
    mags: number,
    exps: number,
    news: number,
    sums: number,
  ): number;
  ransEncode(
    syms: number,
    count: number,
    freq: number,
    cum: number,
    alphabet: number,
    scaleBits: number,
    enc: number,
    outEnd: number,
  ): number;
}

/** Raw-bit writer struct of the encode kernels (u32 out, u32 length, u64 acc, u32 pending, pad): see pulse.ts. */
export const WRITER_BYTES = 24;

/** Raw-bit reader struct: u32 end of the byte-reversed stream less 8, u32 pad (a failed change's index), u64 endBits, u64 bitPos. */
const READER_BYTES = 24;

/** Arena bytes Arena.rawReader allocates for a raw-bit stream of `length` bytes. */
export function rawReaderBytes(length: number): number {
  return arenaBytes(8 + length) + READER_BYTES;
}

/** Error codes of the decode kernels (pulse.ts E_*). */
const KERNEL_ERRORS: Readonly<Record<number, string>> = {
  [-1]: 'rANS stream is truncated',
  [-2]: 'raw-bit stream is truncated',
  [-3]: 'position out of range',
  [-4]: 'ulp delta out of range',
  [-5]: 'run out of range',
  [-6]: 'change does not fit its base value',
};

/** The error a decode or apply kernel's negative return code `rc` names, for tensor `tensor`. */
export function kernelError(tensor: string, rc: number): CorruptPatchError {
  return new CorruptPatchError(`tensor ${tensor}: ${KERNEL_ERRORS[rc] ?? 'corrupt body'}`);
}

const PAGE = 65536;
/** Arenas up to this size live in the realm's shared instance. */
export const SHARED_ARENA_BYTES = 64 << 20;
/** Above this a call runs the JS codec instead. */
export const MAX_ARENA_BYTES = 1 << 30;

let compiled: WebAssembly.Module | null = null;
let shared: Arena | null = null;

export interface ArenaLimits {
  /** Arenas up to this many bytes use the realm's shared instance. */
  readonly shared: number;
  /** Larger calls run the JS codec. */
  readonly max: number;
}

let limits: ArenaLimits = { shared: SHARED_ARENA_BYTES, max: MAX_ARENA_BYTES };

/** Tests run the JS codec with max 0 and the per-call instance with shared 0; returns the previous limits. */
export function setArenaLimitsForTests(next: Partial<ArenaLimits>): ArenaLimits {
  const previous = limits;
  limits = { ...limits, ...next };
  return previous;
}

/** Bytes of the shared instance's memory (tests check a large call left it alone). */
export function sharedArenaMemoryBytes(): number {
  return shared?.k.memory.buffer.byteLength ?? 0;
}

export class Arena {
  readonly k: KernelExports;
  /** End of the bucket tables; every call's allocations start here. */
  private readonly floor: number;
  private top: number;
  /** Pages of memory now: only grow() changes it. */
  private pages: number;

  constructor() {
    compiled ??= new WebAssembly.Module(base64urlDecode(KERNELS_WASM) as Uint8Array<ArrayBuffer>);
    this.k = new WebAssembly.Instance(compiled, {}).exports as unknown as KernelExports;
    if (this.k.bucketMantissaBits() !== BUCKET_MANTISSA_BITS)
      throw new Error('PULSE kernels were built for another bucket layout: run npm run build:wasm');
    this.top = 8;
    this.pages = this.k.memory.buffer.byteLength / PAGE;
    const base = this.alloc(BUCKETS.base.byteLength);
    const extra = this.alloc(BUCKETS.extra.byteLength);
    const secret = this.alloc(XXH3_SECRET.length);
    this.floor = this.top;
    this.grow(0);
    new Int32Array(this.k.memory.buffer, base, BUCKETS.base.length).set(BUCKETS.base);
    new Uint8Array(this.k.memory.buffer, extra, BUCKETS.extra.length).set(BUCKETS.extra);
    new Uint8Array(this.k.memory.buffer, secret, XXH3_SECRET.length).set(XXH3_SECRET);
    this.k.setBuckets(base, extra, BUCKETS.extra.length);
    this.k.setSecret(secret);
  }

  /** Makes room for `bytes` past the floor and resets the allocator. */
  private grow(bytes: number): void {
    const need = Math.ceil((this.floor + bytes) / PAGE) - this.pages;
    if (need > 0) {
      this.k.memory.grow(need);
      this.pages += need;
      this.views = null; // growing detached the buffer they view
    }
    this.top = this.floor;
  }

  /** `bytes` at the top, 8-aligned; the caller sized the arena for all of them. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top += arenaBytes(bytes);
    return at;
  }

  /**
   * Views of the whole memory, dropped by grow(): only it grows the memory
   * (the module has no memory.grow), so asking the memory for its buffer on
   * every access, a call into the engine (~0.1 µs; apply took views a few
   * times per tensor), is not needed to notice.
   */
  private views: { u8: Uint8Array; u16: Uint16Array; u32: Uint32Array } | null = null;

  private viewsNow(): { u8: Uint8Array; u16: Uint16Array; u32: Uint32Array } {
    // A view of a detached buffer has length 0: should the memory ever grow some other way, they are made again.
    if (this.views === null || this.views.u8.length === 0) {
      const buffer = this.k.memory.buffer;
      this.views = { u8: new Uint8Array(buffer), u16: new Uint16Array(buffer), u32: new Uint32Array(buffer) };
    }
    return this.views;
  }

  /**
   * The memory as bytes. The same view until the memory grows: each call's
   * kernels read and write through a handful of these, and new views per
   * access were a good part of what a decode + apply left for the young
   * generation's collector.
   */
  get u8(): Uint8Array {
    return this.viewsNow().u8;
  }

  /**
   * A raw-bit reader for the decode and apply kernels over the `length` bytes
   * at `src` in this arena: they are copied byte-reversed, 8 bytes into a
   * region of their own (see peekBits in shared/assembly/pulse.ts), and the
   * reader struct is laid out. Allocates rawReaderBytes(length).
   */
  rawReader(src: number, length: number): number {
    const reversed = this.alloc(8 + length) + 8;
    const reader = this.alloc(READER_BYTES);
    this.k.reverseBytes(src, reversed, length);
    const endBits = length * 8;
    this.u32.set([reversed + length - 8, 0, endBits % 2 ** 32, Math.floor(endBits / 2 ** 32), 0, 0], reader / 4);
    return reader;
  }

  /** The bit a rawReader's kernels stopped at. */
  readerBitPos(reader: number): number {
    const words = this.u32;
    return words[reader / 4 + 4]! + words[reader / 4 + 5]! * 2 ** 32;
  }

  /** The change an apply kernel that failed stopped at (it stores the index in its reader). */
  readerFailedChange(reader: number): number {
    return this.u32[reader / 4 + 1]!;
  }

  get u16(): Uint16Array {
    return this.viewsNow().u16;
  }

  get u32(): Uint32Array {
    return this.viewsNow().u32;
  }

  /** An arena with `bytes` free (sum of the call's allocations, each rounded up to 8), or null when the call should stay in JS. */
  static for(bytes: number): Arena | null {
    if (bytes > limits.max || typeof WebAssembly === 'undefined') return null;
    const arena = bytes <= limits.shared ? (shared ??= new Arena()) : new Arena();
    arena.grow(bytes);
    return arena;
  }
}

/** Bytes an allocation of `bytes` takes in an arena (float maths: sizes of huge snapshots pass 2^31 before the limit check). */
export function arenaBytes(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}
