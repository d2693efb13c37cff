/**
 * Templar: the requester's side of the network. Owns every job in this
 * browser: plans and stores new ones, resumes unfinished ones after a reload,
 * and assembles verified results. Framework-free; the dashboard renders `jobs`.
 */
import { sha256Hex } from '@shared/bytes';
import { eventsAsJsonl, type JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { ReputationBook } from '@shared/trust';
import { Observable } from '../core/emitter';
import { HistoryStore } from '../storage/history-store';
import { JobStore } from '../storage/job-store';
import type { KeyValueStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { migrateLegacyJobs } from '../storage/migrate';
import { modelVersion } from '@shared/tensor';
import { ReputationStore } from '../storage/reputation-store';
import { JobRunner, type JobView } from './job-runner';
import { endNotice, storedJobView } from './job-view';
import { rerunSpec } from './rerun';
import { JobRecorder } from './job-recorder';
import { JobSummaries, type JobSummary } from './job-summaries';
import { checkModelLoads, checkModelRuns } from './model-check';
import { newJobId, planJob, type JobDraft, type PlannedJob, type PlanProgress } from './plan';
import { ReceiptOutbox } from './receipt-outbox';
import { RunnerSetups, type RequesterPorts } from './runner-deps';

export type { JobSummary } from './job-summaries';

export interface TemplarDeps extends RequesterPorts {
  store: KeyValueStore;
  /** Bytes the origin may still store (navigator.storage.estimate(): quota − usage); undefined where unknown. */
  storageLeft?: () => Promise<number | undefined>;
  /** Tells the requester a job ended, for a job whose card asked to be told (the Notification API in the browser). */
  notify?: (title: string, body: string) => void;
  /** The connection's receipt outbox when other tabs' jobs (RL) share it; otherwise Templar makes its own. */
  receipts?: ReceiptOutbox;
}

export class Templar {
  readonly jobs: Observable<JobSummary[]>;
  private readonly store: JobStore;
  private readonly histories: HistoryStore;
  private readonly models: ModelStore;
  private readonly runners = new Map<string, { runner: JobRunner; off: () => void }>();
  private readonly summaries: JobSummaries;
  private readonly setups: RunnerSetups;
  /** One reputation per requester, across its jobs and reloads: a key caught in one job is checked on every unit in the next. */
  private book = new ReputationBook();
  private readonly reputationStore: ReputationStore;

  constructor(private readonly deps: TemplarDeps) {
    this.store = new JobStore(deps.store);
    this.histories = new HistoryStore(deps.store);
    this.models = new ModelStore(deps.store);
    this.reputationStore = new ReputationStore(deps.store);
    this.summaries = new JobSummaries(this.store, this.histories);
    this.jobs = this.summaries.jobs;
    this.setups = new RunnerSetups({
      ...deps,
      jobs: this.store,
      history: this.histories,
      models: this.models,
      // One per signaling connection, shared by every job: see receipt-outbox.ts.
      receipts: deps.receipts ?? new ReceiptOutbox(deps.signaling),
      reputation: () => this.book,
    });
  }

  get reputation(): ReputationBook {
    return this.book;
  }

  /** What happened to data an earlier release stored (jobs moved or removed, caches dropped), for the dashboard. */
  readonly notices = new Observable<string[]>([]);

  /** Lists stored jobs and resumes the ones that were running when the page closed. */
  async init(): Promise<void> {
    this.book = await this.reputationStore.load();
    // Jobs first: they read their models from the old cache, which the store's migration then drops.
    const notes = await migrateLegacyJobs(this.deps.store, this.models);
    const dropped = await this.models.migrate();
    if (dropped > 0) notes.push(`${dropped} cached models from an earlier release were dropped`);
    this.notices.set(notes);
    for (const spec of await this.store.list()) {
      const state = await this.store
        .state(spec.id)
        .catch(() => ({ status: 'failed' as const, message: 'stored state unreadable' }));
      if (state.status === 'running') await this.run(spec);
      else await this.summaries.publishStored(spec, state.status, state.message);
    }
  }

  /**
   * Plans, checks and stores a new job, then runs it. Nothing is stored until
   * the plan (its size against the storage left included) holds; `progress`
   * hears each stage for the form's "Preparing…".
   */
  async submit(draft: JobDraft, progress?: (stage: PlanProgress) => void): Promise<JobSpec> {
    const storageLeft = await this.deps.storageLeft?.().catch(() => undefined);
    const planned = await this.checked(await planJob(draft, { storageLeft, progress }), progress);
    progress?.({ stage: 'storing the model' });
    const version = await this.models.putOnnx(planned.modelBytes);
    if (version.hash !== planned.spec.model.hash) throw new Error('the model changed while the job was planned');
    const total = planned.inputs.reduce((n, t) => n + t.bytes.length, 0);
    progress?.({ stage: 'storing inputs', done: 0, total });
    await this.store.create(planned.spec, planned.inputs, (done) =>
      progress?.({ stage: 'storing inputs', done, total }),
    );
    await this.run(planned.spec);
    return planned.spec;
  }

  /** A new job with the same model, inputs and settings as `id` (its latest model version), run from the start. */
  async clone(id: string): Promise<JobSpec> {
    const spec = await this.store.spec(id);
    const versions = await this.store.modelVersions(id);
    const hash = versions.at(-1) ?? spec.model.hash;
    const copy = rerunSpec(spec, hash, this.summaries.names(), newJobId(), Date.now());
    await this.store.create(copy, await this.store.inputs(id));
    await this.run(copy);
    return copy;
  }

  /** Stops a job for good: it keeps its history and results so far, and is not resumed. */
  async cancel(id: string): Promise<void> {
    const entry = this.runners.get(id);
    if (entry) return entry.runner.stop('cancelled', 'cancelled by you');
    const spec = await this.store.spec(id);
    const recorder = await this.recorderOf(spec);
    await recorder.stopped('cancelled', 'cancelled by you');
    await this.store.setState(id, { status: 'cancelled', message: 'cancelled by you' });
    await this.summaries.publishStored(spec, 'cancelled', 'cancelled by you');
  }

  /** Whether to be told when the job ends; the caller has the browser's permission already. */
  async setNotify(id: string, notify: boolean): Promise<void> {
    const running = this.runners.get(id)?.runner.history;
    if (running) return running.setNotify(notify);
    const spec = await this.store.spec(id);
    await (await this.recorderOf(spec)).setNotify(notify);
    const summary = this.summaries.get(id);
    if (summary) await this.summaries.publishStored(spec, summary.view.status, summary.view.message);
  }

  /** The job's whole event log, one JSON object per line. */
  async exportEvents(id: string): Promise<string> {
    await this.runners.get(id)?.runner.history?.save();
    return eventsAsJsonl(await this.histories.events(id));
  }

  /**
   * An uploaded model must load and run here before its job opens (built-in ones are known to).
   * Without a local engine the job opens unchecked and the providers' errors decide.
   */
  private async checked(planned: PlannedJob, progress?: (stage: PlanProgress) => void): Promise<PlannedJob> {
    if (planned.spec.model.builtinId) return planned;
    progress?.({ stage: 'running the first unit here' });
    const engine = await this.setups.localEngineOnce();
    return engine ? checkModelRuns(engine, planned) : planned;
  }

  /** Whether a chosen .onnx loads in this browser's onnxruntime-web, before any job is planned; throws PlanError. */
  async checkModelLoads(bytes: Uint8Array): Promise<void> {
    const engine = await this.setups.localEngineOnce();
    if (engine) await checkModelLoads(engine, await sha256Hex(bytes), bytes);
  }

  pause(id: string): void {
    this.runners.get(id)?.runner.stop('paused');
  }

  async resume(id: string): Promise<void> {
    if (this.summaries.get(id)?.view.status === 'cancelled') return;
    if (this.runners.has(id)) return;
    await this.store.setState(id, { status: 'running' });
    await this.run(await this.store.spec(id));
  }

  async remove(id: string): Promise<void> {
    this.pause(id);
    this.detach(id);
    await this.store.delete(id);
    this.summaries.remove(id);
  }

  /** The job's outputs, assembled in unit order. Only for finished jobs. */
  results(id: string): Promise<RawTensor[]> {
    return this.store.results(id);
  }

  /**
   * Publishes a new version of a running job's model (a fine-tuned .onnx of the
   * same graph). Throws, naming what differs, for anything else; the job runs on.
   */
  async publishVersion(id: string, bytes: Uint8Array): Promise<number> {
    const entry = this.runners.get(id);
    if (!entry) throw new Error('the job is not running; resume it to publish a new version');
    const version = await modelVersion(bytes);
    // Checked, then stored, then switched to: a reload after the switch finds every version it needs.
    entry.runner.jobModel.check(version);
    await this.models.put(version);
    return entry.runner.publish(version);
  }

  private async run(spec: JobSpec): Promise<void> {
    this.detach(spec.id);
    const setup = await this.setups.forJob(spec);
    if (!setup) {
      const message = 'the model is no longer stored in this browser; create the job again';
      await this.store.setState(spec.id, { status: 'failed', message });
      await this.summaries.publishStored(spec, 'failed', message);
      return;
    }
    const runner = new JobRunner(spec, await this.store.inputs(spec.id), setup.deps);
    const off = runner.view.subscribe((view) => {
      // Every change of a job's view may follow a verdict on a provider: keep the book on disk (writes coalesce).
      void this.reputationStore.save(this.book);
      if (view.status === 'running') return this.summaries.publish(spec, view);
      // Ended: the card shows the figures as stored, so a reload shows the same (defect 1).
      this.summaries.publish(spec, storedJobView(view));
      this.detach(spec.id);
      this.ended(spec, view);
    });
    this.runners.set(spec.id, { runner, off });
    if (setup.notice) runner.view.set({ ...runner.view.get(), message: setup.notice });
    this.summaries.publish(spec, runner.view.get());
    await runner.start();
  }

  private detach(id: string): void {
    const entry = this.runners.get(id);
    if (!entry) return;
    entry.off();
    this.runners.delete(id);
  }

  private recorderOf(spec: JobSpec): Promise<JobRecorder> {
    return JobRecorder.forJob(spec, this.histories);
  }

  /** A job that ends while its card asked to be told: one notification. */
  private ended(spec: JobSpec, view: JobView): void {
    const notice = view.record.notify ? endNotice(spec, view) : undefined;
    if (notice) this.deps.notify?.(notice.title, notice.body);
  }
}
