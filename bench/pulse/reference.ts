/**
 * The published reference design (GRAIL sparse_codec v3.1), written from its
 * description: per tensor, changed positions as COO with delta-coded rows and
 * columns (uint8/uint16/int32 widths chosen per tensor), the raw new values,
 * everything concatenated and compressed with zstd level 1; the receiver
 * applies and checks the result hash. Positions are found with findChangesCpu
 * (the same WebAssembly SIMD scan PULSE's default diff runs, which also does
 * PULSE's per-change pass in it; the reference keeps only the positions, as
 * its design has nothing to fuse) and hashing is the same xxh3-128, so both
 * sides pay for finding changes and hashing the result, and the comparison is
 * about everything else.
 */

import { compress, decompress } from '@bokuweb/zstd-wasm';
import { findChangesCpu, hashesEqual, hashModel, type Model, type Tensor } from '@shared/pulse';

const HASH_BYTES_FOR_BENCH = 16;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function widthFor(max: number): 1 | 2 | 4 {
  return max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
}

function writeInts(view: DataView, offset: number, values: Int32Array, width: 1 | 2 | 4): number {
  for (const v of values) {
    if (width === 1) view.setUint8(offset, v);
    else if (width === 2) view.setUint16(offset, v, true);
    else view.setInt32(offset, v, true);
    offset += width;
  }
  return offset;
}

function readInts(view: DataView, offset: number, count: number, width: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] =
      width === 1 ? view.getUint8(offset) : width === 2 ? view.getUint16(offset, true) : view.getInt32(offset, true);
    offset += width;
  }
  return out;
}

function encodeTensor(old: Tensor, next: Tensor): Uint8Array {
  const positions = findChangesCpu(old.data, next.data);
  const cols = next.shape.length >= 2 ? next.shape[next.shape.length - 1]! : Math.max(1, next.data.length);
  const n = positions.length;
  const rows = new Int32Array(n);
  const colDeltas = new Int32Array(n);
  let prevRow = 0;
  let prevCol = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const p = positions[i]!;
    const r = Math.floor(p / cols);
    const c = p - r * cols;
    rows[i] = r - prevRow;
    colDeltas[i] = r === prevRow && i > 0 ? c - prevCol : c;
    max = Math.max(max, rows[i]!, colDeltas[i]!);
    prevRow = r;
    prevCol = c;
  }
  const width = widthFor(max);
  const valueBytes = next.data.BYTES_PER_ELEMENT;
  const name = textEncoder.encode(next.name);
  const out = new Uint8Array(2 + name.length + 1 + 4 + 2 * n * width + n * valueBytes);
  const view = new DataView(out.buffer);
  view.setUint16(0, name.length, true);
  out.set(name, 2);
  let o = 2 + name.length;
  view.setUint8(o++, width);
  view.setUint32(o, n, true);
  o += 4;
  o = writeInts(view, o, rows, width);
  o = writeInts(view, o, colDeltas, width);
  for (const p of positions) {
    if (valueBytes === 2) view.setUint16(o, next.data[p]!, true);
    else view.setUint32(o, next.data[p]!, true);
    o += valueBytes;
  }
  return out;
}

/** Reference patch: result hash, then per-tensor COO sections, all zstd-1. Same tensor list as the base (the bench's cases). */
export async function encodeReference(base: Model, next: Model): Promise<Uint8Array> {
  const sections = next.tensors.map((t, i) => encodeTensor(base.tensors[i]!, t));
  const hash = await hashModel(next);
  const total = HASH_BYTES_FOR_BENCH + sections.reduce((s, x) => s + x.length, 0);
  const body = new Uint8Array(total);
  body.set(hash, 0);
  let o = HASH_BYTES_FOR_BENCH;
  for (const s of sections) {
    body.set(s, o);
    o += s.length;
  }
  return compress(body, 1);
}

export async function decodeReference(base: Model, bytes: Uint8Array): Promise<Model> {
  const body = decompress(bytes);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const hash = body.slice(0, HASH_BYTES_FOR_BENCH);
  let o = HASH_BYTES_FOR_BENCH;
  const tensors: Tensor[] = base.tensors.map((old) => {
    const nameLength = view.getUint16(o, true);
    const name = textDecoder.decode(body.subarray(o + 2, o + 2 + nameLength));
    o += 2 + nameLength;
    const width = view.getUint8(o++);
    const n = view.getUint32(o, true);
    o += 4;
    const rows = readInts(view, o, n, width);
    o += n * width;
    const colDeltas = readInts(view, o, n, width);
    o += n * width;
    const cols = old.shape.length >= 2 ? old.shape[old.shape.length - 1]! : Math.max(1, old.data.length);
    const data = old.data.slice();
    const valueBytes = data.BYTES_PER_ELEMENT;
    let r = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const dr = rows[i]!;
      r += dr;
      c = dr === 0 && i > 0 ? c + colDeltas[i]! : colDeltas[i]!;
      data[r * cols + c] = valueBytes === 2 ? view.getUint16(o, true) : view.getUint32(o, true);
      o += valueBytes;
    }
    return { ...old, name, data };
  });
  const result = { tensors };
  if (!hashesEqual(await hashModel(result), hash)) throw new Error('reference: hash mismatch');
  return result;
}
