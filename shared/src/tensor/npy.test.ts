import { describe, expect, it } from 'vitest';
import { base64urlDecode } from '../bytes';
import { TensorError } from './errors';
import { parseNpy, writeNpy } from './npy';
import type { Tensor } from './types';

/** Produced by numpy 2.4: np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)). */
const NUMPY_F4_2x3 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA';
/** np.save(f, np.array([-1, 2**40], dtype='<i8')). */
const NUMPY_I8 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr__________wAAAAAAAQAA';

const fromB64 = (s: string) => base64urlDecode(s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));

/** A v1.0 file with the given header dict and data bytes. */
function npyWith(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const header = dict + ' '.repeat((64 - ((prefix + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(data, prefix + header.length);
  return out;
}

function expectTensorError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TensorError);
    expect((e as TensorError).code).toBe(code);
    return;
  }
  expect.fail(`expected TensorError ${code}`);
}

describe('npy', () => {
  it('reads a float32 file written by numpy', () => {
    const t = parseNpy(fromB64(NUMPY_F4_2x3));
    expect(t.dtype).toBe('float32');
    expect(t.dims).toEqual([2, 3]);
    expect([...t.data]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reads int64 as BigInt64Array', () => {
    const t = parseNpy(fromB64(NUMPY_I8));
    expect(t.dtype).toBe('int64');
    expect([...t.data]).toEqual([-1n, 2n ** 40n]);
  });

  it('writes byte-for-byte what numpy writes', () => {
    const t: Tensor = { dtype: 'float32', dims: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) };
    expect(writeNpy(t)).toEqual(fromB64(NUMPY_F4_2x3));
    const i: Tensor = { dtype: 'int64', dims: [2], data: new BigInt64Array([-1n, 2n ** 40n]) };
    expect(writeNpy(i)).toEqual(fromB64(NUMPY_I8));
  });

  it.each<Tensor>([
    { dtype: 'float64', dims: [3, 1, 2], data: new Float64Array([1.5, -2, 3, 4, 5, 6e300]) },
    { dtype: 'int32', dims: [], data: new Int32Array([-7]) },
    { dtype: 'uint8', dims: [0, 4], data: new Uint8Array(0) },
    { dtype: 'int8', dims: [5], data: new Int8Array([-128, -1, 0, 1, 127]) },
  ])('round-trips $dtype $dims', (t) => {
    const back = parseNpy(writeNpy(t));
    expect(back).toEqual(t);
    expect(writeNpy(t).length % 64).toBe(t.data.byteLength % 64); // header keeps data 64-aligned
  });

  it('reads a v2.0 header', () => {
    const t = parseNpy(
      npyWith("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]), 2),
    );
    expect([...t.data]).toEqual([1, 2]);
  });

  it('rejects Fortran order with advice', () => {
    expectTensorError(
      () => parseNpy(npyWith("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4))),
      'npy-fortran-order',
    );
  });

  it('rejects unsupported and big-endian dtypes', () => {
    expectTensorError(
      () => parseNpy(npyWith("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8))),
      'unsupported-dtype',
    );
    expect(() =>
      parseNpy(npyWith("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4))),
    ).toThrow(/big-endian/);
  });

  it('rejects truncated data and trailing bytes', () => {
    const good = fromB64(NUMPY_F4_2x3);
    expectTensorError(() => parseNpy(good.subarray(0, good.length - 1)), 'truncated');
    expectTensorError(() => parseNpy(good.subarray(0, 20)), 'truncated');
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expectTensorError(() => parseNpy(longer), 'trailing-bytes');
  });

  it('rejects a huge header before decoding it', () => {
    const bytes = new Uint8Array(12);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(bytes.buffer).setUint32(8, 2 ** 31, true);
    expectTensorError(() => parseNpy(bytes), 'npy-header-too-big');
  });

  it('checks the size limit from the header, before allocating', () => {
    // Claims 4 TB of float32 with only the header present: must fail on size, not on allocation.
    const bytes = npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", new Uint8Array(0));
    expectTensorError(() => parseNpy(bytes), 'too-large');
    expectTensorError(() => parseNpy(fromB64(NUMPY_F4_2x3), { maxBytes: 16 }), 'too-large');
  });

  it('rejects non-npy bytes and bad shapes', () => {
    expectTensorError(() => parseNpy(new TextEncoder().encode('{"dims": [1]}')), 'npy-magic');
    expectTensorError(
      () => parseNpy(npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", new Uint8Array(0))),
      'npy-header',
    );
    expectTensorError(() => parseNpy(npyWith("{'descr': '<f4', 'shape': (1,), }", new Uint8Array(4))), 'npy-header');
  });

  it('reads data at an unaligned offset of a larger buffer', () => {
    const good = fromB64(NUMPY_F4_2x3);
    const outer = new Uint8Array(good.length + 3);
    outer.set(good, 3);
    expect([...parseNpy(outer.subarray(3)).data]).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
