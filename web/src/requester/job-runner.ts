/**
 * Templar's shell for one batch-inference job. Every decision — which unit
 * goes where, what is checked, what is accepted, who is excluded, what runs
 * again — is the JobCoordinator's (@shared/jobs, the code bench:trust
 * measures). This shell does the I/O around it: it opens the job with the
 * signaling server, keeps a link per paired provider (provider-links.ts),
 * ships the model, turns peer messages into coordinator events, carries out
 * the coordinator's commands, issues receipts, and persists results so a
 * reload resumes without losing or repeating a finished unit.
 */
import {
  inferenceKind,
  type JobCoordinator,
  unitCount,
  type CoordinatorCommand,
  type InferenceResult,
  type JobKind,
  type JobSpec,
} from '@shared/jobs';
import { PeerStream, type RawTensor } from '@shared/protocol';
import { ReputationBook } from '@shared/trust';
import type { ModelVersion } from '@shared/tensor';
import type { JobModel } from './job-model';
import type { JobStatus } from '../storage/job-store';
import type { JobRunnerDeps } from './runner-deps';
import { inferenceCoordinator } from './inference-coordinator';
import { InferenceWire } from './inference-wire';
import { JobReceipts } from './job-receipts';
import { figuresOf, JobViewModel } from './job-view';
import { JobRecorder } from './job-recorder';
import { HistoryStore } from '../storage/history-store';
import { memoryStore } from '../storage/kv';
import { LocalChecks } from './local-checks';
import { ProviderLinks } from './provider-links';
import { ReceiptOutbox } from './receipt-outbox';
import { ModelDelivery } from './model-delivery';
import { ProviderInbox } from './provider-inbox';
import { ResultWriter } from './result-writer';

export type { JobView, ProviderLinkState, ProviderStats } from './job-view';
export type { JobRunnerDeps } from './runner-deps';

export class JobRunner {
  private readonly model: JobViewModel;
  private readonly kind: JobKind<RawTensor[], InferenceResult>;
  private readonly wire: InferenceWire;
  private readonly delivery: ModelDelivery;
  private readonly results: ResultWriter;
  private readonly inbox: ProviderInbox;
  private coordinator!: JobCoordinator<InferenceResult>;
  private readonly links: ProviderLinks;
  private readonly receipts: JobReceipts;
  private readonly checks?: LocalChecks;
  private readonly reputation: ReputationBook;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  /** job-open was sent: only then is there a job for job-close to close (defect 8). */
  private opened = false;
  private recorder?: JobRecorder;

  constructor(
    private readonly spec: JobSpec,
    inputs: RawTensor[],
    private readonly deps: JobRunnerDeps,
  ) {
    const { signaling, identity } = deps;
    this.reputation = deps.reputation ?? new ReputationBook(deps.now);
    this.model = new JobViewModel(spec.id, unitCount(spec), deps.now);
    this.kind = inferenceKind(spec, inputs, { flopsPerRow: deps.flopsPerRow, rng: deps.rng });
    this.wire = new InferenceWire(spec, deps.model, this.kind, identity);
    if (deps.local) this.checks = new LocalChecks(deps.local, deps.model);
    this.results = new ResultWriter({
      jobs: deps.jobs,
      jobId: spec.id,
      alsoWrite: (unitIds) => this.recorder?.batchEntries(unitIds) ?? [],
      rerunUnits: () => this.coordinator.rerunUnits(),
      written: (units) => {
        for (const unitId of units) this.model.unitStored(this.kind.size(unitId));
        this.refresh();
      },
      failed: (message) => this.stop('failed', message),
      warn: (message) => this.model.patch({ message }),
    });
    this.delivery = new ModelDelivery({
      model: deps.model,
      send: (peerId, header, body, stream) => this.links.sendTo(peerId, header, body, stream),
      changed: () => this.refresh(),
      failed: (message) => this.model.patch({ message }),
    });
    this.inbox = new ProviderInbox({
      coordinator: () => this.coordinator,
      view: this.model,
      delivery: this.delivery,
      wire: this.wire,
      exec: (commands) => this.exec(commands),
      refresh: () => this.refresh(),
      closed: () => this.closed,
    });
    const outbox = deps.receipts ?? new ReceiptOutbox(signaling);
    // Logging outlives the job's pairing: the count keeps up even after the job is done.
    outbox.onLogged(spec.id, (count) => this.model.receiptsLogged(count));
    this.receipts = new JobReceipts({
      jobId: spec.id,
      identity,
      outbox,
      sendTo: (peerId, header) => void this.links.sendTo(peerId, header),
      issued: () => this.model.receiptIssued(),
      failed: (message) => this.model.patch({ message }),
    });
    this.links = new ProviderLinks({
      jobId: spec.id,
      signaling,
      createPeer: deps.createPeer,
      extension: deps.extension,
      onConnecting: (peerId) => this.model.setProvider(peerId, { state: 'connecting', note: undefined }),
      onOpen: (link) => {
        this.recorder?.joined(link.session.peerId);
        this.links.send(link, this.wire.jobMessage());
      },
      onMessage: (link, bytes) => this.inbox.receive(link, bytes),
      onLost: (link, reason) => {
        const { peerId } = link.session;
        this.recorder?.left(peerId, reason);
        if (!this.model.isSettled(peerId)) this.model.setProvider(peerId, { state: 'gone', note: reason });
        this.delivery.providerGone(peerId);
        this.exec(this.coordinator.providerGone(peerId));
      },
      wants: (peerId) => !this.closed && !this.model.isSettled(peerId),
    });
  }

