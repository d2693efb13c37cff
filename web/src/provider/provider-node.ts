/**
 * Basilica provider core: what a volunteer's tab does once it knows its
 * identity and capabilities. Registers with the signaling server, accepts the
 * requesters the matchmaker pairs it with, fetches (or finds cached) models,
 * runs work units one at a time on its compute engine and streams results back.
 * Framework-free: the React page only renders `view`.
 */
import {
  decodePeerMessage,
  encodePeerMessage,
  PeerStream,
  packTensors,
  unpackTensors,
  type PeerHeader,
  type RawTensor,
  encodeTogether,
  isTogetherMessage,
  isRlMessage,
  encodeRl,
} from '@shared/protocol';
import type { Capabilities, SignalPayload } from '@shared/protocol';
import type { Identity } from '@shared/identity';
import { signResult, type SignedResult } from '@shared/trust';
import { PROVIDER_SLOTS } from '../core/constants';
import { Observable } from '../core/emitter';
import type { ComputeEngine, ConnectionState, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import { PeerSessions, sessionKey, type PeerSession } from '../net/peer-sessions';
import { ThroughputMeter } from '../core/throughput';
import type { ModelStore } from '../storage/model-store';
import { ProviderModels, VERSION_MISSING, type VersionSession } from './provider-models';
import type { CreditSummary, ProviderReceipts } from '../storage/receipt-store';
import { hashTensors } from '@shared/jobs';
import { messageOf } from '@shared/errors';
import { browserWorker } from '../train/train-worker-factory';
import { ProviderTraining } from './provider-training';
import type { ProviderTogether } from './provider-together';
import type { ProviderRl } from './provider-rl';
// Work limits and contribution (issue 21).
import type { Backend } from '@shared/protocol';
import type { ContributionStore } from '../storage/contribution-store';
import { sessionEnded } from './activity-log';

export type SessionState = 'connecting' | 'fetching-model' | 'loading-model' | 'working' | 'closed';

export interface SessionView {
  key: string;
  jobId: string;
  requesterId: string;
  state: SessionState;
  unitsDone: number;
  modelCached?: boolean;
}

export interface ProviderView {
  connection: ConnectionState;
  peerId?: string;
  paused: boolean;
  sessions: SessionView[];
  unitsDone: number;
  unitsFailed: number;
  running: boolean;
  rowsPerSecond: number;
  history: number[];
  log: string[];
  /** Receipts kept (verified) and the FLOPs they credit; absent without a receipt store. */
  credits?: CreditSummary;
  /** Why work is paused (the volunteer's Pause, a power or visibility limit). */
  pauseReason?: string;
  /** The backend units run on now (it changes with the limits and on a lost WebGPU device). */
  backend: Backend;
}

export interface ProviderDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  compute: ComputeEngine;
  models: ModelStore;
  capabilities: Capabilities;
  extension?: LinkExtension;
  now?: () => number;
  /** This provider's key: every result is signed with it (requesters with an identity drop unsigned results). */
  identity?: Identity;
  /** Where receipts from requesters are verified and kept. */
  receipts?: ProviderReceipts;
  /** Runs Train jobs (PeerStream.train); by default in the Train tab's own worker. */
  training?: ProviderTraining;
  /** Trains together with other volunteers (together-* messages on PeerStream.train); absent: refused. */
  together?: ProviderTogether;
  /** Rolls out RL policies (rl-* messages on PeerStream.train); absent: refused. */
  rl?: ProviderRl;
  /** Work limits (issue 21): rests after each unit (the duty cycle); called with the unit's compute time. */
  pace?: (computeMs: number) => Promise<void>;
  /** Lifetime units done, by day: `unitsDone` starts from it and survives a reload. */
  contribution?: ContributionStore;
}

interface Session extends VersionSession {
  view: SessionView;
  peer: PeerSession;
}

interface QueuedUnit {
  session: Session;
  header: Extract<PeerHeader, { type: 'unit' }>;
  body: Uint8Array;
}

