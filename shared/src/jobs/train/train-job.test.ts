import { describe, expect, it } from 'vitest';
import { arenaFor, PRESETS, TrainConfigError, WasmBackend } from '../../train';
import { readCheckpoint } from './checkpoint';
import { stepSkippingNonFinite, type TrainEngine, WasmTrainEngine } from './engine';
import { checkFits, estimateTrainMemory } from './estimate';
import { learningRate } from './schedule';
import { type TrainEvent, prepareData, TrainSession, MAX_CONSECUTIVE_NONFINITE } from './session';
import { defaultTrainSpec, parseTrainSpec, type TrainSpec } from './spec';
import { GreedySampler } from './sample';
import { stateFromSafetensors, stateToSafetensors } from './safetensors-state';
import { readSafetensors, writeSafetensors } from '../../tensor';

const TEXT = Array.from(
  { length: 400 },
  (_, i) => `The ${['quick', 'lazy', 'brown', 'old'][i % 4]} fox number ${i % 13} jumps over the dog. `,
).join('');

function spec(over: Partial<TrainSpec> = {}): TrainSpec {
  return {
    ...defaultTrainSpec('job-testtest', 0),
    batch: 2,
    steps: 12,
    evalEvery: 4,
    evalBatches: 1,
    sampleEvery: 6,
    sampleTokens: 4,
    checkpointEvery: 4,
    lr: { peak: 3e-3, warmup: 3, minRatio: 0.1 },
    ...over,
  };
}

const data = prepareData(PRESETS.tiny, TEXT);

async function run(s: TrainSpec, from?: ReturnType<typeof readCheckpoint>, engine?: TrainEngine) {
  const events: TrainEvent[] = [];
  const e = engine ?? new WasmTrainEngine(new WasmBackend(arenaFor(s.model, s.batch, s.model.context)));
  const session = new TrainSession(
    s,
    {
      engine: e,
      sampler: new GreedySampler(s.model),
      data,
      emit: (x) => events.push(x),
      now: () => 0,
      yieldNow: async () => {},
    },
    from,
  );
  await session.run();
  return { events, session };
}

/** Index of the first differing byte, or -1 (vitest's deep equality is slow on megabyte arrays). */
function firstDiff(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'step' ? [[e.step, e.loss] as const] : []));

