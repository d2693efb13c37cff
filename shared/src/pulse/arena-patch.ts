/**
 * A sparse tensor patched in a WebAssembly arena, a chunk at a time: each
 * chunk of the base is copied in, its changes written by a kernel (applyUlp*,
 * applyRaw*, applyScaled* in shared/assembly/pulse.ts), hashed where it lies
 * and copied out while it is still in cache. apply's path for changes in
 * order, and for decoded ones when the tensor is one chunk. It copies as much
 * as the JS path does (the base in, the result out, where that path copies
 * the base and then the result into the arena to hash it), and any tensor
 * size takes the same bounded arena.
 */

import { WrongBaseError } from './errors';
import type { ModelHasher } from './hash';
import { Arena, arenaBytes } from './kernels';
import type { TensorData } from './types';
import { XXH3_STATE_BYTES } from './xxh3';

/**
 * Bytes of values per chunk: tensors up to this size take one chunk, as they
 * took one arena region before chunks (decode + apply of the quick bench model
 * unchanged, 0.97–1.00× in every case). Larger ones took the JS block loop;
 * in chunks of 1 MiB, against that, decode + apply of the full bench model
 * (10.5 MB), four runs of 400–1000 (same process, alternating), measured
 * 0.96–1.23× for bf16 (most runs 1.02–1.17), 0.96–1.21 for f16, 0.98–1.10
 * for f32 and 0.91–1.16 for sign flips (full-size times are bimodal here);
 * chunks of 256 KiB or 4 MiB did no better.
 */
export const ARENA_CHUNK_BYTES = 1 << 20;

/**
 * Writes `count` changes over a chunk of the tensor in the arena: its
 * elements [first, last) lie at `shifted` + first · width, so a kernel
 * finds element p at shifted + p · width (shifted wraps below 0 as a u32);
 * `at` is where each change column's entries for the chunk were copied, and
 * `from` the index of the chunk's first change in the tensor's columns.
 * Throws a PulseError if they do not apply.
 */
export type ChunkWrite = (shifted: number, last: number, at: readonly number[], count: number, from: number) => void;

/**
 * The patched values, or null (nothing hashed, nothing written) when no arena
 * can be had; a WrongBaseError when a change lies past the base's end.
 * `positions` must be sorted when the tensor spans more than one chunk (a
 * chunk's kernel call only sees the changes that fall in it); in one chunk,
 * changes land in order wherever they fall. `positions` is the first
 * of `columns`, the per-change arrays (each as long as `positions`) copied
 * into the arena a chunk's range at a time. `hasher` has had the tensor's header: it is laid out right
 * before the first chunk and hashed with it in one call (a kernel trip for
 * the header alone cost ~2 µs a tensor). `start` gets the arena once, may
 * allocate `scratch` more bytes in it (the sum of its allocations, each
 * rounded up to 8) and returns the chunk writer. The base is never written.
 */
export function patchInArena(
  name: string,
  base: TensorData,
  hasher: ModelHasher,
  columns: readonly (Uint32Array | Uint16Array | Uint8Array)[],
  scratch: number,
  start: (arena: Arena) => ChunkWrite,
): TensorData | null {
  const positions = columns[0] as Uint32Array;
  const n = base.length;
  const width = base.BYTES_PER_ELEMENT;
  const chunk = Math.max(1, Math.min(n, Math.floor(ARENA_CHUNK_BYTES / width)));
  const chunks = Math.ceil(n / chunk);
  // One chunk: the kernel refuses a change past the end and names the first (positions may be out of order).
  if (chunks !== 1) {
    const inRange = firstAtOrAbove(positions, 0, n);
    if (inRange < positions.length)
      throw new WrongBaseError(`tensor ${name}: change ${inRange} is beyond ${n} elements`);
  }
  // Positions rise when there is more than one chunk, so no chunk has more changes than values.
  const most = Math.min(positions.length, chunk);
  const headerRoom = hasher.headerRoom;
  let need = headerRoom + arenaBytes(chunk * width) + arenaBytes(scratch) + arenaBytes(XXH3_STATE_BYTES);
  for (const c of columns) need += arenaBytes(most * c.BYTES_PER_ELEMENT);
  const arena = Arena.for(need);
  if (arena === null) return null;
  const data = arena.alloc(headerRoom + chunk * width) + headerRoom;
  const at = columns.map((c) => arena.alloc(most * c.BYTES_PER_ELEMENT));
  const hashState = arena.alloc(XXH3_STATE_BYTES);
  const write = start(arena);
  // Typed views of the arena (cached by it) and whole columns where the tensor is one chunk: no new views per
  // tensor, which were most of what apply left for the young generation's collector.
  const wide = width === 4;
  const values = wide ? arena.u32 : arena.u16;
  // A new array, then set() a chunk at a time: same process, alternating, median of 2000 applies of the quick
  // model, the copy out took 79–93 µs this way for a whole tensor, 96–110 with the copying constructor
  // (new Uint16Array(view)) and 84–98 with ArrayBuffer slice(), in every case tried.
  let out: Uint16Array | Uint32Array | null = null;
  const view = values.subarray(data / width, data / width + chunk);
  for (let c = 0, from = 0; c < chunks; c++) {
    const first = c * chunk;
    const last = Math.min(n, first + chunk);
    const to = chunks === 1 ? positions.length : firstAtOrAbove(positions, from, last);
    values.set(chunks === 1 ? base : base.subarray(first, last), data / width);
    if (to > from) {
      columns.forEach((col, i) =>
        viewOf(arena, col).set(chunks === 1 ? col : col.subarray(from, to), at[i]! / col.BYTES_PER_ELEMENT),
      );
      write((data - first * width) | 0, last, at, to - from, from);
    }
    hasher.updateInPlace(arena, hashState, data, (last - first) * width); // the first chunk with the tensor's header
    // Allocated once the first chunk is hashed: before the copy in, it measured ~3% slower (quick bench model).
    out ??= wide ? new Uint32Array(n) : new Uint16Array(n);
    out.set(last - first === chunk ? view : view.subarray(0, last - first), first);
    from = to;
  }
  if (chunks === 0) hasher.updateInPlace(arena, hashState, data, 0);
  return out ?? (wide ? new Uint32Array(0) : new Uint16Array(0));
}

/** The arena's view with `col`'s element type. */
function viewOf(arena: Arena, col: Uint32Array | Uint16Array | Uint8Array): Uint32Array | Uint16Array | Uint8Array {
  return col instanceof Uint32Array ? arena.u32 : col instanceof Uint16Array ? arena.u16 : arena.u8;
}

/** The first index in [from, positions.length) whose position is at least `bound` (positions sorted). */
function firstAtOrAbove(positions: Uint32Array, from: number, bound: number): number {
  let lo = from;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid]! < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
