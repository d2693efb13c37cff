/**
 * Held-out accuracy of a policy: greedy decoding (argmax at every step) of
 * each prompt, scored by the task's exact-match reward. On a one-row backend
 * a prompt is decoded incrementally (decodeRows: a forward of the prompt,
 * then one of each new position); on a batched one, rows decode different
 * prompts at once (causal attention keeps a row's PAD tail from touching the
 * positions read), one forward of the whole batch per new token. Both give
 * the same completions. Shared by the warm-up and the trainer's evaluate().
 */
import { type Backend, encodeForward, gptLogitsAt, loadBatch, readLogits } from '../../train';
import { decodeRows } from './runner';
import { exactMatchReward, type Example } from './tasks';
import { decodeIds, encodeText, EOS, PAD } from './vocab';

/** Greedy completions (ending with EOS unless cut at maxNew or the context) of every prompt. */
export function greedyCompletions(b: Backend, prompts: readonly (readonly number[])[], maxNew: number): number[][] {
  const { B, T, config } = b.arena;
  if (config.kind !== 'gpt') throw new RangeError('a policy is a GPT');
  const V = config.vocab;
  if (B === 1) return prompts.map((p) => greedyOne(b, p, maxNew, V));
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
        const best = argmax(logits, (r * T + s.length - 1) * V, V);
        s.push(best);
        completions[r]!.push(best);
        if (best === EOS || s.length >= T) live[r] = false;
      });
    }
    out.push(...completions);
  }
  return out;
}

function argmax(logits: ArrayLike<number>, at: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[at + v]! > logits[at + best]!) best = v;
  return best;
}

function greedyOne(b: Backend, prompt: readonly number[], maxNew: number, V: number): number[] {
  const T = b.arena.T;
  const completion: number[] = [];
  if (prompt.length < 1 || prompt.length >= T) return completion;
  const logitsAt = gptLogitsAt(b.arena);
  const seq = [...prompt];
  decodeRows(b, seq, 0, seq.length);
  for (let j = 0; j < maxNew; j++) {
    const best = argmax(b.readFloats(logitsAt + (seq.length - 1) * V, V), 0, V);
    seq.push(best);
    completion.push(best);
    if (best === EOS || seq.length >= T) break;
    decodeRows(b, seq, seq.length - 1, seq.length);
  }
  return completion;
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
