/**
 * Templar coordinator for one batch-inference job: plan → dispatch → compute
 * (on providers) → verify → accept → persist, in that order.
 *
 * It opens the job with the signaling server, connects to every provider the
 * matchmaker assigns, ships the model (unless the provider has it cached),
 * keeps a few units in flight per provider, checks every result's shape and
 * signature, and verifies: with redundancy ≥ 2 by a quorum of replicas
 * (replicas.ts), otherwise by adaptive sampled checks — Freivalds for matrix
 * products (algebraic.ts), re-execution on its own engine for the rest. It
 * writes accepted results to IndexedDB. A reload rebuilds the queue from what is stored, so no finished
 * unit is lost or repeated.
 */
import {
  jobVerification,
  unitCount,
  unitRange,
  type JobSpec,
  type JobVerification,
} from '../../../shared/src/jobs/job';
import { UnitQueue } from '../../../shared/src/jobs/queue';
import { sliceRows } from '../../../shared/src/jobs/rows';
import {
  decodePeerMessage,
  encodePeerMessage,
  PEER_PROTOCOL_VERSION,
  PeerStream,
  packTensors,
  unpackTensors,
  type PeerHeader,
  type PeerHeaderOf,
  type RawTensor,
} from '../../../shared/src/protocol/peer';
import type { Capabilities } from '../../../shared/src/protocol/signaling';
import type { Identity } from '../../../shared/src/identity';
import {
  checkProbability,
  issueReceipt,
  ReputationBook,
  verifySignedResult,
  type RandomSource,
} from '../../../shared/src/trust';
import {
  MAX_PENDING_CHECKS_PER_PROVIDER,
  MAX_PEER_RECONNECTS,
  PEER_CONNECT_TIMEOUT_MS,
  PEER_RECONNECT_DELAY_MS,
  UNITS_IN_FLIGHT_PER_PROVIDER,
} from '../core/constants';
import { Observable } from '../core/emitter';
import type { ComputeEngine, LinkExtension, MessageLink, PeerFactory, PeerHandle, SignalingPort } from '../core/ports';
import { ThroughputMeter } from '../core/throughput';
import type { JobStatus, JobStore } from '../storage/job-store';
import { hashTensors } from '../core/trust';
import { algebraicCheckFor, type AlgebraicCheck } from './algebraic';
import { compareOutputs } from './compare';
import { providerAdapterClass, ReplicaQuorums, type ReplicaAction } from './replicas';
import { ReceiptOutbox } from './receipt-outbox';

export type ProviderLinkState =
  | 'connecting'
  | 'sending-model'
  | 'loading-model'
  | 'working'
  | 'paused'
  | 'gone'
  | 'rejected';

export interface ProviderStats {
  peerId: string;
  state: ProviderLinkState;
  backend?: string;
  gflops?: number;
  unitsDone: number;
  unitsFailed: number;
  meanComputeMs: number;
  modelCached?: boolean;
  note?: string;
}

export interface JobView {
  jobId: string;
  status: JobStatus;
  total: number;
  done: number;
  inFlight: number;
  providers: ProviderStats[];
  spotChecks: { checked: number; failed: number };
  /** Units whose result a check (spot check or replica) confirmed, accepted unchecked, and results refused, with why. */
  verification: { verified: number; unchecked: number; rejected: number; reasons: string[] };
  /** Receipts issued / acknowledged by the server's log. */
  receipts: { issued: number; logged: number };
  duplicatesDiscarded: number;
  rowsPerSecond: number;
  history: number[];
  message?: string;
}

export interface JobRunnerDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  jobs: JobStore;
  modelBytes: Uint8Array;
  /** The requester's own engine, for spot checks. Without it no spot checks run. */
  local?: ComputeEngine;
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

const MAX_REASONS_SHOWN = 20;

interface ProviderLink {
  stats: ProviderStats;
  /** SPEC TRUST-C1/C2: the tolerance its replicas are compared under. */
  adapterClass: string;
  peer: PeerHandle;
  link?: MessageLink;
  ready: boolean;
  inFlight: Set<number>;
  computeMsTotal: number;
  /** Compute time the provider claimed per unit, for its receipt. */
  computeMs: Map<number, number>;
  /** Results queued for the requester's spot check. */
  pendingChecks: number;
  /** Reconnects tried since this provider last completed a unit. */
  reconnects: number;
  timer?: ReturnType<typeof setTimeout>;
}

