/**
 * The requester's Train jobs on this device (no React): starts each job's worker, turns its events into a
 * view the dashboard renders, stores checkpoints (last K, within the quota) and the job's status, and on a
 * page load resumes what was running from its newest checkpoint. One job trains at a time: two would only
 * share the same cores.
 */
import { baselineSpec } from './baseline';
import {
  type CheckpointRecord,
  checkFits,
  checkpointRecord,
  emptyHistory,
  exportGptOnnx,
  hyperFor,
  MAX_SAMPLES_KEPT,
  stateFromSafetensors,
  stateToSafetensors,
  type TrainEvent,
  type TrainHistory,
  type TrainSpec,
} from '@shared/jobs';
import { Observable } from '../core/emitter';
import { brownCorpus } from './corpus';
import type { FromTrainWorker } from './messages';
import { browserWorker, type WorkerFactory, type WorkerLike } from './train-worker-factory';
import type { TrainStatus, TrainStore } from './train-store';

export { browserWorker, type WorkerFactory, type WorkerLike };

export interface TrainJobView {
  readonly spec: TrainSpec;
  readonly status: TrainStatus | 'starting';
  /** What the user should know now (an error and what to do, or a warning). */
  readonly message: string;
  readonly backend: string;
  readonly step: number;
  readonly loss: number | null;
  readonly valLoss: number | null;
  readonly lr: number | null;
  readonly tokensPerS: number | null;
  readonly etaS: number | null;
  /** Curves and samples; arrays grow in place, `revision` says when they changed. */
  readonly history: TrainHistory;
  readonly revision: number;
  readonly checkpointStep: number | null;
}

export class TrainBusyError extends Error {
  override name = 'TrainBusyError';
}

export class Trainer {
  readonly jobs = new Observable<TrainJobView[]>([]);
  /** Records that failed validation on load, named for the user. */
  readonly problems = new Observable<string[]>([]);
  private readonly workers = new Map<string, WorkerLike>();
  /** Worker messages are handled one at a time, in order, though storing a checkpoint awaits. */
  private queue: Promise<void> = Promise.resolve();
  /** Notes that outlive a restart of the job's worker (why it now runs on another backend). */
  private readonly notes = new Map<string, string>();

  constructor(
    private readonly store: TrainStore,
    private readonly makeWorker: WorkerFactory = browserWorker,
  ) {}

  /** Loads stored jobs and resumes the one that was running when the page went away. */
  async restore(): Promise<void> {
    const { jobs, problems } = await this.store.jobs();
    const views: TrainJobView[] = [];
    for (const j of jobs) {
      const latest = await this.store.latestCheckpoint(j.spec);
      problems.push(...latest.problems.map((p) => `${j.spec.name}: ${p}`));
      views.push({
        ...this.blank(j.spec),
        status: j.status,
        message: j.message,
        step: latest.checkpoint?.state.step ?? 0,
        history: latest.checkpoint?.history ?? emptyHistory(),
        checkpointStep: latest.checkpoint?.state.step ?? null,
      });
    }
    this.jobs.set(views);
    this.problems.set(problems);
    const running = views.find((v) => v.status === 'running');
    if (running) await this.launch(running.spec);
  }

  private blank(spec: TrainSpec): TrainJobView {
    return {
      spec,
      status: 'starting',
      message: '',
      backend: '',
      step: 0,
      loss: null,
      valLoss: null,
      lr: null,
      tokensPerS: null,
      etaS: null,
      history: emptyHistory(),
      revision: 0,
      checkpointStep: null,
    };
  }

  view(id: string): TrainJobView | undefined {
    return this.jobs.get().find((j) => j.spec.id === id);
  }

  private patch(id: string, change: Partial<TrainJobView>) {
    this.jobs.update((list) => list.map((j) => (j.spec.id === id ? { ...j, ...change } : j)));
  }

  private assertIdle() {
    const busy = this.jobs.get().find((j) => this.workers.has(j.spec.id) && j.status !== 'paused');
    if (busy) throw new TrainBusyError(`"${busy.spec.name}" is training: pause or cancel it first`);
  }

