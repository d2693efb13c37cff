/**
 * Streaming xxh3-128 on the WebAssembly kernels (shared/assembly/pulse.ts),
 * the content hash of hash.ts. hash-wasm's xxh3-128 (the reference C built
 * without SIMD) ran at ~2 GB/s on the dev box and was a third of every diff
 * and apply; the kernel accumulates two 64-bit lanes per 128-bit operation.
 * Its output is hash-wasm's, bit for bit (xxh3.test.ts), so stored hashes
 * and golden fixtures are unchanged.
 *
 * The stream's state lives here between calls and is copied into the arena
 * for each one (400 bytes), so streams never share memory and a caller that
 * already holds bytes in an arena (diff's scan) hashes them in place.
 */

import { Arena, arenaBytes } from './kernels';
import { XXH3_SECRET } from './xxh3-secret';

export { XXH3_SECRET };

/** Kernel state: acc[8] · 256-byte buffer · bufferedSize · stripes so far · totalLen · last-stripe scratch (pulse.ts S_*). */
export const XXH3_STATE_BYTES = 400;
const S_BUFFER = 64;
const S_BUFFERED = 320;
const S_TOTAL = 328;

/** Inputs up to this many bytes use xxh3's short-input paths, which the kernel does not have. */
export const XXH3_MIDSIZE_MAX = 240;

/** Bytes copied into the arena per kernel call when hashing JS memory. */
const CHUNK = 1 << 18;

/** A fresh state: XXH3_INIT_ACC (little-endian u64s), then zeros. */
const INIT_STATE = new Uint8Array(XXH3_STATE_BYTES);
{
  const acc = [
    0xc2b2ae3dn,
    0x9e3779b185ebca87n,
    0xc2b2ae3d27d4eb4fn,
    0x165667b19e3779f9n,
    0x85ebca77c2b2ae63n,
    0x85ebca77n,
    0x27d4eb2f165667c5n,
    0x9e3779b1n,
  ];
  const view = new DataView(INIT_STATE.buffer);
  acc.forEach((a, i) => view.setBigUint64(8 * i, a, true));
}

export class Xxh3Stream {
  private readonly state = new Uint8Array(XXH3_STATE_BYTES);
  private readonly view = new DataView(this.state.buffer);

  constructor() {
    this.reset();
  }

  reset(): void {
    this.state.set(INIT_STATE);
  }

  /** Whether update() can run here (WebAssembly, and an arena for one chunk within the limits). */
  static available(): boolean {
    return Arena.for(arenaBytes(XXH3_STATE_BYTES) + arenaBytes(CHUNK)) !== null;
  }

  /** Bytes hashed so far. */
  get length(): number {
    return Number(this.view.getBigUint64(S_TOTAL, true));
  }

  /** The bytes still buffered: all of the input while length ≤ 256. */
  get buffered(): Uint8Array {
    return this.state.subarray(S_BUFFER, S_BUFFER + this.view.getUint32(S_BUFFERED, true));
  }

  /** Hashes `len` bytes that are already in kernel memory at `at`; `scratch` is XXH3_STATE_BYTES of that arena the caller set aside. */
  updateInPlace(arena: Arena, scratch: number, at: number, len: number): void {
    const u8 = arena.u8;
    u8.set(this.state, scratch);
    arena.k.xxh3Update(scratch, at, len);
    this.state.set(u8.subarray(scratch, scratch + XXH3_STATE_BYTES));
  }

  /**
   * Hashes byte strings in JS memory, in order, with one trip of the state
   * into the kernel (a tensor's small header rides with its values); false
   * (nothing hashed) when WebAssembly is unavailable. Uses the shared arena:
   * not while another kernel call's buffers are live.
   */
  update(...parts: Uint8Array[]): boolean {
    let longest = 0;
    for (const p of parts) longest = Math.max(longest, p.length);
    const chunk = Math.min(CHUNK, longest);
    const arena = Arena.for(arenaBytes(XXH3_STATE_BYTES) + arenaBytes(chunk));
    if (arena === null) return false;
    const scratch = arena.alloc(XXH3_STATE_BYTES);
    const at = arena.alloc(chunk);
    const u8 = arena.u8;
    u8.set(this.state, scratch);
    for (const bytes of parts) {
      for (let from = 0; from < bytes.length; from += chunk) {
        const part = bytes.subarray(from, from + chunk);
        u8.set(part, at);
        arena.k.xxh3Update(scratch, at, part.length);
      }
    }
    this.state.set(u8.subarray(scratch, scratch + XXH3_STATE_BYTES));
    return true;
  }

  /** The 16-byte canonical hash; only for streams longer than XXH3_MIDSIZE_MAX. Ends the stream. */
  digest(): Uint8Array {
    if (this.length <= XXH3_MIDSIZE_MAX) throw new Error('xxh3 kernel digest needs more than 240 bytes');
    const arena = Arena.for(arenaBytes(XXH3_STATE_BYTES) + 16);
    if (arena === null) throw new Error('xxh3 kernel digest without WebAssembly');
    const scratch = arena.alloc(XXH3_STATE_BYTES);
    const out = arena.alloc(16);
    arena.u8.set(this.state, scratch);
    arena.k.xxh3Digest(scratch, out);
    return arena.u8.slice(out, out + 16);
  }
}
