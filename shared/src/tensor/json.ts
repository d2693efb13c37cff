/**
 * Tensors from JSON: a nested array (`[[1, 2], [3, 4]]`), an object
 * `{ "dims": [2, 2], "data": [1, 2, 3, 4] }` (data flat or nested, optional
 * "dtype"), or for several inputs an object keyed by input name.
 */
import { MAX_JSON_CHARS, MAX_RANK } from './constants';
import { TensorError } from './errors';
import { assertTensorFits } from './tensor';
import { checkInputs } from './check-inputs';
import { TYPED_ARRAY_CTOR, isDType, type DType, type Tensor, type TensorMap, type TensorSpec } from './types';

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Parses one tensor from an already-parsed JSON value. */
export function parseJsonTensor(value: unknown, dtype: DType = 'float32', label = 'tensor'): Tensor {
  if (Array.isArray(value)) {
    const dims = inferDims(value, label);
    return fill(dtype, dims, value, label);
  }
  if (isPlainObject(value) && 'data' in value) {
    const declared = value['dtype'];
    if (declared !== undefined && !isDType(declared)) {
      throw new TensorError(
        'unsupported-dtype',
        `${label}: dtype ${JSON.stringify(declared)} is not supported; use float32, float64, int32, int64, int8 or uint8`,
      );
    }
    if (declared !== undefined && declared !== dtype) {
      throw new TensorError('bad-value', `${label}: dtype is ${declared} but the model expects ${dtype}`);
    }
    const data = value['data'];
    if (!Array.isArray(data)) throw new TensorError('bad-json', `${label}: "data" must be an array`);
    const rawDims = value['dims'] ?? value['shape'];
    const dims = rawDims === undefined ? inferDims(data, label) : checkDimList(rawDims, label);
    return fill(dtype, dims, data, label);
  }
  throw new TensorError('bad-json', `${label}: expected a nested array of numbers or {"dims": [...], "data": [...]}`);
}

/**
 * Parses JSON text into the inputs of a model with `specs`, then checks them
 * against the specs (names, dtypes, shapes). A bare tensor is accepted when the
 * model has exactly one input.
 */
export function parseJsonInputs(text: string, specs: readonly TensorSpec[], maxChars = MAX_JSON_CHARS): TensorMap {
  if (text.length > maxChars) {
    throw new TensorError(
      'too-large',
      `JSON input of ${text.length} characters exceeds the ${maxChars} limit; upload large inputs as .npy`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TensorError('bad-json', `input is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const inputs: TensorMap = Object.create(null) as TensorMap;
  const single = Array.isArray(value) || (isPlainObject(value) && 'data' in value);
  if (single) {
    const only = specs[0];
    if (specs.length !== 1 || !only) {
      throw new TensorError(
        'bad-json',
        `the model has inputs ${specs.map((s) => `"${s.name}"`).join(', ')}; give an object keyed by input name`,
      );
    }
    inputs[only.name] = parseJsonTensor(value, only.dtype, `input "${only.name}"`);
  } else if (isPlainObject(value)) {
    for (const [name, entry] of Object.entries(value)) {
      const spec = specs.find((s) => s.name === name);
      if (!spec)
        throw new TensorError(
          'bad-json',
          `unknown input "${name.slice(0, 64)}"; the model's inputs are ${specs.map((s) => `"${s.name}"`).join(', ')}`,
        );
      inputs[name] = parseJsonTensor(entry, spec.dtype, `input "${name}"`);
    }
  } else {
    throw new TensorError('bad-json', 'expected a nested array, {"dims", "data"}, or an object keyed by input name');
  }
  checkInputs(specs, inputs);
  return inputs;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkDimList(raw: unknown, label: string): number[] {
  if (
    !Array.isArray(raw) ||
    raw.length > MAX_RANK ||
    !raw.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
  ) {
    throw new TensorError('bad-shape', `${label}: "dims" must be a list of at most ${MAX_RANK} non-negative integers`);
  }
  return raw as number[];
}

/** Dims from the first element at each level; `fill` then checks every row matches. */
function inferDims(value: unknown[], label: string): number[] {
  const dims: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    if (dims.length >= MAX_RANK) throw new TensorError('bad-shape', `${label}: nesting deeper than ${MAX_RANK} levels`);
    dims.push(level.length);
    level = level[0];
  }
  return dims;
}

function fill(dtype: DType, dims: number[], nested: unknown[], label: string): Tensor {
  const count = assertTensorFits(dtype, dims);
  const data = new TYPED_ARRAY_CTOR[dtype](count);
  const range = INT_RANGE[dtype];
  let o = 0;
  const put = (x: unknown, path: string): void => {
    if (typeof x !== 'number')
      throw new TensorError('bad-value', `${label}${path}: ${JSON.stringify(x)?.slice(0, 32)} is not a number`);
    if (o >= count) throw new TensorError('bad-shape', `${label}: more values than dims [${dims.join(', ')}] hold`);
    if (range) {
      if (!Number.isInteger(x) || x < range[0] || x > range[1])
        throw new TensorError('bad-value', `${label}${path}: ${x} is not a valid ${dtype}`);
      if (dtype === 'int64') (data as BigInt64Array)[o++] = BigInt(x);
      else (data as Int32Array)[o++] = x;
    } else {
      (data as Float32Array)[o++] = x;
    }
  };
  const flatInput = nested.length === count && nested.every((x) => !Array.isArray(x));
  if (flatInput) {
    nested.forEach((x, i) => put(x, `[${i}]`));
  } else {
    const walk = (node: unknown, depth: number, path: string): void => {
      if (depth === dims.length) return put(node, path);
      if (!Array.isArray(node) || node.length !== dims[depth]) {
        throw new TensorError(
          'bad-shape',
          `${label}${path}: expected ${dims[depth]} entries at depth ${depth} (dims [${dims.join(', ')}]), got ${Array.isArray(node) ? node.length : typeof node}`,
        );
      }
      node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
    };
    walk(nested, 0, '');
  }
  if (o !== count)
    throw new TensorError('bad-shape', `${label}: dims [${dims.join(', ')}] need ${count} values, got ${o}`);
  return { dtype, dims, data } as Tensor;
}