export class JobRunner {
  readonly view: Observable<JobView>;
  private queue!: UnitQueue;
  private readonly providers = new Map<string, ProviderLink>();
  /** Providers the server currently pairs with this job. */
  private readonly paired = new Set<string>();
  /** Each provider's pairing session and network from `matched`: results and receipts bind them (SPEC BIND1, BIND2). */
  private readonly pairings = new Map<string, { session: string; network: string }>();
  /** Redundancy ≥ 2: a quorum per open unit decides which replica is stored (SPEC TRUST-Q*). */
  private readonly quorums?: ReplicaQuorums;
  /** The job's tolerances and Freivalds false-accept probability, defaults filled in. */
  private readonly verification: JobVerification;
  /** Models with an algebraic check (matmul: Freivalds) are checked by it instead of re-execution. */
  private readonly algebraic?: AlgebraicCheck;
  /** Units to compute again after their provider was caught; persisted with the job until each is stored anew. */
  private rerun = new Set<number>();
  private readonly meter: ThroughputMeter;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly random: () => number;
  private spotChecks = Promise.resolve();
  private readonly reputation: ReputationBook;
  /** Where issued receipts wait for the server's log (shared by a requester's jobs when Templar runs them). */
  private readonly outbox: ReceiptOutbox;
  /** Receipts being signed; the job ends only after each reached its provider's channel. */
  private crediting = Promise.resolve();
  /** Per provider, units whose stored result it alone produced and no check confirmed: re-run if it is caught. */
  private readonly unverified = new Map<string, Set<number>>();

  constructor(
    private readonly spec: JobSpec,
    private readonly inputs: RawTensor[],
    private readonly deps: JobRunnerDeps,
  ) {
    this.random = deps.random ?? Math.random;
    this.reputation = deps.reputation ?? new ReputationBook(deps.now);
    this.meter = new ThroughputMeter(deps.now);
    this.outbox = deps.receipts ?? new ReceiptOutbox(deps.signaling);
    // Logging outlives the job's pairing: the count keeps up even after the job is done.
    this.outbox.onLogged(spec.id, (count) => {
      const r = this.view.get().receipts;
      this.patch({ receipts: { ...r, logged: r.logged + count } });
    });
    this.verification = jobVerification(spec);
    if (spec.redundancy > 1) this.quorums = new ReplicaQuorums(spec.redundancy, this.verification.tolerance);
    this.algebraic = algebraicCheckFor(spec, deps.rng);
    this.view = new Observable<JobView>({
      jobId: spec.id,
      status: 'running',
      total: unitCount(spec),
      done: 0,
      inFlight: 0,
      providers: [],
      spotChecks: { checked: 0, failed: 0 },
      verification: { verified: 0, unchecked: 0, rejected: 0, reasons: [] },
      receipts: { issued: 0, logged: 0 },
      duplicatesDiscarded: 0,
      rowsPerSecond: 0,
      history: [],
    });
  }

  async start(): Promise<void> {
    this.rerun = new Set(await this.deps.jobs.rerunUnits(this.spec.id));
    const done = (await this.deps.jobs.doneUnits(this.spec.id)).filter((u) => !this.rerun.has(u));
    this.queue = new UnitQueue(unitCount(this.spec), this.spec.redundancy, done);
    this.patch({ done: this.queue.finished });
    if (this.queue.complete) return this.finish();
    const { signaling } = this.deps;
    this.unsubscribe.push(
      // Every (re)connect: the server forgot the job, so open it again. Providers re-pair.
      signaling.on('welcome', () => this.openJob()),
      signaling.on('matched', (m) => {
        if (m.jobId !== this.spec.id) return;
        this.paired.add(m.peerId);
        this.pairings.set(m.peerId, { session: m.session, network: m.network });
        this.connectProvider(m.peerId, m.capabilities);
      }),
      signaling.on('unmatched', (m) => {
        if (m.jobId !== this.spec.id) return;
        this.paired.delete(m.peerId);
        this.dropProvider(this.providers.get(m.peerId), 'gone', m.reason);
      }),
      signaling.on('signal', (s) => s.jobId === this.spec.id && this.providers.get(s.from)?.peer.signal(s.payload)),
    );
    this.openJob();
  }