  /**
   * Starts a new job. The config is checked against WebAssembly's memory before anything is stored or
   * allocated (the worker checks the adapter's limits when it picks WebGPU); `initial` starts it from an
   * uploaded safetensors checkpoint.
   */
  async create(spec: TrainSpec, uploadedText: string | null, initial: Uint8Array | null = null): Promise<void> {
    checkFits(spec.model, spec.batch, 'wasm');
    this.assertIdle();
    if (spec.corpus.kind === 'upload' && uploadedText === null) throw new Error('upload a corpus file first');
    let record: CheckpointRecord | null = null;
    if (initial !== null) {
      const { state, tokenizer } = stateFromSafetensors(initial, spec.model, hyperFor(spec));
      // The loader position carries over only under the same seed; otherwise the new job reads from its start.
      if (state.loader.seed !== spec.seed) state.loader = { seed: spec.seed, epoch: 0, cursor: 0 };
      record = checkpointRecord(state, tokenizer.toJSON(), emptyHistory(), Date.now());
    }
    if (uploadedText !== null) await this.store.putCorpus(spec.id, uploadedText);
    await this.store.putJob({ spec, status: 'running', message: '' });
    if (record !== null) await this.store.saveCheckpoint(spec, record);
    this.jobs.update((list) => [...list, this.blank(spec)]);
    await this.launch(spec);
  }

  private async corpusText(spec: TrainSpec): Promise<string> {
    if (spec.corpus.kind === 'brown') return brownCorpus(spec.corpus.files);
    const t = await this.store.corpus(spec.id);
    if (t === null) throw new Error('the uploaded corpus is no longer in this browser: start a new job with the file');
    return t;
  }

  private async launch(spec: TrainSpec): Promise<void> {
    const id = spec.id;
    this.patch(id, { status: 'starting', message: '' });
    try {
      const latest = await this.store.latestCheckpoint(spec);
      const text = await this.corpusText(spec);
      if (latest.checkpoint)
        this.patch(id, { history: structuredClone(latest.checkpoint.history), step: latest.checkpoint.state.step });
      const w = this.makeWorker(spec);
      this.workers.set(id, w);
      w.onmessage = (e) => {
        this.queue = this.queue.then(() => this.onWorker(spec, e.data));
      };
      w.onerror = (e) =>
        void this.finish(
          spec,
          'failed',
          `the training worker crashed (${e.message}): resume to continue from the last checkpoint`,
        );
      w.postMessage({ type: 'start', spec, text, checkpoint: latest.record });
    } catch (e) {
      await this.finish(spec, 'failed', e instanceof Error ? e.message : String(e));
    }
  }

  private async onWorker(spec: TrainSpec, m: FromTrainWorker): Promise<void> {
    const id = spec.id;
    if (m.type === 'preparing') this.patch(id, { message: m.message });
    else if (m.type === 'started') {
      const note = this.notes.get(id) ?? '';
      // A run that restarts from a checkpoint (a provider left) redoes the steps after it: the curves rewind.
      this.bump(id, {}, (h) => rewind(h, m.step));
      const backend = m.note ? `${m.backend} (${m.note})` : m.backend;
      this.patch(id, { status: 'running', backend, step: m.step, message: note });
      await this.store.putJob({ spec, status: 'running', message: note });
    } else if (m.type === 'error') await this.finish(spec, 'failed', m.message);
    else if (m.type === 'device-lost') await this.fallBackToWasm(spec, m.message);
    else await this.onEvent(spec, m.event);
  }

  private bump(id: string, change: Partial<TrainJobView>, mutate?: (h: TrainHistory) => void) {
    const j = this.view(id);
    if (!j) return;
    mutate?.(j.history);
    this.patch(id, { ...change, revision: j.revision + 1 });
  }

  private async onEvent(spec: TrainSpec, e: TrainEvent): Promise<void> {
    const id = spec.id;
    switch (e.type) {
      case 'step':
        this.bump(id, { step: e.step, loss: e.loss, lr: e.lr, tokensPerS: e.tokensPerS, etaS: e.etaS }, (h) => {
          h.train.push([e.step, e.loss]);
          h.speed.push([e.step, e.tokensPerS]);
        });
        return;
      case 'eval':
        this.bump(id, { valLoss: e.valLoss }, (h) => {
          if (Number.isFinite(e.valLoss)) h.val.push([e.step, e.valLoss]);
        });
        return;
      case 'sample':
        this.bump(id, {}, (h) => {
          h.samples.push({ step: e.step, text: e.text });
          if (h.samples.length > MAX_SAMPLES_KEPT) h.samples.shift();
        });
        return;
      case 'skipped':
        this.bump(id, { message: e.message }, (h) => void h.skipped++);
        return;
      case 'checkpoint':
        await this.keep(spec, e.record);
        return;
      case 'paused':
        await this.keep(spec, e.record);
        this.patch(id, { status: 'paused' });
        await this.store.putJob({ spec, status: 'paused', message: '' });
        return;
      case 'resumed':
        this.patch(id, { status: 'running' });
        await this.store.putJob({ spec, status: 'running', message: '' });
        return;
      case 'done':
        await this.keep(spec, e.record);
        await this.finish(spec, 'done', '');
        return;
      case 'failed':
        await this.finish(spec, 'failed', e.message);
        return;
      case 'cancelled':
        await this.finish(spec, 'cancelled', '');
        return;
    }
  }

