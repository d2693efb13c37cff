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
import { messageOf } from '@shared/errors';
import {
  inferenceKind,
  type JobCoordinator,
  unitCount,
  type CoordinatorCommand,
  type InferenceResult,
  type JobKind,
  type JobSpec,
} from '@shared/jobs';
import { decodePeerMessage, PeerStream, type PeerHeader, type PeerHeaderOf, type RawTensor } from '@shared/protocol';
import { ReputationBook } from '@shared/trust';
import type { ModelVersion } from '@shared/tensor';
import type { JobModel } from './job-model';
import type { JobStatus } from '../storage/job-store';
import type { JobRunnerDeps } from './runner-deps';
import { inferenceCoordinator } from './inference-coordinator';
import { InferenceWire } from './inference-wire';
import { JobReceipts } from './job-receipts';
import { JobViewModel } from './job-view';
import { LocalChecks } from './local-checks';
import { ProviderLinks, type ProviderLink } from './provider-links';
import { ReceiptOutbox } from './receipt-outbox';
import { ModelDelivery } from './model-delivery';

export type { JobView, ProviderLinkState, ProviderStats } from './job-view';
export type { JobRunnerDeps } from './runner-deps';

export class JobRunner {
  private readonly model: JobViewModel;
  private readonly kind: JobKind<RawTensor[], InferenceResult>;
  private readonly wire: InferenceWire;
  private readonly delivery: ModelDelivery;
  private coordinator!: JobCoordinator<InferenceResult>;
  private readonly links: ProviderLinks;
  private readonly receipts: JobReceipts;
  private readonly checks?: LocalChecks;
  private readonly reputation: ReputationBook;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  /** Accepted units whose results are still being written: not yet safe from a reload. */
  private writing = 0;
  private readonly unwritten: { unitId: number; outputs: RawTensor[]; modelHash: string }[] = [];
  private flushing?: Promise<void>;
  /** The re-run list as last written (joined), to skip writes that change nothing. */
  private rerunStored = '';

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
    this.delivery = new ModelDelivery({
      model: deps.model,
      send: (peerId, header, body, stream) => {
        const link = this.links.get(peerId);
        if (link) this.links.send(link, header, body, stream);
        return link !== undefined;
      },
      changed: () => this.refresh(),
      failed: (message) => this.model.patch({ message }),
    });
    const outbox = deps.receipts ?? new ReceiptOutbox(signaling);
    // Logging outlives the job's pairing: the count keeps up even after the job is done.
    outbox.onLogged(spec.id, (count) => this.model.receiptsLogged(count));
    this.receipts = new JobReceipts({
      jobId: spec.id,
      identity,
      outbox,
      sendTo: (peerId, header) => {
        const link = this.links.get(peerId);
        if (link) this.links.send(link, header);
      },
      issued: () => this.model.receiptIssued(),
      failed: (message) => this.model.patch({ message }),
    });
    this.links = new ProviderLinks({
      jobId: spec.id,
      signaling,
      createPeer: deps.createPeer,
      extension: deps.extension,
      onConnecting: (peerId) => this.model.setProvider(peerId, { state: 'connecting', note: undefined }),
      onOpen: (link) => this.links.send(link, this.wire.jobMessage()),
      onMessage: (link, bytes) => this.onMessage(link, bytes),
      onLost: (link, reason) => {
        const { peerId } = link.session;
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

  async start(): Promise<void> {
    this.coordinator = inferenceCoordinator({
      spec: this.spec,
      kind: this.kind,
      reputation: this.reputation,
      canCheck: this.checks !== undefined,
      done: await this.deps.jobs.doneUnits(this.spec.id),
      rerun: await this.deps.jobs.rerunUnits(this.spec.id).then((units) => {
        this.rerunStored = units.join();
        return units;
      }),
      random: this.deps.random,
    });
    this.refresh();
    if (this.coordinator.complete) return this.finish();
    const { signaling } = this.deps;
    const mine = (m: { jobId: string }) => m.jobId === this.spec.id;
    this.unsubscribe.push(
      // Every (re)connect: the server forgot the job, so open it again. Providers re-pair.
      signaling.on('welcome', () => this.openJob()),
      signaling.on('matched', (m) => {
        if (!mine(m)) return;
        if (m.capabilities)
          this.model.setProvider(m.peerId, { backend: m.capabilities.backend, gflops: m.capabilities.gflops });
        // SPEC TRUST-P2: a key caught here or in an earlier job (the book is persisted) gets no work.
        if (this.model.isSettled(m.peerId) || this.coordinator.isExcluded(m.peerId))
          return this.links.release(m.peerId, 'excluded');
        this.links.matched(m.peerId, m.capabilities, { session: m.session, network: m.network });
        this.refresh();
      }),
      signaling.on('unmatched', (m) => mine(m) && this.links.unmatched(m.peerId, m.reason)),
      signaling.on('signal', (s) => mine(s) && this.links.signal(s.from, s.payload)),
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
    this.model.patch({ status, message });
    for (const off of this.unsubscribe.splice(0)) off();
    this.links.closeAll('job stopped');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    void this.deps.jobs.setState(this.spec.id, { status, message });
  }

  private openJob(): void {
    if (!this.closed) this.deps.signaling.send({ type: 'job-open', jobId: this.spec.id, needs: this.wire.needs() });
  }

  private onMessage(link: ProviderLink, bytes: Uint8Array): void {
    const { peerId } = link.session;
    let message: { header: PeerHeader; body: Uint8Array };
    try {
      message = decodePeerMessage(bytes);
    } catch (error) {
      return this.exec(this.coordinator.refuse(peerId, `sent a malformed message: ${messageOf(error)}`));
    }
    const { header, body } = message;
    switch (header.type) {
      case 'model-status':
        if (this.model.provider(peerId)?.state !== 'working')
          this.model.setProvider(peerId, {
            modelCached: header.cached,
            state: header.cached ? 'loading-model' : 'sending-model',
          });
        if (!header.cached) void this.delivery.requested(peerId, header);
        return this.refresh();
      case 'ready':
        this.model.setProvider(peerId, { state: 'working' });
        if (!this.delivery.ready(peerId, header.modelHash)) return;
        return this.exec(this.coordinator.providerReady(peerId, link.adapterClass));
      case 'result':
        return void this.onResult(link, header, body);
      case 'unit-error': {
        // A unit declined by a paused provider is not a failure of anyone's.
        const error = header.declined ? undefined : header.message;
        const failed = (this.model.provider(peerId)?.unitsFailed ?? 0) + (error ? 1 : 0);
        this.model.setProvider(peerId, { unitsFailed: failed, note: header.message });
        this.delivery.returned(peerId, header.unitId);
        return this.exec(this.coordinator.unitFailed(peerId, header.unitId, error));
      }
      case 'paused':
        this.model.setProvider(peerId, { state: header.paused ? 'paused' : 'working' });
        if (!header.paused) return this.exec(this.coordinator.providerReady(peerId, link.adapterClass));
        this.coordinator.providerPaused(peerId);
        return this.refresh();
      case 'error':
        this.model.setProvider(peerId, { note: header.message });
        // It cannot load the model: it takes no units and is not counted as faulty.
        if (header.declined) return this.exec(this.coordinator.providerDeclined(peerId, header.message));
        return this.refresh();
      default:
        return this.exec(this.coordinator.refuse(peerId, `sent "${header.type}", which only requesters send`));
    }
  }

  private async onResult(link: ProviderLink, header: PeerHeaderOf<'result'>, body: Uint8Array): Promise<void> {
    const { unitId, computeMs } = header;
    const { peerId } = link.session;
    if (!this.coordinator.holds(peerId, unitId)) return; // not ours to answer (late after a re-pair): ignore
    const version = this.delivery.arrived(peerId, unitId);
    const reading = await this.wire.readResult(peerId, header, body, link.pairing, version);
    if (this.closed) return;
    if (!reading.ok) return this.exec(this.coordinator.refuse(peerId, reading.reason, unitId));
    link.computeMs.set(unitId, computeMs);
    link.computeMsTotal += computeMs;
    this.exec(this.coordinator.resultArrived(peerId, unitId, reading.outputs));
  }

  /** Carries out the coordinator's commands, in order. */
  private exec(commands: CoordinatorCommand<InferenceResult>[]): void {
    for (const c of commands) {
      switch (c.type) {
        case 'send': {
          const link = this.links.get(c.peerId);
          if (!link || this.closed) break;
          const { header, body } = this.wire.unitMessage(c.unitId, this.delivery.dispatch(c.peerId, c.unitId));
          this.links.send(link, header, body, PeerStream.work);
          break;
        }
        case 'check':
          this.checkLocally(c.unitId);
          break;
        case 'accept':
          for (const p of c.providers) this.credit(p, c.unitId);
          this.store(c.unitId, c.result, this.delivery.settled(c.unitId));
          break;
        case 'credit':
          this.credit(c.peerId, c.unitId);
          break;
        case 'reject':
          this.rejected(c.peerId, c.reason, c.rerun.length > 0);
          break;
        case 'disagreement':
          this.model.patch({ message: `replicas of unit ${c.unitId} disagreed; asking another provider` });
          break;
        case 'drop':
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
        if (outcome.ok)
          return this.exec(this.coordinator.checkDone(unitId, outcome.outputs, this.checks!.adapterClass));
        // Our own engine failed: that says nothing about the provider. Accept unchecked and say so.
        this.model.patch({ message: `spot check could not run locally: ${outcome.message}` });
        this.exec(this.coordinator.checkUnavailable(unitId));
      },
    );
  }

  /** Reported, released, its link closed; units it alone vouched for are persisted to run again. */
  private rejected(peerId: string, reason: string, rerun: boolean): void {
    this.model.setProvider(peerId, { state: 'rejected', note: reason });
    this.links.reject(peerId, reason, this.deps.identity !== undefined);
    // Persisted first: a reload before these are computed again must not take their stored results as final.
    if (rerun) void this.persistRerun();
  }

  /** Writes the units to re-run when they changed (one IndexedDB write per accepted unit is the budget). */
  private async persistRerun(): Promise<void> {
    const units = this.coordinator.rerunUnits();
    if (units.join() === this.rerunStored) return;
    this.rerunStored = units.join();
    return this.deps.jobs.setRerunUnits(this.spec.id, units).catch((error: unknown) => {
      this.model.patch({ message: `could not store the units to re-run: ${messageOf(error)}` });
    });
  }

  /** Queues an accepted unit's result; writes go out in batches, one transaction each, as fast as IndexedDB takes them. */
  private store(unitId: number, outputs: RawTensor[], modelHash: string): void {
    this.writing++;
    this.unwritten.push({ unitId, outputs, modelHash });
    this.flushing ??= this.flush();
  }

  private async flush(): Promise<void> {
    while (this.unwritten.length > 0) {
      const batch = this.unwritten.splice(0);
      try {
        await this.deps.jobs.putUnitResults(this.spec.id, batch);
        await this.persistRerun();
      } catch (error) {
        this.stop('failed', `could not store results (${messageOf(error)}); free some disk space and resume the job`);
        return;
      } finally {
        this.writing -= batch.length;
      }
      for (const { unitId } of batch) this.model.unitStored(this.kind.size(unitId));
      this.refresh();
    }
    this.flushing = undefined;
    // The last write to land finishes the job: "done" before every result is written could lose one.
    if (this.coordinator.complete && !this.closed && this.writing === 0) await this.finish();
  }

  /** One receipt per accepted unit, and the provider's figures in the view. */
  private credit(peerId: string, unitId: number): void {
    const link = this.links.get(peerId);
    if (!link) return;
    link.reconnects = 0;
    this.model.unitCredited(peerId, link.computeMsTotal);
    const durationMs = link.computeMs.get(unitId) ?? 0;
    link.computeMs.delete(unitId);
    this.receipts.issue(peerId, unitId, this.kind.flops(unitId), durationMs, link.pairing?.network);
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.receipts.settled();
    this.links.broadcast({ type: 'bye', jobId: this.spec.id, reason: 'job complete' });
    this.links.closeAll('job complete');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    await this.deps.jobs.setState(this.spec.id, { status: 'done', finishedAt: this.deps.now?.() ?? Date.now() });
    this.model.patch({ status: 'done', inFlight: 0 });
    this.refresh();
  }

  private refresh(): void {
    if (!this.coordinator) return;
    const inFlight = this.model.status === 'running' ? this.coordinator.inFlight() : 0;
    // "Done" counts what a reload keeps: accepted and written.
    this.model.refresh({
      done: this.coordinator.finished - this.writing,
      inFlight,
      stats: this.coordinator.stats,
      versions: this.delivery.figures(),
      canRun: this.coordinator.canRun,
    });
  }
}
