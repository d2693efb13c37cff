/**
 * Jobs stored by the release before one model store (job schema 1) named
 * their model by the SHA-256 of its file, kept under `model:<sha256>`. Each is
 * moved to this release: its model goes into the model store and the spec is
 * rewritten with the version hash. A job whose model is gone, or whose stored
 * spec is unreadable, is removed; either way the page is told, never left
 * with a job that cannot run.
 */
import * as v from 'valibot';
import { sha256Hex } from '@shared/bytes';
import { messageOf } from '@shared/errors';
import { JOB_SCHEMA_VERSION, JobSpecSchema } from '@shared/jobs';
import type { KeyValueStore } from './kv';
import type { ModelStore } from './model-store';

const LegacySpecSchema = v.looseObject({
  schema: v.literal(1),
  id: v.string(),
  name: v.string(),
  model: v.looseObject({ hash: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) }),
});

/** Moves every schema-1 job to this release; returns one sentence per job moved or removed, for the page. */
export async function migrateLegacyJobs(kv: KeyValueStore, models: ModelStore): Promise<string[]> {
  const notes: string[] = [];
  for (const key of await kv.keys('job:')) {
    if (!key.endsWith(':spec')) continue;
    const legacy = v.safeParse(LegacySpecSchema, await kv.get(key));
    if (!legacy.success) continue;
    const spec = legacy.output;
    const name = `"${spec.name || spec.id}"`;
    try {
      const bytes = await kv.get(`model:${spec.model.hash}`);
      if (!(bytes instanceof Uint8Array) || (await sha256Hex(bytes)) !== spec.model.hash)
        throw new Error('its model is no longer stored in this browser');
      const version = await models.putOnnx(bytes);
      const moved = v.parse(JobSpecSchema, {
        ...spec,
        schema: JOB_SCHEMA_VERSION,
        model: { ...spec.model, hash: version.hash },
      });
      await kv.set(key, moved);
      notes.push(`job ${name} was moved to this release's model store`);
    } catch (error) {
      for (const k of await kv.keys(`job:${spec.id}:`)) await kv.del(k);
      notes.push(`job ${name} from an earlier release was removed: ${messageOf(error)}; create it again`);
    }
  }
  return notes;
}