  /** Stops dispatching; in-flight units are abandoned and stay undone. */
  stop(status: JobStatus = 'paused', message?: string): void {
    this.patch({ status, message });
    for (const off of this.unsubscribe.splice(0)) off();
    for (const peerId of [...this.providers.keys()])
      this.dropProvider(this.providers.get(peerId), 'gone', 'job stopped');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    void this.deps.jobs.setState(this.spec.id, { status, message });
  }

  private openJob(): void {
    if (this.view.get().status !== 'running') return;
    const maxProviders = Math.max(this.spec.maxProviders, this.spec.redundancy);
    this.deps.signaling.send({
      type: 'job-open',
      jobId: this.spec.id,
      needs: { kind: 'inference', maxProviders, units: unitCount(this.spec), modelBytes: this.deps.modelBytes.length },
    });
  }

  private connectProvider(peerId: string, capabilities: Capabilities | undefined): void {
    const existing = this.providers.get(peerId);
    if (existing?.stats.state === 'rejected') {
      this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
      return;
    }
    // SPEC TRUST-P2: a key caught in an earlier job (or before a reload: the book is persisted) gets no work here.
    if (this.reputation.isExcluded(peerId)) {
      this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
      return;
    }
    // Matched again (e.g. after a server restart) while our data channel still works: keep it.
    if (existing && existing.stats.state !== 'gone') {
      if (capabilities) {
        existing.stats = { ...existing.stats, backend: capabilities.backend, gflops: capabilities.gflops };
        existing.adapterClass = providerAdapterClass(capabilities);
      }
      return;
    }
    const peer = this.deps.createPeer({
      initiator: true,
      onSignal: (payload) => this.deps.signaling.send({ type: 'signal', to: peerId, jobId: this.spec.id, payload }),
    });
    const provider: ProviderLink = {
      stats: {
        peerId,
        state: 'connecting',
        backend: capabilities?.backend ?? existing?.stats.backend,
        gflops: capabilities?.gflops ?? existing?.stats.gflops,
        unitsDone: existing?.stats.unitsDone ?? 0,
        unitsFailed: existing?.stats.unitsFailed ?? 0,
        meanComputeMs: 0,
      },
      adapterClass: capabilities
        ? providerAdapterClass(capabilities)
        : (existing?.adapterClass ?? providerAdapterClass(undefined)),
      peer,
      ready: false,
      inFlight: new Set(),
      computeMsTotal: 0,
      computeMs: new Map(),
      pendingChecks: 0,
      reconnects: existing?.reconnects ?? 0,
    };
    this.providers.set(peerId, provider);
    provider.timer = setTimeout(() => {
      if (provider.link) return;
      this.dropProvider(provider, 'gone', 'data channel did not open in time');
      this.reconnectLater(provider);
    }, PEER_CONNECT_TIMEOUT_MS);
    this.refresh();
    peer.ready.then(
      (link) => {
        clearTimeout(provider.timer);
        if (this.providers.get(peerId) !== provider) return link.close();
        provider.link = link;
        const { extension } = this.deps;
        link.onMessage((stream, bytes) => {
          if (stream === PeerStream.weights) extension?.receive(peerId, this.spec.id, bytes);
          else this.onMessage(provider, bytes);
        });
        extension?.attach({ peerId, jobId: this.spec.id, send: (bytes) => link.send(PeerStream.weights, bytes) });
        link.onClose((reason) => {
          this.dropProvider(provider, 'gone', `channel closed: ${reason}`);
          this.reconnectLater(provider);
        });
        this.send(provider, {
          type: 'job',
          v: PEER_PROTOCOL_VERSION,
          jobId: this.spec.id,
          modelHash: this.spec.model.hash,
          modelBytes: this.deps.modelBytes.length,
        });
      },
      (error: unknown) => {
        this.dropProvider(provider, 'gone', `connection failed: ${String(error)}`);
        this.reconnectLater(provider);
      },
    );
  }

  /**
   * The data channel died but the server still pairs us: connect again, a few
   * times with growing pauses, then give the provider back so the matchmaker
   * can assign another.
   */
  private reconnectLater(provider: ProviderLink): void {
    const peerId = provider.stats.peerId;
    if (this.view.get().status !== 'running' || !this.paired.has(peerId)) return;
    if (provider.reconnects >= MAX_PEER_RECONNECTS) {
      this.paired.delete(peerId);
      this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
      return;
    }
    provider.reconnects++;
    setTimeout(() => {
      if (this.providers.get(peerId) === provider && this.paired.has(peerId) && this.view.get().status === 'running')
        this.connectProvider(peerId, undefined);
    }, PEER_RECONNECT_DELAY_MS * provider.reconnects);
  }