  private async keep(spec: TrainSpec, record: CheckpointRecord) {
    const r = await this.store.saveCheckpoint(spec, record);
    if (r.saved) this.patch(spec.id, { checkpointStep: record.step });
    else this.patch(spec.id, { message: `checkpoint at step ${record.step} not saved: ${r.reason}` });
  }

  private async finish(spec: TrainSpec, status: TrainStatus, message: string) {
    this.workers.get(spec.id)?.terminate();
    this.workers.delete(spec.id);
    this.patch(spec.id, { status, message });
    await this.store.putJob({ spec, status, message });
  }

  /**
   * A lost WebGPU device: the job continues on WebAssembly from its newest checkpoint (steps since then are
   * redone; results match within the backends' tolerance, not bit for bit).
   */
  private async fallBackToWasm(spec: TrainSpec, reason: string) {
    this.workers.get(spec.id)?.terminate();
    this.workers.delete(spec.id);
    const wasm: TrainSpec = { ...spec, backend: 'wasm' };
    const from = this.view(spec.id)?.checkpointStep;
    const message = `the WebGPU device was lost (${reason}): continuing on WebAssembly from ${from == null ? 'the start' : `the checkpoint at step ${from}`}`;
    this.notes.set(spec.id, message);
    this.patch(spec.id, { spec: wasm });
    await this.store.putJob({ spec: wasm, status: 'running', message });
    await this.launch(wasm);
  }

  /**
   * Starts the single-worker baseline of together job `id` (baseline.ts) on this device, with the same corpus.
   * One job trains at a time: pause or cancel the one training first.
   */
  async createBaseline(id: string, newId: string): Promise<void> {
    const j = this.view(id);
    if (!j) throw new Error(`no training job ${id}`);
    const spec = baselineSpec(j.spec, newId, Date.now());
    await this.create(spec, spec.corpus.kind === 'upload' ? await this.corpusText(j.spec) : null);
  }

  pause(id: string): void {
    this.workers.get(id)?.postMessage({ type: 'pause' });
  }

  /** Continues in the paused worker, or (after a reload or a failure) from the newest checkpoint. */
  async resume(id: string): Promise<void> {
    const j = this.view(id);
    if (!j) return;
    const w = this.workers.get(id);
    if (w) return w.postMessage({ type: 'resume' });
    this.assertIdle();
    await this.store.putJob({ spec: j.spec, status: 'running', message: '' });
    await this.launch(j.spec);
  }

  async cancel(id: string): Promise<void> {
    const j = this.view(id);
    if (j) await this.finish(j.spec, 'cancelled', '');
  }

  async remove(id: string): Promise<void> {
    const j = this.view(id);
    if (!j) return;
    if (this.workers.has(id)) await this.finish(j.spec, 'cancelled', '');
    await this.store.deleteJob(id);
    this.jobs.update((list) => list.filter((x) => x.spec.id !== id));
  }

  /** The newest checkpoint as safetensors (weights, AdamW moments, step, loader, tokenizer). */
  async checkpointFile(id: string): Promise<{ name: string; bytes: Uint8Array }> {
    const j = this.view(id);
    if (!j) throw new Error('no such job');
    const latest = await this.store.latestCheckpoint(j.spec);
    if (!latest.checkpoint) throw new Error('this job has no checkpoint yet: wait for the first one or pause it');
    const { state, tokenizer } = latest.checkpoint;
    return {
      name: `${j.spec.name.replace(/[^\w.-]+/g, '_')}-step${state.step}.safetensors`,
      bytes: stateToSafetensors(state, tokenizer),
    };
  }

  /**
   * The newest checkpoint's f32 master weights as ONNX (input_ids in, logits out, tokenizer in the
   * metadata): upload it in a batch-inference job to run the trained model on the network.
   */
  async onnxFile(id: string): Promise<{ name: string; bytes: Uint8Array }> {
    const j = this.view(id);
    if (!j) throw new Error('no such job');
    const latest = await this.store.latestCheckpoint(j.spec);
    if (!latest.checkpoint) throw new Error('this job has no checkpoint yet: wait for the first one or pause it');
    const { state, tokenizer } = latest.checkpoint;
    const base = j.spec.name.replace(/[^\w.-]+/g, '_');
    return {
      name: `${base}-step${state.step}.onnx`,
      bytes: exportGptOnnx(j.spec.model, state.params, tokenizer, base),
    };
  }
}

function rewind(h: TrainHistory, step: number): void {
  for (const curve of [h.train, h.val, h.speed])
    while (curve.length > 0 && curve[curve.length - 1]![0] > step) curve.pop();
  while (h.samples.length > 0 && h.samples[h.samples.length - 1]!.step > step) h.samples.pop();
}
