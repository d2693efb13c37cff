import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random';
import { CDF_BOUNDARY_TOL } from './constants';
import { generate, teacherForce } from './runner';
import { inverseCdf, replaySampling, replayToken, rolloutSeed, tempered, uniforms } from './sampling';
import { backendWith, policyParams, RL_TEST_CONFIG } from './testing';
import { encodeText } from './vocab';

const ASSIGNED = { round: 3, roundNonce: 'beacon-3', providerKey: 'key-a', promptIndex: 5, sample: 0 };

describe('seeded sampling that the trainer replays', () => {
  it('RL-S1: seeds follow (round, nonce, key, prompt, sample) and differ when any of them does', () => {
    const s = rolloutSeed(ASSIGNED);
    expect(rolloutSeed({ ...ASSIGNED })).toBe(s);
    const variants = [
      { round: 4 },
      { roundNonce: 'beacon-4' },
      { providerKey: 'key-b' },
      { promptIndex: 6 },
      { sample: 1 },
    ].map((d) => rolloutSeed({ ...ASSIGNED, ...d }));
    expect(new Set([s, ...variants]).size).toBe(6);
    expect(uniforms(s, 4)).toEqual(uniforms(s, 4));
  });

  it('RL-S2: inverse CDF draws match the tempered distribution; low temperature approaches argmax', () => {
    const logits = [0.5, 2, -1, 1];
    const p = tempered(logits, 1);
    const counts = [0, 0, 0, 0];
    const u = mulberry32(1);
    for (let i = 0; i < 20000; i++) counts[inverseCdf(p, u())]!++;
    counts.forEach((c, i) => expect(Math.abs(c / 20000 - p[i]!)).toBeLessThan(0.015));
    expect(tempered(logits, 0.05)[1]).toBeGreaterThan(0.999);
    expect(tempered(logits, 100)[2]).toBeGreaterThan(0.24);
  });

  it('RL-S3: a token at a CDF boundary is accepted within the tolerance and no further', () => {
    const p = [0.25, 0.5, 0.25];
    expect(replayToken(p, 0.3, 1)).toBe('exact');
    expect(replayToken(p, 0.25 - CDF_BOUNDARY_TOL / 2, 1)).toBe('boundary');
    expect(replayToken(p, 0.25 - 2 * CDF_BOUNDARY_TOL, 1)).toBe('mismatch');
    expect(replayToken(p, 0.75 + CDF_BOUNDARY_TOL / 2, 1)).toBe('boundary');
    expect(replayToken(p, 0.9, 1)).toBe('mismatch');
    expect(replayToken(p, 0.5, 7)).toBe('mismatch');
  });

  it('RL-S4: WASM rollouts replay exactly on the JS f32 path; measured CDF gap far inside the tolerance', () => {
    const params = policyParams(1);
    const wasm = backendWith('wasm', params);
    const js = backendWith('js', params);
    const V = RL_TEST_CONFIG.vocab;
    let worstDelta = 0;
    let tokens = 0;
    for (let i = 0; i < 12; i++) {
      const prompt = encodeText(`${100 + i * 37}+${200 + i * 11}=`);
      const seed = rolloutSeed({ ...ASSIGNED, promptIndex: i });
      const r = generate(wasm, prompt, seed, 8);
      const forced = teacherForce(js, [...prompt, ...r.completion]);
      const rows = forced.logits.slice((prompt.length - 1) * V);
      const replay = replaySampling(rows, V, 1, seed, r.completion);
      expect(replay.mismatches).toEqual([]);
      tokens += r.completion.length;
      // The largest difference in any cumulative probability between the two backends.
      const own = teacherForce(wasm, [...prompt, ...r.completion]).logits.slice((prompt.length - 1) * V);
      for (let j = 0; j < r.completion.length; j++) {
        const [a, b] = [tempered(rows, 1, j * V, V), tempered(own, 1, j * V, V)];
        let ca = 0;
        let cb = 0;
        for (let k = 0; k < V; k++) {
          ca += a[k]!;
          cb += b[k]!;
          worstDelta = Math.max(worstDelta, Math.abs(ca - cb));
        }
        expect(Math.abs(Math.log(a[r.completion[j]!]!) - r.logprobs[j]!)).toBeLessThan(1e-4);
      }
    }
    expect(tokens).toBeGreaterThan(40);
    // Measured ≤ 2.4e-7 (up to 160 tokens): the tolerance leaves ~400× for WebGPU's different exp and summation order.
    expect(worstDelta).toBeLessThan(CDF_BOUNDARY_TOL / 100);
  });

  it('RL-S5: a completion sampled under another seed fails the replay', () => {
    const params = policyParams(1);
    const b = backendWith('wasm', params);
    const prompt = encodeText('123+456=');
    const r = generate(b, prompt, 999, 8);
    const rows = teacherForce(b, [...prompt, ...r.completion]).logits.slice((prompt.length - 1) * RL_TEST_CONFIG.vocab);
    expect(replaySampling(rows, RL_TEST_CONFIG.vocab, 1, 999, r.completion).mismatches).toEqual([]);
    const other = replaySampling(rows, RL_TEST_CONFIG.vocab, 1, rolloutSeed(ASSIGNED), r.completion);
    expect(other.mismatches.length).toBeGreaterThan(0);
  });
});
