/**
 * The result shape the trust core compares and hashes. Structurally the same as
 * `shared/src/tensor`'s Tensor ({dtype, dims, data}), declared here so the trust
 * core depends on nothing but bytes and identity.
 */
import { sha256Hex } from '../bytes';
import { DOMAIN } from './constants';
import { encodeCanonical } from './encoding';

export type ResultTensor =
  | { dtype: 'float32'; dims: readonly number[]; data: Float32Array }
  | { dtype: 'float64'; dims: readonly number[]; data: Float64Array }
  | { dtype: 'int32'; dims: readonly number[]; data: Int32Array }
  | { dtype: 'int64'; dims: readonly number[]; data: BigInt64Array }
  | { dtype: 'int8'; dims: readonly number[]; data: Int8Array }
  | { dtype: 'uint8'; dims: readonly number[]; data: Uint8Array };

/** A unit's outputs, in the model's output order. */
export type UnitOutputs = readonly ResultTensor[];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor's elements as little-endian bytes (the wire order), whatever the platform. */
export function tensorBytesLE(tensor: ResultTensor): Uint8Array {
  const data = tensor.data;
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(view.length);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < view.length; i += width) for (let k = 0; k < width; k++) out[i + k] = view[i + width - 1 - k]!;
  return out;
}

/** Canonical bytes of a unit's outputs: dtype, dims and data of each tensor, domain-separated. */
export function outputsBytes(outputs: UnitOutputs): Uint8Array {
  const fields: (string | number | Uint8Array)[] = [outputs.length];
  for (const t of outputs) {
    fields.push(t.dtype, t.dims.length, ...t.dims, tensorBytesLE(t));
  }
  return encodeCanonical(DOMAIN.tensor, fields);
}

/** SHA-256 (lowercase hex, as on the peer wire) of a unit's outputs or inputs. */
export function hashOutputs(outputs: UnitOutputs): Promise<string> {
  return sha256Hex(outputsBytes(outputs));
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
