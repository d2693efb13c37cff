/**
 * Jobs in IndexedDB so a reload resumes them. A unit's result is one key,
 * written once when the unit is accepted: "which units are done" is derived
 * from which result keys exist, so it can never disagree with the results.
 * Inputs are stored in chunks of INPUT_CHUNK_BYTES under a small manifest, so
 * no single value nears the size IndexedDB refuses.
 */
import * as v from 'valibot';
import { checkJobSpec, concatRows, JobSpecSchema, unitCount, type JobSpec } from '@shared/jobs';
import { WireDtypeSchema, dtypeBytes, type RawTensor } from '@shared/protocol';
import { MODEL_HASH_PATTERN } from '@shared/tensor';
import { StoredDataError, type KeyValueStore } from './kv';

/** cancelled: stopped for good by the requester (its results so far stay until the job is deleted). */
export const JobStatusSchema = v.picklist(['running', 'paused', 'done', 'failed', 'cancelled']);
export type JobStatus = v.InferOutput<typeof JobStatusSchema>;

const JobStateSchema = v.strictObject({
  status: JobStatusSchema,
  message: v.optional(v.string()),
  finishedAt: v.optional(v.number()),
});
export type JobState = v.InferOutput<typeof JobStateSchema>;

const RawTensorSchema = v.pipe(
  v.strictObject({
    name: v.string(),
    dtype: WireDtypeSchema,
    dims: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))),
    bytes: v.instance(Uint8Array),
  }),
  v.check(
    (t) => t.dims.reduce((a, b) => a * b, 1) * dtypeBytes(t.dtype) === t.bytes.length,
    'tensor bytes do not match its dims',
  ),
);
const TensorListSchema = v.array(RawTensorSchema);
/** Results stored before model versions were a bare tensor list; since, the list and the version that computed it. */
const UnitRecordSchema = v.union([
  TensorListSchema,
  v.strictObject({ outputs: TensorListSchema, modelHash: v.pipe(v.string(), v.regex(MODEL_HASH_PATTERN)) }),
]);

/**
 * Bytes per stored input chunk. Chromium refused a ~2 GB value ("The serialized
 * keys and/or value are too large"); 32 MiB keeps each write far below that and
 * short enough (tens of ms) for "Preparing…" to show progress between chunks.
 */
export const INPUT_CHUNK_BYTES = 32 * 2 ** 20;

const InputManifestSchema = v.strictObject({
  chunked: v.literal(1),
  tensors: v.array(
    v.strictObject({
      name: v.string(),
      dtype: WireDtypeSchema,
      dims: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))),
      bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
      chunks: v.pipe(v.number(), v.integer(), v.minValue(0)),
    }),
  ),
});
const ChunkSchema = v.instance(Uint8Array);

const specKey = (id: string) => `job:${id}:spec`;
const inputChunkKey = (id: string, tensor: number, chunk: number) => `job:${id}:input:${tensor}:${chunk}`;
const stateKey = (id: string) => `job:${id}:state`;
const inputsKey = (id: string) => `job:${id}:inputs`;
const unitPrefix = (id: string) => `job:${id}:unit:`;
const rerunKey = (id: string) => `job:${id}:rerun`;
const versionsKey = (id: string) => `job:${id}:model-versions`;
const VersionListSchema = v.pipe(v.array(v.pipe(v.string(), v.regex(MODEL_HASH_PATTERN))), v.minLength(1));
const UnitListSchema = v.array(v.pipe(v.number(), v.integer(), v.minValue(0)));

function parse<T>(schema: v.GenericSchema<unknown, T>, value: unknown, what: string): T {
  const result = v.safeParse(schema, value);
  if (!result.success)
    throw new StoredDataError(
      `stored ${what} is unreadable (${result.issues[0].message}); delete the job and create it again`,
    );
  return result.output;
}

export class JobStore {
  constructor(private readonly store: KeyValueStore) {}

  /** Stores a new job; `progress` hears how many input bytes are stored so far, after each chunk. */
  async create(spec: JobSpec, inputs: RawTensor[], progress?: (stored: number, total: number) => void): Promise<void> {
    checkJobSpec(spec);
    try {
      await this.putInputs(spec.id, inputs, progress);
    } catch (error) {
      // The browser's real quota can be below what it reports (Chromium reports usage + 10 GiB): leave nothing half-stored.
      await this.delete(spec.id).catch(() => undefined);
      throw new StoredDataError(
        `the browser refused to store this job's inputs (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}); free some space or use fewer rows`,
      );
    }
    await this.store.set(stateKey(spec.id), { status: 'running' } satisfies JobState);
    // The spec goes last: a job is listed only once everything it needs is stored.
    await this.store.set(specKey(spec.id), spec);
  }

  async list(): Promise<JobSpec[]> {
    const specs: JobSpec[] = [];
    for (const key of await this.store.keys('job:')) {
      if (!key.endsWith(':spec')) continue;
      const spec = v.safeParse(JobSpecSchema, await this.store.get(key));
      if (spec.success) specs.push(spec.output);
    }
    return specs.sort((a, b) => b.createdAt - a.createdAt);
  }

  async spec(id: string): Promise<JobSpec> {
    return parse(JobSpecSchema, await this.store.get(specKey(id)), `job ${id}`);
  }

