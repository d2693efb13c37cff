import { describe, expect, it } from 'vitest';
import {
  CorruptPatchError,
  decode,
  DEFAULT_LIMITS,
  diff,
  encode,
  FORMAT_VERSION,
  LimitExceededError,
  snapshot,
  UnsupportedVersionError,
  type DecodeLimits,
} from './index';
import { perturb, randomModel, tensor } from './testing';

const limits = (over: Partial<DecodeLimits>): DecodeLimits => ({ ...DEFAULT_LIMITS, ...over });

/** Varint writer for forged headers. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function forgedHeader(tensors: number[][], body: number[] = [0, 0]): Uint8Array {
  const head = [0x50, 0x55, 0x4c, 0x53, FORMAT_VERSION, 0, 0, ...new Array(16).fill(7), ...varint(tensors.length)];
  return new Uint8Array([...head, ...tensors.flat(), ...body]);
}

/** name "w" (no shared prefix), bf16, rank 1, dims [n], kind ulp with `changes`. */
const ulpTensor = (n: number, changes: number, name = 0x77): number[] => [
  0,
  1,
  name,
  1,
  1,
  ...varint(n),
  1,
  ...varint(changes),
];

describe('PULSE limits', () => {
  it('PULSE13: each header size is checked against its limit', async () => {
    const base = randomModel(1, 'bf16', 20, 30);
    const bytes = encode(await diff(base, perturb(base, 2, 0.05)));
    expect(() => decode(bytes, limits({ maxPatchBytes: bytes.length - 1 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxTensors: 1 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxNameBytes: 4 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxRank: 1 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxTensorElements: 599 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxTotalElements: 600 }))).toThrow(LimitExceededError);
    expect(() => decode(bytes, limits({ maxChanges: 3 }))).toThrow(LimitExceededError);
    expect(decode(bytes, limits({ maxTensorElements: 600, maxTotalElements: 630 })).tensors.length).toBe(2);
  });

  it('PULSE13: a forged header claiming 2^31 elements is refused before allocation', () => {
    const huge = forgedHeader([[0, 1, 0x77, 1, 2, ...varint(65536), ...varint(32768), 0]]);
    expect(() => decode(huge, limits({ maxTotalElements: 1 << 20 }))).toThrow(LimitExceededError);
    const overflow = forgedHeader([[0, 1, 0x77, 1, 3, ...varint(2 ** 34), ...varint(2 ** 34), ...varint(2 ** 34), 0]]);
    expect(() => decode(overflow)).toThrow(LimitExceededError);
  });

  it('PULSE14: a tiny body cannot promise millions of coded values', () => {
    const forged = forgedHeader([ulpTensor(50_000_000, 40_000_000)], [...varint(8), 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(forged.length).toBe(forged.indexOf(8, 7 + 16) + 10);
    expect(() => decode(forged)).toThrow(CorruptPatchError);
  });

  it('PULSE13: more changes than elements, duplicate names and bad UTF-8 are corrupt', () => {
    expect(() => decode(forgedHeader([ulpTensor(4, 5)]))).toThrow(CorruptPatchError);
    expect(() => decode(forgedHeader([ulpTensor(4, 0), ulpTensor(4, 0)]))).toThrow(CorruptPatchError);
    expect(() => decode(forgedHeader([ulpTensor(4, 0, 0xff)]))).toThrow(CorruptPatchError);
    expect(() => decode(forgedHeader([[5, ...ulpTensor(4, 0).slice(1)]]))).toThrow(CorruptPatchError);
  });

  it('PULSE12: wrong magic is corrupt, another format version is unsupported', async () => {
    const bytes = encode(await snapshot({ tensors: [tensor('x', 'f32', [2], (i) => i)] }));
    const badMagic = bytes.slice();
    badMagic[0] = 0x51;
    expect(() => decode(badMagic)).toThrow(CorruptPatchError);
    const vNext = bytes.slice();
    vNext[4] = FORMAT_VERSION + 1;
    expect(() => decode(vNext)).toThrow(UnsupportedVersionError);
    const v1 = bytes.slice();
    v1[4] = 1; // the adaptive range-coder format: refused, not misread
    expect(() => decode(v1)).toThrow(UnsupportedVersionError);
    expect(() => decode(new Uint8Array(0))).toThrow(CorruptPatchError);
  });

  it('PULSE15: a run-coding flag on a full tensor or an unknown kind is corrupt', () => {
    const full = [0, 1, 0x77, 1, 1, 4, 0x80];
    expect(() => decode(forgedHeader([full]))).toThrow(CorruptPatchError);
    expect(() => decode(forgedHeader([[0, 1, 0x77, 1, 1, 4, 0x83, 0]]))).toThrow(CorruptPatchError);
  });

  it('PULSE10: dense changes are run-coded and round-trip; the flag is in the kind byte', async () => {
    const base = randomModel(21, 'bf16', 64, 64);
    const next = perturb(base, 22, 0.9);
    const patch = await diff(base, next);
    const bytes = encode(patch);
    expect(Array.from(bytes).includes(0x80 | (patch.tensors[0]!.kind === 'raw' ? 2 : 1))).toBe(true);
    const back = decode(bytes);
    back.tensors.forEach((t, i) => {
      const p = patch.tensors[i]!;
      const positions = (x: typeof t): number[] =>
        x.kind === 'full' || x.kind === 'conditioned' ? [] : Array.from(x.positions);
      expect(t.kind === 'full' || p.kind === 'full' ? [] : positions(t)).toEqual(
        t.kind === 'full' || p.kind === 'full' ? [] : positions(p),
      );
    });
  });

  it('PULSE15: trailing bytes after the body are corrupt', async () => {
    const bytes = encode(await snapshot(randomModel(3)));
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decode(longer)).toThrow(CorruptPatchError);
  });
});
