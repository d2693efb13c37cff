import { TensorError } from './errors';
import { MAX_RANK, MAX_TENSOR_BYTES } from './constants';
import {
  BYTES_PER_ELEMENT,
  TYPED_ARRAY_CTOR,
  type DType,
  type Tensor,
  type TensorOf,
  type TypedArrayByDType,
} from './types';

/** Element count of `dims`; throws on negative, fractional or absurd dims. */
export function elementCount(dims: readonly number[]): number {
  if (dims.length > MAX_RANK)
    throw new TensorError('bad-shape', `rank ${dims.length} exceeds the limit of ${MAX_RANK}`);
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new TensorError('bad-shape', `dimension ${String(d)} is not a non-negative integer`);
    n *= d;
    if (!Number.isSafeInteger(n))
      throw new TensorError('too-large', `shape [${dims.join(', ')}] has too many elements`);
  }
  return n;
}

/** Throws `too-large` when a tensor of this shape would exceed `maxBytes`; call before allocating. */
export function assertTensorFits(dtype: DType, dims: readonly number[], maxBytes = MAX_TENSOR_BYTES): number {
  const count = elementCount(dims);
  const bytes = count * BYTES_PER_ELEMENT[dtype];
  if (bytes > maxBytes) {
    throw new TensorError(
      'too-large',
      `tensor [${dims.join(', ')}] ${dtype} needs ${formatBytes(bytes)}, over the ${formatBytes(maxBytes)} limit; split it into smaller files`,
    );
  }
  return count;
}

/** A zero-filled tensor, or one wrapping `data` (whose length must match). */
export function createTensor<D extends DType>(
  dtype: D,
  dims: readonly number[],
  data?: TypedArrayByDType[D],
): TensorOf<D> {
  const count = assertTensorFits(dtype, dims);
  const values = data ?? new TYPED_ARRAY_CTOR[dtype](count);
  if (values.length !== count)
    throw new TensorError('bad-shape', `shape [${dims.join(', ')}] needs ${count} values, got ${values.length}`);
  return { dtype, dims: [...dims], data: values } as unknown as TensorOf<D>;
}

/** Rows [start, end) along dim 0, copied (so the slice can be transferred to a worker). */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const rows = t.dims[0];
  if (rows === undefined) throw new TensorError('bad-shape', 'cannot slice rows of a scalar');
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= rows)) {
    throw new TensorError('bad-shape', `row range [${start}, ${end}) is outside 0..${rows}`);
  }
  const rowSize = rows === 0 ? 0 : t.data.length / rows;
  const data = t.data.slice(start * rowSize, end * rowSize);
  return { dtype: t.dtype, dims: [end - start, ...t.dims.slice(1)], data } as Tensor;
}

/** Joins tensors along dim 0; all must share dtype and trailing dims. */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new TensorError('bad-shape', 'nothing to concatenate');
  const tail = first.dims.slice(1).join(',');
  let rows = 0;
  let length = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.slice(1).join(',') !== tail) {
      throw new TensorError(
        'bad-shape',
        `cannot concatenate ${p.dtype}[${p.dims.join(', ')}] with ${first.dtype}[${first.dims.join(', ')}]`,
      );
    }
    rows += p.dims[0] ?? 0;
    length += p.data.length;
  }
  const out = new TYPED_ARRAY_CTOR[first.dtype](length);
  let offset = 0;
  for (const p of parts) {
    (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], data: out } as Tensor;
}

export interface CloseResult {
  ok: boolean;
  /** Largest |a−b| found, and where (flat index), for a useful failure message. */
  maxAbsDiff: number;
  worstIndex: number;
  message: string;
}

/**
 * Element-wise |a−b| ≤ atol + rtol·|b| over two tensors of the same shape.
 * NaN equals NaN only at the same position. Used to compare providers' results
 * with a local reference.
 */
export function compareTensors(a: Tensor, b: Tensor, atol = 1e-5, rtol = 1e-4): CloseResult {
  const shapeA = `${a.dtype}[${a.dims.join(', ')}]`;
  const shapeB = `${b.dtype}[${b.dims.join(', ')}]`;
  if (shapeA !== shapeB || a.data.length !== b.data.length) {
    return { ok: false, maxAbsDiff: Infinity, worstIndex: -1, message: `shape differs: ${shapeA} vs ${shapeB}` };
  }
  let maxAbsDiff = 0;
  let worstIndex = -1;
  let ok = true;
  for (let i = 0; i < a.data.length; i++) {
    const x = Number(a.data[i]);
    const y = Number(b.data[i]);
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) {
        ok = false;
        maxAbsDiff = Infinity;
        worstIndex = i;
      }
      continue;
    }
    const diff = Math.abs(x - y);
    if (diff > maxAbsDiff) {
      maxAbsDiff = diff;
      worstIndex = i;
    }
    if (diff > atol + rtol * Math.abs(y)) ok = false;
  }
  const message = ok
    ? `equal within atol ${atol}, rtol ${rtol} (max |diff| ${maxAbsDiff.toExponential(2)})`
    : `differs at index ${worstIndex}: ${String(a.data[worstIndex])} vs ${String(b.data[worstIndex])} (max |diff| ${maxAbsDiff.toExponential(2)})`;
  return { ok, maxAbsDiff, worstIndex, message };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
