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
  gptLogitsAt,
  readHidden,
  readLogits,
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

/** One completion being drawn under its seed: the uniforms it consumes and what it has drawn so far. */
class Draw {
  private readonly us: Float64Array;
  readonly seq: number[];
  readonly completion: number[] = [];
  readonly logprobs: number[] = [];

  constructor(
    prompt: readonly number[],
    seed: number,
    private readonly room: number,
    private readonly temperature: number,
  ) {
    this.us = uniforms(seed, room);
    this.seq = [...prompt];
  }

  /** Where the row of logits that predicts the next token starts. */
  rowAt(logitsAt: number, V: number): number {
    return logitsAt + (this.seq.length - 1) * V;
  }

  /** Draws the next token from that row; true when the completion is finished (EOS or no room left). */
  next(row: ArrayLike<number>, V: number): boolean {
    const p = tempered(row, this.temperature, 0, V);
    const id = inverseCdf(p, this.us[this.completion.length]!);
    this.completion.push(id);
    this.logprobs.push(Math.log(p[id]!));
    this.seq.push(id);
    return id === EOS || this.completion.length === this.room;
  }

  rollout(hidden: ArrayLike<number>, C: number, topK?: number): Rollout {
    const { completion, logprobs, seq } = this;
    return { completion, logprobs, sketch: sketchHidden(hidden, seq.length, C, topK) };
  }
}

interface Decoding {
  readonly c: GptConfig;
  readonly room: number;
  readonly logitsAt: number;
}

/** Checks there is room and runs the prompt's positions, shared by every completion of the group. */
function startGroup(b: Backend, prompt: readonly number[], maxNew: number): Decoding {
  const c = config(b);
  const room = Math.min(maxNew, b.arena.T - prompt.length);
  if (prompt.length < 1 || room < 1) throw new RangeError('no room to generate');
  decodeRows(b, prompt, 0, prompt.length);
  return { c, room, logitsAt: gptLogitsAt(b.arena) };
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
  const { c, room, logitsAt } = startGroup(b, prompt, maxNew);
  return seeds.map((seed) => {
    const d = new Draw(prompt, seed, room, temperature);
    let done = false;
    while (!done) {
      done = d.next(b.readFloats(d.rowAt(logitsAt, c.vocab), c.vocab), c.vocab);
      decodeRows(b, d.seq, d.seq.length - 1, d.seq.length);
    }
    return d.rollout(b.readFloats(gptHiddenAt(b.arena), d.seq.length * c.width), c.width, topK);
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

/**
 * generateGroup() for a backend read asynchronously (WebGPU): decoded the same incremental way, and per token
 * only the row of logits that predicts it comes back (V values), then the finished sequence's hidden states
 * for its sketch. The seeds, the sampling and the sketch are generateGroup()'s, so a trainer on another
 * backend checks them alike.
 */
export async function generateGroupAsync(
  b: Backend,
  read: ReadAsync,
  prompt: readonly number[],
  seeds: readonly number[],
  maxNew: number,
  temperature = 1,
  topK?: number,
): Promise<Rollout[]> {
  const { c, room, logitsAt } = startGroup(b, prompt, maxNew);
  const out: Rollout[] = [];
  for (const seed of seeds) {
    const d = new Draw(prompt, seed, room, temperature);
    let done = false;
    while (!done) {
      done = d.next(await read(d.rowAt(logitsAt, c.vocab), c.vocab), c.vocab);
      decodeRows(b, d.seq, d.seq.length - 1, d.seq.length);
    }
    out.push(d.rollout(await read(gptHiddenAt(b.arena), d.seq.length * c.width), c.width, topK));
  }
  return out;
}
