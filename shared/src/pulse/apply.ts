/**
 * apply(base, patch): builds a new model and proves it by hash. The base is
 * only read; on any failure nothing the caller holds has changed.
 */

import { hashModel, hashToHex, hashesEqual, modelHasher, readyModelHasher, type ModelHasher } from './hash';
import { HashMismatchError, InvalidModelError, WrongBaseError } from './errors';
import { validateModel } from './model';
import { ARENA_CHUNK_BYTES, patchInArena } from './arena-patch';
import { applyScaledInArena, ScaledWriter } from './scaled';
import { applyConditioned } from './conditioned-apply';
import {
  allocData,
  changeColumnsAligned,
  decodedColumns,
  type Model,
  type ModelHash,
  type Patch,
  type RawTensorPatch,
  type Tensor,
  type TensorData,
  type TensorPatch,
  type UlpTensorPatch,
} from './types';

export interface ApplyOptions {
  /**
   * The hash of `base` if the caller already knows it (e.g. from its cache
   * index). Without it, apply hashes the base to check it is the one the
   * patch was diffed against.
   */
  readonly baseHash?: ModelHash;
}

export async function apply(base: Model | null, patch: Patch, options: ApplyOptions = {}): Promise<Model> {
  let byName = new Map<string, Tensor>();
  if (patch.baseHash !== null) {
    if (base === null) throw new WrongBaseError(`patch needs base ${hashToHex(patch.baseHash)}, none given`);
    validateModel(base);
    const actual = options.baseHash ?? (await hashModel(base));
    if (!hashesEqual(actual, patch.baseHash)) {
      throw new WrongBaseError(`patch is against ${hashToHex(patch.baseHash)}, base is ${hashToHex(actual)}`);
    }
    byName = new Map(base.tensors.map((t) => [t.name, t]));
  }
  // Each block is hashed right after it is patched, while it is in cache (no await until digest: see ModelHasher).
  const hasher = readyModelHasher() ?? (await modelHasher());
  hasher.begin();
  const tensors = patch.tensors.map((t) => applyTensor(byName.get(t.name), t, hasher));
  const result: Model = { tensors };
  const resultHash = hasher.digest();
  if (!hashesEqual(resultHash, patch.resultHash))
    throw new HashMismatchError(hashToHex(patch.resultHash), hashToHex(resultHash));
  return result;
}

/**
 * Elements per step of the copy-and-patch pass: a block of the base is copied
 * and its changes land while it is still in cache. Slicing the whole tensor
 * first and scattering after measured ~70 ns per change at 1% changed (each
 * change a cache miss), more than the copy itself.
 */
const APPLY_BLOCK = 1 << 13;

/**
 * Where changes in order cannot go through a WebAssembly arena (arena-patch.ts),
 * tensors of at most this many bytes are copied whole by a copying
 * constructor (no zero fill first; copying the quick bench model's tensors
 * this way took 0.078–0.088 ms against slice()'s 0.094–0.101), then patched
 * and hashed while still in cache; larger ones go block by block. Same process, median of 300 (quick)
 * or 40 (full), apply alone on these JS loops, whole-copy limit 0 / 256 KiB / 1 MiB / 4 MiB:
 * bf16 1% quick 0.330 / 0.306 / 0.295 / 0.290 ms, f32 1% quick 0.797 /
 * 0.723 / 0.686 / 0.717, bf16 1% full 2.40 / 2.26 / 2.12 / 2.48, f32 1% full
 * 5.82 / 5.75 / 5.70 / 5.65 (16 MiB: 6.44).
 */
const WHOLE_COPY_MAX_BYTES = 1 << 20;

/** Values hashed per call: blocks patched since the last call are still in L2, and the per-call cost (state in and out of the kernel) stays small. */
const HASH_SPAN = 1 << 17;

/** Writes changes [from, to) of a sparse tensor patch into `data`, which holds the base values at their positions. */
type ChangeRange = (data: TensorData, from: number, to: number) => void;

