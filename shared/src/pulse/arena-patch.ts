/**
 * A whole tensor patched in a WebAssembly arena, then hashed where it lies:
 * apply's path for sparse tensors that fit an arena, whose changes a kernel
 * writes (applyUlp*, applyRaw*, applyScaled* in shared/assembly/pulse.ts).
 * It copies as much as the JS path does (the base in, the result out, where
 * that path copies the base and then the result into the arena to hash it).
 */

import type { ModelHasher } from './hash';
import { Arena, arenaBytes } from './kernels';
import type { TensorData } from './types';
import { XXH3_STATE_BYTES } from './xxh3';

/** Writes the changes over the values at `data`, given where `columns` were copied; throws a PulseError if they do not apply. */
export type ArenaWrite = (arena: Arena, data: number, columns: readonly number[]) => void;

/**
 * The patched values, or null (nothing hashed, nothing written) when the
 * tensor is too large for an arena. `hasher` has had the tensor's header: it
 * is laid out right before the values and hashed with them in one call (a
 * kernel trip for the header alone cost ~2 µs a tensor). `write` may allocate
 * `scratch` more bytes (the sum of its allocations, each rounded up to 8). The
 * base is never written.
 */
export function patchInArena(base: TensorData, hasher: ModelHasher, columns: readonly ArrayBufferView[], scratch: number, write: ArenaWrite): TensorData | null {
  const header = hasher.pendingHeader ?? new Uint8Array(0);
  const headerRoom = arenaBytes(header.length);
  let need = headerRoom + arenaBytes(base.byteLength) + arenaBytes(scratch) + arenaBytes(XXH3_STATE_BYTES);
  for (const c of columns) need += arenaBytes(c.byteLength);
  const arena = Arena.for(need);
  if (arena === null) return null;
  hasher.takeHeader();
  const data = arena.alloc(headerRoom + base.byteLength) + headerRoom;
  const at = columns.map((c) => arena.alloc(c.byteLength));
  const hashState = arena.alloc(XXH3_STATE_BYTES);
  const u8 = arena.u8;
  u8.set(header, data - header.length);
  u8.set(new Uint8Array(base.buffer, base.byteOffset, base.byteLength), data);
  columns.forEach((c, i) => u8.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at[i]!));
  write(arena, data, at);
  const { k } = arena;
  hasher.updateInPlace(k, hashState, data - header.length, header.length + base.byteLength);
  // A new array, then set(): same process, alternating, median of 2000 applies of the quick bench model, the
  // copy out took 79–93 µs this way, 96–110 with the copying constructor (new Uint16Array(view)) and 84–98
  // with ArrayBuffer slice(), in every case tried (bf16 0.5%, 1%, 5%, sign flips, f16; f32 178 vs 186).
  if (base instanceof Uint32Array) {
    const out = new Uint32Array(base.length);
    out.set(new Uint32Array(k.memory.buffer, data, base.length));
    return out;
  }
  const out = new Uint16Array(base.length);
  out.set(new Uint16Array(k.memory.buffer, data, base.length));
  return out;
}
