/**
 * Templar's shell for one batch-inference job. Every decision — which unit
 * goes where, what is checked, what is accepted, who is excluded, what runs
 * again — is the JobCoordinator's (@shared/jobs, the code bench:trust
 * measures). This shell does the I/O around it: it opens the job with the
 * signaling server, keeps a WebRTC session per paired provider, ships the
 * model, turns peer messages into coordinator events, carries out the
 * coordinator's commands (send a unit, re-run one locally, store a result,
 * reject a key), issues receipts, and persists results so a reload resumes
 * without losing or repeating a finished unit.
 */
import { messageOf } from '@shared/errors';
import type { Identity } from '@shared/identity';
import {
  hashTensors,
  inferenceKind,
  jobVerification,
  JobCoordinator,
  providerAdapterClass,
  unitCount,
  type CoordinatorCommand,
  type InferenceResult,
  type JobKind,
  type JobSpec,
} from '@shared/jobs';
import {
  decodePeerMessage,
  encodePeerMessage,
  PEER_PROTOCOL_VERSION,
  packTensors,
  PeerStream,
  unpackTensors,
  type Capabilities,
  type PeerHeader,
  type PeerHeaderOf,
  type RawTensor,
} from '@shared/protocol';
import {
  DEFAULT_MAX_REPLICAS,
  issueReceipt,
  ReputationBook,
  resolvePolicy,
  verifySignedResult,
  type RandomSource,
} from '@shared/trust';
import { MAX_PEER_RECONNECTS, PEER_RECONNECT_DELAY_MS } from '../core/constants';
import type { ComputeEngine, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import { PeerSessions, type PeerSession } from '../net/peer-sessions';
import type { JobStatus, JobStore } from '../storage/job-store';
import { JobViewModel, type JobView, type ProviderLinkState } from './job-view';
import { ReceiptOutbox } from './receipt-outbox';

export type { JobView, ProviderLinkState, ProviderStats } from './job-view';

export interface JobRunnerDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  jobs: JobStore;
  modelBytes: Uint8Array;
  /** The requester's own engine, for spot checks and settling replicas. Without it no spot checks run. */
  local?: ComputeEngine;
  /** Draws which units are checked (tests inject a seeded one); WebCrypto otherwise. */
  random?: () => number;
  now?: () => number;
  extension?: LinkExtension;
  /**
   * The requester's key. With it the runner is on the keyed network (peer ids
   * are public keys): results must carry the provider's signature, caught
   * providers are reported to the server, and accepted units earn receipts.
   */
  identity?: Identity;
  /** Shared by a requester's jobs; drives adaptive checking (new keys checked more). */
  reputation?: ReputationBook;
  /** Work per input row, for receipts; 0 when unknown. */
  flopsPerRow?: number;
  /** Draws for Freivalds' vectors (tests inject a seeded one); WebCrypto otherwise. */
  rng?: RandomSource;
  /** One outbox per signaling connection (see receipt-outbox.ts); a runner alone makes its own. */
  receipts?: ReceiptOutbox;
}

interface Link {
  session: PeerSession;
  adapterClass: string;
  /** Compute time the provider claimed per unit, for its receipt and mean. */
  computeMs: Map<number, number>;
  computeMsTotal: number;
  reconnects: number;
}

export class JobRunner {
  private readonly model: JobViewModel;
  private readonly kind: JobKind<RawTensor[], InferenceResult>;
  private coordinator!: JobCoordinator<InferenceResult>;
  private readonly sessions: PeerSessions;
  private readonly links = new Map<string, Link>();
  /** Providers the server currently pairs with this job. */
  private readonly paired = new Set<string>();
  private readonly reputation: ReputationBook;
  private readonly outbox: ReceiptOutbox;
  private readonly unsubscribe: (() => void)[] = [];
  /** Local checks run one at a time on the requester's engine, off the dispatch path. */
  private checks = Promise.resolve();
  /** Receipts being signed; the job ends only after each reached its provider's channel. */
  private crediting = Promise.resolve();
  private closed = false;

