/**
 * Train jobs in the requester's IndexedDB (through KeyValueStore): the spec and status, the corpus text,
 * and the last K checkpoints, kept within the storage quota. Everything read back is validated: specs by
 * parseTrainSpec, checkpoints by readCheckpoint; a record that fails is reported, never trusted.
 *
 *   train/job/<id>            { spec, status, message }
 *   train/corpus/<id>         the corpus text (uploads must survive a reload for the run to resume)
 *   train/ckpt/<id>/<step>    CheckpointRecord, step zero-padded so keys sort by step
 */
import { type Checkpoint, type CheckpointRecord, parseTrainSpec, readCheckpoint, type TrainSpec } from '@shared/jobs';
import * as v from 'valibot';
import type { KeyValueStore } from '../storage/kv';

export const TRAIN_STATUSES = ['running', 'paused', 'done', 'failed', 'cancelled'] as const;
export type TrainStatus = (typeof TRAIN_STATUSES)[number];

const JobRecordSchema = v.strictObject({
  spec: v.unknown(),
  status: v.picklist(TRAIN_STATUSES),
  message: v.pipe(v.string(), v.maxLength(2000)),
});

export interface StoredTrainJob {
  readonly spec: TrainSpec;
  readonly status: TrainStatus;
  readonly message: string;
}

/** Free space kept beyond a checkpoint's size, so the app's other stores (jobs, receipts) still have room. */
const QUOTA_MARGIN_BYTES = 16 * 2 ** 20;

export type StorageEstimate = () => Promise<{ usage: number; quota: number } | null>;

export const browserEstimate: StorageEstimate = async () => {
  const e = await globalThis.navigator?.storage?.estimate?.();
  return e?.quota === undefined ? null : { usage: e.usage ?? 0, quota: e.quota };
};

const jobKey = (id: string) => `train/job/${id}`;
const corpusKey = (id: string) => `train/corpus/${id}`;
const ckptPrefix = (id: string) => `train/ckpt/${id}/`;
const ckptKey = (id: string, step: number) => `${ckptPrefix(id)}${String(step).padStart(10, '0')}`;

export type SaveResult =
  | { readonly saved: true; readonly dropped: number }
  | { readonly saved: false; readonly reason: string };

export class TrainStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly estimate: StorageEstimate = browserEstimate,
  ) {}

  async putJob(job: StoredTrainJob): Promise<void> {
    await this.kv.set(jobKey(job.spec.id), { spec: job.spec, status: job.status, message: job.message });
  }

  async putCorpus(id: string, text: string): Promise<void> {
    await this.kv.set(corpusKey(id), text);
  }

  async corpus(id: string): Promise<string | null> {
    const t = await this.kv.get(corpusKey(id));
    return typeof t === 'string' ? t : null;
  }

  /** Every stored job that validates, and a message per record that does not. */
  async jobs(): Promise<{ jobs: StoredTrainJob[]; problems: string[] }> {
    const jobs: StoredTrainJob[] = [];
    const problems: string[] = [];
    for (const key of await this.kv.keys('train/job/')) {
      try {
        const r = v.parse(JobRecordSchema, await this.kv.get(key));
        jobs.push({ spec: parseTrainSpec(r.spec), status: r.status, message: r.message });
      } catch (e) {
        problems.push(`${key}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    jobs.sort((a, b) => a.spec.createdAt - b.spec.createdAt);
    return { jobs, problems };
  }

  async checkpointSteps(id: string): Promise<number[]> {
    return (await this.kv.keys(ckptPrefix(id)))
      .map((k) => Number(k.slice(ckptPrefix(id).length)))
      .sort((a, b) => a - b);
  }

  /**
   * Stores a checkpoint and keeps only the newest `keep`. When the quota leaves too little room, older
   * checkpoints go first; if it still does not fit, nothing is written and the reason says what to do.
   */
  async saveCheckpoint(spec: TrainSpec, record: CheckpointRecord): Promise<SaveResult> {
    const id = spec.id;
    let steps = (await this.checkpointSteps(id)).filter((s) => s !== record.step);
    let dropped = 0;
    const drop = async () => {
      await this.kv.del(ckptKey(id, steps.shift()!));
      dropped++;
    };
    while (steps.length > spec.keepCheckpoints - 1) await drop();
    const need = record.state.byteLength + QUOTA_MARGIN_BYTES;
    for (;;) {
      const e = await this.estimate();
      if (e === null || e.quota - e.usage >= need) break;
      if (steps.length === 0)
        return {
          saved: false,
          reason: `the browser's storage quota leaves ${Math.max(0, e.quota - e.usage)} bytes, a checkpoint needs ${need}: free site storage or delete old jobs`,
        };
      await drop();
    }
    await this.kv.set(ckptKey(id, record.step), record);
    return { saved: true, dropped };
  }

  /** The newest checkpoint that validates (a corrupt one is skipped and named in `problems`). */
  async latestCheckpoint(
    spec: TrainSpec,
  ): Promise<{ checkpoint: Checkpoint | null; record: CheckpointRecord | null; problems: string[] }> {
    const problems: string[] = [];
    const steps = await this.checkpointSteps(spec.id);
    for (let k = steps.length - 1; k >= 0; k--) {
      const raw = await this.kv.get(ckptKey(spec.id, steps[k]!));
      try {
        const checkpoint = readCheckpoint(raw, spec.model);
        return { checkpoint, record: raw as CheckpointRecord, problems };
      } catch (e) {
        problems.push(`checkpoint at step ${steps[k]}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { checkpoint: null, record: null, problems };
  }

  async deleteJob(id: string): Promise<void> {
    for (const k of await this.kv.keys(ckptPrefix(id))) await this.kv.del(k);
    await this.kv.del(corpusKey(id));
    await this.kv.del(jobKey(id));
  }
}
