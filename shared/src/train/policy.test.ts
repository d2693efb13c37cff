import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random';
import { ADAMW_DEFAULTS } from './adamw';
import { JsBackend } from './backend';
import type { GptConfig } from './config';
import { gptBackward, gptHiddenAt } from './gpt';
import { crossentropyBackwardWeighted, crossentropyForward } from './layers/crossentropy';
import { arenaFor } from './layout';
import { readHidden, readProbs, readTargetLogprobs, weightedBackward, weightedTrainStep } from './policy';
import { newTrainState, restoreInto } from './state';
import { backward, type Batch, encodeForward, forward, loadBatch } from './step';
import { fdMaxError, randomVec } from './testing';
import { WasmBackend } from './wasm/backend';

const MINI: GptConfig = { kind: 'gpt', layers: 2, width: 8, heads: 2, context: 4, vocab: 11 };

function batchOf(c: GptConfig, B: number, T: number, seed: number): Batch {
  const u = mulberry32(seed);
  const inputs = Int32Array.from({ length: B * T }, () => Math.floor(u() * c.vocab));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(u() * c.vocab));
  return { inputs, targets };
}

/** Weights ×scale so gradients are O(1) and every term of the check matters. */
function backendOf(b: JsBackend | WasmBackend, c: GptConfig, scale: number): typeof b {
  const s = newTrainState(c, ADAMW_DEFAULTS, 2);
  restoreInto(b, s);
  b.writeFloats(
    b.arena.paramsAt,
    Array.from(s.params, (x, i) => x * scale + ((i % 5) - 2) * 0.01),
  );
  return b;
}

/** Advantage-like weights: signed, some zero (masked prompt tokens). */
function weightsOf(n: number, seed: number): Float64Array {
  return randomVec(n, seed).map((x, i) => (i % 3 === 0 ? 0 : x));
}

