import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random';
import { ADAMW_DEFAULTS, arenaFor, type GptConfig, JsBackend, newTrainState, restoreInto } from '../../train';
import { clippedObjective, groupAdvantages, type ScoredRollout, tokenWeights } from './grpo';
import { grpoStep, type TrainingRollout } from './grpo-step';
import { encodeText, EOS, VOCAB_SIZE } from './vocab';

const SMALL: GptConfig = { kind: 'gpt', layers: 1, width: 16, heads: 2, context: 12, vocab: VOCAB_SIZE };

function rolloutsOf(seed: number, lag: number): ScoredRollout[] {
  const u = mulberry32(seed);
  const adv = groupAdvantages([1, 0, 0, 1, 0]);
  // Old log-probs a little off the new ones, more so for a staler version, all away from the clip edges.
  return adv.map((advantage, i) => ({
    advantage,
    oldLogprobs: Float64Array.from({ length: 3 + i }, () => -1 - u() + lag * 0.05 * (u() - 0.5)),
  }));
}

describe('GRPO maths', () => {
  it('RL-G1: group-relative advantages are mean 0, std 1; an all-equal group gives zeros', () => {
    const a = groupAdvantages([1, 0, 0, 0]);
    expect(a.reduce((s, x) => s + x, 0)).toBeCloseTo(0, 12);
    expect(Math.sqrt(a.reduce((s, x) => s + x * x, 0) / 4)).toBeCloseTo(1, 5);
    expect(a[0]).toBeCloseTo(Math.sqrt(3), 5);
    expect(groupAdvantages([1, 1, 1])).toEqual([0, 0, 0]);
    expect(groupAdvantages([])).toEqual([]);
  });

  it('RL-G2: token weights are ∂J/∂log π_θ (finite differences) for fresh and 1–2-version-old rollouts', () => {
    for (const lag of [0, 1, 2]) {
      const rollouts = rolloutsOf(lag + 1, lag);
      const u = mulberry32(9 + lag);
      const next = rollouts.map((r) => Float64Array.from(r.oldLogprobs, (x) => x + 0.3 * (u() - 0.5)));
      const { weights } = tokenWeights(rollouts, next);
      const h = 1e-6;
      let checked = 0;
      next.forEach((row, i) =>
        row.forEach((keep, t) => {
          row[t] = keep + h;
          const up = clippedObjective(rollouts, next);
          row[t] = keep - h;
          const down = clippedObjective(rollouts, next);
          row[t] = keep;
          expect(Math.abs((up - down) / (2 * h) - weights[i]![t]!)).toBeLessThan(1e-7);
          checked++;
        }),
      );
      expect(checked).toBeGreaterThan(20);
    }
  });

  it('RL-G3: the clip stops the gradient only on the side the advantage pushes', () => {
    const r = [
      { advantage: 1, oldLogprobs: [Math.log(0.5)] },
      { advantage: -1, oldLogprobs: [Math.log(0.5)] },
    ];
    // ρ = 1.5: clipped for A > 0 (no further push up), still active for A < 0.
    const up = [[Math.log(0.75)], [Math.log(0.75)]];
    const w = tokenWeights(r, up);
    expect(w.weights[0]![0]).toBe(0);
    expect(w.weights[1]![0]).toBeCloseTo((-1 * 1.5) / 2, 12);
    expect(w.clippedFraction).toBe(0.5);
    // ρ = 1: plain policy gradient A / (G·|o|).
    expect(tokenWeights(r, [[Math.log(0.5)], [Math.log(0.5)]]).weights.map((x) => x[0])).toEqual([0.5, -0.5]);
  });

  it('RL-G4: a GRPO step on the engine follows −∇J (directional finite difference, float64)', () => {
    const b = new JsBackend(arenaFor(SMALL, 2, SMALL.context), 'f64');
    restoreInto(b, newTrainState(SMALL, ADAMW_DEFAULTS, 5));
    const a = b.arena;
    b.writeFloats(
      a.paramsAt,
      b.readFloats(a.paramsAt, a.params.size).map((x) => x * 5),
    );
    const prompt = encodeText('12+34=');
    const rollouts: TrainingRollout[] = [
      { prompt, completion: [...encodeText('64'), EOS], advantage: 1, oldLogprobs: [-3.6, -3.9, -4] },
      { prompt, completion: [...encodeText('46'), EOS], advantage: -1, oldLogprobs: [-3.8, -3.7, -3.9] },
    ];
    const still = { ...ADAMW_DEFAULTS, lr: 0, weightDecay: 0 };
    const J = () => {
      const r = grpoStep(b, rollouts, still, 1);
      return clippedObjective(rollouts, r.newLogprobs);
    };
    J();
    const grads = b.readFloats(a.gradsAt, a.params.size);
    const u = mulberry32(3);
    const dir = Float64Array.from({ length: a.params.size }, () => u() - 0.5);
    const p0 = b.readFloats(a.paramsAt, a.params.size);
    const h = 1e-5;
    b.writeFloats(
      a.paramsAt,
      p0.map((x, i) => x + h * dir[i]!),
    );
    const jUp = J();
    b.writeFloats(
      a.paramsAt,
      p0.map((x, i) => x - h * dir[i]!),
    );
    const jDown = J();
    const fd = (jUp - jDown) / (2 * h);
    const analytic = -grads.reduce((s, g, i) => s + g * dir[i]!, 0);
    expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
    expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(1e-5);
  });

  it('RL-G5: steps raise π of the rewarded completion and lower the other', () => {
    const b = new JsBackend(arenaFor(SMALL, 2, SMALL.context), 'f32');
    restoreInto(b, newTrainState(SMALL, ADAMW_DEFAULTS, 6));
    const prompt = encodeText('12+34=');
    const base: TrainingRollout[] = [
      { prompt, completion: [...encodeText('64'), EOS], advantage: 1, oldLogprobs: [0, 0, 0] },
      { prompt, completion: [...encodeText('46'), EOS], advantage: -1, oldLogprobs: [0, 0, 0] },
    ];
    const hp = { ...ADAMW_DEFAULTS, lr: 3e-3 };
    const first = grpoStep(b, base, { ...hp, lr: 0 }, 1).newLogprobs;
    // π_old = the policy before the first step: ratios start at 1.
    const rollouts = base.map((r, i) => ({ ...r, oldLogprobs: first[i]! }));
    for (let t = 1; t <= 5; t++) grpoStep(b, rollouts, hp, t);
    const after = grpoStep(b, rollouts, { ...hp, lr: 0 }, 6).newLogprobs;
    const sum = (x: ArrayLike<number>) => Array.from(x).reduce((s, y) => s + y, 0);
    expect(sum(after[0]!)).toBeGreaterThan(sum(first[0]!));
    expect(sum(after[1]!)).toBeLessThan(sum(first[1]!));
  });
});