  async inputs(id: string): Promise<RawTensor[]> {
    const stored = await this.store.get(inputsKey(id));
    // Jobs stored before inputs were chunked hold the tensors themselves.
    if (Array.isArray(stored)) return parse(TensorListSchema, stored, `inputs of job ${id}`);
    const manifest = parse(InputManifestSchema, stored, `inputs of job ${id}`);
    const tensors: RawTensor[] = [];
    for (const [t, entry] of manifest.tensors.entries()) {
      const bytes = new Uint8Array(entry.bytes);
      let at = 0;
      for (let c = 0; c < entry.chunks; c++) {
        const chunk = parse(ChunkSchema, await this.store.get(inputChunkKey(id, t, c)), `inputs of job ${id}`);
        if (at + chunk.length > bytes.length) break;
        bytes.set(chunk, at);
        at += chunk.length;
      }
      if (at !== entry.bytes)
        throw new StoredDataError(`stored inputs of job ${id} are incomplete; delete the job and create it again`);
      tensors.push(
        parse(
          RawTensorSchema,
          { name: entry.name, dtype: entry.dtype, dims: entry.dims, bytes },
          `inputs of job ${id}`,
        ),
      );
    }
    return tensors;
  }

  /** Each tensor in chunks, one transaction per chunk; the manifest last, so a half-written set is never read. */
  private async putInputs(
    id: string,
    inputs: RawTensor[],
    progress?: (stored: number, total: number) => void,
  ): Promise<void> {
    const total = inputs.reduce((n, t) => n + t.bytes.length, 0);
    let stored = 0;
    const tensors = [];
    for (const [t, tensor] of inputs.entries()) {
      const chunks = Math.ceil(tensor.bytes.length / INPUT_CHUNK_BYTES);
      for (let c = 0; c < chunks; c++) {
        const chunk = tensor.bytes.slice(c * INPUT_CHUNK_BYTES, (c + 1) * INPUT_CHUNK_BYTES);
        await this.store.set(inputChunkKey(id, t, c), chunk);
        stored += chunk.length;
        progress?.(stored, total);
      }
      tensors.push({ name: tensor.name, dtype: tensor.dtype, dims: tensor.dims, bytes: tensor.bytes.length, chunks });
    }
    await this.store.set(inputsKey(id), { chunked: 1, tensors } satisfies v.InferOutput<typeof InputManifestSchema>);
  }

  async state(id: string): Promise<JobState> {
    return parse(JobStateSchema, (await this.store.get(stateKey(id))) ?? { status: 'running' }, `state of job ${id}`);
  }

  async setState(id: string, state: JobState): Promise<void> {
    await this.store.set(stateKey(id), state);
  }

  /** Accepted units' outputs, each with the model version that computed it, in one transaction. */
  async putUnitResults(
    id: string,
    units: { unitId: number; outputs: RawTensor[]; modelHash: string }[],
    also: [string, unknown][] = [],
  ): Promise<void> {
    // `also` (the job's history) lands in the same transaction: its figures never disagree with the results.
    await this.store.setMany([
      ...units.map((u): [string, unknown] => [
        `${unitPrefix(id)}${u.unitId}`,
        { outputs: u.outputs, modelHash: u.modelHash },
      ]),
      ...also,
    ]);
  }

  /** The job's outputs, assembled in unit order. Only for finished jobs. */
  async results(id: string): Promise<RawTensor[]> {
    const spec = await this.spec(id);
    const perOutput: RawTensor[][] = spec.outputs.map(() => []);
    for (let unit = 0; unit < unitCount(spec); unit++) {
      const outputs = await this.unitResult(id, unit);
      outputs.forEach((t, i) => perOutput[i]?.push(t));
    }
    // An output without a batch axis belongs to the whole batch, which ran as one unit.
    return perOutput.map((parts, i) =>
      spec.outputs[i]?.batched === false && parts.length === 1 ? parts[0]! : concatRows(parts),
    );
  }

  async unitResult(id: string, unitId: number): Promise<RawTensor[]> {
    return (await this.unitRecord(id, unitId)).outputs;
  }

  async unitRecord(id: string, unitId: number): Promise<{ outputs: RawTensor[]; modelHash?: string }> {
    const stored = parse(
      UnitRecordSchema,
      await this.store.get(`${unitPrefix(id)}${unitId}`),
      `result of unit ${unitId} of job ${id}`,
    );
    return Array.isArray(stored) ? { outputs: stored } : stored;
  }

  async doneUnits(id: string): Promise<number[]> {
    const prefix = unitPrefix(id);
    return (await this.store.keys(prefix))
      .map((k) => Number(k.slice(prefix.length)))
      .filter(Number.isInteger)
      .sort((a, b) => a - b);
  }

  /**
   * Units whose stored result came from a provider later caught cheating: they
   * count as not done until computed again (SPEC TRUST-P2 across reloads).
   */
  async rerunUnits(id: string): Promise<number[]> {
    return parse(UnitListSchema, (await this.store.get(rerunKey(id))) ?? [], `units to re-run of job ${id}`);
  }

  async setRerunUnits(id: string, units: number[]): Promise<void> {
    if (units.length === 0) await this.store.del(rerunKey(id));
    else
      await this.store.set(
        rerunKey(id),
        [...units].sort((a, b) => a - b),
      );
  }

  /**
   * The model versions the job has had, first to current (the first is the
   * spec's). Each names a version in the model store.
   */
  async modelVersions(id: string): Promise<string[]> {
    const stored = await this.store.get(versionsKey(id));
    if (stored === undefined) return [(await this.spec(id)).model.hash];
    return parse(VersionListSchema, stored, `model versions of job ${id}`);
  }

  async setModelVersions(id: string, hashes: string[]): Promise<void> {
    await this.store.set(versionsKey(id), hashes);
  }

  async delete(id: string): Promise<void> {
    for (const key of await this.store.keys(`job:${id}:`)) await this.store.del(key);
  }
}
