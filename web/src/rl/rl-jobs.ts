/**
 * This page's RL jobs: restores their records when the page opens (a job that was warming up or running
 * resumes from its last kept version, a paused one waits paused), starts new ones, and carries out the
 * card's buttons. Everything a job knows is in RlStore; the view (rl-view.ts) follows it.
 */
import { messageOf } from '@shared/errors';
import {
  parseRlSpec,
  policyOnnx,
  policySafetensors,
  RL_SPEC_VERSION,
  rlShape,
  rlTaskSet,
  type RlSpec,
} from '@shared/jobs/rl';
import { ADAMW_DEFAULTS, newTrainState } from '@shared/train';
import type { PeerFactory, SignalingPort } from '../core/ports';
import type { Identity } from '@shared/identity';
import type { ReceiptOutbox } from '../requester/receipt-outbox';
import { RlRun } from './rl-run';
import type { RlRecord, RlStore } from './rl-store';
import { useRl } from './rl-view';

export interface RlNetwork {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  identity?: Identity;
  receipts?: ReceiptOutbox;
}

export type NewRlJob = Omit<RlSpec, 'v' | 'id' | 'createdAt'>;

export class RlJobs {
  private readonly runs = new Map<string, RlRun>();

  constructor(
    private readonly store: RlStore,
    private readonly network: () => Promise<RlNetwork>,
  ) {}

  async restore(): Promise<void> {
    const { records, problems } = await this.store.list();
    useRl.getState().setProblems(problems);
    for (const r of records) {
      useRl.getState().put(r);
      if (r.status === 'warming' || r.status === 'running' || r.status === 'paused') void this.start(r);
    }
  }

  /** Checks the job before anything is stored, so a bad task or size is an error on the form. */
  async create(fields: NewRlJob, jsonl?: string): Promise<string> {
    const spec = parseRlSpec({
      ...fields,
      v: RL_SPEC_VERSION,
      id: `rl-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36)}`,
      createdAt: Date.now(),
    });
    rlShape(spec, rlTaskSet(spec, jsonl));
    if (jsonl !== undefined) await this.store.saveJsonl(spec.id, jsonl);
    const record: RlRecord = {
      spec,
      status: 'warming',
      message: '',
      warmup: null,
      accuracyBefore: null,
      modelBytes: 0,
      steps: [],
      samples: [],
      rollbacks: [],
    };
    await this.store.save(record);
    useRl.getState().put(record);
    void this.start(record);
    return spec.id;
  }

  private async start(record: RlRecord): Promise<void> {
    const id = record.spec.id;
    if (this.runs.has(id)) return;
    try {
      const jsonl = record.spec.task.kind === 'jsonl' ? await this.store.jsonl(id) : undefined;
      const run = new RlRun({ ...(await this.network()), store: this.store }, record, jsonl);
      this.runs.set(id, run);
      await run.run();
    } catch (error) {
      const failed: RlRecord = { ...record, status: 'failed', message: messageOf(error) };
      await this.store.save(failed);
      useRl.getState().put(failed);
    } finally {
      this.runs.delete(id);
    }
  }

  pause(id: string): void {
    this.runs.get(id)?.pause();
  }

  resume(id: string): void {
    this.runs.get(id)?.resume();
  }

  cancel(id: string): Promise<void> {
    return this.runs.get(id)?.cancel() ?? Promise.resolve();
  }

  rollback(id: string, version: number): void {
    this.runs.get(id)?.rollback(version);
  }

  async remove(id: string): Promise<void> {
    await this.cancel(id);
    await this.store.remove(id);
    useRl.getState().remove(id);
  }

  /** The newest kept version as a safetensors checkpoint or an ONNX model, with a file name. */
  async export(id: string, format: 'safetensors' | 'onnx'): Promise<{ name: string; bytes: Uint8Array }> {
    const record = useRl.getState().jobs[id]?.record;
    if (!record) throw new Error('no such RL job in this browser');
    const set = rlTaskSet(record.spec, await this.store.jsonl(id));
    const { config } = rlShape(record.spec, set);
    const n = newTrainState(config, ADAMW_DEFAULTS, 0).params.length;
    const latest = await this.store.latest(id, n);
    if (!latest) throw new Error('no policy kept yet: wait for the warm-up to finish');
    const base = `${record.spec.name || id}-v${latest.version}`.replace(/[^\w.-]+/g, '_');
    return format === 'onnx'
      ? { name: `${base}.onnx`, bytes: policyOnnx(config, latest.master, base) }
      : { name: `${base}.safetensors`, bytes: policySafetensors(config, latest.master, latest.version) };
  }
}