const MAX_LOG_LINES = 50;

export class ProviderNode {
  readonly view: Observable<ProviderView>;
  private readonly sessions = new Map<string, Session>();
  private readonly links: PeerSessions;
  /** The requester of each job we are paired for, from the server's `matched`. */
  private readonly requesters = new Map<string, string>();
  /** Each pairing's session and network from `matched`: every signed result binds them (SPEC BIND2). */
  private readonly pairings = new Map<string, { session: string; network: string }>();
  private readonly queue: QueuedUnit[] = [];
  private readonly meter: ThroughputMeter;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly versions: ProviderModels<Session>;
  private working = false;
  private readonly training: ProviderTraining;
  // Work limits (issue 21): what is announced now, and the timer that lets an idle rate decay.
  private capabilities: Capabilities;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: ProviderDeps) {
    this.training = deps.training ?? new ProviderTraining({ makeWorker: browserWorker, log: (line) => this.log(line) });
    this.links = new PeerSessions({
      signaling: deps.signaling,
      createPeer: deps.createPeer,
      initiator: false,
      extension: deps.extension,
      handlers: {
        onOpen: () => {},
        onMessage: (peer, stream, bytes) => {
          const session = this.sessions.get(peer.key);
          if (session?.peer !== peer) return;
          const send = (b: Uint8Array) => this.links.send(peer, PeerStream.train, b);
          if (stream === PeerStream.train && isTogetherMessage(bytes)) {
            if (this.deps.together) this.deps.together.receive(peer.key, peer.jobId, send, bytes);
            else
              send(
                encodeTogether({
                  type: 'together-error',
                  jobId: peer.jobId,
                  code: 'provider',
                  message: 'this provider does not train together',
                }),
              );
          } else if (stream === PeerStream.train && isRlMessage(bytes)) {
            if (this.deps.rl) this.deps.rl.receive(peer.key, peer.jobId, send, bytes);
            else
              send(
                encodeRl({
                  type: 'rl-error',
                  jobId: peer.jobId,
                  code: 'provider',
                  message: 'this provider does not roll out RL policies',
                }),
              );
          } else if (stream === PeerStream.train) this.training.receive(peer.key, peer.jobId, send, bytes);
          else void this.onMessage(session, bytes);
        },
        onClose: (peer, reason) => this.sessionClosed(peer, reason),
      },
    });
    this.capabilities = deps.capabilities;
    this.meter = new ThroughputMeter(deps.now);
    this.versions = new ProviderModels<Session>({
      models: deps.models,
      compute: deps.compute,
      reply: (session, header, body) => this.reply(session, header, body),
      state: (session, change) => this.setSession(session, change),
      log: (line) => this.log(line),
    });
    this.view = new Observable<ProviderView>({
      connection: 'connecting',
      paused: false,
      sessions: [],
      unitsDone: 0,
      unitsFailed: 0,
      running: false,
      rowsPerSecond: 0,
      history: [],
      log: [],
      backend: deps.compute.backend,
    });
  }

  start(): void {
    const { signaling, receipts } = this.deps;
    if (receipts) void receipts.load().then(() => this.patch({ credits: receipts.summary() }));
    const { contribution } = this.deps;
    if (contribution)
      void contribution
        .load()
        .then(() => this.patch({ unitsDone: this.view.get().unitsDone + contribution.lifetime().units }));
    this.ticker = setInterval(() => this.tick(), 1000);
    this.unsubscribe.push(
      signaling.on('state', (connection) => this.patch({ connection })),
      signaling.on('welcome', (welcome) => {
        this.patch({ peerId: welcome.peerId });
        // After every (re)connect the server knows nothing about us: announce again.
        signaling.send({ type: 'announce', capabilities: this.capabilities, slots: PROVIDER_SLOTS });
        this.sendStatus();
        this.log(`registered as ${welcome.peerId.slice(0, 8)}… (${this.capabilities.backend})`);
      }),
      signaling.on('matched', (m) => {
        this.requesters.set(m.jobId, m.peerId);
        this.pairings.set(sessionKey(m.jobId, m.peerId), { session: m.session, network: m.network });
        this.openSession(m.jobId, m.peerId);
      }),
      signaling.on('unmatched', (m) => {
        if (this.requesters.get(m.jobId) === m.peerId) this.requesters.delete(m.jobId);
        this.closeSession(this.sessions.get(sessionKey(m.jobId, m.peerId)), `unmatched: ${m.reason}`);
      }),
      signaling.on('signal', (s) => this.onSignal(s.jobId, s.from, s.payload)),
      signaling.on('error', (e) => this.log(`server: ${e.message}`)),
    );
  }

  stop(): void {
    clearInterval(this.ticker);
    for (const off of this.unsubscribe.splice(0)) off();
    this.links.closeAll('provider stopped');
    this.training.closeAll();
  }

  /** Every kept receipt as JSON (the provider page's export), or undefined without a receipt store. */
  exportReceipts(): string | undefined {
    return this.deps.receipts?.exportJson();
  }

  setPaused(paused: boolean, reason?: string): void {
    if (this.view.get().paused === paused) {
      if (paused && reason !== this.view.get().pauseReason) this.patch({ pauseReason: reason });
      return;
    }
    this.patch({ paused, pauseReason: paused ? reason : undefined });
    if (paused) {
      // Units not yet started go back to their requesters at once rather than waiting out the pause.
      for (const item of this.queue.splice(0))
        this.reply(item.session, {
          type: 'unit-error',
          jobId: item.header.jobId,
          unitId: item.header.unitId,
          message: 'provider paused',
          declined: true,
        });
    }
    for (const session of this.sessions.values()) this.reply(session, { type: 'paused', paused });
    this.sendStatus();
    this.log(paused ? `paused${reason ? ` (${reason})` : ''}: no new work will be accepted` : 'resumed');
  }

  /**
   * Work limits (issue 21): tells the server (and through it the requesters'
   * matchmaking) this provider's capacity under the new limits. The server
   * replaces what an earlier announce said.
   */
  announce(capabilities: Capabilities): void {
    const before = this.capabilities;
    this.capabilities = capabilities;
    this.patch({ backend: this.deps.compute.backend });
    if (before.backend === capabilities.backend && before.gflops === capabilities.gflops) return;
    if (this.view.get().connection !== 'open') return; // the welcome announces it
    this.deps.signaling.send({ type: 'announce', capabilities, slots: PROVIDER_SLOTS });
    this.sendStatus();
    this.log(`capacity announced: ${capabilities.backend}, ${capabilities.gflops.toFixed(2)} GFLOP/s on average`);
  }

  /** A line in the activity log from the page's adapters (engine restarts, a lost WebGPU device). */
  note(line: string): void {
    this.log(line);
  }

  /** Once a second: the rate and chart move on while idle or paused instead of freezing at the last unit's value. */
  tick(): void {
    const rowsPerSecond = this.meter.rate();
    const view = this.view.get();
    if (rowsPerSecond === view.rowsPerSecond && rowsPerSecond === 0 && view.history.every((x) => x === 0)) return;
    this.patch({ rowsPerSecond, history: this.meter.history() });
  }

  /**
   * The server relays signals only between paired peers, so a signal proves the
   * pairing. Signals from anyone but the job's requester (e.g. a co-provider
   * forwarding weights) belong to extensions.
   */
  private onSignal(jobId: string, requesterId: string, payload: SignalPayload): void {
    if (this.requesters.get(jobId) !== requesterId) return;
    this.links.signal(jobId, requesterId, payload);
    // An offer on a live link starts a new session (the requester reconnected): track it.
    const peer = this.links.get(jobId, requesterId);
    if (peer && this.sessions.get(peer.key)?.peer !== peer) this.track(peer);
  }

  private openSession(jobId: string, requesterId: string): Session {
    const peer = this.links.open(jobId, requesterId);
    const existing = this.sessions.get(peer.key);
    // Matched again (e.g. after a server restart) while the data channel still works: keep it.
    if (existing?.peer === peer) return existing;
    return this.track(peer);
  }

  /** A session for a link PeerSessions opened (on a match, or on an offer from the requester). */
  private track(peer: PeerSession): Session {
    const { key, jobId, peerId: requesterId } = peer;
    const session: Session = { view: { key, jobId, requesterId, state: 'connecting', unitsDone: 0 }, peer };
    this.sessions.set(key, session);
    this.refreshSessions();
    this.sendStatus();
    this.log(`paired with requester ${requesterId.slice(0, 8)}… for job ${jobId}`);
    return session;
  }

  /** The link of `session` ended; a late event of an old pairing never reaches here (PeerSessions drops it). */
  private sessionClosed(peer: PeerSession, reason: string): void {
    const session = this.sessions.get(peer.key);
    if (!session || session.peer !== peer) return;
    this.sessions.delete(peer.key);
    this.training.close(peer.key);
    this.deps.together?.close(peer.key);
    this.deps.rl?.close(peer.key);
    session.view = { ...session.view, state: 'closed' };
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.session === session) this.queue.splice(i, 1);
    this.refreshSessions();
    this.sendStatus();
    this.log(sessionEnded(session.view.jobId, reason));
  }

  private closeSession(session: Session | undefined, reason: string): void {
    if (session) this.links.close(session.peer, reason);
  }

  private async onMessage(session: Session, bytes: Uint8Array): Promise<void> {
    let message;
    try {
      message = decodePeerMessage(bytes);
    } catch (error) {
      this.reply(session, { type: 'error', message: `bad message: ${messageOf(error)}` });
      return;
    }
    const { header, body } = message;
    try {
      switch (header.type) {
        case 'job':
          session.modelHash = header.modelHash;
          session.frameHash = header.frameHash;
          await this.versions.want(session, header.modelHash);
          return;
        case 'model':
          await this.versions.receive(session, header, body);
          return;
        case 'unit': {
          if (this.view.get().paused) {
            this.reply(session, {
              type: 'unit-error',
              jobId: header.jobId,
              unitId: header.unitId,
              message: 'provider paused',
              declined: true,
            });
            return;
          }
          this.queue.push({ session, header, body });
          void this.drain();
          return;
        }
        case 'bye':
          this.closeSession(session, `requester said: ${header.reason}`);
          return;
        case 'receipt':
          await this.keepReceipt(session, header.receipt);
          return;
        default:
          this.reply(session, { type: 'error', message: `a provider does not accept "${header.type}"` });
      }
    } catch (error) {
      // A model that does not load here is declined: the requester sends its units elsewhere.
      const declined = header.type === 'job' || header.type === 'model';
      this.reply(session, { type: 'error', message: messageOf(error).slice(0, 1024), ...(declined && { declined }) });
      this.log(`job ${session.view.jobId}: ${messageOf(error)}`);
    }
  }

  /** Runs queued units one at a time: the engine (a GPU or the WASM threads) is one resource. */
  private async drain(): Promise<void> {
    if (this.working) return;
    this.working = true;
    this.patch({ running: true });
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        const computeMs = await this.runUnit(item);
        // The duty cycle rests between units, never inside one; queued units wait (the requester sees them in flight).
        if (computeMs > 0 && this.deps.pace) await this.deps.pace(computeMs);
      }
    } finally {
      this.working = false;
      this.patch({ running: false });
    }
  }

  /** Returns the unit's compute time in ms (0 when nothing ran). */
  private async runUnit({ session, header, body }: QueuedUnit): Promise<number> {
    const hash = header.modelHash;
    try {
      if (!(await this.versions.ready(session, hash))) {
        // Not a failure of the unit: the version never arrived (the requester will say why, or send it again).
        this.reply(session, {
          type: 'unit-error',
          jobId: header.jobId,
          unitId: header.unitId,
          message: VERSION_MISSING,
          declined: true,
        });
        return 0;
      }
      const started = performance.now();
      const outputs = await this.deps.compute.run(hash, unpackTensors(header.inputs, body));
      const computeMs = performance.now() - started;
      const packed = packTensors(outputs);
      const signed = await this.sign(
        session.view.requesterId,
        header.jobId,
        header.unitId,
        unpackTensors(header.inputs, body),
        outputs,
      );
      this.reply(
        session,
        {
          type: 'result',
          jobId: header.jobId,
          unitId: header.unitId,
          modelHash: hash,
          outputs: packed.refs,
          computeMs,
          backend: this.deps.compute.backend,
          signed,
        },
        packed.body,
      );
      this.meter.record(header.inputs[0]?.dims[0] ?? 0);
      this.setSession(session, { unitsDone: session.view.unitsDone + 1 });
      this.patch({
        unitsDone: this.view.get().unitsDone + 1,
        rowsPerSecond: this.meter.rate(),
        history: this.meter.history(),
        backend: this.deps.compute.backend,
      });
      void this.deps.contribution
        ?.record(header.inputs[0]?.dims[0] ?? 0, computeMs)
        .catch((error: unknown) => this.log(`could not save the contribution tally: ${messageOf(error)}`));
      return computeMs;
    } catch (error) {
      this.reply(session, {
        type: 'unit-error',
        jobId: header.jobId,
        unitId: header.unitId,
        message: messageOf(error).slice(0, 1024), // the wire's limit: a longer one would not decode
      });
      this.patch({ unitsFailed: this.view.get().unitsFailed + 1, backend: this.deps.compute.backend });
      this.log(`unit ${header.unitId} failed: ${messageOf(error)}`);
      return 0;
    }
  }

  private async sign(
    requester: string,
    jobId: string,
    unitId: number,
    inputs: RawTensor[],
    outputs: RawTensor[],
  ): Promise<SignedResult | undefined> {
    const { identity } = this.deps;
    const pairing = this.pairings.get(sessionKey(jobId, requester));
    if (!identity || !pairing) return undefined;
    const [inputHash, resultHash] = await Promise.all([hashTensors(inputs), hashTensors(outputs)]);
    return signResult(identity, { ...pairing, requester, jobId, unitId, inputHash, resultHash });
  }

  /** A receipt is kept only if it verifies, names us, and credits a unit not credited before. */
  private async keepReceipt(session: Session, receipt: unknown): Promise<void> {
    const { receipts } = this.deps;
    if (!receipts) return;
    try {
      await receipts.add(receipt);
      this.patch({ credits: receipts.summary() });
    } catch (error) {
      this.log(`job ${session.view.jobId}: receipt refused: ${messageOf(error)}`);
    }
  }

  private reply(session: Session, header: PeerHeader, body?: Uint8Array): void {
    const stream = header.type === 'result' ? PeerStream.work : PeerStream.control;
    this.links.send(session.peer, stream, encodePeerMessage(header, body));
  }

  private sendStatus(): void {
    const view = this.view.get();
    this.deps.signaling.send({ type: 'status', busy: Math.min(this.sessions.size, 8), paused: view.paused });
  }

  private setSession(session: Session, change: Partial<SessionView>): void {
    session.view = { ...session.view, ...change };
    this.refreshSessions();
  }

  private refreshSessions(): void {
    this.patch({ sessions: [...this.sessions.values()].map((s) => s.view) });
  }

  private log(line: string): void {
    const stamped = `${new Date(this.deps.now?.() ?? Date.now()).toISOString().slice(11, 19)} ${line}`;
    this.patch({ log: [...this.view.get().log, stamped].slice(-MAX_LOG_LINES) });
  }

  private patch(change: Partial<ProviderView>): void {
    this.view.set({ ...this.view.get(), ...change });
  }
}
