/** Small helpers for tests that drive the cores over in-memory doubles. */
import type { JobSpec } from '@shared/jobs';
import { concatRows } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import type { JobStore } from '../storage/job-store';

/** Resolves once `check()` holds; rejects after `ms` naming what it waited for. */
export function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () =>
      check()
        ? resolve()
        : Date.now() - started > ms
          ? reject(new Error(`timed out waiting for ${what}`))
          : setTimeout(tick, 2);
    tick();
  });
}

/** A float32 job's first output, assembled from the stored unit results in unit order. */
export async function storedResults(store: JobStore, spec: JobSpec): Promise<Float32Array> {
  const parts: RawTensor[] = [];
  for (let u = 0; u < Math.ceil(spec.rows / spec.unitRows); u++) parts.push((await store.unitResult(spec.id, u))[0]!);
  return new Float32Array(concatRows(parts).bytes.slice().buffer);
}
