/**
 * Which rANS stream of a body carries which symbols (layout in payload.ts),
 * shared by the JS coder and the WebAssembly one (payload-wasm.ts).
 *
 * Streams: 0 gaps; dtype code c has its delta stream at 2c − 1 and its head stream at 2c; 7 runs;
 * 7 + c the scaled deltas of dtype c (format 3).
 */

import { BUCKET_SYMBOLS } from './buckets';
import type { ByteWriter } from './bytes';
import { BUCKET_MANTISSA_BITS } from './constants';
import { DTYPES, type DType, type TensorPatch } from './types';

export const STREAM_COUNT = 11;
export const GAP_STREAM = 0;
export const RUN_STREAM = 7;
export const deltaStream = (dtype: DType): number => 2 * DTYPES[dtype].code - 1;
export const headStream = (dtype: DType): number => 2 * DTYPES[dtype].code;
export const scaledStream = (dtype: DType): number => RUN_STREAM + DTYPES[dtype].code;
const DTYPE_BY_CODE: readonly (DType | null)[] = [null, 'bf16', 'f16', 'f32'];

/** Symbols of a scaled stream (scaled.ts): 2 · (bucket + 2^M · exponent) + flip, exponents 0 .. 2^exponentBits − 1. */
export function scaledAlphabet(dtype: DType): number {
  return 2 * (BUCKET_SYMBOLS + (((1 << DTYPES[dtype].exponentBits) - 1) << BUCKET_MANTISSA_BITS));
}

export function alphabetOf(stream: number): number {
  if (stream === GAP_STREAM || stream === RUN_STREAM) return BUCKET_SYMBOLS;
  if (stream > RUN_STREAM) return scaledAlphabet(DTYPE_BY_CODE[stream - RUN_STREAM]!);
  if (stream % 2 === 1) return 2 * BUCKET_SYMBOLS;
  const info = DTYPES[DTYPE_BY_CODE[stream / 2]!];
  return 1 << (1 + info.exponentBits);
}

export interface CodedLayout {
  readonly dtype: DType;
  readonly kind: TensorPatch['kind'];
  readonly count: number;
  readonly runs: boolean;
}

/** Which streams carry symbols, and (except runs, whose count the header does not say) how many. */
export function streamCounts(items: readonly CodedLayout[]): number[] {
  const counts = new Array<number>(STREAM_COUNT).fill(0);
  for (const { dtype, kind, count, runs } of items) {
    if (kind !== 'full') counts[runs ? RUN_STREAM : GAP_STREAM]! += runs ? 2 * count : count;
    counts[kind === 'ulp' ? deltaStream(dtype) : kind === 'scaled' ? scaledStream(dtype) : headStream(dtype)]! += count;
  }
  return counts;
}

/** Each scaled tensor's raw bits (its own byte string: how many bits a change has is known only at apply), in tensor order. */
export function writeScaledLow(w: ByteWriter, tensors: readonly TensorPatch[]): void {
  for (const t of tensors) {
    if (t.kind !== 'scaled' || t.positions.length === 0) continue;
    w.varint(t.low.length);
    w.raw(t.low);
  }
}
