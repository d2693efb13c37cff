/**
 * Tensors as plain data: a dtype tag, dims, and a typed array in C order.
 * Structured-clone friendly, so the same value crosses postMessage, IndexedDB
 * and the wire without conversion.
 */

export const DTYPES = ['float32', 'float64', 'int32', 'int64', 'int8', 'uint8'] as const;
export type DType = (typeof DTYPES)[number];

export interface TypedArrayByDType {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  int8: Int8Array;
  uint8: Uint8Array;
}

/** A discriminated union, so `if (t.dtype === 'float32') t.data` is a Float32Array. */
export type Tensor = { [D in DType]: { dtype: D; dims: readonly number[]; data: TypedArrayByDType[D] } }[DType];
export type TensorOf<D extends DType> = Extract<Tensor, { dtype: D }>;
export type Float32Tensor = TensorOf<'float32'>;
export type TensorMap = Record<string, Tensor>;

/** A symbolic dim is a name (e.g. "N") shared by every input that uses it; "?" is an unnamed unknown. */
export type Dim = number | string;

/** A model input or output as the model declares it. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  dims: readonly Dim[];
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  int8: 1,
  uint8: 1,
};

type TypedArrayCtor<D extends DType> = {
  new (length: number): TypedArrayByDType[D];
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TypedArrayByDType[D];
};

export const TYPED_ARRAY_CTOR: { [D in DType]: TypedArrayCtor<D> } = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int8: Int8Array,
  uint8: Uint8Array,
};

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}
