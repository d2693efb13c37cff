/**
 * Tasks whose rewards anyone can check: each example is a prompt and the one
 * exact answer, generated from a seed. The trainer computes the reward from
 * the task (exactMatchReward); a provider never reports one.
 *
 * Formats (all characters in vocab.ts's ALPHABET; the completion is the answer then EOS):
 *   addition   "123+045=" → "867"   (operands zero-padded; answer least-significant digit first, see below)
 *   sort       "sort:5291=" → "1259"
 *   reverse    "rev:hello=" → "olleh"
 *   word       "ann has 3 apples and gets 4 more. how many?=" → "7"
 */
import { mulberry32 } from '../../random';
import { RlError } from './errors';

export interface Example {
  readonly prompt: string;
  readonly answer: string;
}

export type TaskSpec =
  | { readonly kind: 'addition'; readonly digits: number; readonly reversed?: boolean }
  | { readonly kind: 'sort'; readonly length: number }
  | { readonly kind: 'reverse'; readonly minLength: number; readonly maxLength: number }
  | { readonly kind: 'word' };

/** The headline task: 3-digit + 3-digit addition. */
export const ADDITION_3: TaskSpec = { kind: 'addition', digits: 3 };

type Draw = (rng: () => number) => Example;

function int(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/**
 * Addition writes its answer ones digit first (`reversed`, the default): each answer digit then depends on
 * two operand digits at fixed offsets and the carry from the digit just written; most-significant-first
 * needs the whole carry chain before the first token. Both are learnable at this size, reversed faster:
 * 2 layers × 64 wide, batch 32, lr 3e-3, answer-only loss, WASM (one seed, 200 held-out prompts) reached
 * 50% / 90% greedy accuracy after ~1000 / ~1250 steps reversed, ~1250 / ~2250 plain. Always digits + 1 wide.
 */
function addition(digits: number, reversed: boolean): Draw {
  if (!Number.isInteger(digits) || digits < 1 || digits > 7)
    throw new RlError('task', `addition digits must be within 1..7, got ${digits}`);
  const top = 10 ** digits - 1;
  return (rng) => {
    const a = int(rng, 0, top);
    const b = int(rng, 0, top);
    const sum = String(a + b).padStart(digits + 1, '0');
    const pad = (x: number) => String(x).padStart(digits, '0');
    return { prompt: `${pad(a)}+${pad(b)}=`, answer: reversed ? [...sum].reverse().join('') : sum };
  };
}

function sortList(length: number): Draw {
  if (!Number.isInteger(length) || length < 2 || length > 12)
    throw new RlError('task', `sort length must be within 2..12, got ${length}`);
  return (rng) => {
    const xs = Array.from({ length }, () => int(rng, 0, 9));
    return { prompt: `sort:${xs.join('')}=`, answer: [...xs].sort((p, q) => p - q).join('') };
  };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function reverse(minLength: number, maxLength: number): Draw {
  if (!Number.isInteger(minLength) || !Number.isInteger(maxLength) || minLength < 1 || maxLength < minLength)
    throw new RlError('task', `reverse needs 1 ≤ minLength ≤ maxLength, got ${minLength}..${maxLength}`);
  return (rng) => {
    const n = int(rng, minLength, maxLength);
    const s = Array.from({ length: n }, () => LETTERS[int(rng, 0, 25)]!).join('');
    return { prompt: `rev:${s}=`, answer: [...s].reverse().join('') };
  };
}

const NAMES = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'ida'];
const THINGS = ['apples', 'pens', 'cards', 'coins', 'books', 'shells'];

/** One-step word problems: gets (a + b), gives away (a − b, b ≤ a), buys packs (a × b). */
function word(): Draw {
  return (rng) => {
    const who = NAMES[int(rng, 0, NAMES.length - 1)]!;
    const what = THINGS[int(rng, 0, THINGS.length - 1)]!;
    const a = int(rng, 1, 20);
    const b = int(rng, 1, 9);
    switch (int(rng, 0, 2)) {
      case 0:
        return { prompt: `${who} has ${a} ${what} and gets ${b} more. how many?=`, answer: String(a + b) };
      case 1: {
        const c = Math.max(a, b);
        return { prompt: `${who} has ${c} ${what} and gives away ${b}. how many?=`, answer: String(c - b) };
      }
      default:
        return { prompt: `${who} buys ${b} packs of ${a} ${what}. how many?=`, answer: String(a * b) };
    }
  };
}

function drawFor(spec: TaskSpec): Draw {
  switch (spec.kind) {
    case 'addition':
      return addition(spec.digits, spec.reversed ?? true);
    case 'sort':
      return sortList(spec.length);
    case 'reverse':
      return reverse(spec.minLength, spec.maxLength);
    case 'word':
      return word();
  }
}

/** A task's examples split once: a fixed held-out set, and training examples that never repeat one of its prompts. */
export interface TaskSet {
  readonly name: string;
  readonly eval: readonly Example[];
  /** The i-th training example (deterministic in the set's seed and i). */
  train(index: number): Example;
  /** Whether a prompt belongs to the held-out set (training never assigns one). */
  isHeldOut(prompt: string): boolean;
}

/** Draws before a task is declared too small for its held-out set (e.g. 1-digit addition with 200 eval prompts). */
const MAX_DRAWS_PER_EXAMPLE = 50;

export function taskSet(spec: TaskSpec, seed: number, evalSize: number): TaskSet {
  const draw = drawFor(spec);
  const held = new Map<string, string>();
  const rng = mulberry32(seed ^ 0x5eed0e7a);
  for (let tries = 0; held.size < evalSize; tries++) {
    if (tries > evalSize * MAX_DRAWS_PER_EXAMPLE)
      throw new RlError('task', `${spec.kind} has too few distinct prompts for ${evalSize} held-out examples`);
    const e = draw(rng);
    held.set(e.prompt, e.answer);
  }
  const evalSet = [...held].map(([prompt, answer]) => ({ prompt, answer }));
  return {
    name: spec.kind === 'addition' ? `addition-${spec.digits}digit` : spec.kind,
    eval: evalSet,
    train(index: number): Example {
      const r = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
      for (let tries = 0; tries < MAX_DRAWS_PER_EXAMPLE; tries++) {
        const e = draw(r);
        if (held.has(e.prompt)) continue;
        return e;
      }
      throw new RlError('task', `${spec.kind}: no training prompt outside the held-out set at index ${index}`);
    },
    isHeldOut(prompt: string) {
      return held.has(prompt);
    },
  };
}

/** Reward 1 for the exact answer (the completion's text up to EOS), else 0. */
export function exactMatchReward(example: Example, completion: string): number {
  return completion === example.answer ? 1 : 0;
}
