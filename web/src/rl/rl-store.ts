/**
 * An RL job's records in IndexedDB: the job (spec, status, per-step history, sample rollouts), the
 * uploaded JSONL of a bring-your-own task, and the policy's f32 master weights at the last few versions
 * (the last one resumes a reloaded run; earlier ones are what "roll back" returns to). Everything read
 * back is validated: another version of the app or a damaged profile may have written it.
 */
import { parseRlSpec, type RlSpec, type RlTrainerState } from '@shared/jobs/rl';
import * as v from 'valibot';
import type { KeyValueStore } from '../storage/kv';

/** Versions whose master weights are kept for rollback (each is 4 bytes a parameter). */
export const KEPT_VERSIONS = 8;
export const MAX_SAMPLES_SHOWN = 24;

const Num = v.pipe(v.number(), v.finite());
const Int = v.pipe(v.number(), v.integer(), v.minValue(0));

export const RlStepRowSchema = v.strictObject({
  /** The version this step produced. */
  version: Int,
  meanReward: v.nullable(Num),
  /** Held-out greedy accuracy of the new version. */
  accuracy: Num,
  accepted: Int,
  refused: Int,
  patchBytes: Int,
  clippedFraction: Num,
  verifyS: Num,
  trainS: Num,
  generateS: Num,
  wallS: Num,
});
export type RlStepRow = v.InferOutput<typeof RlStepRowSchema>;

export const RlSampleSchema = v.strictObject({
  version: Int,
  provider: v.pipe(v.string(), v.maxLength(256)),
  prompt: v.pipe(v.string(), v.maxLength(512)),
  completion: v.pipe(v.string(), v.maxLength(512)),
  reward: Num,
});
export type RlSample = v.InferOutput<typeof RlSampleSchema>;

export const RlStatusSchema = v.picklist(['warming', 'running', 'paused', 'done', 'failed', 'cancelled']);
export type RlStatus = v.InferOutput<typeof RlStatusSchema>;

const RlRecordSchema = v.strictObject({
  spec: v.unknown(),
  status: RlStatusSchema,
  message: v.pipe(v.string(), v.maxLength(2000)),
  warmup: v.nullable(v.strictObject({ steps: Int, accuracy: Num })),
  /** Held-out accuracy of the policy RL started from. */
  accuracyBefore: v.nullable(Num),
  modelBytes: Int,
  steps: v.pipe(v.array(RlStepRowSchema), v.maxLength(100_000)),
  samples: v.pipe(v.array(RlSampleSchema), v.maxLength(MAX_SAMPLES_SHOWN)),
  rollbacks: v.pipe(v.array(v.strictObject({ at: Int, to: Int })), v.maxLength(10_000)),
});
export type RlRecord = Omit<v.InferOutput<typeof RlRecordSchema>, 'spec'> & { readonly spec: RlSpec };

export interface RlMaster {
  readonly version: number;
  readonly master: Float32Array;
}

const jobKey = (id: string) => `rl-job:${id}`;
const jsonlKey = (id: string) => `rl-jsonl:${id}`;
const stateKey = (id: string) => `rl-state:${id}`;
const masterKey = (id: string, version: number) => `rl-master:${id}:${String(version).padStart(10, '0')}`;

export class RlStore {
  constructor(private readonly kv: KeyValueStore) {}

  /** Every readable job, and what could not be read (named, so the page can say so). */
  async list(): Promise<{ records: RlRecord[]; problems: string[] }> {
    const records: RlRecord[] = [];
    const problems: string[] = [];
    for (const key of await this.kv.keys('rl-job:')) {
      try {
        records.push(this.parse(await this.kv.get(key)));
      } catch (error) {
        problems.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    records.sort((a, b) => a.spec.createdAt - b.spec.createdAt);
    return { records, problems };
  }

  private parse(raw: unknown): RlRecord {
    const r = v.safeParse(RlRecordSchema, raw);
    if (!r.success) {
      const issue = r.issues[0]!;
      throw new Error(`${v.getDotPath(issue) ?? 'record'}: ${issue.message}`);
    }
    return { ...r.output, spec: parseRlSpec(r.output.spec) };
  }

  save(record: RlRecord): Promise<void> {
    return this.kv.set(jobKey(record.spec.id), record);
  }

  saveJsonl(id: string, text: string): Promise<void> {
    return this.kv.set(jsonlKey(id), text);
  }

  async jsonl(id: string): Promise<string | undefined> {
    const t = await this.kv.get(jsonlKey(id));
    return typeof t === 'string' ? t : undefined;
  }

  /** Keeps version `version`'s master weights, dropping all but the newest KEPT_VERSIONS. */
  async saveMaster(id: string, m: RlMaster): Promise<void> {
    await this.kv.set(masterKey(id, m.version), m.master);
    await this.prune(id);
  }

  /**
   * A step's outcome in one transaction: the record that counts it, the version's master weights and the
   * trainer's state. Separately, a reload between the writes would find a version the record does not count.
   */
  async commit(record: RlRecord, m: RlMaster, state?: RlTrainerState): Promise<void> {
    const id = record.spec.id;
    await this.kv.setMany([
      [jobKey(id), record],
      [masterKey(id, m.version), m.master],
      ...(state ? ([[stateKey(id), { version: m.version, ...state }]] as [string, unknown][]) : []),
    ]);
    await this.prune(id);
  }

  private async prune(id: string): Promise<void> {
    const keys = (await this.kv.keys(`rl-master:${id}:`)).sort();
    for (const k of keys.slice(0, Math.max(0, keys.length - KEPT_VERSIONS))) await this.kv.del(k);
  }

  /** The kept versions, newest last. */
  async versions(id: string): Promise<number[]> {
    return (await this.kv.keys(`rl-master:${id}:`)).sort().map((k) => Number(k.slice(k.lastIndexOf(':') + 1)));
  }

  /** A kept version's master weights of `parameters` values, or null when absent or unreadable. */
  async master(id: string, version: number, parameters: number): Promise<RlMaster | null> {
    const raw = await this.kv.get(masterKey(id, version));
    if (!(raw instanceof Float32Array) || raw.length !== parameters || !raw.every(Number.isFinite)) return null;
    return { version, master: raw };
  }

  /** The newest readable kept version. */
  async latest(id: string, parameters: number): Promise<RlMaster | null> {
    for (const version of (await this.versions(id)).reverse()) {
      const m = await this.master(id, version, parameters);
      if (m) return m;
    }
    return null;
  }

  /** The saved trainer state if it belongs to `version` and has its shape; RlTrainer checks the values. */
  async state(id: string, version: number): Promise<RlTrainerState | null> {
    const raw = (await this.kv.get(stateKey(id))) as Partial<RlTrainerState & { version: number }> | undefined;
    if (!raw || raw.version !== version || !(raw.m instanceof Float32Array) || !(raw.v instanceof Float32Array))
      return null;
    const ints = [raw.t, raw.nextIndex, raw.nextRound];
    if (!ints.every((x) => Number.isInteger(x))) return null;
    return { t: raw.t!, nextIndex: raw.nextIndex!, nextRound: raw.nextRound!, m: raw.m, v: raw.v };
  }

  async remove(id: string): Promise<void> {
    for (const k of [jobKey(id), jsonlKey(id), stateKey(id), ...(await this.kv.keys(`rl-master:${id}:`))])
      await this.kv.del(k);
  }
}
