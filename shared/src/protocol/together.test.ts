import { describe, expect, it } from 'vitest';
import { defaultTrainSpec } from '../jobs/train/spec';
import { decodeTogetherToProvider, encodeTogether, TOGETHER_WIRE_VERSION, type TogetherToProvider } from './together';

const spec = defaultTrainSpec('together-wire01', 0);
const start = (state: { paramBytes: number; chainBytes?: number }): TogetherToProvider => ({
  type: 'together-start',
  v: TOGETHER_WIRE_VERSION,
  jobId: spec.id,
  spec,
  shard: 0,
  shards: 2,
  round: 3,
  versionHash: '0'.repeat(32),
  tokens: 2,
  momentumBytes: 0,
  ...state,
});

describe('the together wire (PeerStream.train)', () => {
  it('TOGETHERWIRE1: a start carries the version whole or a chain of round patches, never both, and exactly the bytes it announces', () => {
    const whole = decodeTogetherToProvider(encodeTogether(start({ paramBytes: 8 }), new Uint8Array(4 + 8)));
    expect(whole.header).toEqual(start({ paramBytes: 8 }));
    const chain = decodeTogetherToProvider(
      encodeTogether(start({ paramBytes: 0, chainBytes: 9 }), new Uint8Array(4 + 9)),
    );
    expect(chain.header).toMatchObject({ chainBytes: 9, paramBytes: 0 });
    expect(() =>
      decodeTogetherToProvider(encodeTogether(start({ paramBytes: 8, chainBytes: 9 }), new Uint8Array(4 + 17))),
    ).toThrow(/either a version or a chain/);
    expect(() =>
      decodeTogetherToProvider(encodeTogether(start({ paramBytes: 0, chainBytes: 9 }), new Uint8Array(4 + 8))),
    ).toThrow(/announces 13 bytes but carries 12/);
  });
});
