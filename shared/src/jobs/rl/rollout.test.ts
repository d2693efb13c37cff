import { describe, expect, it } from 'vitest';
import { rollOut } from './rollout';
import { backendWith, policyParams } from './testing';
import { taskSet, ADDITION_3 } from './tasks';
import { encodeText } from './vocab';
import type { Assignment } from './verify';

describe('rollOut (RL-RO1)', () => {
  it('RL-RO1: the asynchronous-read path (WebGPU) samples the same claims as the synchronous one', async () => {
    const b = backendWith('wasm', policyParams(3));
    const set = taskSet(ADDITION_3, 2, 4);
    const a: Assignment = {
      round: 1,
      roundNonce: 'n',
      providerKey: 'k',
      prompts: new Map([0, 1].map((i) => [i, encodeText(set.train(i).prompt)])),
      samples: 3,
      maxNew: 6,
      temperature: 1,
    };
    const sync = await rollOut(b, a, 0);
    let reads = 0;
    const viaReads = await rollOut(b, a, 0, undefined, async (at, n) => {
      reads++;
      return b.readFloats(at, n);
    });
    expect(reads).toBeGreaterThan(6);
    expect(viaReads.length).toBe(6);
    viaReads.forEach((c, i) => {
      expect(c.completion).toEqual(sync[i]!.completion);
      expect(c.logprobs).toEqual(sync[i]!.logprobs);
      expect(Array.from(c.sketch.indices)).toEqual(Array.from(sync[i]!.sketch.indices));
      expect(Array.from(c.sketch.buckets)).toEqual(Array.from(sync[i]!.sketch.buckets));
    });
  });
});