  /** Ends `provider` if it is still the current link for its peer: a late event of an old pairing must not end a new one. */
  private dropProvider(provider: ProviderLink | undefined, state: 'gone' | 'rejected', note: string): void {
    if (!provider || this.providers.get(provider.stats.peerId) !== provider) return;
    if (provider.stats.state === 'gone' || provider.stats.state === 'rejected') return;
    const peerId = provider.stats.peerId;
    clearTimeout(provider.timer);
    provider.stats = { ...provider.stats, state, note };
    provider.ready = false;
    provider.inFlight.clear();
    this.queue.releasePeer(peerId);
    if (provider.link) this.deps.extension?.detach(peerId, this.spec.id);
    provider.link?.close();
    provider.peer.close();
    if (state === 'rejected') this.recordRejection(peerId, note);
    if (this.quorums) for (const { unitId, action } of this.quorums.peerLost(peerId)) this.act(unitId, action, true);
    this.refresh();
    this.pumpAll();
  }

  /** Reported, released, excluded through the shared book, its unverified units re-run. */
  private recordRejection(peerId: string, note: string): void {
    this.reputation.recordRejected(peerId, note);
    const v = this.view.get().verification;
    this.patch({
      verification: {
        ...v,
        rejected: v.rejected + 1,
        reasons: [...v.reasons, `${peerId.slice(0, 8)}…: ${note}`].slice(-MAX_REASONS_SHOWN),
      },
    });
    if (this.deps.identity)
      this.deps.signaling.send({
        type: 'report',
        jobId: this.spec.id,
        peerId,
        verdict: 'rejected',
        reason: note.slice(0, 200),
      });
    this.deps.signaling.send({ type: 'release', jobId: this.spec.id, peerId });
    this.rerunUnverified(peerId);
  }

  /** Rejects a provider whether or not its channel is still open (a quorum may outvote one that already left). */
  private rejectPeer(peerId: string, note: string): void {
    const provider = this.providers.get(peerId);
    if (provider && provider.stats.state !== 'gone' && provider.stats.state !== 'rejected')
      return this.dropProvider(provider, 'rejected', note);
    if (provider?.stats.state === 'rejected') return;
    if (provider) provider.stats = { ...provider.stats, state: 'rejected', note };
    this.recordRejection(peerId, note);
    this.refresh();
  }

  /**
   * SPEC TRUST-P2: a caught provider's unverified units are computed again.
   * The queue has no way to un-finish a unit, so it is rebuilt from the units
   * that stay done; units in flight elsewhere may then run twice, and the
   * second result is discarded as a duplicate. Only redundancy 1 has such
   * units: with replicas every unit is confirmed by a quorum. The list is
   * persisted with the job so a reload before the re-runs keeps them.
   */
  private rerunUnverified(peerId: string): void {
    const units = this.unverified.get(peerId);
    this.unverified.delete(peerId);
    // A complete queue means finish() is under way: too late to re-run anything.
    if (!units?.size || this.view.get().status !== 'running' || this.queue.complete) return;
    for (const u of units) this.rerun.add(u);
    // Persisted first: a reload before these are computed again must not take their stored results as final.
    void this.deps.jobs.setRerunUnits(this.spec.id, [...this.rerun]).catch((error: unknown) => {
      this.patch({ message: `could not store the units to re-run: ${(error as Error).message}` });
    });
    const done: number[] = [];
    for (let u = 0; u < this.queue.size; u++) if (this.queue.isDone(u) && !units.has(u)) done.push(u);
    this.queue = new UnitQueue(this.queue.size, this.spec.redundancy, done);
    const v = this.view.get().verification;
    this.patch({
      done: this.queue.finished,
      verification: {
        ...v,
        unchecked: Math.max(0, v.unchecked - units.size),
        reasons: [...v.reasons, `${peerId.slice(0, 8)}…: ${units.size} unverified units re-queued`].slice(
          -MAX_REASONS_SHOWN,
        ),
      },
    });
  }

