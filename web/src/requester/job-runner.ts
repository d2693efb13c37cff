/**
 * Templar's shell for one batch-inference job. Every decision — which unit
 * goes where, what is checked, what is accepted, who is excluded, what runs
 * again — is the JobCoordinator's (@shared/jobs, the code bench:trust
 * measures). This shell does the I/O around it: it opens the job with the
 * signaling server, keeps a link per paired provider (provider-links.ts),
 * ships the model (model-delivery.ts), turns peer messages into coordinator
 * events (provider-inbox.ts), carries out the coordinator's commands
 * (job-commands.ts), and resumes from what is stored so a reload neither
 * loses nor repeats a finished unit.
 */
import {
  inferenceKind,
  type JobCoordinator,
  unitCount,
  type InferenceResult,
  type JobKind,
  type JobSpec,
} from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { ReputationBook } from '@shared/trust';
import type { ModelVersion } from '@shared/tensor';
import type { JobModel } from './job-model';
import type { JobStatus } from '../storage/job-store';
import type { JobRunnerDeps } from './runner-deps';
import { inferenceCoordinator } from './inference-coordinator';
import { InferenceWire } from './inference-wire';
import { JobCommands } from './job-commands';
import { JobReceipts } from './job-receipts';
import { figuresOf, JobViewModel } from './job-view';
import { JobRecorder } from './job-recorder';
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
  private readonly commands: JobCommands;
  private readonly checks?: LocalChecks;
  private readonly reputation: ReputationBook;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  private recorder?: JobRecorder;

  constructor(
    private readonly spec: JobSpec,
    inputs: RawTensor[],
    private readonly deps: JobRunnerDeps,
  ) {
    const { signaling, identity } = deps;
    this.reputation = deps.reputation ?? new ReputationBook(deps.now);
    this.model = new JobViewModel(spec.id, unitCount(spec), deps.now);
    const kind = inferenceKind(spec, inputs, { flopsPerRow: deps.flopsPerRow, rng: deps.rng });
    this.kind = kind;
    this.wire = new InferenceWire(spec, deps.model, kind, identity);
    if (deps.local) this.checks = new LocalChecks(deps.local, deps.model);
    this.results = new ResultWriter({
      jobs: deps.jobs,
      jobId: spec.id,
      alsoWrite: (unitIds) => this.recorder?.batchEntries(unitIds) ?? [],
      rerunUnits: () => this.coordinator.rerunUnits(),
      written: (units) => {
        for (const unitId of units) this.model.unitStored(kind.size(unitId));
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
      recorder: () => this.recorder,
      exec: (commands) => this.commands.exec(commands),
      refresh: () => this.refresh(),
      closed: () => this.closed,
    });
    this.receipts = new JobReceipts({
      jobId: spec.id,
      identity,
      outbox: deps.receipts ?? new ReceiptOutbox(signaling),
      sendTo: (peerId, header) => void this.links.sendTo(peerId, header),
      issued: () => this.model.receiptIssued(),
      logged: (count) => this.model.receiptsLogged(count),
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
      onLost: (link, reason) => this.inbox.lost(link, reason),
      wants: (peerId) => !this.closed && !this.model.isSettled(peerId),
    });
    this.commands = new JobCommands({
      coordinator: () => this.coordinator,
      kind,
      links: this.links,
      wire: this.wire,
      delivery: this.delivery,
      results: this.results,
      receipts: this.receipts,
      checks: this.checks,
      view: this.model,
      recorder: () => this.recorder,
      report: identity !== undefined,
      closed: () => this.closed,
      stop: (status, message) => this.stop(status, message),
      finish: () => this.finish(),
      refresh: () => this.refresh(),
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
    const recorder = await JobRecorder.forJob(this.spec, this.deps.history, this.deps.now, (message) =>
      this.model.patch({ message }),
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
        admit: (matched) => this.inbox.admit(matched),
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
    this.links.closeJob();
    void this.deps.jobs.setState(this.spec.id, { status, message });
  }

  private openJob(): void {
    if (!this.closed) this.links.openJob(this.wire.needs());
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.receipts.settled();
    this.model.allFinished();
    this.links.broadcast({ type: 'bye', jobId: this.spec.id, reason: 'job complete' });
    this.links.closeAll('job complete');
    this.links.closeJob();
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
