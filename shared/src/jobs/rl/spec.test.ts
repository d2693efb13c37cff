import { describe, expect, it } from 'vitest';
import { parseRlSpec, rlShape, rlTaskSet, type RlSpec } from './spec';
import { VOCAB_SIZE } from './vocab';

const spec: RlSpec = {
  v: 1,
  id: 'job-rl-spec',
  name: 'addition',
  createdAt: 0,
  task: { kind: 'addition', digits: 3 },
  preset: 'tiny',
  seed: 1,
  steps: 5,
  lr: 1e-4,
  providers: 2,
  promptsPerProvider: 4,
  samples: 4,
  temperature: 1,
  evalSize: 32,
  warmupSteps: 100,
  warmupLr: 3e-3,
  warmupTarget: 0.2,
};

describe('RL job spec (RL-SP1..3)', () => {
  it('RL-SP1: a stored spec is validated when read back, with the field named', () => {
    expect(parseRlSpec(structuredClone(spec))).toEqual(spec);
    expect(() => parseRlSpec({ ...spec, samples: 1 })).toThrow(/samples/);
    expect(() => parseRlSpec({ ...spec, task: { kind: 'reverse', minLength: 5, maxLength: 2 } })).toThrow(/reverse/);
  });

  it('RL-SP2: the policy is the preset over the character vocabulary with a context fitted to the task', () => {
    const { config, maxNew } = rlShape(spec, rlTaskSet(spec));
    // "123+456=" is 8 characters, the answer 4 digits: 4 + EOS + 2 spare = 7 new tokens, 15 → 16 positions.
    expect(maxNew).toBe(7);
    expect(config).toEqual({ kind: 'gpt', layers: 2, width: 128, heads: 4, context: 16, vocab: VOCAB_SIZE });
  });

  it('RL-SP3: a bring-your-own task splits its JSONL and names a missing upload', () => {
    const own: RlSpec = { ...spec, task: { kind: 'jsonl', name: 'caps', lines: 40 } };
    const text = Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: `q${i}=`, answer: `a${i}` })).join('\n');
    const set = rlTaskSet(own, text);
    expect(set.eval.length).toBeGreaterThan(0);
    expect(set.isHeldOut(set.train(0).prompt)).toBe(false);
    expect(() => rlTaskSet(own)).toThrow(/upload them again/);
  });
});
