import { describe, expect, it } from 'vitest';
import type { RlSpec } from '@shared/jobs/rl';
import { memoryStore } from '../storage/kv';
import { KEPT_VERSIONS, type RlRecord, RlStore } from './rl-store';

const spec: RlSpec = {
  v: 1,
  id: 'rl-store-test',
  name: 'sums',
  createdAt: 1,
  task: { kind: 'addition', digits: 2 },
  preset: 'tiny',
  seed: 1,
  steps: 4,
  lr: 1e-3,
  providers: 2,
  promptsPerProvider: 4,
  samples: 8,
  temperature: 1,
  evalSize: 16,
  warmupSteps: 10,
  warmupLr: 3e-3,
  warmupTarget: 0.2,
};

const record: RlRecord = {
  spec,
  status: 'running',
  message: '',
  warmup: { steps: 10, accuracy: 0.25 },
  accuracyBefore: 0.25,
  modelBytes: 800,
  steps: [],
  samples: [],
  rollbacks: [],
};

describe('RL job records (RL-ST1..3)', () => {
  it('RL-ST1: a record round-trips; an unreadable one is named, not loaded', async () => {
    const kv = memoryStore();
    const store = new RlStore(kv);
    await store.save(record);
    await kv.set('rl-job:broken', { ...record, spec: { ...spec, samples: 0 } });
    await kv.set('rl-job:junk', 'not a record');
    const { records, problems } = await store.list();
    expect(records).toEqual([record]);
    expect(problems).toHaveLength(2);
    expect(problems.join()).toMatch(/rl-job:broken: .*samples/);
  });

  it('RL-ST2: only the newest versions are kept, and one of another size is not offered back', async () => {
    const store = new RlStore(memoryStore());
    for (let v = 0; v < KEPT_VERSIONS + 3; v++)
      await store.saveMaster(spec.id, { version: v, master: Float32Array.of(v, v) });
    const kept = await store.versions(spec.id);
    expect(kept).toEqual(Array.from({ length: KEPT_VERSIONS }, (_, i) => i + 3));
    expect((await store.latest(spec.id, 2))?.version).toBe(KEPT_VERSIONS + 2);
    expect(await store.latest(spec.id, 3)).toBeNull();
    expect(await store.master(spec.id, 0, 2)).toBeNull();
  });

  it('RL-ST3: weights with a non-finite value are refused, and removal leaves nothing behind', async () => {
    const kv = memoryStore();
    const store = new RlStore(kv);
    await store.save(record);
    await store.saveJsonl(spec.id, '{"prompt":"a=","answer":"b"}');
    await store.saveMaster(spec.id, { version: 0, master: Float32Array.of(1, Number.NaN) });
    expect(await store.latest(spec.id, 2)).toBeNull();
    await store.remove(spec.id);
    expect(kv.map.size).toBe(0);
  });
});
