import { describe, expect, it } from 'vitest';
import { TensorError } from './errors';
import { readSafetensors, writeSafetensors } from './safetensors';

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, unknown> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) };
}

/** A file from a header object and raw data, to build hostile inputs by hand. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  const a = { name: 'a', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-30]) };
  const b = { name: 'b.c', shape: [1], data: Float32Array.from([Math.PI]) };

  it('SAFET-1: writes the documented layout: u64 LE header length, JSON padded to 8, F32 little-endian data', () => {
    const bytes = writeSafetensors([a, b], { format: 'x' });
    const { length, json } = headerOf(bytes);
    expect(length % 8).toBe(0);
    expect(json).toEqual({
      __metadata__: { format: 'x' },
      a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      'b.c': { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
    });
    expect(bytes.length).toBe(8 + length + 28);
    const dv = new DataView(bytes.buffer);
    expect(dv.getFloat32(8 + length + 8, true)).toBe(3.5);
    expect(dv.getFloat32(8 + length + 24, true)).toBe(Math.fround(Math.PI));
  });

  it('SAFET-2: reads back bit for bit, metadata included', () => {
    const back = readSafetensors(writeSafetensors([a, b], { k: 'v' }));
    expect(back.metadata).toEqual({ k: 'v' });
    expect(back.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['a', [2, 3]],
      ['b.c', [1]],
    ]);
    expect(Object.is(back.tensors[0]!.data[4], -0)).toBe(true);
    expect([...back.tensors[0]!.data]).toEqual([...a.data]);
  });

  it('SAFET-3: refuses hostile or foreign files with a message, before allocating', () => {
    const f32 = new Uint8Array(8);
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(TensorError);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 60n, true);
    expect(() => readSafetensors(huge)).toThrow(/does not fit/);
    expect(() => readSafetensors(craft([1, 2]))).toThrow(/not a JSON object/);
    expect(() => readSafetensors(craft({ x: { dtype: 'F16', shape: [4], data_offsets: [0, 8] } }, f32))).toThrow(
      /only F32/,
    );
    expect(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32))).toThrow(
      /shape needs 12/,
    );
    expect(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32))).toThrow(
      /gap or overlap/,
    );
    expect(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32))).toThrow(
      /cover 4 bytes of 8/,
    );
    expect(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32))).toThrow(
      /past the file/,
    );
    expect(() => readSafetensors(craft({ __metadata__: { n: 1 } }))).toThrow(/not a string/);
  });

  it('SAFET-4: the writer refuses a shape that does not match the data', () => {
    expect(() => writeSafetensors([{ name: 'x', shape: [2], data: new Float32Array(3) }])).toThrow(/holds 2 values/);
  });
});
