import { checkpointRecord, defaultTrainSpec, emptyHistory, type TrainSpec } from '@shared/jobs';
import { ADAMW_DEFAULTS, newTrainState, PRESETS, Tokenizer } from '@shared/train';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../storage/kv';
import type { FromTrainWorker, ToTrainWorker } from './messages';
import { TrainBusyError, Trainer, type WorkerLike } from './trainer';
import { TrainStore } from './train-store';

/** A worker the test scripts: it records what the page sends and replies on demand. */
class ScriptedWorker implements WorkerLike {
  readonly sent: ToTrainWorker[] = [];
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  terminated = false;
  postMessage(m: ToTrainWorker) {
    this.sent.push(m);
  }
  terminate() {
    this.terminated = true;
  }
  reply(m: FromTrainWorker) {
    this.onmessage?.({ data: m } as MessageEvent<FromTrainWorker>);
  }
}

const tokenizer = Tokenizer.train('the cat sat on the mat. '.repeat(30), 300);
const TEXT = 'some uploaded text '.repeat(100);

function spec(id: string): TrainSpec {
  return { ...defaultTrainSpec(id, Date.now()), corpus: { kind: 'upload', name: 'a.txt', format: 'txt' } };
}

function record(step: number) {
  const s = newTrainState(PRESETS.tiny, ADAMW_DEFAULTS, 1);
  s.step = step;
  const h = emptyHistory();
  for (let t = 1; t <= step; t++) h.train.push([t, 6 - t / 100]);
  return checkpointRecord(s, tokenizer.toJSON(), h, 0);
}

/** Lets queued promise chains (the trainer's message queue, the store) run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function setup(kv = memoryStore()) {
  const workers: ScriptedWorker[] = [];
  const store = new TrainStore(kv, async () => null);
  const trainer = new Trainer(store, () => {
    const w = new ScriptedWorker();
    workers.push(w);
    return w;
  });
  return { kv, store, trainer, workers };
}

describe('Trainer (the page side of a Train job)', () => {
  it('TRAINUI-7: a job runs in a worker, its checkpoints and final status are stored, and the view follows', async () => {
    const { store, trainer, workers } = setup();
    const s = spec('train-aaaaaaaa');
    await trainer.create(s, TEXT);
    const w = workers[0]!;
    expect(w.sent[0]).toMatchObject({ type: 'start', text: TEXT, checkpoint: null });
    w.reply({ type: 'started', backend: 'wasm-simd', step: 0, note: 'test' });
    w.reply({ type: 'event', event: { type: 'step', step: 1, loss: 6, lr: 1e-4, tokensPerS: 1000, etaS: 10 } });
    w.reply({ type: 'event', event: { type: 'eval', step: 1, valLoss: 5.9 } });
    w.reply({ type: 'event', event: { type: 'checkpoint', step: 1, record: record(1) } });
    await settle();
    expect(trainer.view(s.id)).toMatchObject({ status: 'running', step: 1, loss: 6, checkpointStep: 1 });
    expect(trainer.view(s.id)!.history.val).toEqual([[1, 5.9]]);
    expect(await store.checkpointSteps(s.id)).toEqual([1]);
    w.reply({ type: 'event', event: { type: 'done', step: 2, record: record(2) } });
    await settle();
    expect(trainer.view(s.id)!.status).toBe('done');
    expect(w.terminated).toBe(true);
    expect((await store.jobs()).jobs[0]).toMatchObject({ status: 'done' });
    expect(await store.checkpointSteps(s.id)).toEqual([1, 2]);
  });

  it('TRAINUI-8: a page load resumes the running job from its newest checkpoint, with its curves', async () => {
    const first = setup();
    const s = spec('train-bbbbbbbb');
    await first.trainer.create(s, TEXT);
    first.workers[0]!.reply({ type: 'event', event: { type: 'checkpoint', step: 25, record: record(25) } });
    await settle();
    // The page goes away; a new one opens the same store.
    const second = setup(first.kv);
    await second.trainer.restore();
    const w = second.workers[0]!;
    const start = w.sent[0];
    expect(start?.type === 'start' && start.checkpoint?.step).toBe(25);
    expect(start?.type === 'start' && start.text).toBe(TEXT);
    expect(second.trainer.view(s.id)!.history.train.length).toBe(25);
  });

  it('TRAINUI-9: pause stores a checkpoint and the paused status; resume continues in the same worker', async () => {
    const { store, trainer, workers } = setup();
    const s = spec('train-cccccccc');
    await trainer.create(s, TEXT);
    const w = workers[0]!;
    trainer.pause(s.id);
    expect(w.sent.at(-1)).toEqual({ type: 'pause' });
    w.reply({ type: 'event', event: { type: 'paused', step: 7, record: record(7) } });
    await settle();
    expect(trainer.view(s.id)!.status).toBe('paused');
    expect((await store.jobs()).jobs[0]!.status).toBe('paused');
    expect(await store.checkpointSteps(s.id)).toEqual([7]);
    await trainer.resume(s.id);
    expect(w.sent.at(-1)).toEqual({ type: 'resume' });
    expect(workers.length).toBe(1);
  });

  it('TRAINUI-10: one job trains at a time; a worker error fails the job with its message; cancel stops it', async () => {
    const { trainer, workers } = setup();
    const a = spec('train-dddddddd');
    await trainer.create(a, TEXT);
    await expect(trainer.create(spec('train-eeeeeeee'), TEXT)).rejects.toThrow(TrainBusyError);
    workers[0]!.reply({ type: 'error', code: 'data', message: 'the corpus makes only 3 tokens: upload more text' });
    await settle();
    expect(trainer.view(a.id)).toMatchObject({ status: 'failed', message: expect.stringMatching(/upload more text/) });
    const b = spec('train-ffffffff');
    await trainer.create(b, TEXT);
    await trainer.cancel(b.id);
    expect(trainer.view(b.id)!.status).toBe('cancelled');
    expect(workers[1]!.terminated).toBe(true);
  });
});

describe('Trainer on a lost WebGPU device', () => {
  it('TRAINUI-11: a lost device restarts the job on WASM from its newest checkpoint and says so', async () => {
    const { store, trainer, workers } = setup();
    const s = { ...spec('train-gggggggg'), backend: 'webgpu' as const };
    await trainer.create(s, TEXT);
    const w = workers[0]!;
    w.reply({ type: 'started', backend: 'webgpu', step: 0, note: 'hardware adapter' });
    w.reply({ type: 'event', event: { type: 'checkpoint', step: 25, record: record(25) } });
    w.reply({ type: 'device-lost', message: 'GPU process exited' });
    await settle();
    await settle();
    expect(w.terminated).toBe(true);
    const again = workers[1]!;
    const start = again.sent[0];
    expect(start?.type === 'start' && start.spec.backend).toBe('wasm');
    expect(start?.type === 'start' && start.checkpoint?.step).toBe(25);
    again.reply({ type: 'started', backend: 'wasm-simd', step: 25, note: 'chosen' });
    await settle();
    expect(trainer.view(s.id)!.message).toMatch(
      /WebGPU device was lost \(GPU process exited\): continuing on WebAssembly from the checkpoint at step 25/,
    );
    expect((await store.jobs()).jobs[0]!.spec.backend).toBe('wasm');
  });
});
