/**
 * The policy on the engine: what a provider runs to roll out (generate) and
 * what the trainer runs to check and learn (teacherForce: one forward over
 * prompt + completion gives the distributions for the sampling replay, the
 * hidden states for the sketch, and the log-probabilities for GRPO).
 * Backends hold one row of `context` positions; positions past the sequence
 * hold PAD, which causal attention keeps from touching the positions read.
 */
import {
  type Backend,
  encodeForward,
  type GptConfig,
  gptForwardRows,
  gptHiddenAt,
  readHidden,
  readLogits,
  tensorSpec,
} from '../../train';
import { tempered, uniforms, inverseCdf } from './sampling';
import { type Sketch, sketchHidden } from './sketch';
import { EOS, PAD } from './vocab';

export interface Rollout {
  /** Completion ids, ending with EOS unless cut at maxNew or the context. */
  readonly completion: number[];
  /** log p_τ of each completion token under the distribution it was sampled from. */
  readonly logprobs: number[];
  readonly sketch: Sketch;
}

export interface ForcedPass {
  /** Row j (V wide) predicts sequence[j + 1]; sequence.length − 1 rows. */
  readonly logits: Float64Array;
  /** Final-LayerNorm output per position, sequence.length rows of C. */
  readonly hidden: Float64Array;
}

function config(b: Backend): GptConfig {
  const c = b.arena.config;
  if (c.kind !== 'gpt' || b.arena.B !== 1) throw new RangeError('a policy runner needs a one-row GPT backend');
  return c;
}

/** One forward over `sequence` (1..T ids) with everything read back. */
export function teacherForce(b: Backend, sequence: readonly number[]): ForcedPass {
  const c = config(b);
  const T = b.arena.T;
  if (sequence.length < 1 || sequence.length > T) throw new RangeError(`a sequence holds 1..${T} tokens`);
  const row = new Int32Array(T).fill(PAD);
  row.set(sequence);
  const targets = new Int32Array(T).fill(PAD);
  targets.set(sequence.slice(1));
  b.writeInts(b.arena.tokensAt, row);
  b.writeInts(b.arena.targetsAt, targets);
  encodeForward(b);
  const n = sequence.length;
  return {
    logits: readLogits(b).slice(0, (n - 1) * c.vocab),
    hidden: readHidden(b).slice(0, n * c.width),
  };
}

/**
 * Positions [from, to) of `seq` through a one-row backend by gptForwardRows (a PAD after an odd end); the
 * positions before `from` must hold `seq`'s own.
 */
export function decodeRows(b: Backend, seq: readonly number[], from: number, to: number): void {
  b.writeInts(b.arena.tokensAt + from, seq.slice(from, to));
  if (to < b.arena.T) b.writeInts(b.arena.tokensAt + to, [PAD]);
  gptForwardRows(b.kernels, b.arena, from, to);
}

/**
 * Samples a completion of `prompt` under each seed. Decoding is incremental: the prompt's positions are
 * computed once for the whole group, then each token costs the forward of its own position
 * (gptForwardRows), and the hidden states of the finished sequence are already in place for its sketch. On
 * the JS and WASM kernels every value equals the teacher-forced pass a trainer repeats (teacherForce), bit
 * for bit.
 */
export function generateGroup(
  b: Backend,
  prompt: readonly number[],
  seeds: readonly number[],
  maxNew: number,
  temperature = 1,
  topK?: number,
): Rollout[] {
  const c = config(b);
  const room = Math.min(maxNew, b.arena.T - prompt.length);
  if (prompt.length < 1 || room < 1) throw new RangeError('no room to generate');
  const logitsAt = b.arena.actsAt + tensorSpec(b.arena.acts, 'logits').offset;
  decodeRows(b, prompt, 0, prompt.length);
  return seeds.map((seed) => {
    const us = uniforms(seed, room);
    const seq = [...prompt];
    const completion: number[] = [];
    const logprobs: number[] = [];
    for (let j = 0; j < room; j++) {
      const p = tempered(b.readFloats(logitsAt + (seq.length - 1) * c.vocab, c.vocab), temperature, 0, c.vocab);
      const id = inverseCdf(p, us[j]!);
      completion.push(id);
      logprobs.push(Math.log(p[id]!));
      seq.push(id);
      decodeRows(b, seq, seq.length - 1, seq.length);
      if (id === EOS) break;
    }
    const hidden = b.readFloats(gptHiddenAt(b.arena), seq.length * c.width);
    return { completion, logprobs, sketch: sketchHidden(hidden, seq.length, c.width, topK) };
  });
}

/** One completion of `prompt` under `seed` (generateGroup of one). */
export function generate(
  b: Backend,
  prompt: readonly number[],
  seed: number,
  maxNew: number,
  temperature = 1,
  topK?: number,
): Rollout {
  return generateGroup(b, prompt, [seed], maxNew, temperature, topK)[0]!;
}

/** How a backend whose reads are asynchronous (WebGPU) gives values back; a read submits queued work first. */
export type ReadAsync = (at: number, n: number) => Promise<ArrayLike<number>>;

function loadRow(b: Backend, sequence: readonly number[]): void {
  const T = b.arena.T;
  if (sequence.length < 1 || sequence.length > T) throw new RangeError(`a sequence holds 1..${T} tokens`);
  const row = new Int32Array(T).fill(PAD);
  row.set(sequence);
  const targets = new Int32Array(T).fill(PAD);
  targets.set(sequence.slice(1));
  b.writeInts(b.arena.tokensAt, row);
  b.writeInts(b.arena.targetsAt, targets);
  encodeForward(b);
}

/**
 * generate() for a backend read asynchronously: per token only the row of logits that predicts it comes
 * back (V values instead of T·V), then the hidden states of the finished sequence for its sketch. The
 * seeds, the sampling and the sketch are generate()'s, so a trainer on another backend checks it alike.
 */
export async function generateAsync(
  b: Backend,
  read: ReadAsync,
  prompt: readonly number[],
  seed: number,
  maxNew: number,
  temperature = 1,
  topK?: number,
): Promise<Rollout> {
  const c = config(b);
  const room = Math.min(maxNew, b.arena.T - prompt.length);
  if (prompt.length < 1 || room < 1) throw new RangeError('no room to generate');
  const logitsAt = b.arena.actsAt + tensorSpec(b.arena.acts, 'logits').offset;
  const us = uniforms(seed, room);
  const seq = [...prompt];
  const completion: number[] = [];
  const logprobs: number[] = [];
  for (let j = 0; j < room; j++) {
    loadRow(b, seq);
    const row = await read(logitsAt + (seq.length - 1) * c.vocab, c.vocab);
    const p = tempered(row, temperature, 0, c.vocab);
    const id = inverseCdf(p, us[j]!);
    completion.push(id);
    logprobs.push(Math.log(p[id]!));
    seq.push(id);
    if (id === EOS) break;
  }
  loadRow(b, seq);
  const hidden = await read(gptHiddenAt(b.arena), seq.length * c.width);
  return { completion, logprobs, sketch: sketchHidden(hidden, seq.length, c.width, topK) };
}
