/**
 * safetensors (Hugging Face's weight format), F32 only: u64 little-endian header length, a UTF-8 JSON
 * header { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } } padded
 * with spaces to 8 bytes, then the tensors' little-endian bytes back to back. The reader treats the file
 * as untrusted: sizes are checked before anything is allocated, offsets must tile the data exactly.
 */
import { MAX_SAFETENSORS_HEADER_BYTES, MAX_TENSOR_BYTES } from './constants';
import { TensorError } from './errors';

export interface NamedF32 {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsFile {
  readonly tensors: NamedF32[];
  readonly metadata: Record<string, string>;
}

const METADATA = '__metadata__';

export function writeSafetensors(tensors: readonly NamedF32[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA] = metadata;
  let at = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new TensorError('bad-shape', `tensor ${t.name}: shape ${t.shape} holds ${n} values, data ${t.data.length}`);
    if (t.name === METADATA || t.name in header)
      throw new TensorError('bad-value', `tensor name ${t.name} is used twice`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [at, at + 4 * n] };
    at += 4 * n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const hl = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + hl + at);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hl), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + hl);
  let p = 8 + hl;
  for (const t of tensors) for (let i = 0; i < t.data.length; i++, p += 4) dv.setFloat32(p, t.data[i]!, true);
  return out;
}

function fail(message: string): never {
  throw new TensorError('safetensors-header', `${message}: this is not a safetensors file this app wrote or can read`);
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) fail('the file is shorter than its 8-byte header length');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = dv.getBigUint64(0, true);
  if (hl > BigInt(MAX_SAFETENSORS_HEADER_BYTES) || hl > BigInt(bytes.length - 8))
    fail(`a header of ${hl} bytes does not fit`);
  const headerEnd = 8 + Number(hl);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch {
    fail('the header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataBytes = bytes.length - headerEnd;
  const metadata: Record<string, string> = {};
  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof value !== 'object' || value === null) fail('__metadata__ is not an object');
      for (const [k, s] of Object.entries(value as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(`metadata ${k} is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e?.dtype !== 'F32')
      throw new TensorError(
        'unsupported-dtype',
        `tensor ${name} is ${String(e?.dtype)}; only F32 checkpoints can be loaded`,
      );
    const shape = e.shape;
    const offs = e.data_offsets;
    if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor ${name} has a bad shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor ${name} has bad data_offsets`);
    const [begin, end] = offs as [number, number];
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * n) fail(`tensor ${name}: offsets span ${end - begin} bytes, shape needs ${4 * n}`);
    if (end > dataBytes) fail(`tensor ${name} ends past the file`);
    if (4 * n > MAX_TENSOR_BYTES)
      throw new TensorError('too-large', `tensor ${name} is over ${MAX_TENSOR_BYTES} bytes`);
    entries.push({ name, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) fail(`tensor ${e.name} does not start where the previous one ends (gap or overlap)`);
    at = e.end;
  }
  if (at !== dataBytes) fail(`the tensors cover ${at} bytes of ${dataBytes}`);
  const tensors = entries.map((e) => {
    const data = new Float32Array((e.end - e.begin) / 4);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(headerEnd + e.begin + 4 * i, true);
    return { name: e.name, shape: e.shape, data };
  });
  return { tensors, metadata };
}
