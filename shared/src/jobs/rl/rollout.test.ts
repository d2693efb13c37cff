import { describe, expect, it } from 'vitest';
import { rollOut } from './rollout';
import { generateGroup, teacherForce } from './runner';
import { tempered } from './sampling';
import { sketchHidden } from './sketch';
import { backendWith, policyParams, RL_TEST_CONFIG } from './testing';
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

  for (const kind of ['wasm', 'js'] as const)
    it(`RL-RO2 (${kind}): a group decoded incrementally gives the log-probs and sketches of the trainer's teacher-forced pass, bit for bit`, () => {
      const b = backendWith(kind, policyParams(5));
      const V = b.arena.config.kind === 'gpt' ? b.arena.config.vocab : 0;
      const prompt = encodeText(taskSet(ADDITION_3, 3, 4).train(7).prompt);
      const group = generateGroup(b, prompt, [11, 12, 13, 14], 9, 1);
      expect(group.map((r) => r.completion.length).some((n) => n > 1)).toBe(true);
      for (const r of group) {
        const seq = [...prompt, ...r.completion];
        const pass = teacherForce(b, seq);
        r.completion.forEach((id, j) => {
          const p = tempered(pass.logits, 1, (prompt.length - 1 + j) * V, V);
          expect(Object.is(r.logprobs[j], Math.log(p[id]!))).toBe(true);
        });
        const want = sketchHidden(pass.hidden, seq.length, RL_TEST_CONFIG.width);
        expect(Array.from(r.sketch.indices)).toEqual(Array.from(want.indices));
        expect(Array.from(r.sketch.buckets)).toEqual(Array.from(want.buckets));
      }
    });
});
