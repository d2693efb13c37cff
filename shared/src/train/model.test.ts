import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS } from './adamw';
import { JsBackend } from './backend';
import { type GptConfig, MLP_CLASSIFIER } from './config';
import { arenaFor } from './layout';
import { deserializeState, fromBf16, newTrainState, restoreInto, captureFrom, serializeState, toBf16 } from './state';
import { backward, type Batch, forward, loadBatch, trainStep } from './step';
import { mulberry32 } from '../random';

/** Small enough that a full finite-difference sweep is ~2000 forwards of a few microseconds. */
const MINI: GptConfig = { kind: 'gpt', layers: 2, width: 8, heads: 2, context: 4, vocab: 11 };

function batchOf(config: GptConfig, B: number, T: number, seed: number): Batch {
  const u = mulberry32(seed);
  const seq = Int32Array.from({ length: B * (T + 1) }, () => Math.floor(u() * config.vocab));
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = seq[b * (T + 1) + t]!;
      targets[b * T + t] = seq[b * (T + 1) + t + 1]!;
    }
  return { inputs, targets };
}

function backendWith(config: GptConfig, B: number, T: number, precision: 'f64' | 'f32', seed = 1): JsBackend {
  const b = new JsBackend(arenaFor(config, B, T), precision);
  restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, seed));
  // GPT-2 init gives tiny gradients; larger weights make the check sensitive to every term.
  const a = b.arena;
  const p = b.readFloats(a.paramsAt, a.params.size).map((x, i) => x * 10 + (i % 7) * 0.01);
  b.writeFloats(a.paramsAt, p);
  return b;
}

describe('GPT step on the float64 reference', () => {
  it('TRAIN-M1: whole-model gradient matches finite differences of the loss', () => {
    const [B, T] = [2, 4];
    const b = backendWith(MINI, B, T, 'f64');
    loadBatch(b, batchOf(MINI, B, T, 3));
    const a = b.arena;
    forward(b);
    backward(b);
    const grads = b.readFloats(a.gradsAt, a.params.size);
    // Truncation error scales with h² here (1e-3 at h = 1e-4, 1e-5 at 1e-5); 1e-6 sits above round-off.
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < a.params.size; i++) {
      const keep = b.f[a.paramsAt + i]!;
      b.f[a.paramsAt + i] = keep + h;
      const up = forward(b);
      b.f[a.paramsAt + i] = keep - h;
      const down = forward(b);
      b.f[a.paramsAt + i] = keep;
      const fd = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grads[i]!) / Math.max(1e-3, Math.abs(fd), Math.abs(grads[i]!)));
    }
    // Central differences in float64 leave ~1e-8 relative error on these sizes.
    expect(worst).toBeLessThan(1e-5);
    expect(Math.max(...grads.map(Math.abs))).toBeGreaterThan(1e-3);
  });

  it('TRAIN-M2: f32 gradients equal the float64 reference within 1e-4 of the largest gradient', () => {
    const config: GptConfig = { kind: 'gpt', layers: 2, width: 32, heads: 4, context: 16, vocab: 64 };
    const [B, T] = [2, 16];
    const batch = batchOf(config, B, T, 5);
    const grads = (['f64', 'f32'] as const).map((prec) => {
      const b = backendWith(config, B, T, prec);
      loadBatch(b, batch);
      forward(b);
      backward(b);
      return b.readFloats(b.arena.gradsAt, b.arena.params.size);
    });
    const scale = Math.max(...grads[0]!.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < grads[0]!.length; i++) worst = Math.max(worst, Math.abs(grads[0]![i]! - grads[1]![i]!));
    expect(worst / scale).toBeLessThan(1e-4);
  });

  it('TRAIN-M3: a seeded run is bit-identical on rerun', () => {
    const run = () => {
      const b = backendWith(MINI, 2, 4, 'f32', 9);
      const losses = [];
      for (let t = 1; t <= 5; t++) losses.push(trainStep(b, batchOf(MINI, 2, 4, 100 + t), ADAMW_DEFAULTS, t));
      return { losses, params: b.f.slice() };
    };
    const [x, y] = [run(), run()];
    expect(x.losses).toEqual(y.losses);
    expect(Buffer.from(x.params.buffer).equals(Buffer.from(y.params.buffer))).toBe(true);
  });

  it('TRAIN-M4: loss falls on a tiny repeating corpus', () => {
    const config: GptConfig = { kind: 'gpt', layers: 1, width: 16, heads: 2, context: 8, vocab: 8 };
    const b = new JsBackend(arenaFor(config, 2, 8), 'f32');
    restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, 4));
    const text = Int32Array.from({ length: 64 }, (_, i) => [0, 1, 2, 3, 4, 5, 6, 7][(i * 3) % 8]!);
    const batch = { inputs: text.subarray(0, 16), targets: text.subarray(1, 17) };
    const hp = { ...ADAMW_DEFAULTS, lr: 1e-2 };
    const first = trainStep(b, batch, hp, 1);
    let last = first;
    for (let t = 2; t <= 60; t++) last = trainStep(b, batch, hp, t);
    expect(first).toBeGreaterThan(1.8); // ≈ ln 8 at init
    expect(last).toBeLessThan(first / 4);
  });

  it('TRAIN-M5: the MLP classifier trains through the same step', () => {
    const b = new JsBackend(arenaFor(MLP_CLASSIFIER, 8, 1), 'f32');
    restoreInto(b, newTrainState(MLP_CLASSIFIER, ADAMW_DEFAULTS, 2));
    const u = mulberry32(3);
    const inputs = Float32Array.from({ length: 8 * 64 }, () => u());
    const targets = Int32Array.from({ length: 8 }, (_, i) => i % 10);
    const first = trainStep(b, { inputs, targets }, ADAMW_DEFAULTS, 1);
    let last = first;
    for (let t = 2; t <= 40; t++) last = trainStep(b, { inputs, targets }, ADAMW_DEFAULTS, t);
    expect(last).toBeLessThan(first / 4);
  });
});

