import { defaultTrainSpec, emptyHistory, parseTrainSpec, type TrainSpec } from '@shared/jobs';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../storage/kv';
import { baselineSpec, findBaseline, isBaselineOf } from './baseline';
import { lossSeries } from './chart-data';
import type { FromTrainWorker, ToTrainWorker } from './messages';
import { Trainer, type WorkerLike } from './trainer';
import { TrainStore } from './train-store';

const TEXT = 'some uploaded text '.repeat(100);

function together(id: string): TrainSpec {
  return {
    ...defaultTrainSpec(id, 1),
    corpus: { kind: 'upload', name: 'a.txt', format: 'txt' },
    batch: 4,
    steps: 40,
    where: 'together',
    together: { providers: 3, innerSteps: 4, outerLr: 0.7, topK: 32 },
  };
}

class IdleWorker implements WorkerLike {
  readonly sent: ToTrainWorker[] = [];
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  postMessage(m: ToTrainWorker) {
    this.sent.push(m);
  }
  terminate() {}
}

describe('the single-worker baseline of a together job (TRAINUI-BASE1..3)', () => {
  it('TRAINUI-BASE1: the same model, corpus, seed and steps at batch N·B, trained here; recognised as the baseline', () => {
    const spec = together('train-together1');
    const base = parseTrainSpec(baselineSpec(spec, 'train-baseline1', 2));
    expect(base).toMatchObject({ id: 'train-baseline1', where: 'here', batch: 12, steps: 40, seed: spec.seed });
    expect(base.together).toBeUndefined();
    expect(isBaselineOf(base, spec)).toBe(true);
    expect(isBaselineOf({ ...base, seed: spec.seed + 1 }, spec)).toBe(false);
    expect(isBaselineOf({ ...base, batch: 4 }, spec)).toBe(false);
    expect(isBaselineOf({ ...base, model: { ...base.model, layers: 3 } }, spec)).toBe(false);
    expect(isBaselineOf(spec, spec)).toBe(false);
    expect(() => baselineSpec(base, 'train-baseline2', 3)).toThrow(/not trained together/);
    // The furthest of several baselines is the one shown.
    const jobs = [
      { spec: base, step: 10 },
      { spec: { ...base, id: 'train-baseline3' }, step: 30 },
      { spec: together('train-together2'), step: 40 },
    ];
    expect(findBaseline(jobs, spec)?.spec.id).toBe('train-baseline3');
    expect(findBaseline([jobs[2]!], spec)).toBeUndefined();
  });

  it('TRAINUI-BASE2: the chart aligns the baseline’s validation loss with the job’s steps', () => {
    const h = { ...emptyHistory(), train: [[4, 5]] as [number, number][], val: [[4, 4.5]] as [number, number][] };
    const one = {
      ...emptyHistory(),
      val: [
        [4, 4.4],
        [8, 4.1],
      ] as [number, number][],
    };
    expect(lossSeries(h, one)).toEqual([
      [4, 8],
      [5, null],
      [4.5, null],
      [4.4, 4.1],
    ]);
    expect(lossSeries(h)).toHaveLength(3);
  });

  it('TRAINUI-BASE3: the Trainer starts the baseline with the together job’s uploaded corpus', async () => {
    const workers: IdleWorker[] = [];
    const trainer = new Trainer(new TrainStore(memoryStore(), async () => null), () => {
      const w = new IdleWorker();
      workers.push(w);
      return w;
    });
    const spec = together('train-together3');
    await trainer.create(spec, TEXT);
    await trainer.cancel(spec.id);
    await trainer.createBaseline(spec.id, 'train-baseline4');
    const start = workers.at(-1)!.sent[0];
    expect(start?.type).toBe('start');
    if (start?.type !== 'start') return;
    expect(start.spec).toMatchObject({ id: 'train-baseline4', where: 'here', batch: 12 });
    expect(start.text).toBe(TEXT);
    expect(findBaseline(trainer.jobs.get(), spec)?.spec.id).toBe('train-baseline4');
  });
});
