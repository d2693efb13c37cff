import { describe, expect, it } from 'vitest';
import { SKETCH_ENTRY_FAILS, SKETCH_POSITIONS, SKETCH_TOP_K } from './constants';
import { generate, teacherForce } from './runner';
import { mulberry32 } from '../../random';
import {
  bucketOf,
  checkSketch,
  choosePositions,
  entryFailures,
  sketchBytes,
  sketchHidden,
  topByMagnitude,
} from './sketch';
import { backendWith, policyParams, RL_TEST_CONFIG, trainedFrom } from './testing';
import { encodeText } from './vocab';

const C = RL_TEST_CONFIG.width;

/** Rollouts made on WASM with policy 1, and the failing entries per position when another pass checks them. */
function failuresAgainst(check: (seq: number[]) => Float64Array, count = 6): number[] {
  const wasm = backendWith('wasm', policyParams(1));
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const prompt = encodeText(`${100 + i * 37}+${200 + i * 11}=`);
    const r = generate(wasm, prompt, 1000 + i, 10);
    const seq = [...prompt, ...r.completion];
    const hidden = check(seq);
    for (let t = 0; t < seq.length; t++) out.push(entryFailures(r.sketch, t, hidden, t * C, C));
  }
  return out;
}

describe('GRAIL-style hidden-state sketch', () => {
  it('RL-K1: signed log buckets, 8 per octave; 3 bytes per entry', () => {
    expect(bucketOf(1)).toBe(-bucketOf(-1));
    expect(bucketOf(2) - bucketOf(1)).toBe(8);
    expect(bucketOf(1.03)).toBe(bucketOf(1));
    expect(bucketOf(1.06)).toBe(bucketOf(1) + 1);
    expect(bucketOf(0)).toBe(1);
    expect(bucketOf(1e9)).toBe(127);
    const h = Float64Array.from({ length: 4 * C }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    const s = sketchHidden(h, 4, C);
    expect(s.k).toBe(SKETCH_TOP_K);
    expect(sketchBytes(s)).toBe(4 * SKETCH_TOP_K * 3);
    const first = s.indices[0]!;
    for (let i = 0; i < C; i++) expect(Math.abs(h[first]!)).toBeGreaterThanOrEqual(Math.abs(h[i]!));
  });

  it('RL-K2: trainer-chosen positions are distinct, in range, and move with the nonce', () => {
    const a = choosePositions('n1', 'h', 100);
    expect(a).toHaveLength(SKETCH_POSITIONS);
    expect(new Set(a).size).toBe(SKETCH_POSITIONS);
    expect(Math.max(...a)).toBeLessThan(100);
    expect(choosePositions('n1', 'h', 100)).toEqual(a);
    expect(choosePositions('n2', 'h', 100)).not.toEqual(a);
    expect(choosePositions('n1', 'h', 5)).toEqual([0, 1, 2, 3, 4]);
  });

  it('RL-K3: honest WASM sketches pass on the JS f32 path, even with 1e-3 relative noise on every state', () => {
    const js = backendWith('js', policyParams(1));
    const plain = failuresAgainst((seq) => teacherForce(js, seq).hidden);
    const noisy = failuresAgainst((seq) =>
      teacherForce(js, seq).hidden.map((x, k) => x * (1 + 1e-3 * Math.sin(k * 12.9898))),
    );
    // Measured: 0 failing entries at every position for both (WASM vs JS f32 differ by ~1e-6 relative).
    expect(Math.max(...plain)).toBe(0);
    expect(Math.max(...noisy)).toBeLessThanOrEqual(1);
  });

  it('RL-K4: another model, or the policy a few updates on, fails at nearly every position', () => {
    const other = backendWith('js', policyParams(2));
    const otherFails = failuresAgainst((seq) => teacherForce(other, seq).hidden, 3);
    // Measured: 12..16 of 16 entries fail at every position (the threshold is > 2).
    expect(Math.min(...otherFails)).toBeGreaterThan(3 * SKETCH_ENTRY_FAILS);
    const later = backendWith('js', trainedFrom(policyParams(1), 3, 1e-3));
    const laterFails = failuresAgainst((seq) => teacherForce(later, seq).hidden, 3);
    // Measured: 9..16 fail after 3 AdamW steps at lr 1e-3. Smaller updates (lr ≤ 1e-4) can pass the sketch;
    // the log-probability check catches those (verify.test.ts).
    expect(Math.min(...laterFails)).toBeGreaterThan(SKETCH_ENTRY_FAILS);
  });

  it('RL-K5: checkSketch refuses a malformed sketch and one checked against another model', () => {
    const wasm = backendWith('wasm', policyParams(1));
    const prompt = encodeText('321+654=');
    const r = generate(wasm, prompt, 5, 10);
    const seq = [...prompt, ...r.completion];
    const hidden = teacherForce(backendWith('js', policyParams(1)), seq).hidden;
    const positions = choosePositions('nonce', 'hash', seq.length, 8);
    expect(checkSketch(r.sketch, hidden, C, positions).ok).toBe(true);
    const otherHidden = teacherForce(backendWith('js', policyParams(3)), seq).hidden;
    const bad = checkSketch(r.sketch, otherHidden, C, positions);
    expect(bad.ok).toBe(false);
    expect(bad.badPositions).toEqual(positions);
    const short = { ...r.sketch, indices: r.sketch.indices.slice(1) };
    expect(checkSketch(short, hidden, C, positions).ok).toBe(false);
    const dup = {
      ...r.sketch,
      indices: r.sketch.indices.map((x, i) => (i % SKETCH_TOP_K < 4 ? r.sketch.indices[0]! : x)),
    };
    expect(checkSketch(dup, hidden, C, [0]).ok).toBe(false);
  });

  it('RL-K6: topByMagnitude keeps the order of a full sort by |x|, ties to the lower id, signed zeros and all', () => {
    const u = mulberry32(8);
    for (let trial = 0; trial < 200; trial++) {
      const C = 1 + Math.floor(u() * 140);
      // Coarse values so that many magnitudes tie, of either sign.
      const row = Array.from({ length: C + 3 }, () => Math.round((u() - 0.5) * 12) / 4);
      const at = Math.floor(u() * 4);
      const k = Math.min(C, 1 + Math.floor(u() * 24));
      const sorted = Array.from({ length: C }, (_, i) => i)
        .sort((a, b) => Math.abs(row[at + b]!) - Math.abs(row[at + a]!) || a - b)
        .slice(0, k);
      const got = topByMagnitude(row, at, C, k);
      expect(got.ids).toEqual(sorted);
      expect(got.mags).toEqual(sorted.map((i) => Math.abs(row[at + i]!)));
    }
  });
});