  private onMessage(provider: ProviderLink, bytes: Uint8Array): void {
    let header: PeerHeader;
    let body: Uint8Array;
    try {
      ({ header, body } = decodePeerMessage(bytes));
    } catch (error) {
      this.dropProvider(provider, 'rejected', `sent a malformed message: ${(error as Error).message}`);
      return;
    }
    switch (header.type) {
      case 'model-status':
        provider.stats = {
          ...provider.stats,
          modelCached: header.cached,
          state: header.cached ? 'loading-model' : 'sending-model',
        };
        if (!header.cached) {
          this.send(
            provider,
            { type: 'model', modelHash: this.spec.model.hash },
            this.deps.modelBytes,
            PeerStream.model,
          );
        }
        break;
      case 'ready':
        provider.ready = true;
        provider.stats = { ...provider.stats, state: 'working' };
        this.pump(provider);
        break;
      case 'result':
        this.onResult(provider, header, body);
        break;
      case 'unit-error':
        if (provider.inFlight.delete(header.unitId)) {
          this.queue.giveBack(header.unitId, provider.stats.peerId);
          provider.stats = { ...provider.stats, unitsFailed: provider.stats.unitsFailed + 1, note: header.message };
        }
        this.pumpAll();
        break;
      case 'paused':
        provider.ready = !header.paused;
        provider.stats = { ...provider.stats, state: header.paused ? 'paused' : 'working' };
        this.pump(provider);
        break;
      case 'error':
        provider.stats = { ...provider.stats, note: header.message };
        break;
      default:
        this.dropProvider(provider, 'rejected', `sent "${header.type}", which only requesters send`);
        return;
    }
    this.refresh();
  }

  private onResult(provider: ProviderLink, header: PeerHeaderOf<'result'>, body: Uint8Array): void {
    const { unitId } = header;
    const peerId = provider.stats.peerId;
    if (!provider.inFlight.delete(unitId)) return; // not ours to answer (late after a re-pair): ignore
    const outputs = unpackTensors(header.outputs, body);
    const shapeError = this.checkShapes(unitId, outputs);
    if (shapeError) {
      this.queue.giveBack(unitId, peerId);
      this.dropProvider(provider, 'rejected', `returned a wrong shape for unit ${unitId}: ${shapeError}`);
      return;
    }
    provider.computeMs.set(unitId, header.computeMs);
    provider.computeMsTotal += header.computeMs;
    this.reputation.recordPending(peerId);
    if (this.deps.identity) void this.checkSignature(provider, header, outputs);
    else this.decide(provider, unitId, outputs);
    this.pump(provider);
  }

  /** SPEC TRUST-S2: a result without a valid signature by the provider's key, over what we sent and what came back, is dropped and its sender rejected. */
  private async checkSignature(
    provider: ProviderLink,
    header: PeerHeaderOf<'result'>,
    outputs: RawTensor[],
  ): Promise<void> {
    const { unitId } = header;
    const [inputHash, resultHash] = await Promise.all([hashTensors(this.unitInputs(unitId)), hashTensors(outputs)]);
    const pairing = this.pairings.get(provider.stats.peerId);
    const requester = this.deps.identity?.peerId;
    const check = header.signed
      ? pairing && requester
        ? await verifySignedResult(header.signed, {
            ...pairing,
            requester,
            provider: provider.stats.peerId,
            jobId: this.spec.id,
            unitId,
            inputHash,
            resultHash,
          })
        : ({ ok: false, reason: 'wrong-session' } as const)
      : ({ ok: false, reason: 'unsigned' } as const);
    if (this.providers.get(provider.stats.peerId) !== provider || provider.stats.state === 'rejected') return;
    if (!check.ok) {
      this.queue.giveBack(unitId, provider.stats.peerId);
      this.dropProvider(provider, 'rejected', `result for unit ${unitId} dropped: ${check.reason}`);
      return;
    }
    this.decide(provider, unitId, outputs);
  }