  constructor(
    private readonly spec: JobSpec,
    inputs: RawTensor[],
    private readonly deps: JobRunnerDeps,
  ) {
    this.reputation = deps.reputation ?? new ReputationBook(deps.now);
    this.outbox = deps.receipts ?? new ReceiptOutbox(deps.signaling);
    this.model = new JobViewModel(spec.id, unitCount(spec), deps.now);
    this.kind = inferenceKind(spec, inputs, { flopsPerRow: deps.flopsPerRow, rng: deps.rng });
    // Logging outlives the job's pairing: the count keeps up even after the job is done.
    this.outbox.onLogged(spec.id, (count) => this.model.receiptsLogged(count));
    this.sessions = new PeerSessions({
      signaling: deps.signaling,
      createPeer: deps.createPeer,
      initiator: true,
      extension: deps.extension,
      handlers: {
        onOpen: (session) =>
          this.send(session, {
            type: 'job',
            v: PEER_PROTOCOL_VERSION,
            jobId: spec.id,
            modelHash: spec.model.hash,
            modelBytes: deps.modelBytes.length,
          }),
        onMessage: (session, _stream, bytes) => this.onMessage(session, bytes),
        onClose: (session, reason) => this.onSessionClosed(session, reason),
      },
    });
  }

  get view(): JobViewModel['view'] {
    return this.model.view;
  }

  async start(): Promise<void> {
    const rerun = await this.deps.jobs.rerunUnits(this.spec.id);
    const done = await this.deps.jobs.doneUnits(this.spec.id);
    const canCheck = this.deps.local !== undefined;
    const checks = this.spec.spotCheckRate > 0;
    const { tolerance, falseAcceptProbability } = jobVerification(this.spec);
    this.coordinator = new JobCoordinator({
      jobId: this.spec.id,
      units: this.kind.units,
      policy: resolvePolicy({
        redundancy: this.spec.redundancy,
        // SPEC TRUST-A1: checks re-run units on this device; without an engine (or at rate 0) there are none.
        adaptive: checks && canCheck,
        sampleRate: checks && canCheck ? this.spec.spotCheckRate : 0,
        checkWith: 'requester',
        tolerance,
        falseAcceptProbability,
        maxReplicas: Math.max(DEFAULT_MAX_REPLICAS, this.spec.redundancy),
      }),
      reputation: this.reputation,
      agree: this.kind.agree,
      explain: this.kind.explain,
      algebraicCheck: checks ? this.kind.algebraicCheck : undefined,
      canCheck,
      done,
      rerun,
      rng: this.deps.random ? fromUnitRandom(this.deps.random) : undefined,
    });
    this.refresh();
    if (this.coordinator.complete) return this.finish();
    const { signaling } = this.deps;
    this.unsubscribe.push(
      // Every (re)connect: the server forgot the job, so open it again. Providers re-pair.
      signaling.on('welcome', () => this.openJob()),
      signaling.on('matched', (m) => {
        if (m.jobId !== this.spec.id) return;
        this.paired.add(m.peerId);
        this.connect(m.peerId, m.capabilities);
      }),
      signaling.on('unmatched', (m) => {
        if (m.jobId !== this.spec.id) return;
        this.paired.delete(m.peerId);
        this.sessions.close(this.sessions.get(this.spec.id, m.peerId), m.reason);
      }),
      signaling.on('signal', (s) => s.jobId === this.spec.id && this.sessions.signal(s.jobId, s.from, s.payload)),
    );
    this.openJob();
  }

  /** Stops dispatching; in-flight units are abandoned and stay undone. */
  stop(status: JobStatus = 'paused', message?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.model.patch({ status, message });
    for (const off of this.unsubscribe.splice(0)) off();
    this.sessions.closeAll('job stopped');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    void this.deps.jobs.setState(this.spec.id, { status, message });
  }

