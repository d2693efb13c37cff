/**
 * onnx-proto is CommonJS (`module.exports = $root`); a default import works
 * the same under Node's ESM loader, Vite and vitest, where a named import does not.
 */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';

/** protobufjs decodes int64 fields as number or Long depending on the `long` package. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { toNumber?: unknown }).toNumber === 'function') {
    return (value as { toNumber(): number }).toNumber();
  }
  return 0;
}
