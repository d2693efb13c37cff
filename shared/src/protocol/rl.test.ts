import { describe, expect, it } from 'vitest';
import { encodeTogether } from './together';
import {
  decodeRlFromProvider,
  decodeRlToProvider,
  encodeRl,
  isRlMessage,
  rolloutsBody,
  rolloutsFromBody,
  type RlToProvider,
} from './rl';

const jobId = 'job-rl-1';
const hash = 'ab'.repeat(16);

describe('rl wire (RL-WIRE1..3)', () => {
  it('RL-WIRE1: messages round-trip and are told apart from together ones', () => {
    const round: RlToProvider = {
      type: 'rl-round',
      jobId,
      round: 3,
      roundNonce: 'n',
      version: 3,
      versionHash: hash,
      providerKey: 'k',
      prompts: [{ index: 7, ids: [2, 3, 4] }],
      samples: 4,
      maxNew: 6,
      temperature: 1,
    };
    const bytes = encodeRl(round);
    expect(isRlMessage(bytes)).toBe(true);
    expect(decodeRlToProvider(bytes).header).toEqual(round);
    expect(isRlMessage(encodeTogether({ type: 'together-reveal', jobId, round: 1 }))).toBe(false);
    const patch = encodeRl(
      { type: 'rl-patch', jobId, version: 4, baseHash: hash, versionHash: hash },
      new Uint8Array([1, 2]),
    );
    expect(Array.from(decodeRlToProvider(patch).body)).toEqual([1, 2]);
  });

  it('RL-WIRE2: bodies where none belongs, or missing where one does, are refused', () => {
    expect(() => decodeRlToProvider(encodeRl({ type: 'rl-snapshot', jobId, version: 1, versionHash: hash }))).toThrow(
      /carries 0 bytes/,
    );
    expect(() =>
      decodeRlFromProvider(
        encodeRl({ type: 'rl-ready', jobId, version: 1, versionHash: hash, backend: 'wasm' }, new Uint8Array(3)),
      ),
    ).toThrow(/carries 3 bytes/);
    expect(() => decodeRlToProvider(encodeRl({ type: 'rl-round', jobId } as unknown as RlToProvider))).toThrow();
  });

  it('RL-WIRE3: a rollouts body is a JSON array, or a clear error', () => {
    expect(rolloutsFromBody(rolloutsBody([{ a: 1 }]))).toEqual([{ a: 1 }]);
    expect(() => rolloutsFromBody(new TextEncoder().encode('{"a":1}'))).toThrow(/not an array/);
    expect(() => rolloutsFromBody(new Uint8Array([0xff, 0xfe]))).toThrow(/not UTF-8 JSON/);
  });
});