  private openJob(): void {
    if (this.closed) return;
    this.deps.signaling.send({
      type: 'job-open',
      jobId: this.spec.id,
      needs: {
        kind: 'inference',
        maxProviders: Math.max(this.spec.maxProviders, this.spec.redundancy),
        units: this.kind.units,
        modelBytes: this.deps.modelBytes.length,
      },
    });
  }

  private connect(peerId: string, capabilities: Capabilities | undefined): void {
    const previous = this.model.provider(peerId);
    // SPEC TRUST-P2: a key caught here or in an earlier job (the book is persisted) gets no work.
    if (previous?.state === 'rejected' || this.coordinator.isExcluded(peerId)) {
      this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
      return;
    }
    const link = this.links.get(peerId);
    if (capabilities) this.model.setProvider(peerId, { backend: capabilities.backend, gflops: capabilities.gflops });
    // Matched again (e.g. after a server restart) while our data channel still works: keep it.
    if (link && this.sessions.isCurrent(link.session)) {
      if (capabilities) link.adapterClass = providerAdapterClass(capabilities);
      return;
    }
    this.links.set(peerId, {
      session: this.sessions.open(this.spec.id, peerId),
      adapterClass: capabilities ? providerAdapterClass(capabilities) : (link?.adapterClass ?? 'unknown'),
      computeMs: new Map(),
      computeMsTotal: link?.computeMsTotal ?? 0,
      reconnects: link?.reconnects ?? 0,
    });
    this.model.setProvider(peerId, { state: 'connecting', note: undefined });
    this.refresh();
  }

  private onSessionClosed(session: PeerSession, reason: string): void {
    const { peerId } = session;
    const link = this.links.get(peerId);
    if (link?.session !== session) return;
    if (this.model.provider(peerId)?.state !== 'rejected')
      this.model.setProvider(peerId, { state: 'gone', note: reason });
    this.exec(this.coordinator.providerGone(peerId));
    this.reconnectLater(link);
  }

  /**
   * The data channel died but the server still pairs us: connect again, a few
   * times with growing pauses, then give the provider back so the matchmaker
   * can assign another.
   */
  private reconnectLater(link: Link): void {
    const { peerId } = link.session;
    if (this.closed || !this.paired.has(peerId) || this.model.provider(peerId)?.state === 'rejected') return;
    if (link.reconnects >= MAX_PEER_RECONNECTS) {
      this.paired.delete(peerId);
      this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
      return;
    }
    link.reconnects++;
    setTimeout(() => {
      if (!this.closed && this.paired.has(peerId) && this.links.get(peerId) === link) this.connect(peerId, undefined);
    }, PEER_RECONNECT_DELAY_MS * link.reconnects);
  }

  private onMessage(session: PeerSession, bytes: Uint8Array): void {
    const peerId = session.peerId;
    const link = this.links.get(peerId);
    if (!link || link.session !== session) return;
    let header: PeerHeader;
    let body: Uint8Array;
    try {
      ({ header, body } = decodePeerMessage(bytes));
    } catch (error) {
      return this.exec(this.coordinator.refuse(peerId, `sent a malformed message: ${messageOf(error)}`));
    }
    switch (header.type) {
      case 'model-status':
        this.model.setProvider(peerId, {
          modelCached: header.cached,
          state: header.cached ? 'loading-model' : 'sending-model',
        });
        if (!header.cached)
          this.send(
            session,
            { type: 'model', modelHash: this.spec.model.hash },
            this.deps.modelBytes,
            PeerStream.model,
          );
        break;
      case 'ready':
        this.model.setProvider(peerId, { state: 'working' });
        return this.exec(this.coordinator.providerReady(peerId, link.adapterClass));
      case 'result':
        return this.onResult(link, header, body);
      case 'unit-error':
        this.model.setProvider(peerId, {
          unitsFailed: (this.model.provider(peerId)?.unitsFailed ?? 0) + 1,
          note: header.message,
        });
        return this.exec(this.coordinator.unitFailed(peerId, header.unitId));
      case 'paused':
        this.model.setProvider(peerId, { state: header.paused ? 'paused' : 'working' });
        if (!header.paused) return this.exec(this.coordinator.providerReady(peerId, link.adapterClass));
        this.coordinator.providerPaused(peerId);
        break;
      case 'error':
        this.model.setProvider(peerId, { note: header.message });
        break;
      default:
        return this.exec(this.coordinator.refuse(peerId, `sent "${header.type}", which only requesters send`));
    }
    this.refresh();
  }