  /** Adaptive checking: a key with no clean history is checked on every unit, a trusted one at the job's rate. */
  private decide(provider: ProviderLink, unitId: number, outputs: RawTensor[]): void {
    // With replicas the quorum is the check (SPEC TRUST-A2).
    if (this.quorums) return this.onReplica(provider, unitId, outputs);
    const rate = this.spec.spotCheckRate;
    const probability =
      rate > 0 ? checkProbability({ adaptive: true, sampleRate: rate }, this.reputation.get(provider.stats.peerId)) : 0;
    const check =
      (this.deps.local !== undefined || this.algebraic !== undefined) &&
      probability > 0 &&
      (probability >= 1 || this.random() < probability);
    if (check && this.algebraic) return this.verifyAlgebraically(provider, unitId, outputs, this.algebraic);
    if (check) {
      // Verification runs on the requester's engine one at a time, off the dispatch path.
      provider.pendingChecks++;
      this.spotChecks = this.spotChecks
        .then(() => this.verifyLocally(provider, unitId, outputs))
        .catch((error: unknown) => {
          // One failed check must not stall the chain every later check waits on.
          this.patch({ message: `spot check failed to run: ${(error as Error).message}` });
        })
        .finally(() => {
          provider.pendingChecks--;
          this.pump(provider);
        });
    } else {
      void this.acceptResult(provider, unitId, outputs, false);
    }
  }

  /** SPEC TRUST-F*: O(n²) on the requester, synchronously; no local engine needed. */
  private verifyAlgebraically(
    provider: ProviderLink,
    unitId: number,
    outputs: RawTensor[],
    algebraic: AlgebraicCheck,
  ): void {
    const verdict = algebraic(this.unitInputs(unitId), outputs);
    const checks = this.view.get().spotChecks;
    if (verdict.ok) {
      this.patch({ spotChecks: { ...checks, checked: checks.checked + 1 } });
      void this.acceptResult(provider, unitId, outputs, true);
      return;
    }
    this.patch({ spotChecks: { checked: checks.checked + 1, failed: checks.failed + 1 } });
    this.queue.giveBack(unitId, provider.stats.peerId);
    this.dropProvider(provider, 'rejected', `unit ${unitId} failed the algebraic check: ${verdict.reason}`);
  }

  /** A replica for a quorum unit: the quorum says what happens next. */
  private onReplica(provider: ProviderLink, unitId: number, outputs: RawTensor[]): void {
    const peerId = provider.stats.peerId;
    this.queue.answered(unitId, peerId);
    let action: ReplicaAction;
    try {
      action = this.quorums!.resultArrived(unitId, { peerId, adapterClass: provider.adapterClass, result: outputs });
    } catch {
      return; // not a replica the quorum is owed (its unit was settled and forgotten): nothing to judge
    }
    this.act(unitId, action, false);
  }

  /** Carries out a quorum's decision. `fromLoss`: the queue already offers a lost replica again. */
  private act(unitId: number, action: ReplicaAction, fromLoss: boolean): void {
    switch (action.kind) {
      case 'dispatch':
        if (!fromLoss) {
          for (let i = 0; i < action.count; i++) this.queue.requestReplica(unitId);
          this.patch({ message: `replicas of unit ${unitId} disagreed; asking another provider` });
        }
        this.pumpAll();
        return;
      case 'reexecute':
        this.reexecute(unitId);
        return;
      case 'accept':
        void this.acceptQuorum(unitId, action);
        return;
      case 'late':
        if (action.agrees) this.creditReplica(action.peerId, unitId, true);
        else this.rejectPeer(action.peerId, `unit ${unitId}: its replica disagreed with the accepted result`);
        this.quorums!.forgetIfIdle(unitId, this.providers.keys());
        return;
      case 'wait':
        return;
    }
  }

  /** SPEC TRUST-Q1: the agreeing majority is stored and credited; the minority is rejected. */
  private async acceptQuorum(unitId: number, action: Extract<ReplicaAction, { kind: 'accept' }>): Promise<void> {
    if (!this.queue.settle(unitId)) return;
    for (const peerId of action.rejected)
      this.rejectPeer(peerId, `unit ${unitId}: its replica disagreed with the majority`);
    for (const peerId of action.agreeing) this.creditReplica(peerId, unitId, action.checked);
    const ver = this.view.get().verification;
    this.patch({
      verification: {
        ...ver,
        verified: ver.verified + (action.checked ? 1 : 0),
        unchecked: ver.unchecked + (action.checked ? 0 : 1),
      },
    });
    this.quorums!.forgetIfIdle(unitId, this.providers.keys());
    await this.storeUnit(unitId, action.canonical.result);
  }

