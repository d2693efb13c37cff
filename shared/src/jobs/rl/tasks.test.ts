import { describe, expect, it } from 'vitest';
import { RlError } from './errors';
import { parseExamplesJsonl, splitExamples } from './jsonl';
import { ADDITION_3, exactMatchReward, type TaskSpec, taskSet } from './tasks';
import { decodeIds, EOS, encodeText, VOCAB_SIZE } from './vocab';

const SPECS: TaskSpec[] = [
  ADDITION_3,
  { kind: 'sort', length: 5 },
  { kind: 'reverse', minLength: 3, maxLength: 6 },
  { kind: 'word' },
];

describe('RL tasks with checkable rewards', () => {
  it('RL-T1: 3-digit addition: padded prompt, answer ones digit first, correct sums', () => {
    const set = taskSet(ADDITION_3, 1, 50);
    for (const e of [...set.eval, ...Array.from({ length: 50 }, (_, i) => set.train(i))]) {
      const m = /^(\d{3})\+(\d{3})=$/.exec(e.prompt);
      expect(m, e.prompt).not.toBeNull();
      expect(e.answer).toHaveLength(4);
      expect(Number([...e.answer].reverse().join(''))).toBe(Number(m![1]) + Number(m![2]));
    }
    const plain = taskSet({ kind: 'addition', digits: 3, reversed: false }, 1, 5).eval[0]!;
    const [a, b] = plain.prompt.slice(0, -1).split('+').map(Number);
    expect(Number(plain.answer)).toBe(a! + b!);
  });

  it('RL-T2: sort, reverse and word problems are right by construction', () => {
    const sorted = taskSet(SPECS[1]!, 2, 20).eval;
    for (const e of sorted) expect(e.answer).toBe([...e.prompt.slice(5, -1)].sort().join(''));
    const rev = taskSet(SPECS[2]!, 2, 20).eval;
    for (const e of rev) expect(e.answer).toBe([...e.prompt.slice(4, -1)].reverse().join(''));
    for (const e of taskSet(SPECS[3]!, 2, 40).eval) {
      const nums = e.prompt.match(/\d+/g)!.map(Number);
      const want = e.prompt.includes('more')
        ? nums[0]! + nums[1]!
        : e.prompt.includes('gives')
          ? nums[0]! - nums[1]!
          : nums[0]! * nums[1]!;
      expect(e.answer, e.prompt).toBe(String(want));
    }
  });

  it('RL-T3: held-out prompts never appear in training; sets are deterministic in the seed', () => {
    for (const spec of SPECS) {
      const set = taskSet(spec, 7, 100);
      expect(set.eval).toHaveLength(100);
      const held = new Set(set.eval.map((e) => e.prompt));
      for (let i = 0; i < 2000; i++) expect(held.has(set.train(i).prompt)).toBe(false);
      expect(taskSet(spec, 7, 100).eval).toEqual(set.eval);
      expect(taskSet(spec, 7, 100).train(123)).toEqual(set.train(123));
      expect(taskSet(spec, 8, 100).eval).not.toEqual(set.eval);
    }
  });

  it('RL-T4: a task too small for its held-out set is refused', () => {
    expect(() => taskSet({ kind: 'addition', digits: 1 }, 1, 500)).toThrow(RlError);
    expect(() => taskSet({ kind: 'sort', length: 1 }, 1, 5)).toThrow(/sort length/);
  });

  it('RL-T5: exact-match reward, and every prompt + answer fits the character vocabulary', () => {
    const e = taskSet(ADDITION_3, 3, 1).eval[0]!;
    expect(exactMatchReward(e, e.answer)).toBe(1);
    expect(exactMatchReward(e, `${e.answer}0`)).toBe(0);
    expect(exactMatchReward(e, '')).toBe(0);
    for (const spec of SPECS)
      for (const x of taskSet(spec, 4, 20).eval) {
        const ids = encodeText(x.prompt + x.answer);
        expect(Math.max(...ids)).toBeLessThan(VOCAB_SIZE);
        expect(decodeIds([...encodeText(x.answer), EOS, ...encodeText('junk')])).toBe(x.answer);
      }
    expect(() => encodeText('ÄB')).toThrow(/alphabet/);
  });
});

describe('bring-your-own JSONL tasks', () => {
  it('RL-J1: valid lines parse, blank lines are skipped, duplicates collapse', () => {
    const text =
      '{"prompt":"2*3=","answer":"6"}\n\n{"prompt":"capital of france?=","answer":"paris"}\n{"prompt":"2*3=","answer":"6"}\n';
    expect(parseExamplesJsonl(text)).toEqual([
      { prompt: '2*3=', answer: '6' },
      { prompt: 'capital of france?=', answer: 'paris' },
    ]);
  });

  it('RL-J2: each bad line is refused with its line number and reason', () => {
    const ok = '{"prompt":"1+1=","answer":"2"}';
    const cases: [string, RegExp][] = [
      [`${ok}\n{"prompt":"1+1="`, /line 2: not valid JSON/],
      [`${ok}\n{"prompt":"1+2="}`, /line 2: .*answer/],
      [`{"prompt":"","answer":"2"}`, /line 1: prompt/],
      [`{"prompt":"1+1=","answer":2}`, /line 1: answer/],
      [`{"prompt":"1+1=","answer":"2","reward":1}`, /line 1: /],
      [`{"prompt":"ÉTÉ=","answer":"x"}`, /line 1: prompt holds "É"/],
      [`${ok}\n{"prompt":"1+1=","answer":"3"}`, /line 2: the same prompt appears with another answer/],
      [`{"prompt":"${'a'.repeat(201)}","answer":"x"}`, /line 1: prompt/],
      ['\n\n', /no examples/],
    ];
    for (const [text, re] of cases) expect(() => parseExamplesJsonl(text), text).toThrow(re);
  });

  it('RL-J3: the held-out split is disjoint, deterministic and stable when lines are added', () => {
    const examples = Array.from({ length: 400 }, (_, i) => ({ prompt: `q${i}=`, answer: String(i % 7) }));
    const a = splitExamples(examples, 0.2, 5);
    expect(a.eval.length).toBeGreaterThan(40);
    expect(a.eval.length).toBeLessThan(120);
    const held = new Set(a.eval.map((e) => e.prompt));
    for (const e of a.train) expect(held.has(e.prompt)).toBe(false);
    const b = splitExamples([...examples, { prompt: 'new=', answer: '1' }], 0.2, 5);
    for (const e of a.eval) expect(b.eval).toContainEqual(e);
    expect(() => splitExamples(examples.slice(0, 1), 0.2, 5)).toThrow(/too few/);
  });
});