describe('train job', () => {
  it('TRAINJOB-1: warmup rises linearly to the peak, then cosine decays to the floor at the last step', () => {
    const s = { peak: 1e-3, warmup: 10, minRatio: 0.1 };
    expect(learningRate(s, 5, 100)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 10, 100)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 55, 100)).toBeCloseTo(0.55e-3, 12);
    expect(learningRate(s, 100, 100)).toBeCloseTo(1e-4, 12);
    for (let t = 11; t < 100; t++) expect(learningRate(s, t + 1, 100)).toBeLessThan(learningRate(s, t, 100));
  });

  it('TRAINJOB-2: a config that would not fit is refused before allocating, naming the estimate and the limit', () => {
    const huge = { kind: 'gpt' as const, layers: 48, width: 4096, heads: 32, context: 2048, vocab: 50_000 };
    expect(() => checkFits(huge, 8, 'wasm')).toThrow(TrainConfigError);
    expect(() => checkFits(huge, 8, 'wasm')).toThrow(
      /GiB of WebAssembly memory, over WebAssembly's limit of 4\.00 GiB/,
    );
    expect(() => checkFits(PRESETS.small, 64, 'webgpu', { wasmMaxBytes: 2 ** 32, gpuMaxBufferBytes: 2 ** 27 })).toThrow(
      /GPU buffer, over the adapter's largest buffer of 128\.0 MiB/,
    );
    const e = checkFits(PRESETS.tiny, 8, 'wasm');
    expect(e.parameters).toBe(estimateTrainMemory(PRESETS.tiny, 8).parameters);
    expect(e.parameters).toBeGreaterThan(400_000);
    expect(e.wasmBytes).toBeLessThan(2 ** 28);
  });

  it('TRAINJOB-3: a spec read back is validated: bad fields and impossible configs are refused by name', () => {
    expect(parseTrainSpec(spec())).toEqual(spec());
    expect(() => parseTrainSpec({ ...spec(), steps: -1 })).toThrow(/field steps/);
    expect(() => parseTrainSpec({ ...spec(), model: { ...PRESETS.tiny, heads: 3 } })).toThrow(/not divisible/);
    expect(() => parseTrainSpec({ ...spec(), extra: 1 })).toThrow(TrainConfigError);
  });

  it('TRAINJOB-4: a run resumed from a checkpoint continues bit-identically', async () => {
    const s = spec();
    const whole = await run(s);
    const done = whole.events.at(-1)!;
    expect(done.type).toBe('done');
    const ckpt = whole.events.find((e) => e.type === 'checkpoint' && e.step === 8);
    if (ckpt?.type !== 'checkpoint') throw new Error('no checkpoint at step 8');
    // Through structuredClone, as IndexedDB stores it.
    const from = readCheckpoint(structuredClone(ckpt.record), s.model);
    expect(from.history.train.map(([t]) => t)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const resumed = await run(s, from);
    expect(losses(resumed.events)).toEqual(losses(whole.events).slice(8));
    expect(resumed.session.history.train).toEqual(whole.session.history.train);
    expect(resumed.session.history.val).toEqual(whole.session.history.val);
    const a = whole.events.at(-1)!;
    const b = resumed.events.at(-1)!;
    if (a.type !== 'done' || b.type !== 'done') throw new Error('both runs finish');
    expect(firstDiff(b.record.state, a.record.state)).toBe(-1);
    // Training did something: the loss fell.
    const l = losses(whole.events);
    expect(l.at(-1)![1]).toBeLessThan(l[0]![1] - 0.5);
  });

  it('TRAINJOB-5: a non-finite loss skips the update and leaves weights and moments untouched', () => {
    const s = spec();
    const b = new WasmBackend(arenaFor(s.model, s.batch, s.model.context));
    b.f.fill(0.01, 0, 4 * b.arena.params.size);
    b.f[b.arena.paramsAt + 5] = Number.NaN; // token 0's embedding
    const before = b.f.slice(0, 3 * b.arena.params.size);
    const inputs = new Int32Array(s.batch * s.model.context); // all token 0
    const r = stepSkippingNonFinite(
      b,
      { inputs, targets: inputs },
      { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 },
      1,
    );
    expect(r.applied).toBe(false);
    expect(Number.isNaN(r.loss)).toBe(true);
    expect(firstDiff(b.f.slice(0, 3 * b.arena.params.size), before)).toBe(-1);
  });

  it('TRAINJOB-6: repeated non-finite losses stop the job with a message saying what to do', async () => {
    const s = spec();
    const real = new WasmTrainEngine(new WasmBackend(arenaFor(s.model, s.batch, s.model.context)));
    let calls = 0;
    const flaky: TrainEngine = {
      ...real,
      name: 'flaky',
      load: (x) => real.load(x),
      save: (x) => real.save(x),
      params: () => real.params(),
      evalLoss: (x) => real.evalLoss(x),
      dispose: () => real.dispose(),
      // Step 2's first try is NaN (skipped, then retried on the next batch); from the 6th call on, always Inf.
      step: async (batch, hp, t) =>
        ++calls === 2 || calls >= 6
          ? { loss: calls === 2 ? Number.NaN : Infinity, applied: false }
          : real.step(batch, hp, t),
    };
    const { events } = await run(s, undefined, flaky);
    const skipped = events.filter((e) => e.type === 'skipped');
    expect(skipped.length).toBe(1 + MAX_CONSECUTIVE_NONFINITE);
    expect(skipped[0]).toMatchObject({
      step: 2,
      message: expect.stringMatching(/step 2 was NaN: the step was skipped/),
    });
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'failed', step: 4, message: expect.stringMatching(/Lower the learning rate/) });
  });

  it('TRAINJOB-7: stored checkpoints are validated: malformed, foreign config and tampered bytes are refused', async () => {
    const s = spec({ steps: 4, checkpointEvery: 2 });
    const { events } = await run(s);
    const ck = events.find((e) => e.type === 'checkpoint');
    if (ck?.type !== 'checkpoint') throw new Error('no checkpoint');
    expect(readCheckpoint(ck.record, s.model).state.step).toBe(2);
    expect(() => readCheckpoint({ ...ck.record, format: 'x' }, s.model)).toThrow(/malformed/);
    expect(() =>
      readCheckpoint({ ...ck.record, history: { ...ck.record.history, train: [[1, 'x']] } }, s.model),
    ).toThrow(/malformed/);
    expect(() => readCheckpoint(ck.record, { ...s.model, layers: 3 })).toThrow(/another model config/);
    expect(() => readCheckpoint({ ...ck.record, state: ck.record.state.slice(0, 100) }, s.model)).toThrow();
    expect(() =>
      readCheckpoint({ ...ck.record, tokenizer: { format: 'bpe-bytes-1', vocabSize: 3, merges: [] } }, s.model),
    ).toThrow();
  });

  it('TRAINJOB-8: pause holds the loop between steps, resume continues, cancel stops it', async () => {
    const s = spec({ steps: 6 });
    const events: TrainEvent[] = [];
    const engine = new WasmTrainEngine(new WasmBackend(arenaFor(s.model, s.batch, s.model.context)));
    let ticks = 0;
    let session!: TrainSession;
    const paused: number[] = [];
    session = new TrainSession(s, {
      engine,
      sampler: null,
      data,
      emit: (x) => {
        events.push(x);
        if (x.type === 'step' && x.step === 2) session.pause();
      },
      now: () => 0,
      yieldNow: async () => {
        ticks++;
      },
    });
    const done = session.run();
    for (let i = 0; i < 50 && session.step < 2; i++) await new Promise((r) => setTimeout(r, 5));
    // Long enough for several steps (a few ms each) had the pause not held.
    await new Promise((r) => setTimeout(r, 200));
    paused.push(session.step);
    expect(paused).toEqual([2]);
    const p = events.find((e) => e.type === 'paused');
    expect(p?.type === 'paused' && p.record.step).toBe(2);
    session.resume();
    for (let i = 0; i < 200 && session.step < 3; i++) await new Promise((r) => setTimeout(r, 5));
    session.cancel();
    await done;
    expect(events.at(-1)!.type).toMatch(/cancelled|done/);
    expect(session.step).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeGreaterThan(2);
  });

  it('TRAINJOB-9: a corpus too small for the context is refused with what to do', () => {
    expect(() => prepareData(PRESETS.tiny, 'hello world')).toThrow(/upload more text/);
  });
});

