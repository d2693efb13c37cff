import { checkpointRecord, defaultTrainSpec, emptyHistory, parseTrainSpec, TRAIN_SPEC_VERSION } from '@shared/jobs';
import { ADAMW_DEFAULTS, newTrainState, PRESETS, Tokenizer, TrainDataError } from '@shared/train';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../storage/kv';
import { lossSeries } from './chart-data';
import { corpusFromFile, DEFAULT_FORM, specFromForm } from './form';
import { TrainStore } from './train-store';

const enc = (s: string) => new TextEncoder().encode(s);
const tokenizer = Tokenizer.train('hello world, hello there. '.repeat(20), 300);

function record(step: number) {
  const s = newTrainState(PRESETS.tiny, ADAMW_DEFAULTS, 1);
  s.step = step;
  return checkpointRecord(s, tokenizer.toJSON(), emptyHistory(), 0);
}

describe('train form', () => {
  it('TRAINUI-1: an empty or binary upload is refused with a clear message', () => {
    expect(() => corpusFromFile('a.txt', new Uint8Array(0))).toThrow(/a\.txt is empty/);
    expect(() => corpusFromFile('b.txt', Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 1))).toThrow(/binary/);
    expect(() => corpusFromFile('c.jsonl', enc('{"x": 1}\n'))).toThrow(/line 1 has no string "text" field/);
    expect(corpusFromFile('d.jsonl', enc('{"text":"one"}\n"two"\n'))).toEqual({
      name: 'd.jsonl',
      format: 'jsonl',
      text: 'one\n\ntwo',
    });
  });

  it('TRAINUI-2: form values become a validated spec; bad ones are refused naming the field', () => {
    const spec = specFromForm(DEFAULT_FORM, null, 'train-abcdefgh', 5);
    expect(spec).toMatchObject({
      schema: TRAIN_SPEC_VERSION,
      model: PRESETS.tiny,
      corpus: { kind: 'brown', files: 8 },
      steps: 200,
    });
    expect(() => specFromForm({ ...DEFAULT_FORM, corpus: 'upload' }, null, 'train-abcdefgh', 5)).toThrow(
      TrainDataError,
    );
    expect(() => specFromForm({ ...DEFAULT_FORM, batch: 0 }, null, 'train-abcdefgh', 5)).toThrow(/field batch/);
    expect(() => specFromForm({ ...DEFAULT_FORM, warmup: 300 }, null, 'train-abcdefgh', 5)).toThrow(/warmup/);
    expect(() =>
      specFromForm(
        { ...DEFAULT_FORM, preset: 'custom', custom: { ...DEFAULT_FORM.custom, heads: 5 } },
        null,
        'train-abcdefgh',
        5,
      ),
    ).toThrow(/not divisible/);
    // Training together: the outer rate is per volunteer counted unless set per round; a spec from before the
    // setting (no outerLrPer) still parses, and an unknown value names the field.
    const together = specFromForm({ ...DEFAULT_FORM, where: 'together', steps: 200 }, null, 'train-abcdefgh', 5);
    expect(together.together).toMatchObject({ outerLr: 0.5, outerLrPer: 'contribution' });
    const { outerLrPer: _, ...older } = together.together!;
    expect(parseTrainSpec({ ...together, together: older }).together?.outerLrPer).toBeUndefined();
    expect(() => parseTrainSpec({ ...together, together: { ...older, outerLrPer: 'volunteer' } })).toThrow(
      /field together.outerLrPer/,
    );
  });

  it('TRAINUI-3: validation points line up with the training steps for the chart', () => {
    const h = {
      ...emptyHistory(),
      train: [
        [1, 5],
        [2, 4],
      ] as [number, number][],
      val: [
        [0, 6],
        [2, 3.5],
      ] as [number, number][],
    };
    expect(lossSeries(h)).toEqual([
      [0, 1, 2],
      [null, 5, 4],
      [6, null, 3.5],
    ]);
  });
});

describe('train store', () => {
  const spec = { ...defaultTrainSpec('train-abcdefgh', 1), keepCheckpoints: 2 };

  it('TRAINUI-4: keeps the newest K checkpoints and returns the newest valid one', async () => {
    const store = new TrainStore(memoryStore(), async () => null);
    for (const step of [25, 50, 75]) expect((await store.saveCheckpoint(spec, record(step))).saved).toBe(true);
    expect(await store.checkpointSteps(spec.id)).toEqual([50, 75]);
    expect((await store.latestCheckpoint(spec)).checkpoint?.state.step).toBe(75);
  });

  it('TRAINUI-5: a corrupt stored checkpoint is skipped and named; a foreign job record is reported', async () => {
    const kv = memoryStore();
    const store = new TrainStore(kv, async () => null);
    await store.saveCheckpoint(spec, record(25));
    await store.saveCheckpoint(spec, record(50));
    kv.map.set('train/ckpt/train-abcdefgh/0000000050', { ...record(50), state: new Uint8Array(10) });
    const latest = await store.latestCheckpoint(spec);
    expect(latest.checkpoint?.state.step).toBe(25);
    expect(latest.problems[0]).toMatch(/checkpoint at step 50/);
    await store.putJob({ spec, status: 'running', message: '' });
    kv.map.set('train/job/evil', { spec: { ...spec, steps: 'many' }, status: 'running', message: '' });
    const { jobs, problems } = await store.jobs();
    expect(jobs.map((j) => j.spec.id)).toEqual([spec.id]);
    expect(problems[0]).toMatch(/train\/job\/evil: .*steps/);
  });

  it('TRAINUI-6: within the quota older checkpoints go first; if nothing fits the reason says what to do', async () => {
    let free = 0;
    const kv = memoryStore();
    const store = new TrainStore(kv, async () => ({ usage: 1e9 - free, quota: 1e9 }));
    free = 1e9;
    await store.saveCheckpoint(spec, record(25));
    // Room for one more only once the old one is gone: the estimate grows as keys are deleted.
    const size = record(50).state.byteLength;
    kv.del = async (k) => {
      kv.map.delete(k);
      free += size;
    };
    free = 16 * 2 ** 20;
    expect(await store.saveCheckpoint(spec, record(50))).toEqual({ saved: true, dropped: 1 });
    expect(await store.checkpointSteps(spec.id)).toEqual([50]);
    free = 0;
    const r = await store.saveCheckpoint({ ...spec, id: 'train-other000' }, record(75));
    expect(r.saved).toBe(false);
    expect(r.saved === false && r.reason).toMatch(/free site storage/);
  });
});
