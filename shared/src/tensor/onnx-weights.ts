/**
 * An ONNX model as a PULSE model plus the rest. The float initializers
 * (float32, float16, bfloat16) are the weights a new version changes: they
 * become PULSE tensors (bit patterns, so every value survives exactly) and
 * travel as patches. Everything else — the graph, integer initializers,
 * metadata — is `frame`: the ModelProto with those tensors' values taken out,
 * sent whole and compared byte for byte, so two versions of one model share
 * it. `joinOnnx(splitOnnx(bytes))` is the same model (weights stored as
 * little-endian raw data), and splitting that again gives the same parts.
 */
import type { Model, Tensor } from '../pulse/types';
import { MAX_MODEL_BYTES } from './constants';
import { OnnxModelError } from './errors';
import { onnx, toNumber, type OnnxTypes } from './onnx-proto';
import { formatBytes } from './tensor';

export interface OnnxParts {
  /** The float initializers, in the model's order. */
  weights: Model;
  /** The ModelProto with those initializers' values removed (names, dims and types kept). */
  frame: Uint8Array;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const BFLOAT16 = onnx.TensorProto.DataType.BFLOAT16;

function decodeModel(bytes: Uint8Array, maxBytes: number): OnnxTypes.ModelProto {
  if (bytes.length > maxBytes)
    throw new OnnxModelError(
      'too-large',
      `model is ${formatBytes(bytes.length)}, over the ${formatBytes(maxBytes)} limit; quantize or prune it first`,
    );
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    throw new OnnxModelError('not-onnx', 'this file is not an ONNX model');
  }
  if (!model.graph) throw new OnnxModelError('not-onnx', 'this file is not an ONNX model');
  return model;
}

function elementsOf(t: OnnxTypes.ITensorProto): number {
  return (t.dims ?? []).reduce<number>((n, d) => n * toNumber(d), 1);
}

/** The initializer's values as bit patterns, from whichever field the exporter used. */
function bitsOf(t: OnnxTypes.ITensorProto): Uint16Array | Uint32Array {
  const name = t.name ?? '';
  const count = elementsOf(t);
  const wide = t.dataType === FLOAT;
  const bytesPer = wide ? 4 : 2;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== count * bytesPer)
      throw new OnnxModelError('not-onnx', `initializer "${name}" has ${raw.length} bytes of data for ${count} values`);
    const copy = raw.slice();
    const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
    const out = wide ? new Uint32Array(count) : new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = wide ? view.getUint32(4 * i, true) : view.getUint16(2 * i, true);
    return out;
  }
  if (wide) {
    const floats = Float32Array.from(t.floatData ?? []);
    if (floats.length !== count)
      throw new OnnxModelError('not-onnx', `initializer "${name}" has ${floats.length} values for ${count}`);
    return new Uint32Array(floats.buffer);
  }
  // float16 and bfloat16 without raw data keep one value per int32 (its low 16 bits).
  const ints = t.int32Data ?? [];
  if (ints.length !== count)
    throw new OnnxModelError('not-onnx', `initializer "${name}" has ${ints.length} values for ${count}`);
  return Uint16Array.from(ints, (x) => x & 0xffff);
}

function isWeight(t: OnnxTypes.ITensorProto): boolean {
  return t.dataType === FLOAT || t.dataType === FLOAT16 || t.dataType === BFLOAT16;
}

/** Takes the values out; an absent field is not encoded, so the frame does not depend on which one the exporter used. */
function clearValues(t: OnnxTypes.ITensorProto): void {
  delete t.rawData;
  t.floatData = [];
  t.int32Data = [];
}

export function splitOnnx(bytes: Uint8Array, maxBytes = MAX_MODEL_BYTES): OnnxParts {
  const model = decodeModel(bytes, maxBytes);
  const tensors: Tensor[] = [];
  const names = new Set<string>();
  for (const t of model.graph!.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
      throw new OnnxModelError(
        'external-data',
        'model keeps its weights in external data files; save it as a single .onnx (onnx.save(model, path, save_as_external_data=False))',
      );
    if (!isWeight(t)) continue;
    const name = t.name ?? '';
    if (names.has(name)) throw new OnnxModelError('not-onnx', `two initializers are named "${name}"`);
    names.add(name);
    const dtype = t.dataType === FLOAT ? 'f32' : t.dataType === FLOAT16 ? 'f16' : 'bf16';
    tensors.push({ name, dtype, shape: (t.dims ?? []).map(toNumber), data: bitsOf(t) });
    clearValues(t);
  }
  return { weights: { tensors }, frame: onnx.ModelProto.encode(model).finish() };
}

export function joinOnnx(parts: OnnxParts, maxBytes = MAX_MODEL_BYTES): Uint8Array {
  const model = decodeModel(parts.frame, maxBytes);
  const byName = new Map(parts.weights.tensors.map((t) => [t.name, t]));
  let placed = 0;
  for (const t of model.graph!.initializer ?? []) {
    if (!isWeight(t)) continue;
    const w = byName.get(t.name ?? '');
    if (!w) throw new OnnxModelError('not-onnx', `the weights have no tensor "${t.name}" that the model needs`);
    const raw = new Uint8Array(w.data.length * w.data.BYTES_PER_ELEMENT);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < w.data.length; i++)
      if (w.data.BYTES_PER_ELEMENT === 4) view.setUint32(4 * i, w.data[i]!, true);
      else view.setUint16(2 * i, w.data[i]!, true);
    clearValues(t);
    t.rawData = raw;
    placed++;
  }
  if (placed !== byName.size) throw new OnnxModelError('not-onnx', 'the weights carry tensors the model does not have');
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Why `next` cannot be a new version of `current` (a different graph, or a
 * weight of another dtype or shape, named), or undefined when it can: then
 * only weight values differ, and a PULSE patch carries the change.
 */
export function versionMismatch(current: OnnxParts, next: OnnxParts): string | undefined {
  const before = new Map(current.weights.tensors.map((t) => [t.name, t]));
  for (const t of next.weights.tensors) {
    const old = before.get(t.name);
    if (!old) return `tensor "${t.name}" is not in the current version`;
    if (old.dtype !== t.dtype) return `tensor "${t.name}" is ${t.dtype}, the current version has ${old.dtype}`;
    if (old.shape.join(',') !== t.shape.join(','))
      return `tensor "${t.name}" has shape [${t.shape.join(', ')}], the current version has [${old.shape.join(', ')}]`;
    before.delete(t.name);
  }
  const missing = [...before.keys()][0];
  if (missing !== undefined) return `tensor "${missing}" of the current version is missing`;
  const a = current.frame;
  const b = next.frame;
  if (a.length !== b.length || a.some((x, i) => x !== b[i]))
    return 'the graph differs (operators, integer constants or metadata): a new version may change only weight values';
  return undefined;
}
