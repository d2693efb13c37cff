import { describe, expect, it } from 'vitest';
import { generate } from './runner';
import { backendWith, policyParams } from './testing';
import type { RolloutClaim } from './verify';
import { encodeText } from './vocab';
import { claimFromWire, claimToWire, MAX_CLAIM_TOKENS } from './wire';

function claim(): RolloutClaim {
  const prompt = encodeText('123+456=');
  const r = generate(backendWith('js', policyParams(1)), prompt, 77, 6);
  return { providerKey: 'k', round: 1, promptIndex: 2, sample: 3, seed: 77, version: 4, prompt, ...r };
}

describe('rollout claims on the wire', () => {
  it('RL-W1: a claim survives JSON exactly, log-probs bit for bit', () => {
    const c = claim();
    const back = claimFromWire(JSON.parse(JSON.stringify(claimToWire(c))));
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(back.claim.logprobs).toEqual(c.logprobs);
    expect(back.claim.sketch.indices).toEqual(c.sketch.indices);
    expect(back.claim.sketch.buckets).toEqual(c.sketch.buckets);
    expect(back.claim.completion).toEqual(c.completion);
  });

  it('RL-W2: malformed or oversized claims are refused with the field that is wrong', () => {
    const w = claimToWire(claim());
    const cases: [unknown, RegExp][] = [
      [{ ...w, logprobs: w.logprobs.slice(1) }, /one log-probability/],
      [{ ...w, logprobs: w.logprobs.map(() => 0.5) }, /logprobs/],
      [{ ...w, completion: new Array(MAX_CLAIM_TOKENS + 1).fill(2) }, /completion/],
      [{ ...w, sketch: { ...w.sketch, indices: w.sketch.indices.slice(1) } }, /sketch arrays/],
      [{ ...w, sketch: { ...w.sketch, buckets: w.sketch.buckets.map(() => 300) } }, /sketch/],
      [{ ...w, seed: -1 }, /seed/],
      [{ ...w, extra: 1 }, /extra|key/i],
      [{ ...w, __proto__: { round: 1 }, round: undefined }, /round/],
      ['not an object', /object/i],
    ];
    for (const [value, re] of cases) {
      const r = claimFromWire(value);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(re);
    }
  });
});