  private onResult(link: Link, header: PeerHeaderOf<'result'>, body: Uint8Array): void {
    const { unitId } = header;
    const { peerId } = link.session;
    if (!this.coordinator.holds(peerId, unitId)) return; // not ours to answer (late after a re-pair): ignore
    let outputs: RawTensor[];
    try {
      outputs = unpackTensors(header.outputs, body);
    } catch (error) {
      return this.exec(this.coordinator.refuse(peerId, `sent a malformed result: ${messageOf(error)}`, unitId));
    }
    const shapeError = this.kind.validate(unitId, outputs);
    if (shapeError)
      return this.exec(
        this.coordinator.refuse(peerId, `returned a wrong shape for unit ${unitId}: ${shapeError}`, unitId),
      );
    link.computeMs.set(unitId, header.computeMs);
    link.computeMsTotal += header.computeMs;
    if (!this.deps.identity) return this.exec(this.coordinator.resultArrived(peerId, unitId, outputs));
    void this.checkSignature(link, header, outputs);
  }

  /** SPEC TRUST-S2: a result without a valid signature by the provider's key, over what we sent and what came back, is dropped and its sender rejected. */
  private async checkSignature(link: Link, header: PeerHeaderOf<'result'>, outputs: RawTensor[]): Promise<void> {
    const { unitId } = header;
    const provider = link.session.peerId;
    const [inputHash, resultHash] = await Promise.all([hashTensors(this.kind.unit(unitId)), hashTensors(outputs)]);
    const check = header.signed
      ? await verifySignedResult(header.signed, { provider, jobId: this.spec.id, unitId, inputHash, resultHash })
      : ({ ok: false, reason: 'unsigned' } as const);
    if (this.closed) return;
    if (!check.ok)
      return this.exec(this.coordinator.refuse(provider, `result for unit ${unitId} dropped: ${check.reason}`, unitId));
    this.exec(this.coordinator.resultArrived(provider, unitId, outputs));
  }

  /** Carries out the coordinator's commands, in order. */
  private exec(commands: CoordinatorCommand<InferenceResult>[]): void {
    for (const c of commands) {
      switch (c.type) {
        case 'send': {
          const link = this.links.get(c.peerId);
          if (!link || this.closed) break;
          const packed = packTensors(this.kind.unit(c.unitId));
          const header = { type: 'unit', jobId: this.spec.id, unitId: c.unitId, inputs: packed.refs } as const;
          this.send(link.session, header, packed.body, PeerStream.work);
          break;
        }
        case 'check':
          this.checkLocally(c.unitId);
          break;
        case 'accept':
          for (const p of c.providers) this.credit(p, c.unitId);
          void this.store(c.unitId, c.result);
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
        case 'duplicate':
          break;
        case 'fail':
          this.stop('failed', c.reason);
          return;
      }
    }
    this.refresh();
  }

  /** SPEC TRUST-Q2, TRUST-A1: the requester's own engine re-runs the unit; one check at a time. */
  private checkLocally(unitId: number): void {
    const local = this.deps.local!;
    this.checks = this.checks.then(async () => {
      if (this.closed) return;
      let own: RawTensor[];
      try {
        await local.load(this.spec.model.hash, this.deps.modelBytes);
        own = await local.run(this.spec.model.hash, this.kind.unit(unitId));
      } catch (error) {
        // Our own engine failed: that says nothing about the provider. Accept unchecked and say so.
        this.model.patch({ message: `spot check could not run locally: ${messageOf(error)}` });
        return this.exec(this.coordinator.checkUnavailable(unitId));
      }
      if (!this.closed)
        this.exec(this.coordinator.checkDone(unitId, own, providerAdapterClass({ backend: local.backend })));
    });
  }