  /** SPEC TRUST-Q2: replicas never agreed; the requester's own engine decides. */
  private reexecute(unitId: number): void {
    const local = this.deps.local;
    if (!local) {
      this.stop(
        'failed',
        `replicas of unit ${unitId} never agreed and this browser has no engine to decide between them`,
      );
      return;
    }
    this.spotChecks = this.spotChecks
      .then(async () => {
        if (this.view.get().status !== 'running') return;
        await local.load(this.spec.model.hash, this.deps.modelBytes);
        const result = await local.run(this.spec.model.hash, this.unitInputs(unitId));
        const action = this.quorums!.resultArrived(unitId, {
          peerId: 'requester',
          adapterClass: providerAdapterClass({ backend: local.backend }),
          result,
          trusted: true,
        });
        this.act(unitId, action, false);
      })
      .catch((error: unknown) => {
        this.stop('failed', `could not re-run unit ${unitId} to settle its replicas: ${(error as Error).message}`);
      });
  }

  private creditReplica(peerId: string, unitId: number, verified: boolean): void {
    this.reputation.recordAccepted(peerId, verified);
    const provider = this.providers.get(peerId);
    if (!provider) return;
    this.crediting = this.crediting
      .then(() => this.credit(provider, unitId))
      .catch((error: unknown) => {
        this.patch({ message: `could not issue a receipt: ${(error as Error).message}` });
      });
    provider.reconnects = 0;
    provider.stats = {
      ...provider.stats,
      unitsDone: provider.stats.unitsDone + 1,
      meanComputeMs: provider.computeMsTotal / (provider.stats.unitsDone + 1),
    };
  }

  private async verifyLocally(provider: ProviderLink, unitId: number, outputs: RawTensor[]): Promise<void> {
    const local = this.deps.local!;
    const peerId = provider.stats.peerId;
    let verdict;
    try {
      await local.load(this.spec.model.hash, this.deps.modelBytes);
      const own = await local.run(this.spec.model.hash, this.unitInputs(unitId));
      verdict = compareOutputs(outputs, own, provider.stats.backend === local.backend, this.verification.tolerance);
    } catch (error) {
      // Our own engine failed: that says nothing about the provider. Accept unchecked and say so.
      this.patch({ message: `spot check could not run locally: ${(error as Error).message}` });
      return this.acceptResult(provider, unitId, outputs, false);
    }
    if (this.providers.get(peerId) !== provider || provider.stats.state === 'rejected') return;
    const checks = this.view.get().spotChecks;
    if (verdict.agree) {
      this.patch({ spotChecks: { ...checks, checked: checks.checked + 1 } });
      return this.acceptResult(provider, unitId, outputs, true);
    }
    this.patch({ spotChecks: { checked: checks.checked + 1, failed: checks.failed + 1 } });
    this.queue.giveBack(unitId, peerId);
    this.dropProvider(provider, 'rejected', `unit ${unitId} failed the spot check (${verdict.reason})`);
  }

  /** Redundancy 1: the one result is the unit's; `verified` when a check confirmed it. */
  private async acceptResult(
    provider: ProviderLink,
    unitId: number,
    outputs: RawTensor[],
    verified: boolean,
  ): Promise<void> {
    const peerId = provider.stats.peerId;
    if (this.queue.accept(unitId, peerId) === 'duplicate') {
      this.reputation.recordDropped(peerId);
      this.patch({ duplicatesDiscarded: this.view.get().duplicatesDiscarded + 1 });
      return;
    }
    this.creditReplica(peerId, unitId, verified);
    const ver = this.view.get().verification;
    this.patch({
      verification: {
        ...ver,
        verified: ver.verified + (verified ? 1 : 0),
        unchecked: ver.unchecked + (verified ? 0 : 1),
      },
    });
    if (!verified) {
      let units = this.unverified.get(peerId);
      if (!units) this.unverified.set(peerId, (units = new Set()));
      units.add(unitId);
    }
    await this.storeUnit(unitId, outputs);
  }

  private async storeUnit(unitId: number, outputs: RawTensor[]): Promise<void> {
    try {
      await this.deps.jobs.putUnitResult(this.spec.id, unitId, outputs);
      if (this.rerun.delete(unitId)) await this.deps.jobs.setRerunUnits(this.spec.id, [...this.rerun]);
    } catch (error) {
      this.stop(
        'failed',
        `could not store results (${(error as Error).message}); free some disk space and resume the job`,
      );
      return;
    }
    const range = unitRange(this.spec, unitId);
    this.meter.record(range.end - range.start);
    this.patch({ done: this.queue.finished });
    if (this.queue.complete) await this.finish();
    else this.refresh();
  }