describe('train checkpoints as safetensors', () => {
  it('TRAINJOB-10: a state round-trips through safetensors; a file for another config is refused naming what differs', async () => {
    const s = spec({ steps: 2 });
    const { events } = await run(s);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error('run finishes');
    const ck = readCheckpoint(done.record, s.model);
    const bytes = stateToSafetensors(ck.state, ck.tokenizer);
    const back = stateFromSafetensors(bytes, s.model, ck.state.hyper);
    expect(back.state.step).toBe(2);
    expect(firstDiff(back.state.params, ck.state.params)).toBe(-1);
    expect(firstDiff(back.state.v, ck.state.v)).toBe(-1);
    expect(back.tokenizer.toJSON()).toEqual(ck.tokenizer.toJSON());
    expect(() => stateFromSafetensors(bytes, { ...s.model, layers: 3, width: 64 }, ck.state.hyper)).toThrow(
      /another model \(layers: file 2, job 3; width: file 128, job 64\)/,
    );
    // A tensor of the wrong shape under the right config is named.
    const file = readSafetensors(bytes);
    const bad = writeSafetensors(
      file.tensors.map((t) => (t.name === 'h1.fcb' ? { ...t, shape: [2, 256], data: t.data } : t)),
      file.metadata,
    );
    expect(() => stateFromSafetensors(bad, s.model, ck.state.hyper)).toThrow(
      /h1\.fcb has shape \[2,256\], the job needs \[512\]/,
    );
    // Weights only: AdamW starts afresh at step 0.
    const weightsOnly = writeSafetensors(
      file.tensors.filter((t) => !t.name.startsWith('adam.')),
      file.metadata,
    );
    const fresh = stateFromSafetensors(weightsOnly, s.model, ck.state.hyper);
    expect(fresh.state.step).toBe(0);
    expect(fresh.state.m.every((x) => x === 0)).toBe(true);
  });
});