describe('training state', () => {
  it('TRAIN-S1: state round-trips through bytes and resumes bit-identically', () => {
    const straight = backendWith(MINI, 2, 4, 'f32', 5);
    for (let t = 1; t <= 4; t++) trainStep(straight, batchOf(MINI, 2, 4, t), ADAMW_DEFAULTS, t);

    const first = backendWith(MINI, 2, 4, 'f32', 5);
    for (let t = 1; t <= 2; t++) trainStep(first, batchOf(MINI, 2, 4, t), ADAMW_DEFAULTS, t);
    const s = newTrainState(MINI, ADAMW_DEFAULTS, 5);
    captureFrom(first, s);
    s.step = 2;
    const back = deserializeState(serializeState(s));
    expect(back.step).toBe(2);
    const resumed = new JsBackend(arenaFor(MINI, 2, 4), 'f32');
    restoreInto(resumed, back);
    for (let t = 3; t <= 4; t++) trainStep(resumed, batchOf(MINI, 2, 4, t), ADAMW_DEFAULTS, t);
    const P = straight.arena.params.size;
    expect(resumed.f.subarray(0, 3 * P)).toEqual(straight.f.subarray(0, 3 * P));
  });

  it('TRAIN-S2: corrupt checkpoints are refused with a typed error', () => {
    const bytes = serializeState(newTrainState(MINI, ADAMW_DEFAULTS, 1));
    expect(() => deserializeState(bytes.subarray(0, bytes.length - 4))).toThrow(/3 ×/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => deserializeState(bad)).toThrow(/not a training checkpoint/);
  });

  it('TRAIN-S3: bf16 snapshots round to nearest even', () => {
    const x = Float32Array.of(1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 1 + 2 ** -7);
    expect([...fromBf16(toBf16(x))]).toEqual([1, 1, 1 + 2 ** -6, -2.5, 1 + 2 ** -7]);
  });
});
