import { describe, expect, it } from 'vitest';
import type { RawTensor } from '@shared/protocol';
import { parseNpy } from '@shared/tensor';
import { outputAsNpy, outputsAsJson } from './downloads';

const values = Float32Array.of(1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0);
const y: RawTensor = { name: 'y', dtype: 'float32', dims: [5], bytes: new Uint8Array(values.buffer) };
const ids: RawTensor = {
  name: 'ids',
  dtype: 'int64',
  dims: [1],
  bytes: new Uint8Array(BigInt64Array.of(2n ** 62n + 1n).buffer),
};

describe('result downloads', () => {
  it('DOWNLOAD1: NaN and ±Infinity survive the JSON download as strings the file names; int64 keeps every digit', async () => {
    const json = JSON.parse(await outputsAsJson('job-downloads', [y, ids]).text());
    expect(json.note).toMatch(/"NaN", "Infinity" and "-Infinity"/);
    expect(json.outputs.y.data).toEqual([1.5, 'NaN', 'Infinity', '-Infinity', 0]);
    expect(json.outputs.y.data.map(Number)).toEqual([1.5, Number.NaN, Infinity, -Infinity, 0]);
    expect(json.outputs.ids.data).toEqual(['4611686018427387905']);
  });

  it('DOWNLOAD2: the .npy download keeps every value bit for bit, NaN and -0 included', async () => {
    const npy = parseNpy(new Uint8Array(await outputAsNpy(y).arrayBuffer()));
    expect(new Uint8Array((npy.data as Float32Array).buffer)).toEqual(y.bytes);
  });
});
