/**
 * PULSE data model. A model is an ordered list of named tensors whose values are
 * kept as raw IEEE bit patterns, so every comparison and every copy is exact
 * (±0, NaN payloads, infinities and subnormals survive untouched).
 */

export type DType = 'bf16' | 'f16' | 'f32';

/** bf16 and f16 values live in Uint16Array, f32 in Uint32Array (bit patterns, little-endian in memory). */
export type TensorData = Uint16Array | Uint32Array;

export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export interface Model {
  readonly tensors: readonly Tensor[];
}

/** 16-byte xxh3-128 content hash of a model (see hash.ts for what is hashed). */
export type ModelHash = Uint8Array;

interface TensorPatchHeader {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** The whole tensor is carried (new tensor, changed shape/dtype, or a snapshot). */
export interface FullTensorPatch extends TensorPatchHeader {
  readonly kind: 'full';
  readonly data: TensorData;
}

/**
 * Changed positions with values relative to the old ones: for each position,
 * whether the sign bit flips and the change of the magnitude bits (all bits but
 * the sign) in units in the last place, stored modulo 2^(width−1).
 */
export interface UlpTensorPatch extends TensorPatchHeader {
  readonly kind: 'ulp';
  /** Flat row-major indices, strictly increasing. */
  readonly positions: Uint32Array;
  readonly signFlips: Uint8Array;
  readonly magnitudeDeltas: Uint32Array;
}

/** Changed positions with their new bit patterns (chosen when values moved too far for ulp deltas to pay). */
export interface RawTensorPatch extends TensorPatchHeader {
  readonly kind: 'raw';
  readonly positions: Uint32Array;
  readonly bits: Uint32Array;
}

/**
 * Ulp deltas coded relative to the old value's binade: when updates move
 * values by about the same amount in value space (Adam's steps on f32
 * weights), the delta in ulps grows as the old value's exponent shrinks, so a
 * symbol that adds the old exponent to the delta's bucket is concentrated
 * where the plain bucket is spread over many octaves. How many raw bits each
 * change has follows from the base, so they stay packed until apply.
 */
export interface ScaledTensorPatch extends TensorPatchHeader {
  readonly kind: 'scaled';
  readonly positions: Uint32Array;
  /** Per change: 2 · (bucket of the zig-zagged delta + 2^BUCKET_MANTISSA_BITS · old biased exponent) + sign flip. */
  readonly symbols: Uint16Array;
  /** The buckets' raw low bits, MSB first, in change order, zero-padded to a byte. */
  readonly low: Uint8Array;
}

/**
 * Changes coded given the base (conditioned.ts): each old value's exponent
 * selects the tables its position gap and its ulp delta are coded with, so
 * where and how far small optimiser steps move bf16 weights costs what it
 * costs given the values the receiver holds. Positions follow only from the
 * base, so the coded bytes stay packed until apply.
 */
export interface ConditionedTensorPatch extends TensorPatchHeader {
  readonly kind: 'conditioned';
  /** Changed positions (the header's count). */
  readonly changes: number;
  readonly coded: Uint8Array;
}

export type TensorPatch =
  | FullTensorPatch
  | UlpTensorPatch
  | RawTensorPatch
  | ScaledTensorPatch
  | ConditionedTensorPatch;

/** The kinds whose symbols go through the container's shared streams (payload.ts): all but conditioned, which codes its own. */
export type StreamedTensorPatch = Exclude<TensorPatch, ConditionedTensorPatch>;

/** Whether each change column of a sparse tensor patch is as long as its positions (hand-made patches need not be). */
export function changeColumnsAligned(t: UlpTensorPatch | RawTensorPatch | ScaledTensorPatch): boolean {
  const n = t.positions.length;
  return t.kind === 'raw'
    ? t.bits.length === n
    : t.kind === 'scaled'
      ? t.symbols.length === n
      : t.signFlips.length === n && t.magnitudeDeltas.length === n;
}

/**
 * Buffers that hold position columns made by decode: strictly increasing and
 * inside their tensor (both decoders check as they go), so apply need not
 * scan them again where that is safe (apply.ts). Hand-made patches are not in
 * it. One entry per buffer, not per column: the kernel decoder's columns share
 * one buffer, and 18 WeakSet adds (one per tensor of the quick bench model)
 * cost ~9 µs of a ~130 µs decode (f32 and bf16 1%, same process, alternating).
 * A view a caller makes over other bytes of such a buffer passes as decoded;
 * apply skips the scan only where that cannot matter (whole-copied tensors).
 */
export const decodedColumns = new WeakSet<ArrayBufferLike>();

/** Sparse kinds: a list of changed positions and one value per change. */
export type SparseTensorPatch = UlpTensorPatch | RawTensorPatch | ScaledTensorPatch;

/**
 * A patch turns the model hashing to `baseHash` into the model hashing to
 * `resultHash`. With `baseHash === null` it is a full snapshot (an anchor).
 * The result's tensors are exactly `tensors`, in order; a sparse entry takes
 * the unchanged values from the base tensor of the same name.
 */
export interface Patch {
  readonly baseHash: ModelHash | null;
  readonly resultHash: ModelHash;
  readonly tensors: readonly TensorPatch[];
}

export interface DTypeInfo {
  readonly code: number;
  readonly width: 16 | 32;
  readonly exponentBits: number;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  bf16: { code: 1, width: 16, exponentBits: 8 },
  f16: { code: 2, width: 16, exponentBits: 5 },
  f32: { code: 3, width: 32, exponentBits: 8 },
};

export function dtypeFromCode(code: number): DType | null {
  if (code === 1) return 'bf16';
  if (code === 2) return 'f16';
  if (code === 3) return 'f32';
  return null;
}

export function allocData(dtype: DType, length: number): TensorData {
  return DTYPES[dtype].width === 16 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Product of dims, or -1 if any dim is not a non-negative safe integer or the product overflows `max`. */
export function elementCount(shape: readonly number[], max: number): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return -1;
    n *= d;
    if (n > max) return -1;
  }
  return n;
}
