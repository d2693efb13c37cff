/**
 * Row slicing and assembly of row-major tensors along the batch (first) dimension.
 * Works on raw bytes so it serves every dtype.
 */
import { dtypeBytes, type RawTensor } from '../protocol/peer';

export type { RawTensor };

export function rowBytes(tensor: Pick<RawTensor, 'dtype' | 'dims'>): number {
  return tensor.dims.slice(1).reduce((a, b) => a * b, 1) * dtypeBytes(tensor.dtype);
}

export function sliceRows(tensor: RawTensor, start: number, end: number): RawTensor {
  const rows = tensor.dims[0] ?? 0;
  if (start < 0 || end > rows || start > end)
    throw new RangeError(`rows [${start}, ${end}) outside tensor "${tensor.name}" of ${rows} rows`);
  const stride = rowBytes(tensor);
  return {
    ...tensor,
    dims: [end - start, ...tensor.dims.slice(1)],
    bytes: tensor.bytes.slice(start * stride, end * stride),
  };
}

/** Concatenates per-unit tensors (in unit order) back into one. All parts must agree on name, dtype and trailing dims. */
export function concatRows(parts: readonly RawTensor[]): RawTensor {
  const first = parts[0];
  if (!first) throw new RangeError('nothing to concatenate');
  const trailing = first.dims.slice(1).join(',');
  let rows = 0;
  let total = 0;
  for (const part of parts) {
    if (part.dtype !== first.dtype || part.dims.slice(1).join(',') !== trailing) {
      throw new RangeError(
        `unit output "${part.name}" has shape [${part.dims.join(', ')}] ${part.dtype}, expected [*, ${trailing}] ${first.dtype}`,
      );
    }
    rows += part.dims[0] ?? 0;
    total += part.bytes.length;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part.bytes, offset);
    offset += part.bytes.length;
  }
  return { name: first.name, dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], bytes };
}
