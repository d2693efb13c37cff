/**
 * The policy's character vocabulary: one token per character, plus PAD and
 * EOS. Chosen over the engine's byte-level BPE (train/tokenizer.ts) for the
 * RL tasks because (1) a digit is always one token at a fixed offset from
 * the '=', so the carry of column k sits a constant distance back and a tiny
 * GPT can learn it; (2) ~50 ids instead of the tiny preset's 512 make the
 * tied head, the sampling loop and every distribution a provider reports ~10×
 * smaller; (3) EOS is a token of its own, so "the answer ended" is sampled
 * and checked like any other token.
 */
import { RlError } from './errors';

export const PAD = 0;
export const EOS = 1;
/** Everything the built-in tasks write; a bring-your-own task must stay within it. */
export const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz +-*=:,.?'";

const FIRST = 2;
const ids = new Map<string, number>();
for (let i = 0; i < ALPHABET.length; i++) ids.set(ALPHABET[i]!, FIRST + i);

/** Ids 0..VOCAB_SIZE−1: the GptConfig's `vocab` for a policy over these tasks. */
export const VOCAB_SIZE = FIRST + ALPHABET.length;

/** The first character outside the alphabet, or null when all are inside. */
export function foreignChar(text: string): string | null {
  for (const ch of text) if (!ids.has(ch)) return ch;
  return null;
}

export function encodeText(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const id = ids.get(ch);
    if (id === undefined) throw new RlError('vocab', `character ${JSON.stringify(ch)} is not in the policy's alphabet`);
    out.push(id);
  }
  return out;
}

/** Text of ids up to (not including) the first EOS; PAD and unknown ids are dropped. */
export function decodeIds(idList: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < idList.length; i++) {
    const id = idList[i]!;
    if (id === EOS) break;
    const ch = ALPHABET[id - FIRST];
    if (id >= FIRST && ch !== undefined) s += ch;
  }
  return s;
}