  /** The job's model and its versions. */
  get jobModel(): JobModel {
    return this.deps.model;
  }

  get view(): JobViewModel['view'] {
    return this.model.view;
  }

  /** The job's history and event log. */
  get history(): JobRecorder | undefined {
    return this.recorder;
  }

  async start(): Promise<void> {
    const done = await this.deps.jobs.doneUnits(this.spec.id);
    const recorder = await JobRecorder.forJob(
      this.spec,
      this.deps.history ?? new HistoryStore(memoryStore()),
      this.deps.now,
      (message) => this.model.patch({ message }),
    );
    this.recorder = recorder;
    // For the runner's lifetime: the history's last change (the job's end) comes after everything else stops.
    recorder.state.subscribe(({ history, recent }) => this.model.patch({ record: history, events: recent }));
    recorder.started(done);
    this.model.setBase(recorder.figures);
    this.coordinator = inferenceCoordinator({
      spec: this.spec,
      kind: this.kind,
      reputation: this.reputation,
      canCheck: this.checks !== undefined,
      done,
      rerun: await this.results.loadRerun(),
      random: this.deps.random,
    });
    this.refresh();
    if (this.coordinator.complete) return this.finish();
    this.unsubscribe.push(
      this.links.follow({
        welcome: () => this.openJob(),
        admit: ({ peerId, capabilities }) => {
          if (capabilities)
            this.model.setProvider(peerId, { backend: capabilities.backend, gflops: capabilities.gflops });
          // SPEC TRUST-P2: a key caught here or in an earlier job (the book is persisted) gets no work.
          return !this.model.isSettled(peerId) && !this.coordinator.isExcluded(peerId);
        },
      }),
    );
    this.openJob();
  }

  /**
   * Makes `version` the job's model from the next unit sent: every provider is
   * told and fetches it as a patch from the version it holds. Refused (a
   * ModelVersionError naming what differs) unless only weight values changed.
   */
  async publish(version: ModelVersion): Promise<number> {
    const { number } = await this.deps.model.publish(version);
    await this.deps.jobs.setModelVersions(
      this.spec.id,
      this.delivery.figures().map((v) => v.hash),
    );
    this.links.broadcast(this.wire.jobMessage());
    this.refresh();
    return number;
  }

  /** Stops dispatching; in-flight units are abandoned and stay undone. */
  stop(status: JobStatus = 'paused', message?: string): void {
    if (this.closed) return;
    this.closed = true;
    // The history first: the view's change of status is the last one the dashboard follows.
    const kind = status === 'running' || status === 'done' ? 'paused' : status;
    void this.recorder?.stopped(kind, message ?? `job ${kind}`);
    this.model.patch({ status, message });
    for (const off of this.unsubscribe.splice(0)) off();
    this.links.closeAll('job stopped');
    this.closeJob();
    void this.deps.jobs.setState(this.spec.id, { status, message });
  }

  private openJob(): void {
    if (this.closed) return;
    this.opened = true;
    this.deps.signaling.send({ type: 'job-open', jobId: this.spec.id, needs: this.wire.needs() });
  }

  private closeJob(): void {
    if (!this.opened) return;
    this.opened = false;
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
  }