function applyTensor(old: Tensor | undefined, t: TensorPatch, hasher: ModelHasher): Tensor {
  const header = { name: t.name, dtype: t.dtype, shape: [...t.shape] };
  hasher.tensor(header);
  if (t.kind === 'full') {
    hasher.update(t.data);
    return { name: header.name, dtype: header.dtype, shape: header.shape, data: t.data.slice() };
  }
  if (
    old === undefined ||
    old.dtype !== t.dtype ||
    old.shape.length !== t.shape.length ||
    old.shape.some((d, i) => d !== t.shape[i])
  ) {
    throw new WrongBaseError(
      `base has no ${t.dtype} tensor ${JSON.stringify(t.name)} of shape [${t.shape.join(', ')}]`,
    );
  }
  const base = old.data;
  if (t.kind === 'conditioned') {
    const data = base.slice();
    applyConditioned(t.name, t.dtype, data, t.changes, t.coded);
    hasher.update(data);
    return { name: header.name, dtype: header.dtype, shape: header.shape, data };
  }
  const n = base.length;
  const positions = t.positions;
  const count = positions.length;
  // Hand-made patches: every change column as long as the positions (encode checks the same). The arena
  // copies each column into a slot sized by the positions.
  if (!changeColumnsAligned(t)) throw new InvalidModelError(`tensor ${t.name}: ragged change arrays`);
  // One tight pass before anything is written: hand-made patches need not be sorted or in range. Decode's
  // columns are both (decodedColumns) unless the caller changed them since, which matters only when the tensor
  // is patched in more than one chunk or block: in one arena chunk each change lands wherever it falls and one
  // past the end is refused (arena-patch.ts), in the JS whole-copy pass (no WebAssembly) it is dropped, and
  // either way the result hash covers what is returned.
  let sorted = true;
  if (!(decodedColumns.has(positions.buffer) && base.byteLength <= Math.min(ARENA_CHUNK_BYTES, WHOLE_COPY_MAX_BYTES))) {
    let max = -1;
    for (let i = 0; i < count; i++) {
      const p = positions[i]!;
      if (p > max) max = p;
      else sorted = false;
    }
    if (max >= n) throw new WrongBaseError(`tensor ${t.name}: position ${max} beyond ${n} elements`);
  }
  if (sorted) {
    // Written by a kernel and hashed in a WebAssembly arena, a chunk at a time (else the JS loops below).
    const data =
      t.kind === 'scaled'
        ? applyScaledInArena(t.name, t.dtype, base, positions, t.symbols, t.low, hasher)
        : applyInArena(t, base, hasher);
    if (data !== null) return { name: header.name, dtype: header.dtype, shape: header.shape, data };
  }
  const wholeCopy = base.byteLength <= WHOLE_COPY_MAX_BYTES;
  let finish = (): void => {};
  let write: ChangeRange;
  if (t.kind === 'raw') write = rawRange(positions, t.bits);
  else if (t.kind === 'scaled') {
    // Each change reads its old exponent in `data` and writes its new value there.
    const scaled = new ScaledWriter(t.name, t.dtype, positions, t.symbols, t.low);
    write = (data, from, to) => scaled.write(data, from, to);
    finish = () => scaled.finish();
  } else write = ulpRange(base, positions, t.signFlips, t.magnitudeDeltas);
  let data: TensorData;
  if (!sorted) {
    data = base.slice();
    // One change at a time: a repeated position sees the value its previous change wrote (a scaled change reads its exponent there).
    for (let i = 0; i < count; i++) write(data, i, i + 1);
    hasher.update(data);
  } else if (wholeCopy) {
    data = base instanceof Uint16Array ? new Uint16Array(base) : new Uint32Array(base);
    write(data, 0, count);
    hasher.update(data);
  } else {
    data = allocData(t.dtype, n);
    let i = 0;
    let hashed = 0;
    for (let start = 0; start < n; start += APPLY_BLOCK) {
      const end = Math.min(n, start + APPLY_BLOCK);
      data.set(base.subarray(start, end), start);
      let j = i;
      while (j < count && positions[j]! < end) j++;
      if (j > i) write(data, i, j);
      i = j;
      if (end - hashed >= HASH_SPAN || end === n) {
        hasher.update(data.subarray(hashed, end));
        hashed = end;
      }
    }
  }
  finish();
  return { name: header.name, dtype: header.dtype, shape: header.shape, data };
}

/**
 * A tensor's ulp or raw changes written in an arena, a chunk at a time, by the
 * applyUlp and applyRaw kernels, which mirror ulpRange and rawRange
 * (arena-patch.ts); null when there is no arena.
 */
function applyInArena(t: UlpTensorPatch | RawTensorPatch, base: TensorData, hasher: ModelHasher): TensorData | null {
  const n = base.length;
  const wide = base instanceof Uint32Array;
  const columns = t.kind === 'ulp' ? [t.positions, t.signFlips, t.magnitudeDeltas] : [t.positions, t.bits];
  return patchInArena(t.name, base, hasher, columns, 0, ({ k }) => (shifted, last, [positions, a, b], count, from) => {
    const written =
      t.kind === 'ulp'
        ? (wide ? k.applyUlp32 : k.applyUlp16)(shifted, last, positions!, a!, b!, count)
        : (wide ? k.applyRaw32 : k.applyRaw16)(shifted, last, positions!, a!, count);
    if (written < count) throw new WrongBaseError(`tensor ${t.name}: change ${from + written} is beyond ${n} elements`);
  });
}

function rawRange(positions: Uint32Array, bits: Uint32Array): ChangeRange {
  return (data, from, to) => {
    for (let i = from; i < to; i++) data[positions[i]!] = bits[i]!;
  };
}

function ulpRange(base: TensorData, positions: Uint32Array, flips: Uint8Array, deltas: Uint32Array): ChangeRange {
  return base instanceof Uint16Array ? ulp16Range(positions, flips, deltas) : ulp32Range(positions, flips, deltas);
}

function ulp16Range(positions: Uint32Array, flips: Uint8Array, deltas: Uint32Array): ChangeRange {
  return (data, from, to) => {
    for (let i = from; i < to; i++) {
      const p = positions[i]!;
      const o = data[p]!;
      data[p] = ((o ^ (flips[i]! << 15)) & 0x8000) | (((o & 0x7fff) + deltas[i]!) & 0x7fff);
    }
  };
}

function ulp32Range(positions: Uint32Array, flips: Uint8Array, deltas: Uint32Array): ChangeRange {
  return (data, from, to) => {
    for (let i = from; i < to; i++) {
      const p = positions[i]!;
      const o = data[p]!;
      // Uint32Array stores the low 32 bits, so signed intermediate results are fine.
      data[p] = ((o ^ (flips[i]! << 31)) & 0x80000000) | (((o & 0x7fffffff) + deltas[i]!) & 0x7fffffff);
    }
  };
}