describe('per-token-weighted cross-entropy (policy gradients)', () => {
  it('TRAIN-P1: the float64 weighted backward matches finite differences of Σ w·losses', () => {
    const [N, V] = [5, 7];
    const logits = randomVec(N * V, 11, 3);
    const targets = Int32Array.from({ length: N }, (_, n) => (n * 3) % V);
    const run = () => {
      const losses = new Float64Array(N);
      crossentropyForward(losses, new Float64Array(N * V), logits, targets, N, V);
      return losses;
    };
    const back = (dlosses: Float64Array) => {
      const probs = new Float64Array(N * V);
      crossentropyForward(new Float64Array(N), probs, logits, targets, N, V);
      const d = new Float64Array(N * V);
      crossentropyBackwardWeighted(d, probs, targets, dlosses, N, V);
      return [d];
    };
    expect(fdMaxError([logits], run, back)).toBeLessThan(1e-6);
  });

  it('TRAIN-P2: whole-model weighted gradient matches finite differences; weights 1/N give the mean-loss backward bit for bit', () => {
    const [B, T] = [2, 4];
    const b = backendOf(new JsBackend(arenaFor(MINI, B, T), 'f64'), MINI, 10) as JsBackend;
    const a = b.arena;
    loadBatch(b, batchOf(MINI, B, T, 3));
    const w = weightsOf(B * T, 4);
    const objective = () => {
      forward(b);
      const lp = readTargetLogprobs(b);
      return -lp.reduce((s, x, i) => s + x * w[i]!, 0);
    };
    objective();
    weightedBackward(b, w);
    const grads = b.readFloats(a.gradsAt, a.params.size);
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < a.params.size; i += 3) {
      const keep = b.f[a.paramsAt + i]!;
      b.f[a.paramsAt + i] = keep + h;
      const up = objective();
      b.f[a.paramsAt + i] = keep - h;
      const down = objective();
      b.f[a.paramsAt + i] = keep;
      const fd = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grads[i]!) / Math.max(1e-3, Math.abs(fd), Math.abs(grads[i]!)));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(Math.max(...grads.map(Math.abs))).toBeGreaterThan(1e-3);

    forward(b);
    weightedBackward(b, new Float64Array(B * T).fill(1 / (B * T)));
    const weighted = b.readFloats(a.gradsAt, a.params.size);
    forward(b);
    backward(b);
    expect(weighted).toEqual(b.readFloats(a.gradsAt, a.params.size));
  });

  it('TRAIN-P3: the WASM weighted backward and the hidden states track the JS f32 path', () => {
    const c: GptConfig = { kind: 'gpt', layers: 2, width: 16, heads: 2, context: 8, vocab: 13 };
    const [B, T] = [2, 8];
    const batch = batchOf(c, B, T, 5);
    const w = weightsOf(B * T, 6);
    const outs = [new JsBackend(arenaFor(c, B, T), 'f32'), new WasmBackend(arenaFor(c, B, T))].map((raw) => {
      const b = backendOf(raw, c, 5);
      loadBatch(b, batch);
      forward(b);
      const hidden = readHidden(b);
      const probs = readProbs(b);
      weightedBackward(b, w);
      return { hidden, probs, grads: b.readFloats(b.arena.gradsAt, b.arena.params.size) };
    });
    const rel = (x: Float64Array, y: Float64Array) => {
      let worst = 0;
      let scale = 1e-30;
      for (let i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
        scale = Math.max(scale, Math.abs(x[i]!));
      }
      return worst / scale;
    };
    expect(rel(outs[0]!.hidden, outs[1]!.hidden)).toBeLessThan(5e-5);
    expect(rel(outs[0]!.probs, outs[1]!.probs)).toBeLessThan(5e-5);
    expect(rel(outs[0]!.grads, outs[1]!.grads)).toBeLessThan(5e-5);
    expect(Math.max(...outs[0]!.grads.map(Math.abs))).toBeGreaterThan(1e-3);
  });

  it('TRAIN-P4: a weighted step raises log p of positively weighted tokens; the hidden state is the final LayerNorm', () => {
    const c: GptConfig = { kind: 'gpt', layers: 1, width: 16, heads: 2, context: 8, vocab: 8 };
    const b = backendOf(new JsBackend(arenaFor(c, 1, 8), 'f32'), c, 1) as JsBackend;
    const batch = batchOf(c, 1, 8, 8);
    const w = Float64Array.from({ length: 8 }, (_, i) => (i < 4 ? 0 : 0.25));
    const hp = { ...ADAMW_DEFAULTS, lr: 1e-2, weightDecay: 0 };
    const before = weightedTrainStep(b, batch, w, hp, 1);
    for (let t = 2; t <= 5; t++) weightedTrainStep(b, batch, w, hp, t);
    const after = weightedTrainStep(b, batch, w, hp, 6);
    for (let i = 4; i < 8; i++) expect(after[i]!).toBeGreaterThan(before[i]!);
    const hidden = readHidden(b);
    expect(Array.from(hidden)).toEqual(Array.from(b.f.subarray(gptHiddenAt(b.arena), gptHiddenAt(b.arena) + 8 * 16)));
  });

  it('TRAIN-P5: a backend without the weighted kernel refuses instead of ignoring the weights', () => {
    const b = new JsBackend(arenaFor(MINI, 1, 4), 'f32');
    const k = Object.assign(Object.create(Object.getPrototypeOf(b.kernels)), b.kernels);
    k.crossentropyBackwardWeighted = undefined;
    expect(() => gptBackward(k, b.arena, true)).toThrow(/weighted/);
  });

  for (const kind of ['wasm', 'js-f32'] as const)
    it(`TRAIN-P6 (${kind}): a batch run on its first rows only leaves the others alone and gives, bit for bit, those rows' values and the whole batch's gradient with the others weighing nothing`, () => {
      const c: GptConfig = { kind: 'gpt', layers: 2, width: 32, heads: 2, context: 8, vocab: 13 };
      const [B, T, used] = [6, 8, 3];
      const make = () =>
        backendOf(kind === 'wasm' ? new WasmBackend(arenaFor(c, B, T)) : new JsBackend(arenaFor(c, B, T), 'f32'), c, 3);
      const batch = batchOf(c, B, T, 9);
      const w = weightsOf(used * T, 10);
      const all = make();
      loadBatch(all, batch);
      forward(all);
      const wAll = new Float64Array(B * T);
      wAll.set(w);
      weightedBackward(all, wAll);
      const part = make();
      // Other rows hold an earlier batch's activations: what the partial run must not read.
      loadBatch(part, batchOf(c, B, T, 11));
      forward(part);
      const earlier = readHidden(part);
      loadBatch(part, batch);
      encodeForward(part, used);
      weightedBackward(part, w, used);
      const same = (x: Float64Array, y: Float64Array) => x.every((v, i) => Object.is(v, y[i]));
      // The rows past `used` were not run: they still hold the earlier batch's states.
      const C = c.width;
      expect(same(readHidden(part).slice(used * T * C), earlier.slice(used * T * C))).toBe(true);
      expect(same(readHidden(part, used), readHidden(all, used))).toBe(true);
      expect(same(readTargetLogprobs(part, used), readTargetLogprobs(all, used))).toBe(true);
      const gAll = all.readFloats(all.arena.gradsAt, all.arena.params.size);
      expect(Math.max(...gAll.map(Math.abs))).toBeGreaterThan(1e-3);
      // Bit for bit: the rows left out only ever added zeros.
      expect(same(part.readFloats(part.arena.gradsAt, part.arena.params.size), gAll)).toBe(true);
      expect(() => encodeForward(part, B + 1)).toThrow(RangeError);
    });
});
