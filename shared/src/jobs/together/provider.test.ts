import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS, arenaFor, type Batch, newTrainState, PRESETS, WasmBackend } from '../../train';
import { WasmTrainEngine } from '../train/engine';
import { ErrorFeedback } from './compress';
import { AheadDroppedError } from './errors';
import { RoundTrainer } from './provider';

const CONFIG = { ...PRESETS.tiny, layers: 1, width: 32, heads: 2, context: 16, vocab: 64 };
const B = 2;
const H = 6;
const COMPRESS = { chunk: 256, topK: 16, decay: 0.95 };

function batches(seed: number): Batch[] {
  return Array.from({ length: H }, (_, h) => {
    const at = (i: number) => (i * 7 + h * 13 + seed * 31) % CONFIG.vocab;
    return {
      inputs: Int32Array.from({ length: B * CONFIG.context }, (_, i) => at(i)),
      targets: Int32Array.from({ length: B * CONFIG.context }, (_, i) => at(i + 1)),
    };
  });
}

/** A trainer that has trained one round from the seeded init, so it has a last end and moments. */
async function trainedOnce() {
  const engine = new WasmTrainEngine(new WasmBackend(arenaFor(CONFIG, B, CONFIG.context)));
  const state = newTrainState(CONFIG, ADAMW_DEFAULTS, 5);
  const trainer = new RoundTrainer(engine, state, new ErrorFeedback(state.params.length, COMPRESS), ADAMW_DEFAULTS);
  await trainer.train(state.params.slice(), batches(1));
  return trainer;
}

/** The round's version: the last end moved a little, as an outer step would move it. */
const versionFrom = (end: Float32Array) => Float32Array.from(end, (x, i) => x + Math.sin(i) * 1e-3);

const clone = async (t: RoundTrainer) => {
  const copy = await trainedOnce();
  copy.state.params.set(t.state.params);
  copy.state.m.set(t.state.m);
  copy.state.v.set(t.state.v);
  copy.state.step = t.state.step;
  return copy;
};

describe('RoundTrainer.trainAhead (overlap with eager updates)', () => {
  it('TOGETHER-AHEAD1: a version there before the first step gives exactly what train() gives', async () => {
    const a = await trainedOnce();
    const b = await clone(a);
    const version = versionFrom(a.state.params);
    const plain = await a.train(version, batches(2));
    const ahead = await b.trainAhead(batches(2), { poll: () => version, arrived: async () => version });
    expect(ahead.delta).toEqual(plain.delta);
    expect(ahead.bytes).toEqual(plain.bytes);
    expect(b.state.params).toEqual(a.state.params);
    expect(ahead.waitedMs).toBe(0);
  });

  it('TOGETHER-AHEAD2: a version arriving after k steps moves the weights by (version − last end); Δ is relative to the version', async () => {
    for (const k of [1, 3, H]) {
      const ahead = await trainedOnce();
      const manual = await clone(ahead);
      const from = ahead.state.params.slice();
      const version = versionFrom(from);
      let done = 0;
      let resolve: (v: Float32Array) => void = () => {};
      const arrival = new Promise<Float32Array>((r) => (resolve = r));
      const pending = ahead.trainAhead(
        batches(2),
        { poll: () => (done >= k ? version : null), arrived: () => arrival },
        async () => void done++,
      );
      if (k === H) setTimeout(() => resolve(version), 20);
      const work = await pending;
      // By hand: k steps from the last end, the shift, the remaining steps from the shifted weights.
      const first = await manual.train(from, batches(2).slice(0, k));
      expect(first.losses).toEqual(work.losses.slice(0, k));
      const shifted = Float32Array.from(manual.state.params, (x, i) => x + (version[i]! - from[i]!));
      await manual.train(shifted, batches(2).slice(k));
      const expected = Float32Array.from(version, (x, i) => x - manual.state.params[i]!);
      expect(work.delta).toEqual(expected);
      expect(ahead.state.params).toEqual(manual.state.params);
      expect(ahead.state.step).toBe(manual.state.step);
      if (k === H) expect(work.waitedMs).toBeGreaterThan(5);
      else expect(work.waitedMs).toBe(0);
    }
  });

  it('TOGETHER-AHEAD3: called off between steps, it throws AheadDroppedError and sends nothing', async () => {
    const t = await trainedOnce();
    const residual = t.feedback.residual.slice();
    let done = 0;
    const work = t.trainAhead(
      batches(2),
      { poll: () => null, arrived: () => new Promise(() => {}) },
      async () => void done++,
      () => done >= 2,
    );
    await expect(work).rejects.toBeInstanceOf(AheadDroppedError);
    expect(done).toBe(2);
    expect(t.feedback.residual).toEqual(residual);
  });

  it('TOGETHER-AHEAD4: warming a fresh inner optimizer leaves the weights bit for bit and makes its first step follow the gradients, not their signs', async () => {
    const version = versionFrom((await trainedOnce()).state.params);
    const fresh = () => {
      const engine = new WasmTrainEngine(new WasmBackend(arenaFor(CONFIG, B, CONFIG.context)));
      const state = newTrainState(CONFIG, ADAMW_DEFAULTS, 9);
      return new RoundTrainer(engine, state, new ErrorFeedback(state.params.length, COMPRESS), ADAMW_DEFAULTS);
    };
    const warmed = fresh();
    // Only a new optimizer after round 0 (a tab joining) warms; round 0's volunteers all start fresh.
    expect([warmed.needsWarm(0), warmed.needsWarm(5)]).toEqual([false, true]);
    await warmed.warm(version, batches(3));
    expect(warmed.needsWarm(5)).toBe(false);
    expect(warmed.state.params).toEqual(version);
    expect(warmed.state.step).toBe(H);
    expect(warmed.state.v.some((x) => x > 0)).toBe(true);
    // One step each: from zero moments every weight with a gradient moves by ~lr (sign-like).
    const cold = fresh();
    const step = batches(4).slice(0, 1);
    const coldMove = (await cold.train(version, step)).delta;
    const warmMove = (await warmed.train(version, step)).delta;
    const lr = ADAMW_DEFAULTS.lr;
    const nearLr = (d: Float32Array) => d.filter((x) => Math.abs(x) > 0.9 * lr).length / d.length;
    expect(nearLr(coldMove)).toBeGreaterThan(0.9);
    expect(nearLr(warmMove)).toBeLessThan(0.5);
  });
});
