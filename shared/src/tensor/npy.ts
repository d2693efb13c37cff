/**
 * NumPy `.npy` read/write (format versions 1.0, 2.0 and 3.0), C order, little-endian.
 * Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { MAX_NPY_HEADER_BYTES, MAX_TENSOR_BYTES } from './constants';
import { TensorError } from './errors';
import { assertTensorFits } from './tensor';
import { BYTES_PER_ELEMENT, TYPED_ARRAY_CTOR, type DType, type Tensor } from './types';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy pads the header so the data starts on a 64-byte boundary (for mmap). */
const HEADER_ALIGN = 64;

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i4': 'int32',
  '<i8': 'int64',
  '|i1': 'int8',
  '<i1': 'int8',
  '|u1': 'uint8',
  '<u1': 'uint8',
};
const DTYPE_TO_DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  int32: '<i4',
  int64: '<i8',
  int8: '|i1',
  uint8: '|u1',
};

export interface NpyOptions {
  /** Largest data section accepted, in bytes; checked before allocating. */
  maxBytes?: number;
}

export function parseNpy(bytes: Uint8Array, options: NpyOptions = {}): Tensor {
  const maxBytes = options.maxBytes ?? MAX_TENSOR_BYTES;
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new TensorError(
      'npy-magic',
      'not a .npy file (it does not start with \\x93NUMPY); save arrays with numpy.save',
    );
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new TensorError('truncated', '.npy file ends inside its header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new TensorError(
      'npy-version',
      `.npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`,
    );
  }
  if (headerLen > MAX_NPY_HEADER_BYTES) {
    throw new TensorError(
      'npy-header-too-big',
      `.npy header of ${headerLen} bytes exceeds ${MAX_NPY_HEADER_BYTES}; the file is damaged or not a plain array`,
    );
  }
  const dataStart = headerStart + headerLen;
  if (bytes.length < dataStart) throw new TensorError('truncated', '.npy file ends inside its header');
  // v3.0 headers are UTF-8; 1.0/2.0 are latin-1, which for a valid header is ASCII.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { dtype, dims } = parseHeader(header);

  const count = assertTensorFits(dtype, dims, maxBytes);
  const dataBytes = count * BYTES_PER_ELEMENT[dtype];
  const available = bytes.length - dataStart;
  if (available < dataBytes) {
    throw new TensorError(
      'truncated',
      `.npy data is truncated: shape [${dims.join(', ')}] ${dtype} needs ${dataBytes} bytes, the file has ${available}`,
    );
  }
  if (available > dataBytes) {
    throw new TensorError(
      'trailing-bytes',
      `.npy file has ${available - dataBytes} bytes after the array; it is damaged or holds more than one array (use .npy, not .npz)`,
    );
  }
  // Copy: the source may be unaligned for the element size, and the caller's buffer stays theirs.
  const copy = bytes.slice(dataStart, dataStart + dataBytes);
  const data = new TYPED_ARRAY_CTOR[dtype](copy.buffer, 0, count);
  return { dtype, dims, data } as Tensor;
}

function parseHeader(header: string): { dtype: DType; dims: number[] } {
  const text = header.trim();
  if (!text.startsWith('{') || !text.endsWith('}'))
    throw new TensorError('npy-header', '.npy header is not a dictionary');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new TensorError('npy-header', '.npy header lacks descr, fortran_order or shape');
  }
  if (fortran === 'True') {
    throw new TensorError(
      'npy-fortran-order',
      '.npy array is in Fortran order; save it with numpy.save(f, numpy.ascontiguousarray(a))',
    );
  }
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) {
    const hint = descr.startsWith('>') ? ' (big-endian: convert with a.astype(a.dtype.newbyteorder("<")))' : '';
    throw new TensorError(
      'unsupported-dtype',
      `.npy dtype '${descr}' is not supported${hint}; use float32, float64, int32, int64, int8 or uint8`,
    );
  }
  const parts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const dims = parts.map((p) => {
    if (!/^\d{1,15}$/.test(p))
      throw new TensorError('npy-header', `.npy shape entry '${p}' is not a non-negative integer`);
    return Number(p);
  });
  return { dtype, dims };
}

/** Writes a C-order little-endian .npy (v1.0, or v2.0 if the header needs it). */
export function writeNpy(t: Tensor): Uint8Array {
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  const dict = `{'descr': '${DTYPE_TO_DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let prefix = 10;
  let total = prefix + dict.length + 1;
  if (total + HEADER_ALIGN > 0xffff) {
    prefix = 12;
    total = prefix + dict.length + 1;
  }
  const padding = (HEADER_ALIGN - (total % HEADER_ALIGN)) % HEADER_ALIGN;
  const header = dict + ' '.repeat(padding) + '\n';
  const dataBytes = t.data.byteLength;
  const out = new Uint8Array(prefix + header.length + dataBytes);
  out.set(MAGIC, 0);
  out[6] = prefix === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (prefix === 10) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  // Typed arrays are in platform byte order; every platform that runs browsers is little-endian.
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, dataBytes), prefix + header.length);
  return out;
}