  /** One receipt per accepted unit: to the provider over its channel, and to the server's log in batches. */
  private async credit(provider: ProviderLink, unitId: number): Promise<void> {
    const { identity } = this.deps;
    if (!identity) return;
    const network = this.pairings.get(provider.stats.peerId)?.network;
    if (!network) return; // never paired through a server: nothing to bind the receipt to
    const range = unitRange(this.spec, unitId);
    const durationMs = provider.computeMs.get(unitId) ?? 0;
    provider.computeMs.delete(unitId);
    const receipt = await issueReceipt(identity, {
      network,
      provider: provider.stats.peerId,
      jobId: this.spec.id,
      unitId,
      flops: (range.end - range.start) * (this.deps.flopsPerRow ?? 0),
      durationMs,
    });
    if (provider.link) this.send(provider, { type: 'receipt', receipt });
    const r = this.view.get().receipts;
    this.patch({ receipts: { ...r, issued: r.issued + 1 } });
    this.outbox.push(receipt);
  }

  private async finish(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.crediting;
    for (const provider of this.providers.values()) {
      if (provider.link) this.send(provider, { type: 'bye', jobId: this.spec.id, reason: 'job complete' });
    }
    for (const peerId of [...this.providers.keys()])
      this.dropProvider(this.providers.get(peerId), 'gone', 'job complete');
    this.deps.signaling.send({ type: 'job-close', jobId: this.spec.id });
    await this.deps.jobs.setState(this.spec.id, { status: 'done', finishedAt: this.deps.now?.() ?? Date.now() });
    this.patch({ status: 'done', inFlight: 0 });
  }

  private pumpAll(): void {
    for (const provider of this.providers.values()) this.pump(provider);
  }

  /** Keeps the provider's window full. */
  private pump(provider: ProviderLink): void {
    if (!provider.ready || this.view.get().status !== 'running') return;
    while (
      provider.inFlight.size < UNITS_IN_FLIGHT_PER_PROVIDER &&
      provider.pendingChecks < MAX_PENDING_CHECKS_PER_PROVIDER
    ) {
      const unitId = this.queue.assign(provider.stats.peerId);
      if (unitId === undefined) break;
      provider.inFlight.add(unitId);
      this.quorums?.dispatched(unitId, provider.stats.peerId);
      const packed = packTensors(this.unitInputs(unitId));
      this.send(
        provider,
        { type: 'unit', jobId: this.spec.id, unitId, inputs: packed.refs },
        packed.body,
        PeerStream.work,
      );
    }
    this.refresh();
  }

  private unitInputs(unitId: number): RawTensor[] {
    const { start, end } = unitRange(this.spec, unitId);
    return this.inputs.map((t) => sliceRows(t, start, end));
  }

  /** Returns why the outputs cannot be this unit's, or undefined if their shapes fit the job. */
  private checkShapes(unitId: number, outputs: RawTensor[]): string | undefined {
    const { start, end } = unitRange(this.spec, unitId);
    if (outputs.length !== this.spec.outputs.length)
      return `${outputs.length} outputs, expected ${this.spec.outputs.length}`;
    for (let i = 0; i < outputs.length; i++) {
      const got = outputs[i]!;
      const want = this.spec.outputs[i]!;
      const fits =
        got.name === want.name &&
        got.dtype === want.dtype &&
        got.dims.length === want.dims.length &&
        got.dims[0] === end - start &&
        want.dims.every((d, k) => k === 0 || d < 0 || d === got.dims[k]);
      if (!fits)
        return `${got.name} [${got.dims.join(', ')}] ${got.dtype}, expected ${want.name} [${end - start}, ${want.dims.slice(1).join(', ')}] ${want.dtype}`;
    }
    return undefined;
  }

  private send(
    provider: ProviderLink,
    header: PeerHeader,
    body?: Uint8Array,
    stream: number = PeerStream.control,
  ): void {
    provider.link
      ?.send(stream, encodePeerMessage(header, body))
      .catch(() => this.dropProvider(provider, 'gone', 'send failed'));
  }

  private refresh(): void {
    let inFlight = 0;
    for (const p of this.providers.values()) inFlight += p.inFlight.size;
    this.patch({
      providers: [...this.providers.values()].map((p) => p.stats),
      inFlight,
      rowsPerSecond: this.meter.rate(),
      history: this.meter.history(),
    });
  }

  private patch(change: Partial<JobView>): void {
    this.view.set({ ...this.view.get(), ...change });
  }
}
