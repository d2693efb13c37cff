/**
 * Templar: the requester's side of the network. Owns every job in this
 * browser: plans and stores new ones, resumes unfinished ones after a reload,
 * and assembles verified results. Framework-free; the dashboard renders `jobs`.
 */
import { sha256Hex } from '@shared/bytes';
import { eventsAsJsonl, unitCount, type JobSpec } from '@shared/jobs';
import { concatRows } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import type { Identity } from '@shared/identity';
import { getBuiltinModel } from '@shared/models';
import { ReputationBook } from '@shared/trust';
import { Observable } from '../core/emitter';
import type { ComputeEngine, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import { HistoryStore } from '../storage/history-store';
import { JobStore, type JobStatus } from '../storage/job-store';
import type { KeyValueStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { migrateLegacyJobs } from '../storage/migrate';
import { estimateOnnxFlopsPerRow, joinOnnx, modelVersion, type ModelVersion } from '@shared/tensor';
import type { ChangeFinder } from '@shared/pulse';
import { JobModel } from './job-model';
import { ReputationStore } from '../storage/reputation-store';
import { JobRunner, type JobView } from './job-runner';
import { emptyJobView, endNotice, storedJobView } from './job-view';
import { rerunSpec } from './rerun';
import { JobRecorder } from './job-recorder';
import { checkModelLoads, checkModelRuns } from './model-check';
import { newJobId, planJob, type JobDraft, type PlannedJob, type PlanProgress } from './plan';
import { ReceiptOutbox } from './receipt-outbox';

export interface JobSummary {
  spec: JobSpec;
  view: JobView;
}

export interface TemplarDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  store: KeyValueStore;
  /** Engine for spot checks; optional so a requester without one still works (no spot checks). */
  local?: () => Promise<ComputeEngine>;
  /** Rides every job's provider links (PULSE weight distribution). */
  extension?: LinkExtension;
  /** How a new version's changed weights are found: the Web Worker differ in the browser; the CPU scan without it. */
  findChanges?: () => ChangeFinder;
  /** The requester's key: results must be signed, caught providers are reported, accepted units earn receipts. */
  identity?: Identity;
  /** Bytes the origin may still store (navigator.storage.estimate(): quota − usage); undefined where unknown. */
  storageLeft?: () => Promise<number | undefined>;
  /** Tells the requester a job ended, for a job whose card asked to be told (the Notification API in the browser). */
  notify?: (title: string, body: string) => void;
  /** The connection's receipt outbox when other tabs' jobs (RL) share it; otherwise Templar makes its own. */
  receipts?: ReceiptOutbox;
}

export class Templar {
  readonly jobs = new Observable<JobSummary[]>([]);
  private readonly store: JobStore;
  private readonly histories: HistoryStore;
  private readonly models: ModelStore;
  private readonly runners = new Map<string, { runner: JobRunner; off: () => void }>();
  private readonly summaries = new Map<string, JobSummary>();
  private localEngine?: Promise<ComputeEngine | undefined>;
  private finder?: ChangeFinder;
  /** One reputation per requester, across its jobs and reloads: a key caught in one job is checked on every unit in the next. */
  private book = new ReputationBook();
  private readonly reputationStore: ReputationStore;

  /** One per signaling connection, shared by every job: see receipt-outbox.ts. */
  private readonly outbox: ReceiptOutbox;

  constructor(private readonly deps: TemplarDeps) {
    this.outbox = deps.receipts ?? new ReceiptOutbox(deps.signaling);
    this.store = new JobStore(deps.store);
    this.histories = new HistoryStore(deps.store);
    this.models = new ModelStore(deps.store);
    this.reputationStore = new ReputationStore(deps.store);
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
      else await this.publishStored(spec, state.status, state.message);
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
    const names = [...this.summaries.values()].map((summary) => summary.spec.name);
    const copy = rerunSpec(spec, hash, names, newJobId(), Date.now());
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
    await this.publishStored(spec, 'cancelled', 'cancelled by you');
  }

  /** Whether to be told when the job ends; the caller has the browser's permission already. */
  async setNotify(id: string, notify: boolean): Promise<void> {
    const running = this.runners.get(id)?.runner.history;
    if (running) return running.setNotify(notify);
    const spec = await this.store.spec(id);
    await (await this.recorderOf(spec)).setNotify(notify);
    const summary = this.summaries.get(id);
    if (summary) await this.publishStored(spec, summary.view.status, summary.view.message);
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
    const engine = await this.localEngineOnce();
    return engine ? checkModelRuns(engine, planned) : planned;
  }

  /** Whether a chosen .onnx loads in this browser's onnxruntime-web, before any job is planned; throws PlanError. */
  async checkModelLoads(bytes: Uint8Array): Promise<void> {
    const engine = await this.localEngineOnce();
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
    this.summaries.delete(id);
    this.emit();
  }

  /** The job's outputs, assembled in unit order. Only for finished jobs. */
  async results(id: string): Promise<RawTensor[]> {
    const spec = await this.store.spec(id);
    const units = unitCount(spec);
    const perOutput: RawTensor[][] = spec.outputs.map(() => []);
    for (let unit = 0; unit < units; unit++) {
      const outputs = await this.store.unitResult(id, unit);
      outputs.forEach((t, i) => perOutput[i]?.push(t));
    }
    // An output without a batch axis belongs to the whole batch, which ran as one unit.
    return perOutput.map((parts, i) =>
      spec.outputs[i]?.batched === false && parts.length === 1 ? parts[0]! : concatRows(parts),
    );
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
    const model = await this.openModel(spec);
    if (!model) {
      const message = 'the model is no longer stored in this browser; create the job again';
      await this.store.setState(spec.id, { status: 'failed', message });
      await this.publishStored(spec, 'failed', message);
      return;
    }
    // Spot checks re-run units here; a quorum whose replicas never agree is settled here too (SPEC TRUST-Q2).
    const local = spec.spotCheckRate > 0 || spec.redundancy > 1 ? await this.localEngineOnce() : undefined;
    const noChecks =
      spec.spotCheckRate > 0 && !local
        ? 'spot checks are off: this browser could not start a local engine to re-run units'
        : undefined;
    const runner = new JobRunner(spec, await this.store.inputs(spec.id), {
      signaling: this.deps.signaling,
      createPeer: this.deps.createPeer,
      jobs: this.store,
      history: this.histories,
      model,
      local,
      extension: this.deps.extension,
      identity: this.deps.identity,
      reputation: this.book,
      receipts: this.outbox,
      // Receipts credit FLOPs: a built-in model's declared cost, an uploaded one's read from its graph
      // (MatMul, Gemm, Conv); 0 only when the graph gives no sizes to count.
      flopsPerRow: spec.model.builtinId
        ? getBuiltinModel(spec.model.builtinId)?.flopsPerRow
        : estimateOnnxFlopsPerRow(joinOnnx(model.current.parts)),
    });
    const off = runner.view.subscribe((view) => {
      // Every change of a job's view may follow a verdict on a provider: keep the book on disk (writes coalesce).
      void this.reputationStore.save(this.book);
      if (view.status === 'running') return this.publish(spec, view);
      // Ended: the card shows the figures as stored, so a reload shows the same (defect 1).
      this.publish(spec, storedJobView(view));
      this.detach(spec.id);
      this.ended(spec, view);
    });
    this.runners.set(spec.id, { runner, off });
    if (noChecks) runner.view.set({ ...runner.view.get(), message: noChecks });
    this.publish(spec, runner.view.get());
    await runner.start();
  }

  /** Every version the job has had, from the one model store; undefined if one is gone. */
  private async openModel(spec: JobSpec): Promise<JobModel | undefined> {
    const versions: ModelVersion[] = [];
    for (const hash of await this.store.modelVersions(spec.id)) {
      const version = await this.models.version(hash);
      if (!version) return undefined;
      versions.push(version);
    }
    return JobModel.open(versions, this.changeFinder());
  }

  /** One diff worker for every job, started on the first diff (a job's first version needs none). */
  private changeFinder(): ChangeFinder | undefined {
    const make = this.deps.findChanges;
    if (!make) return undefined;
    return (a, b) => {
      this.finder ??= make();
      return this.finder(a, b);
    };
  }

  private localEngineOnce(): Promise<ComputeEngine | undefined> {
    this.localEngine ??=
      this.deps.local?.().catch((error: unknown) => {
        console.warn('local engine for spot checks failed to start', error);
        return undefined;
      }) ?? Promise.resolve(undefined);
    return this.localEngine;
  }

  private detach(id: string): void {
    const entry = this.runners.get(id);
    if (!entry) return;
    entry.off();
    this.runners.delete(id);
  }

  /** A stored job that is not running, shown from its stored history. */
  private async publishStored(spec: JobSpec, status: JobStatus, message?: string): Promise<void> {
    const done = (await this.store.doneUnits(spec.id)).length;
    const recorder = await this.recorderOf(spec);
    const { history, recent } = recorder.state.get();
    this.publish(spec, emptyJobView(spec.id, unitCount(spec), status, done, message, history, recent));
  }

  private recorderOf(spec: JobSpec): Promise<JobRecorder> {
    return JobRecorder.forJob(spec, this.histories);
  }

  /** A job that ends while its card asked to be told: one notification. */
  private ended(spec: JobSpec, view: JobView): void {
    const notice = view.record.notify ? endNotice(spec, view) : undefined;
    if (notice) this.deps.notify?.(notice.title, notice.body);
  }

  private publish(spec: JobSpec, view: JobView): void {
    this.summaries.set(spec.id, { spec, view });
    this.emit();
  }

  private emit(): void {
    this.jobs.set([...this.summaries.values()].sort((a, b) => b.spec.createdAt - a.spec.createdAt));
  }
}
