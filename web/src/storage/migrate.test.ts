/**
 * Jobs stored by the release before one model store are moved (model into
 * the store, spec onto the version hash) or removed with a reason; the old
 * cache is dropped after. Nothing is left that cannot run.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '@shared/bytes';
import { modelVersion } from '@shared/tensor';
import { affineJob, affineModel } from '../testing/affine-job';
import { JobStore } from './job-store';
import { memoryStore } from './kv';
import { migrateLegacyJobs } from './migrate';
import { ModelStore } from './model-store';

async function legacyJob(kv: ReturnType<typeof memoryStore>, id: string, bytes: Uint8Array, keepModel: boolean) {
  const { spec, inputs } = await affineJob(id, 8);
  const sha = await sha256Hex(bytes);
  await kv.set(`job:${id}:inputs`, inputs);
  await kv.set(`job:${id}:state`, { status: 'running' });
  await kv.set(`job:${id}:spec`, { ...spec, schema: 1, model: { ...spec.model, hash: sha } });
  if (keepModel) await kv.set(`model:${sha}`, bytes);
}

describe('moving jobs from the release before one model store', () => {
  it('MIG1: a job whose model is cached moves to the version hash; one whose model is gone is removed, with a reason', async () => {
    const kv = memoryStore();
    const bytes = affineModel(2, 1);
    await legacyJob(kv, 'job-kept', bytes, true);
    await legacyJob(kv, 'job-lost', affineModel(3, 1), false);
    const models = new ModelStore(kv);
    const notes = await migrateLegacyJobs(kv, models);
    expect(notes).toEqual([
      'job "job-kept" was moved to this release\'s model store',
      'job "job-lost" from an earlier release was removed: its model is no longer stored in this browser; create it again',
    ]);
    const jobs = new JobStore(kv);
    const [moved] = await jobs.list();
    expect(moved!.id).toBe('job-kept');
    expect(moved!.model.hash).toBe((await modelVersion(bytes)).hash);
    expect(await models.has(moved!.model.hash)).toBe(true);
    expect(await kv.keys('job:job-lost:')).toEqual([]);
    // The old cache goes after the jobs took what they needed from it.
    expect(await models.migrate()).toBe(1);
    expect(await migrateLegacyJobs(kv, models)).toEqual([]);
  });
});