  /** Reported, released, its link closed; units it alone vouched for are persisted to run again. */
  private rejected(peerId: string, reason: string, rerun: boolean): void {
    this.model.setProvider(peerId, { state: 'rejected', note: reason });
    if (this.deps.identity)
      this.deps.signaling.send({
        type: 'report',
        jobId: this.spec.id,
        peerId,
        verdict: 'rejected',
        reason: reason.slice(0, 200),
      });
    this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
    this.paired.delete(peerId);
    this.sessions.close(this.sessions.get(this.spec.id, peerId), reason);
    // Persisted first: a reload before these are computed again must not take their stored results as final.
    if (rerun) void this.persistRerun();
  }

  private persistRerun(): Promise<void> {
    return this.deps.jobs.setRerunUnits(this.spec.id, this.coordinator.rerunUnits()).catch((error: unknown) => {
      this.model.patch({ message: `could not store the units to re-run: ${messageOf(error)}` });
    });
  }

  private async store(unitId: number, outputs: RawTensor[]): Promise<void> {
    try {
      await this.deps.jobs.putUnitResult(this.spec.id, unitId, outputs);
      await this.persistRerun();
    } catch (error) {
      this.stop('failed', `could not store results (${messageOf(error)}); free some disk space and resume the job`);
      return;
    }
    this.model.unitStored(this.kind.size(unitId));
    this.refresh();
    if (this.coordinator.complete && !this.closed) await this.finish();
  }

  /** One receipt per accepted unit: to the provider over its channel, and to the server's log in batches. */
  private credit(peerId: string, unitId: number): void {
    const link = this.links.get(peerId);
    if (!link) return;
    link.reconnects = 0;
    this.model.unitCredited(peerId, link.computeMsTotal);
    const { identity } = this.deps;
    if (!identity) return;
    const durationMs = link.computeMs.get(unitId) ?? 0;
    link.computeMs.delete(unitId);
    this.crediting = this.crediting
      .then(async () => {
        const receipt = await issueReceipt(identity, {
          provider: peerId,
          jobId: this.spec.id,
          unitId,
          flops: this.kind.flops(unitId),
          durationMs,
        });
        const current = this.links.get(peerId)?.session;
        if (current) this.send(current, { type: 'receipt', receipt });
        this.model.receiptIssued();
        this.outbox.push(receipt);
      })
      .catch((error: unknown) => this.model.patch({ message: `could not issue a receipt: ${messageOf(error)}` }));
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.crediting;
    for (const link of this.links.values())
      if (this.sessions.isCurrent(link.session))
        this.send(link.session, { type: 'bye', jobId: this.spec.id, reason: 'job complete' });
    for (const peerId of this.links.keys())
      if (this.model.provider(peerId)?.state !== 'rejected') this.model.setProvider(peerId, { state: 'gone' });
    this.sessions.closeAll('job complete');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    await this.deps.jobs.setState(this.spec.id, { status: 'done', finishedAt: this.deps.now?.() ?? Date.now() });
    this.model.patch({ status: 'done', inFlight: 0 });
    this.refresh();
  }

  private send(session: PeerSession, header: PeerHeader, body?: Uint8Array, stream: number = PeerStream.control): void {
    this.sessions.send(session, stream, encodePeerMessage(header, body));
  }

  private refresh(): void {
    if (!this.coordinator) return;
    this.model.refresh({
      done: this.coordinator.finished,
      inFlight: this.model.status === 'running' ? this.coordinator.inFlight() : 0,
      stats: this.coordinator.stats,
    });
  }
}

/** A `() => [0, 1)` source as the verifier's RandomSource. */
function fromUnitRandom(random: () => number): RandomSource {
  return { nextUint32: () => Math.floor(random() * 2 ** 32) >>> 0 };
}