  /** Carries out the coordinator's commands, in order. */
  private exec(commands: CoordinatorCommand<InferenceResult>[]): void {
    for (const c of commands) {
      switch (c.type) {
        case 'send': {
          if (!this.links.get(c.peerId) || this.closed) break;
          this.recorder?.sent(c.peerId, c.unitId);
          const { header, body } = this.wire.unitMessage(c.unitId, this.delivery.dispatch(c.peerId, c.unitId));
          this.links.sendTo(c.peerId, header, body, PeerStream.work);
          break;
        }
        case 'check':
          this.checkLocally(c.unitId);
          break;
        case 'accept': {
          const version = this.delivery.settled(c.unitId);
          for (const p of c.providers) this.credit(p, c.unitId, version);
          void this.store(c.unitId, c.result, version);
          break;
        }
        case 'credit':
          this.credit(c.peerId, c.unitId, this.delivery.versionOf(c.unitId));
          break;
        case 'reject':
          this.rejected(c.peerId, c.reason, c.rerun.length > 0);
          break;
        case 'disagreement':
          this.model.patch({ message: `replicas of unit ${c.unitId} disagreed; asking another provider` });
          break;
        case 'drop':
          this.recorder?.declined(c.peerId, c.reason);
          this.model.setProvider(c.peerId, { state: 'declined', note: c.reason });
          this.links.release(c.peerId, c.reason);
          break;
        case 'duplicate':
          break;
        case 'fail':
          this.stop('failed', c.reason);
          this.refresh(); // nothing is in flight once it failed
          return;
      }
    }
    this.refresh();
  }

  /** SPEC TRUST-A1, TRUST-Q2: the requester's own engine re-runs the unit. */
  private checkLocally(unitId: number): void {
    this.checks!.run(
      this.delivery.versionOf(unitId),
      () => this.kind.unit(unitId),
      (outcome) => {
        if (this.closed) return;
        if (outcome.ok) {
          const commands = this.coordinator.checkDone(unitId, outcome.outputs, this.checks!.adapterClass);
          this.recorder?.checked(unitId, !commands.some((c) => c.type === 'reject'));
          return this.exec(commands);
        }
        // Our own engine failed: that says nothing about the provider. Accept unchecked and say so.
        this.model.patch({ message: `spot check could not run locally: ${outcome.message}` });
        this.exec(this.coordinator.checkUnavailable(unitId));
      },
    );
  }

  /** Reported, released, its link closed; units it alone vouched for are persisted to run again. */
  private rejected(peerId: string, reason: string, rerun: boolean): void {
    this.recorder?.rejected(peerId, reason);
    this.model.setProvider(peerId, { state: 'rejected', note: reason });
    this.links.reject(peerId, reason, this.deps.identity !== undefined);
    // Persisted first: a reload before these are computed again must not take their stored results as final.
    if (rerun) void this.results.persistRerun();
  }

  /** The accepted unit's result is written; the last write to land finishes the job (before it, a reload could lose one). */
  private async store(unitId: number, outputs: RawTensor[], modelHash: string): Promise<void> {
    await this.results.write(unitId, outputs, modelHash);
    if (this.coordinator.complete && !this.closed && this.results.pending === 0) await this.finish();
  }

  /** One receipt per accepted unit, and the provider's figures in the view. */
  private credit(peerId: string, unitId: number, version: string): void {
    const link = this.links.get(peerId);
    if (!link) return;
    link.reconnects = 0;
    this.recorder?.credited(peerId, unitId);
    this.model.unitCredited(peerId, link.computeMsTotal);
    const durationMs = link.computeMs.get(unitId) ?? 0;
    link.computeMs.delete(unitId);
    this.receipts.issue(peerId, unitId, this.kind.flops(unitId), durationMs, link.pairing?.network, version);
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.receipts.settled();
    this.model.allFinished();
    this.links.broadcast({ type: 'bye', jobId: this.spec.id, reason: 'job complete' });
    this.links.closeAll('job complete');
    this.closeJob();
    this.refresh();
    // The history is final before the state says done: a reload that reads "done" finds the figures it showed.
    await this.recorder?.stopped('done', `all ${unitCount(this.spec)} units done`);
    await this.deps.jobs.setState(this.spec.id, { status: 'done', finishedAt: this.deps.now?.() ?? Date.now() });
    this.model.patch({ status: 'done', inFlight: 0 });
    this.refresh();
  }

  private refresh(): void {
    if (!this.coordinator) return;
    const inFlight = this.model.status === 'running' ? this.coordinator.inFlight() : 0;
    // "Done" counts what a reload keeps: accepted and written.
    this.model.refresh({
      done: this.coordinator.finished - this.results.pending,
      inFlight,
      stats: this.coordinator.stats,
      versions: this.delivery.figures(),
      canRun: this.coordinator.canRun,
    });
    this.recorder?.setFigures(figuresOf(this.model.view.get()));
  }
}
