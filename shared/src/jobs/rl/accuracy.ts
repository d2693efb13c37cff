/**
 * Held-out accuracy of a policy: greedy decoding (argmax at every step) of
 * each prompt, scored by the task's exact-match reward. Rows of the backend's
 * batch decode different prompts at once (causal attention keeps a row's PAD
 * tail from touching the positions read), so one forward per new token serves
 * B prompts. Shared by the warm-up and the trainer's evaluate().
 */
import { type Backend, encodeForward, loadBatch, readLogits } from '../../train';
import { exactMatchReward, type Example } from './tasks';
import { decodeIds, encodeText, EOS, PAD } from './vocab';

/** Greedy completions (ending with EOS unless cut at maxNew or the context) of every prompt. */
export function greedyCompletions(b: Backend, prompts: readonly (readonly number[])[], maxNew: number): number[][] {
  const { B, T, config } = b.arena;
  if (config.kind !== 'gpt') throw new RangeError('a policy is a GPT');
  const V = config.vocab;
  const out: number[][] = [];
  for (let first = 0; first < prompts.length; first += B) {
    const seqs = prompts.slice(first, first + B).map((p) => [...p]);
    const completions = seqs.map((): number[] => []);
    const live = seqs.map((s) => s.length >= 1 && s.length < T);
    for (let j = 0; j < maxNew && live.some(Boolean); j++) {
      const inputs = new Int32Array(B * T).fill(PAD);
      seqs.forEach((s, r) => inputs.set(s, r * T));
      loadBatch(b, { inputs, targets: new Int32Array(B * T).fill(PAD) });
      encodeForward(b);
      const logits = readLogits(b);
      seqs.forEach((s, r) => {
        if (!live[r]) return;
        const at = (r * T + s.length - 1) * V;
        let best = 0;
        for (let v = 1; v < V; v++) if (logits[at + v]! > logits[at + best]!) best = v;
        s.push(best);
        completions[r]!.push(best);
        if (best === EOS || s.length >= T) live[r] = false;
      });
    }
    out.push(...completions);
  }
  return out;
}

/** Fraction (0..1) of examples whose greedy completion is exactly the answer. */
export function greedyAccuracy(b: Backend, examples: readonly Example[], maxNew: number): number {
  if (examples.length === 0) return 0;
  const completions = greedyCompletions(
    b,
    examples.map((e) => encodeText(e.prompt)),
    maxNew,
  );
  let right = 0;
  examples.forEach((e, i) => (right += exactMatchReward(e, decodeIds(completions[i]!))));
  return right / examples.length;
}
