import { describe, expect, it } from 'vitest';
import { InputMismatchError, TensorError } from './errors';
import { checkInputs } from './check-inputs';
import { parseJsonInputs, parseJsonTensor } from './json';
import type { TensorSpec } from './types';

const ONE: TensorSpec[] = [{ name: 'x', dtype: 'float32', dims: ['N', 3] }];
const TWO: TensorSpec[] = [
  { name: 'a', dtype: 'float32', dims: ['N', 2] },
  { name: 'ids', dtype: 'int64', dims: ['N'] },
];

describe('JSON tensors', () => {
  it('infers dims from nested arrays', () => {
    const t = parseJsonTensor([
      [[1], [2]],
      [[3], [4]],
    ]);
    expect(t.dims).toEqual([2, 2, 1]);
    expect([...t.data]).toEqual([1, 2, 3, 4]);
  });

  it('accepts {dims, data} with flat or nested data', () => {
    expect(parseJsonTensor({ dims: [2, 2], data: [1, 2, 3, 4] }).dims).toEqual([2, 2]);
    expect([
      ...parseJsonTensor({
        dims: [2, 2],
        data: [
          [1, 2],
          [3, 4],
        ],
      }).data,
    ]).toEqual([1, 2, 3, 4]);
  });

  it('rejects ragged arrays, naming where', () => {
    expect(() => parseJsonTensor([[1, 2], [3]])).toThrow(/\[1\]: expected 2 entries/);
    expect(() => parseJsonTensor([[1, 2], 3])).toThrow(TensorError);
  });

  it('rejects dims that do not match data length', () => {
    expect(() => parseJsonTensor({ dims: [2, 3], data: [1, 2, 3, 4] })).toThrow(TensorError);
  });

  it('rejects non-numbers and out-of-range integers', () => {
    expect(() => parseJsonTensor([1, 'two'])).toThrow(/is not a number/);
    expect(() => parseJsonTensor([1.5], 'int32')).toThrow(/not a valid int32/);
    expect(() => parseJsonTensor([300], 'uint8')).toThrow(/not a valid uint8/);
  });

  it('refuses a huge declared shape before allocating', () => {
    try {
      parseJsonTensor({ dims: [1e6, 1e6], data: [1] });
      expect.fail('should throw');
    } catch (e) {
      expect((e as TensorError).code).toBe('too-large');
    }
  });

  it('maps a bare tensor to a single-input model and checks its shape', () => {
    const inputs = parseJsonInputs('[[1,2,3],[4,5,6]]', ONE);
    expect(inputs['x']?.dims).toEqual([2, 3]);
    expect(() => parseJsonInputs('[[1,2],[4,5]]', ONE)).toThrow(/input "x": expected shape \[N, 3\], got \[2, 2\]/);
  });

  it('takes named inputs with each model dtype', () => {
    const inputs = parseJsonInputs('{"a": [[1,2],[3,4]], "ids": [7, 8]}', TWO);
    expect(inputs['ids']?.dtype).toBe('int64');
    expect(() => parseJsonInputs('[1,2]', TWO)).toThrow(/keyed by input name/);
    expect(() => parseJsonInputs('{"a": [[1,2]], "zz": [1]}', TWO)).toThrow(/unknown input "zz"/);
  });

  it('gives clear errors for bad JSON and oversized text', () => {
    expect(() => parseJsonInputs('[1,', ONE)).toThrow(/not valid JSON/);
    expect(() => parseJsonInputs('[[1,2,3]]', ONE, 4)).toThrow(/upload large inputs as .npy/);
  });
});

describe('checkInputs', () => {
  const f32 = (dims: number[]) => ({
    dtype: 'float32' as const,
    dims,
    data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
  });
  const i64 = (n: number) => ({ dtype: 'int64' as const, dims: [n], data: new BigInt64Array(n) });

  it('binds symbolic dims consistently across inputs', () => {
    expect(checkInputs(TWO, { a: f32([5, 2]), ids: i64(5) })).toEqual({ N: 5 });
    expect(() => checkInputs(TWO, { a: f32([5, 2]), ids: i64(4) })).toThrow(/"ids".*N = 5/);
  });

  it('names the input and shows expected vs got', () => {
    const run = () => checkInputs(ONE, { x: f32([4, 2]) });
    expect(run).toThrow(InputMismatchError);
    expect(run).toThrow('input "x": expected shape [N, 3], got [4, 2] (axis 1 must be 3)');
  });

  it('reports missing, unknown, dtype and rank problems', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as InputMismatchError).code;
      }
      return 'none';
    };
    expect(code(() => checkInputs(TWO, { a: f32([1, 2]) }))).toBe('missing-input');
    expect(code(() => checkInputs(ONE, { x: f32([1, 3]), y: f32([1]) }))).toBe('unknown-input');
    expect(code(() => checkInputs(ONE, { x: { dtype: 'int32', dims: [1, 3], data: new Int32Array(3) } }))).toBe(
      'wrong-dtype',
    );
    expect(code(() => checkInputs(ONE, { x: f32([3]) }))).toBe('wrong-rank');
    expect(code(() => checkInputs(ONE, { x: { dtype: 'float32', dims: [2, 3], data: new Float32Array(5) } }))).toBe(
      'wrong-length',
    );
    expect(code(() => checkInputs(ONE, { x: f32([2, 3]) }))).toBe('none');
  });
});
