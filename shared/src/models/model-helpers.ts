import { InputMismatchError } from '../tensor/errors';
import type { Float32Tensor, TensorMap } from '../tensor/types';

/** The float32 input `name` and its row count, or a typed error naming it. */
export function float32Input(inputs: TensorMap, name: string): { data: Float32Array; rows: number } {
  const t = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
  if (!t) throw new InputMismatchError('missing-input', name, `input "${name}" is missing`);
  if (t.dtype !== 'float32')
    throw new InputMismatchError('wrong-dtype', name, `input "${name}": expected dtype float32, got ${t.dtype}`);
  return { data: t.data, rows: t.dims[0] ?? 0 };
}

export function float32Tensor(dims: number[], data: Float32Array): Float32Tensor {
  return { dtype: 'float32', dims, data };
}

/** Builds once, hands out copies: callers may transfer or mutate the bytes. */
export function memoBytes(build: () => Uint8Array): () => Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array | undefined;
  return () => (bytes ??= build()).slice();
}
