import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random';
import { ADAMW_DEFAULTS } from './adamw';
import { type Backend, JsBackend } from './backend';
import type { GptConfig } from './config';
import { gptForwardRows, gptHiddenAt, gptLogitsAt } from './gpt';
import { arenaFor } from './layout';
import { newTrainState, restoreInto } from './state';
import { encodeForward } from './step';
import { WasmBackend } from './wasm/backend';

/** Widths that take the WASM matmul's 4-column blocks and its odd-column tail (vocab 37). */
const SHAPE: GptConfig = { kind: 'gpt', layers: 2, width: 64, heads: 4, context: 16, vocab: 37 };
const FILL = 3;

function tokens(n: number, seed: number, vocab: number): number[] {
  const u = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(u() * vocab));
}

function withWeights<B extends Backend>(b: B, seed: number): B {
  restoreInto(b, newTrainState(b.arena.config, ADAMW_DEFAULTS, seed));
  return b;
}

/** Logits rows [0, n) and final-LayerNorm rows [0, n) of the one-row arena. */
function rowsOf(b: Backend, n: number): { logits: number[]; hidden: number[] } {
  const c = b.arena.config as GptConfig;
  return {
    logits: Array.from(b.readFloats(gptLogitsAt(b.arena), n * c.vocab)),
    hidden: Array.from(b.readFloats(gptHiddenAt(b.arena), n * c.width)),
  };
}

function fullPass(b: Backend, seq: readonly number[]): { logits: number[]; hidden: number[] } {
  const T = b.arena.T;
  const row = new Int32Array(T).fill(FILL);
  row.set(seq);
  b.writeInts(b.arena.tokensAt, row);
  b.writeInts(b.arena.targetsAt, new Int32Array(T).fill(FILL));
  encodeForward(b);
  return rowsOf(b, seq.length);
}

/** The prompt in one call, then one position a call, as a provider decodes. */
function incremental(b: Backend, seq: readonly number[], prompt: number): { logits: number[]; hidden: number[] } {
  const T = b.arena.T;
  const write = (from: number, to: number) => {
    b.writeInts(b.arena.tokensAt + from, seq.slice(from, to));
    if (to < T) b.writeInts(b.arena.tokensAt + to, [FILL]);
    gptForwardRows(b.kernels, b.arena, from, to);
  };
  write(0, prompt);
  for (let t = prompt; t < seq.length; t++) write(t, t + 1);
  return rowsOf(b, seq.length);
}

function sameBits(x: readonly number[], y: readonly number[]): number {
  let differ = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) differ++;
  return differ + Math.abs(x.length - y.length);
}

describe('incremental decoding (gptForwardRows)', () => {
  const backends: [string, (c: GptConfig) => Backend][] = [
    ['wasm', (c) => new WasmBackend(arenaFor(c, 1, c.context))],
    ['js-f32', (c) => new JsBackend(arenaFor(c, 1, c.context), 'f32')],
  ];
  for (const [name, make] of backends)
    for (const T of [16, 15])
      it(`TRAIN-D1 (${name}, context ${T}): rows decoded a position at a time equal the full pass bit for bit`, () => {
        const c = { ...SHAPE, context: T };
        const full = withWeights(make(c), 5);
        const step = withWeights(make(c), 5);
        // Earlier, longer sequences leave their rows behind: what decoding must not read.
        fullPass(step, tokens(T, 99, c.vocab));
        for (const [n, prompt, seed] of [
          [T, 7, 1],
          [12, 8, 2],
          [9, 1, 3],
          [T, T - 1, 4],
        ] as const) {
          const seq = tokens(n, seed, c.vocab);
          const want = fullPass(full, seq);
          const got = incremental(step, seq, prompt);
          expect(sameBits(got.logits, want.logits)).toBe(0);
          expect(sameBits(got.hidden, want.hidden)).toBe(0);
        }
      });

  it('TRAIN-D2: a range outside the context or a batched arena is refused', () => {
    const b = new JsBackend(arenaFor(SHAPE, 1, 16), 'f32');
    expect(() => gptForwardRows(b.kernels, b.arena, 3, 3)).toThrow(RangeError);
    expect(() => gptForwardRows(b.kernels, b.arena, 0, 17)).toThrow(RangeError);
    const two = new JsBackend(arenaFor(SHAPE, 2, 16), 'f32');
    expect(() => gptForwardRows(two.kernels, two.arena, 0, 4)).toThrow(/one-row/);
  });
});
