/**
 * The connection logic: challenge/auth, role checks, limits, matchmaking and the
 * signal relay. It sees only SignalingSocket, so unit tests drive it with
 * in-memory sockets and the server feeds it `ws` sockets. Rules are in SPEC.md.
 */
import {
  CloseCode,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  decodeClientMessage,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type IceServer,
  type Role,
  type ServerMessage,
} from '@shared/protocol';
import { authMessage, verify } from '@shared/identity';
import { randomId } from '@shared/bytes';
import { createHash } from 'node:crypto';
import * as C from './constants';
import { ProtocolError } from './errors';
import { TrustLedger } from './ledger';
import type { Logger } from './log';
import { Matchmaker, type MatchEvent } from './matchmaker';
import type { Counter, Metrics } from './metrics';
import { IpAdmission, KeyedBuckets, TokenBucket } from './rate-limit';
import {
  MemorySharedState,
  SharedStateUnavailable,
  type RelayedFrame,
  type SharedOp,
  type SharedOpInput,
  type SharedState,
} from './shared-state';
import type { IncomingFrame, SignalingSocket } from './socket';

export interface HubLimits {
  messageBurst: number;
  messagesPerSecond: number;
  connectionBurst: number;
  connectionsPerSecond: number;
  maxConnectionsPerIp: number;
  rateLimitStrikes: number;
  protocolStrikes: number;
  oversizeStrikes: number;
  maxBufferedBytes: number;
  maxJobsPerRequester: number;
  maxJobsPerIp: number;
  receiptBurst: number;
  receiptsPerSecond: number;
  receiptIpBurst: number;
  receiptsPerIpPerSecond: number;
  receiptServerBurst: number;
  receiptsPerServerPerSecond: number;
  /** Frames that may wait behind an async handler before each further one is refused (SPEC RATE6). */
  maxPendingFrames: number;
}

export const DEFAULT_LIMITS: HubLimits = {
  messageBurst: C.MESSAGE_BURST,
  messagesPerSecond: C.MESSAGES_PER_SECOND,
  connectionBurst: C.CONNECTION_BURST,
  connectionsPerSecond: C.CONNECTIONS_PER_SECOND,
  maxConnectionsPerIp: C.MAX_CONNECTIONS_PER_IP,
  rateLimitStrikes: C.RATE_LIMIT_STRIKES,
  protocolStrikes: C.PROTOCOL_STRIKES,
  oversizeStrikes: C.OVERSIZE_STRIKES,
  maxBufferedBytes: C.MAX_BUFFERED_BYTES,
  maxJobsPerRequester: C.MAX_JOBS_PER_REQUESTER,
  maxJobsPerIp: C.MAX_JOBS_PER_IP,
  receiptBurst: C.RECEIPT_BURST,
  receiptsPerSecond: C.RECEIPTS_PER_SECOND,
  receiptIpBurst: C.RECEIPT_IP_BURST,
  receiptsPerIpPerSecond: C.RECEIPTS_PER_IP_PER_SECOND,
  receiptServerBurst: C.RECEIPT_SERVER_BURST,
  receiptsPerServerPerSecond: C.RECEIPTS_PER_SERVER_PER_SECOND,
  maxPendingFrames: C.MAX_PENDING_FRAMES,
};

export interface HubOptions {
  iceServers: IceServer[];
  heartbeatMs: number;
  nonceTtlMs: number;
  limits: HubLimits;
  now: () => number;
  log: Logger;
  metrics: Metrics;
  /** The receipt log, leaderboard and reports; in memory when not given. */
  ledger?: TrustLedger;
  /**
   * What instances share (SPEC SCALE1): the hub publishes every change to it and
   * applies what it hands back. One process when not given; start() it before serving otherwise.
   */
  shared?: SharedState;
}

/** Which instance holds a peer's connection, and which connection there. */
interface Owner {
  instance: string;
  conn: number;
}

interface Connection {
  id: number;
  socket: SignalingSocket;
  ip: string;
  nonce: string;
  nonceExpiresAt: number;
  nonceUsed: boolean;
  /** Set by hello; fixed for the connection's life. */
  role?: Role;
  /** Set once auth succeeds. */
  peerId?: string;
  /** A provider's status received before its announce. */
  status?: { busy: number; paused: boolean };
  closed: boolean;
  bucket: TokenBucket;
  rateStrikes: number;
  protocolStrikes: number;
  oversizeStrikes: number;
  missedPings: number;
  /** An async handler (auth, receipts) is running; frames wait in `backlog` (SPEC RATE6). */
  inFlight: boolean;
  backlog: ClientMessage[];
  authTimer: ReturnType<typeof setTimeout>;
}

const PROVIDER_ONLY = new Set<ClientMessage['type']>(['announce', 'status']);
const REQUESTER_ONLY = new Set<ClientMessage['type']>(['job-open', 'job-close', 'release', 'receipts', 'report']);

const peerKey = (role: Role, peerId: string) => `${role} ${peerId}`;

/** The pairing's session id (SPEC BIND2): the same on every instance that applies the op that made it. */
const sessionOf = (nonce: string, index: number) =>
  createHash('sha256').update(`${nonce} ${index}`).digest('base64url').slice(0, 22);

export class Hub {
  private readonly conns = new Set<Connection>();
  /** Connections held by this instance, by role and key. */
  private readonly byPeer = new Map<string, Connection>();
  /** Who holds every authenticated peer of the network, this instance's included: part of the shared replica. */
  private readonly owners = new Map<string, Owner>();
  readonly shared: SharedState;
  /** Authenticated requester connections per IP, to count open jobs per IP (SPEC RATE7). */
  private readonly requestersByIp = new Map<string, Set<Connection>>();
  private readonly matchmaker: Matchmaker;
  readonly ledger: TrustLedger;
  private readonly admission: IpAdmission;
  /** Receipt budgets per requester key, per IP and for the whole server (SPEC CREDIT7, CREDIT13). */
  private readonly receiptsByKey: KeyedBuckets;
  private readonly receiptsByIp: KeyedBuckets;
  private readonly receiptsServer: TokenBucket;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private nextId = 1;
  /** Hot-path counters, resolved once per message type (no label work per message). */
  private readonly messagesIn = new Map<string, Counter>();
  private readonly messagesOut = new Map<string, Counter>();
  private readonly relayedCounter: Counter;
  private shuttingDown = false;
  /** Starts applying the shared log (a no-op in one process); the server awaits it before listening. */
  readonly startShared: () => Promise<void>;
  /** Leaves that could not be published while shared state was down: published when it returns. */
  private readonly pendingLeaves: SharedOpInput[] = [];

  constructor(private readonly options: HubOptions) {
    const ledger = options.ledger ?? new TrustLedger({ now: options.now });
    this.ledger = ledger;
    this.relayedCounter = options.metrics.counter('signaling_signals_relayed_total');
    this.matchmaker = new Matchmaker((id) => ledger.reportWeight(id));
    this.admission = new IpAdmission(options.limits, options.now);
    const { limits, now } = options;
    this.receiptsByKey = new KeyedBuckets(limits.receiptBurst, limits.receiptsPerSecond, now);
    this.receiptsByIp = new KeyedBuckets(limits.receiptIpBurst, limits.receiptsPerIpPerSecond, now);
    this.receiptsServer = new TokenBucket(limits.receiptServerBurst, limits.receiptsPerServerPerSecond, now);
    const handlers = {
      apply: (op: SharedOp) => this.safely('apply', () => this.apply(op)),
      deliver: (frame: RelayedFrame) => this.safely('relayed', () => this.deliverRelayed(frame)),
      instancesHolding: () => this.instancesHolding(),
    };
    if (options.shared) {
      this.shared = options.shared;
      this.startShared = () => options.shared!.start(handlers);
    } else {
      const memory = new MemorySharedState(options.now, () => randomId(C.SESSION_ID_BYTES));
      memory.startNow(handlers);
      this.shared = memory;
      this.startShared = async () => undefined;
    }
    this.heartbeat = setInterval(() => this.safely('heartbeat', () => this.tick()), options.heartbeatMs);
    this.heartbeat.unref?.();
    options.metrics.gauge(
      'signaling_connections',
      'Open connections, by role (unauthenticated until auth succeeds).',
      () => {
        const counts = this.connectionCounts();
        return Object.entries(counts).map(([role, value]) => ({ labels: { role }, value }));
      },
    );
    options.metrics.gauge('signaling_providers', 'Providers that have announced.', () => [
      { labels: {}, value: this.matchmaker.providerCount },
    ]);
    options.metrics.gauge('signaling_receipt_log_entries', 'Entries in the receipt log.', () => [
      { labels: {}, value: ledger.head.length },
    ]);
    options.metrics.gauge(
      'signaling_shared_state_up',
      'Whether what needs shared state (presence, matching, relay across instances, receipts) can be served: 1 or 0, by kind (memory or redis).',
      () => {
        const health = this.shared.health();
        return [{ labels: { kind: health.kind }, value: health.up ? 1 : 0 }];
      },
    );
    options.metrics.gauge('signaling_shared_ops_applied', 'Ops of the shared log applied by this instance.', () => [
      { labels: {}, value: this.shared.health().applied },
    ]);
    options.metrics.gauge('signaling_jobs_open', 'Jobs open across all requesters.', () => [
      { labels: {}, value: this.matchmaker.jobCount },
    ]);
  }

  connectionCounts(): Record<Role | 'unauthenticated', number> {
    const counts = { provider: 0, requester: 0, unauthenticated: 0 };
    for (const conn of this.conns) counts[conn.peerId && conn.role ? conn.role : 'unauthenticated']++;
    return counts;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Takes ownership of a freshly opened socket. */
  accept(socket: SignalingSocket): void {
    const { metrics, limits, now, log } = this.options;
    const admission = this.admission.admit(socket.remoteAddress);
    if (!admission.ok) {
      metrics.inc('signaling_rate_limited_total', { scope: admission.reason === 'rate' ? 'ip-rate' : 'ip-concurrent' });
      log.warn('connection-refused', { ip: socket.remoteAddress, reason: admission.reason });
      this.sendRaw(socket, {
        type: 'error',
        code: 'rate-limited',
        message:
          admission.reason === 'rate'
            ? 'too many new connections from this address'
            : 'too many open connections from this address',
      });
      socket.close(CloseCode.policy, 'rate limited');
      metrics.inc('signaling_closes_total', { code: String(CloseCode.policy) });
      return;
    }
    const conn: Connection = {
      id: this.nextId++,
      socket,
      ip: socket.remoteAddress,
      nonce: randomId(C.NONCE_BYTES),
      nonceExpiresAt: now() + this.options.nonceTtlMs,
      nonceUsed: false,
      closed: false,
      bucket: new TokenBucket(limits.messageBurst, limits.messagesPerSecond, now),
      rateStrikes: 0,
      protocolStrikes: 0,
      oversizeStrikes: 0,
      missedPings: 0,
      inFlight: false,
      backlog: [],
      authTimer: setTimeout(() => {
        if (!conn.peerId)
          this.fail(conn, new ProtocolError('auth', 'challenge expired before auth', CloseCode.authFailed));
      }, this.options.nonceTtlMs),
    };
    conn.authTimer.unref?.();
    this.conns.add(conn);
    metrics.inc('signaling_connections_total');
    socket.onmessage = (frame) => this.safely('frame', () => this.onFrame(conn, frame));
    socket.onpong = () => {
      conn.missedPings = 0;
    };
    socket.onclose = (code, reason) =>
      this.safely('close', () => this.drop(conn, `socket closed ${code} ${reason}`.trim()));
    log.debug('connection-open', { conn: conn.id, ip: conn.ip });
    this.send(conn, {
      type: 'challenge',
      v: PROTOCOL_VERSION,
      nonce: conn.nonce,
      expiresInMs: this.options.nonceTtlMs,
    });
  }

  /** Closes every connection with 1001 (SPEC OPS2). */
  shutdown(): void {
    this.shuttingDown = true;
    clearInterval(this.heartbeat);
    for (const conn of [...this.conns]) this.closeConn(conn, CloseCode.goingAway, 'server shutting down');
  }

  // ------------------------------------------------------------------ frames

  private onFrame(conn: Connection, frame: IncomingFrame): void {
    if (conn.closed) return;
    const { limits, metrics } = this.options;
    conn.missedPings = 0;
    if (!conn.bucket.take()) {
      metrics.inc('signaling_rate_limited_total', { scope: 'messages' });
      if (++conn.rateStrikes > limits.rateLimitStrikes) return this.closeConn(conn, CloseCode.policy, 'rate limited');
      return this.sendError(conn, 'rate-limited', 'too many messages; slow down');
    }
    conn.rateStrikes = 0;
    if (frame.kind === 'binary')
      return this.strike(conn, 'invalid', 'binary frames are not part of the protocol; send JSON text');
    if (frame.bytes > MAX_FRAME_BYTES) {
      if (++conn.oversizeStrikes > limits.oversizeStrikes)
        return this.closeConn(conn, CloseCode.tooBig, 'frames too large');
      return this.sendError(conn, 'too-large', `frame of ${frame.bytes} bytes exceeds ${MAX_FRAME_BYTES}`);
    }
    const decoded = decodeClientMessage(frame.text);
    if (!decoded.ok) return this.strike(conn, decoded.code, decoded.error);
    const message = decoded.message;
    this.typed(this.messagesIn, 'signaling_messages_in_total', message.type).inc();
    // Frames are handled strictly in order. Nothing in flight: handle now. Otherwise
    // wait behind the async handler (auth, receipts); past the cap refuse this frame
    // alone — a burst the message bucket admitted never closes the connection (SPEC RATE6).
    if (conn.inFlight) {
      if (conn.backlog.length >= limits.maxPendingFrames) {
        metrics.inc('signaling_rate_limited_total', { scope: 'pending' });
        return this.sendError(conn, 'rate-limited', 'too many frames waiting behind a slow one; slow down');
      }
      conn.backlog.push(message);
      return;
    }
    this.run(conn, message);
  }

  /** Handles one message; when its handler goes async, later frames wait in the backlog until it settles. */
  private run(conn: Connection, message: ClientMessage): void {
    let pending: Promise<void> | void;
    try {
      pending = this.handle(conn, message);
    } catch (error) {
      return this.fail(conn, error);
    }
    if (!pending) return;
    conn.inFlight = true;
    pending.then(
      () => this.safely('drain', () => this.drain(conn)),
      (error: unknown) =>
        this.safely('drain', () => {
          this.fail(conn, error);
          this.drain(conn);
        }),
    );
  }

  private drain(conn: Connection): void {
    conn.inFlight = false;
    while (!conn.closed && !conn.inFlight && conn.backlog.length) this.run(conn, conn.backlog.shift()!);
    if (conn.closed) conn.backlog.length = 0;
  }

  /** Returns a promise only when the handler has to wait (signature checks); the rest runs synchronously. */
  private handle(conn: Connection, message: ClientMessage): Promise<void> | void {
    if (message.type === 'hello') return this.onHello(conn, message);
    if (message.type === 'auth') return this.onAuth(conn, message);
    const peerId = conn.peerId;
    if (!peerId || !conn.role)
      throw new ProtocolError('not-authenticated', `${message.type} before auth; send hello and auth first`);
    if (PROVIDER_ONLY.has(message.type) && conn.role !== 'provider')
      throw new ProtocolError('wrong-role', `${message.type} is for providers`);
    if (REQUESTER_ONLY.has(message.type) && conn.role !== 'requester')
      throw new ProtocolError('wrong-role', `${message.type} is for requesters`);
    const mm = this.matchmaker;
    switch (message.type) {
      case 'announce':
        return this.publish({
          op: 'announce',
          peer: peerId,
          capabilities: message.capabilities,
          slots: message.slots,
          ...(conn.status ? { status: conn.status } : {}),
        });
      case 'status':
        conn.status = { busy: message.busy, paused: message.paused };
        return this.publish({ op: 'status', peer: peerId, busy: message.busy, paused: message.paused });
      case 'job-open':
        if (
          !mm.hasJob(peerId, message.jobId) &&
          mm.jobsOfRequester(peerId) >= this.options.limits.maxJobsPerRequester
        ) {
          throw new ProtocolError(
            'rate-limited',
            `at most ${this.options.limits.maxJobsPerRequester} open jobs per requester`,
          );
        }
        if (!mm.hasJob(peerId, message.jobId) && this.jobsOfIp(conn.ip) >= this.options.limits.maxJobsPerIp) {
          this.options.metrics.inc('signaling_rate_limited_total', { scope: 'jobs-ip' });
          throw new ProtocolError(
            'rate-limited',
            `at most ${this.options.limits.maxJobsPerIp} open jobs per IP address`,
          );
        }
        return this.publish({ op: 'job-open', requester: peerId, jobId: message.jobId, needs: message.needs });
      case 'job-close':
        if (!mm.hasJob(peerId, message.jobId))
          return this.sendError(conn, 'unknown-job', `no open job ${message.jobId}`);
        return this.publish({ op: 'job-close', requester: peerId, jobId: message.jobId });
      case 'release':
        if (!mm.isPaired(peerId, message.jobId, message.peerId))
          return this.sendError(conn, 'not-paired', `${message.peerId} is not matched to job ${message.jobId}`);
        return this.publish({ op: 'release', requester: peerId, jobId: message.jobId, provider: message.peerId });
      case 'receipts':
        return this.onReceipts(conn, peerId, message);
      case 'report':
        return this.onReport(conn, peerId, message);
      case 'signal':
        return this.relay(conn, peerId, conn.role, message);
      case 'ping':
        return this.send(conn, { type: 'pong', t: message.t });
    }
  }

  private onHello(conn: Connection, message: ClientMessageOf<'hello'>): void {
    if (conn.role) throw new ProtocolError('invalid', 'hello already received');
    if (!SUPPORTED_VERSIONS.includes(message.v)) {
      this.send(conn, {
        type: 'error',
        code: 'version',
        message: `protocol v${message.v} is not supported`,
        supported: [...SUPPORTED_VERSIONS],
      });
      this.options.metrics.inc('signaling_errors_total', { code: 'version' });
      return this.closeConn(conn, CloseCode.versionMismatch, 'unsupported protocol version');
    }
    conn.role = message.role;
  }

  private async onAuth(conn: Connection, message: ClientMessageOf<'auth'>): Promise<void> {
    if (conn.peerId) throw new ProtocolError('invalid', 'already authenticated');
    if (!conn.role) throw new ProtocolError('not-authenticated', 'send hello before auth');
    const role = conn.role;
    const fail = (why: string) => {
      this.options.metrics.inc('signaling_auth_failures_total');
      return new ProtocolError('auth', why, CloseCode.authFailed);
    };
    if (conn.nonceUsed) throw fail('challenge already answered');
    conn.nonceUsed = true;
    if (this.options.now() > conn.nonceExpiresAt) throw fail('challenge expired');
    const ok = await verify(message.publicKey, authMessage(conn.nonce, role), message.signature);
    if (conn.closed) return;
    if (!ok) throw fail('signature does not verify for this key, challenge and role');
    // Presence is shared: a peer that cannot be registered everywhere is not welcomed (SPEC SCALE3).
    if (!this.shared.health().up) throw this.unavailable('cannot register new peers', CloseCode.tryAgainLater);
    clearTimeout(conn.authTimer);
    const key = peerKey(role, message.publicKey);
    const previous = this.byPeer.get(key);
    if (previous) this.closeConn(previous, CloseCode.replaced, 'replaced by a newer connection with the same key');
    conn.peerId = message.publicKey;
    this.byPeer.set(key, conn);
    // A newer connection on another instance replaces this one there too (apply: join).
    await this.publish({ op: 'join', role, peer: conn.peerId, conn: conn.id });
    if (conn.closed) return;
    if (role === 'requester') {
      let set = this.requestersByIp.get(conn.ip);
      if (!set) this.requestersByIp.set(conn.ip, (set = new Set()));
      set.add(conn);
    }
    this.options.log.info('authenticated', {
      conn: conn.id,
      role,
      peer: short(conn.peerId),
      replaced: Boolean(previous),
    });
    this.send(conn, {
      type: 'welcome',
      peerId: conn.peerId,
      iceServers: this.options.iceServers,
      heartbeatMs: this.options.heartbeatMs,
    });
  }

  /** Logs a batch of receipts signed by this requester and answers with receipts-ack (SPEC CREDIT1–CREDIT5, CREDIT7). */
  private async onReceipts(conn: Connection, peerId: string, message: ClientMessageOf<'receipts'>): Promise<void> {
    const { metrics, limits } = this.options;
    const n = message.receipts.length;
    // Every budget is checked before any is charged: a batch refused by one costs the others nothing.
    const budgets = [
      { bucket: this.receiptsByKey.get(peerId), scope: 'receipts', why: `${limits.receiptsPerSecond}/s per key` },
      {
        bucket: this.receiptsByIp.get(conn.ip),
        scope: 'receipts-ip',
        why: `${limits.receiptsPerIpPerSecond}/s per IP`,
      },
      { bucket: this.receiptsServer, scope: 'receipts-server', why: 'the server is at its verification budget' },
    ] as const;
    for (const { bucket, scope, why } of budgets) {
      if (bucket.has(n)) continue;
      metrics.inc('signaling_rate_limited_total', { scope });
      throw new ProtocolError('rate-limited', `too many receipts (${why}); re-send later`);
    }
    for (const { bucket } of budgets) bucket.take(n);
    const result = await this.ledger.submit(peerId, message.receipts);
    if (result.accepted) metrics.inc('signaling_receipts_accepted_total', {}, result.accepted);
    for (const r of result.rejected) metrics.inc('signaling_receipts_rejected_total', { reason: r.reason });
    if (result.rejected.length)
      this.options.log.info('receipts-rejected', {
        conn: conn.id,
        peer: short(peerId),
        rejected: result.rejected.length,
        first: result.rejected[0]!.reason,
      });
    this.send(conn, { type: 'receipts-ack', accepted: result.accepted, rejected: result.rejected, head: result.head });
  }

  /** A requester caught a provider: out of this job, lower priority elsewhere (SPEC REP1, REP2). */
  private onReport(conn: Connection, peerId: string, message: ClientMessageOf<'report'>): Promise<void> | void {
    if (!this.matchmaker.hasServed(peerId, message.jobId, message.peerId)) {
      return this.sendError(conn, 'not-paired', `${short(message.peerId)} has not served job ${message.jobId}`);
    }
    this.options.log.info('provider-reported', {
      requester: short(peerId),
      provider: short(message.peerId),
      job: message.jobId,
      verdict: message.verdict,
      reason: message.reason,
    });
    return this.publish({ op: 'report', requester: peerId, jobId: message.jobId, provider: message.peerId });
  }

  /**
   * Forwards a signal only within a current pairing (SPEC RELAY1), or between
   * two providers both assigned to the same job right now (SPEC RELAY3). `from`
   * is always the sender's own key.
   */
  private relay(conn: Connection, peerId: string, role: Role, message: ClientMessageOf<'signal'>): void {
    let paired =
      role === 'requester'
        ? this.matchmaker.isPaired(peerId, message.jobId, message.to)
        : this.matchmaker.isPaired(message.to, message.jobId, peerId);
    let targetKey = peerKey(role === 'requester' ? 'provider' : 'requester', message.to);
    if (
      role === 'provider' &&
      (!paired || !this.owners.has(targetKey)) &&
      message.to !== peerId &&
      this.coAssigned(peerId, message.to, message.jobId)
    ) {
      paired = true;
      targetKey = peerKey('provider', message.to);
    }
    const target = this.byPeer.get(targetKey);
    const owner = this.owners.get(targetKey);
    if (!paired || (!target && !owner))
      return this.sendError(conn, 'not-paired', `not paired with ${short(message.to)} for job ${message.jobId}`);
    const frame: ServerMessage = { type: 'signal', from: peerId, jobId: message.jobId, payload: message.payload };
    if (target) this.send(target, frame);
    else {
      // Held by another instance (SPEC SCALE2): its replica has the same pairing, so it forwards without asking.
      const { role: targetRole, peer } = splitPeerKey(targetKey);
      try {
        this.shared.relay(owner!.instance, { role: targetRole, peer, frame });
      } catch (error) {
        if (error instanceof SharedStateUnavailable) throw this.unavailable('cannot reach peers on other servers');
        throw error;
      }
    }
    this.relayedCounter.inc();
  }

  private typed(cache: Map<string, Counter>, name: string, type: string): Counter {
    let counter = cache.get(type);
    if (!counter) cache.set(type, (counter = this.options.metrics.counter(name, { type })));
    return counter;
  }

  private jobsOfIp(ip: string): number {
    let n = 0;
    for (const conn of this.requestersByIp.get(ip) ?? [])
      if (conn.peerId) n += this.matchmaker.jobsOfRequester(conn.peerId);
    return n;
  }

  /**
   * Whether both providers are assigned right now to the same open job with
   * this id. Job ids are scoped per requester, so it must be one requester's
   * job: the matchmaker's job keys (requester + id) are compared, not the ids.
   */
  private coAssigned(a: string, b: string, jobId: string): boolean {
    const ofB = new Set(this.matchmaker.jobsOfProvider(b));
    return this.matchmaker.jobsOfProvider(a).some((key) => ofB.has(key) && key.endsWith(` ${jobId}`));
  }

  private deliver(events: MatchEvent[], op: SharedOp): void {
    const { metrics } = this.options;
    for (const [index, event] of events.entries()) {
      const requester = this.byPeer.get(peerKey('requester', event.requester));
      const provider = this.byPeer.get(peerKey('provider', event.providerId));
      if (event.kind === 'matched') {
        metrics.inc('signaling_matches_total');
        const capabilities = this.matchmaker.capabilitiesOf(event.providerId);
        // What a receipt may later credit (SPEC CREDIT10): who, which job, which backend, how many units.
        this.ledger.pairings.start(
          event.requester,
          event.jobId,
          event.providerId,
          capabilities?.backend ?? 'wasm',
          this.matchmaker.needsOf(event.requester, event.jobId)?.units ?? 0,
          op.at,
        );
        // One id per pairing, the same on both sides: results signed in it cannot be replayed into another (SPEC BIND2).
        const pairing = { session: sessionOf(op.nonce, index), network: this.ledger.network };
        if (requester)
          this.send(requester, {
            type: 'matched',
            jobId: event.jobId,
            peerId: event.providerId,
            role: 'provider',
            capabilities,
            ...pairing,
          });
        if (provider)
          this.send(provider, {
            type: 'matched',
            jobId: event.jobId,
            peerId: event.requester,
            role: 'requester',
            ...pairing,
          });
      } else {
        metrics.inc('signaling_unmatches_total');
        this.ledger.pairings.end(event.requester, event.jobId, event.providerId, op.at);
        if (requester)
          this.send(requester, {
            type: 'unmatched',
            jobId: event.jobId,
            peerId: event.providerId,
            reason: event.reason,
          });
        if (provider)
          this.send(provider, { type: 'unmatched', jobId: event.jobId, peerId: event.requester, reason: event.reason });
      }
      this.options.log.debug(event.kind, {
        job: event.jobId,
        requester: short(event.requester),
        provider: short(event.providerId),
      });
    }
  }

  // ------------------------------------------------------------------ shared state

  /** Publishes a change; the matchmaker sees it when the shared log hands it back (apply). */
  private publish(op: SharedOpInput): Promise<void> | void {
    if (!this.shared.health().up) throw this.unavailable('cannot change shared state');
    return this.shared.publish(op);
  }

  /** A leave is never lost: while shared state is down it waits, else the others would keep a ghost. */
  private publishLeave(op: SharedOpInput): void {
    const retryLater = () => {
      this.pendingLeaves.push(op);
    };
    if (!this.shared.health().up) return retryLater();
    try {
      const pending = this.shared.publish(op);
      if (pending) pending.catch(retryLater);
    } catch {
      retryLater();
    }
  }

  private unavailable(what: string, closeWith?: number): ProtocolError {
    return new ProtocolError(
      'unavailable',
      `shared state is unreachable, so this server ${what} for now; retry, or use another server`,
      closeWith,
    );
  }

  /** Applies one op of the shared log to this replica; every instance runs the same ops in the same order. */
  private apply(op: SharedOp): void {
    const mm = this.matchmaker;
    switch (op.op) {
      case 'join': {
        const key = peerKey(op.role, op.peer);
        const before = this.owners.get(key);
        this.owners.set(key, { instance: op.instance, conn: op.conn });
        // The key moved: drop what the older connection held, as if it had left first (SPEC SCALE4).
        if (before && (before.instance !== op.instance || before.conn !== op.conn))
          this.removePeer(op.role, op.peer, op);
        const local = this.byPeer.get(key);
        if (local && op.instance !== this.shared.instance)
          this.closeConn(local, CloseCode.replaced, 'replaced by a newer connection with the same key');
        return;
      }
      case 'leave': {
        const key = peerKey(op.role, op.peer);
        const owner = this.owners.get(key);
        if (!owner || owner.instance !== op.instance || owner.conn !== op.conn) return;
        this.owners.delete(key);
        return this.removePeer(op.role, op.peer, op);
      }
      case 'instance-gone':
        return this.forgetInstance(op.gone, op);
      case 'credit':
        return this.ledger.applyCredit(op.entry);
    }
    // A peer's changes count only from the instance holding it now: a late op from an instance declared gone
    // (or from a connection since replaced) would otherwise leave a ghost in every replica.
    const [role, peer] =
      op.op === 'announce' || op.op === 'status' ? ['provider', op.peer] : ['requester', op.requester];
    const owner = this.owners.get(peerKey(role as Role, peer));
    if (owner?.instance !== op.instance) return;
    switch (op.op) {
      case 'announce':
        return this.deliver(mm.upsertProvider(op.peer, op.capabilities, op.slots, op.status), op);
      case 'status':
        return this.deliver(mm.setProviderStatus(op.peer, op.busy, op.paused), op);
      case 'job-open':
        return this.deliver(mm.openJob(op.requester, op.jobId, op.needs), op);
      case 'job-close':
        return this.deliver(mm.closeJob(op.requester, op.jobId) ?? [], op);
      case 'release':
        return this.deliver(mm.release(op.requester, op.jobId, op.provider) ?? [], op);
      case 'report': {
        if (!mm.hasServed(op.requester, op.jobId, op.provider)) return;
        // Counted before the matchmaker re-runs, so the re-match already sees the lower priority.
        const counted = this.ledger.report(op.provider, op.requester);
        if (op.instance === this.shared.instance)
          this.options.metrics.inc('signaling_reports_total', { counted: String(counted) });
        return this.deliver(mm.report(op.requester, op.jobId, op.provider) ?? [], op);
      }
    }
  }

  private removePeer(role: Role, peer: string, op: SharedOp): void {
    this.deliver(
      role === 'provider' ? this.matchmaker.removeProvider(peer) : this.matchmaker.removeRequester(peer),
      op,
    );
  }

  /**
   * Every peer an instance held has left (SPEC SCALE5). When the gone instance is
   * this one (it lost shared state for longer than its liveness lasts), the
   * others have dropped its peers: they must reconnect and announce again.
   */
  private forgetInstance(gone: string, op: SharedOp): void {
    for (const [key, owner] of [...this.owners]) {
      if (owner.instance !== gone) continue;
      this.owners.delete(key);
      const { role, peer } = splitPeerKey(key);
      this.removePeer(role, peer, op);
    }
    if (gone !== this.shared.instance) return;
    this.options.log.warn('declared-gone', { instance: gone });
    for (const conn of [...this.conns])
      if (conn.peerId) this.closeConn(conn, CloseCode.goingAway, 'this server lost shared state; reconnect');
  }

  /** Other instances that hold peers here: the shared state watches their liveness. */
  private instancesHolding(): Set<string> {
    const out = new Set<string>();
    for (const owner of this.owners.values()) if (owner.instance !== this.shared.instance) out.add(owner.instance);
    return out;
  }

  /** A frame another instance relayed to a peer it believes this one holds. */
  private deliverRelayed(relayed: RelayedFrame): void {
    const target = this.byPeer.get(peerKey(relayed.role, relayed.peer));
    if (target) this.send(target, relayed.frame);
  }

  // ------------------------------------------------------------------ errors, sends, closes

  /** A protocol violation that does not end the connection by itself; too many do (SPEC ABUSE1). */
  private strike(conn: Connection, code: ErrorCode, message: string): void {
    this.sendError(conn, code, message);
    if (++conn.protocolStrikes > this.options.limits.protocolStrikes)
      this.closeConn(conn, CloseCode.policy, 'too many protocol errors');
  }

  private fail(conn: Connection, error: unknown): void {
    if (conn.closed) return;
    // Not the client's fault: refused with its own code, no strike (SPEC SCALE3).
    if (error instanceof SharedStateUnavailable) error = this.unavailable(error.message);
    if (error instanceof ProtocolError && error.code === 'unavailable') {
      this.options.metrics.inc('signaling_shared_state_refused_total');
      this.sendError(conn, error.code, error.message);
      if (error.closeWith !== undefined) this.closeConn(conn, error.closeWith, 'shared state unreachable');
      return;
    }
    if (error instanceof ProtocolError) {
      if (error.closeWith === undefined) return this.strike(conn, error.code, error.message);
      this.sendError(conn, error.code, error.message);
      return this.closeConn(conn, error.closeWith, error.message);
    }
    this.options.log.error('handler-failed', { conn: conn.id, error });
    this.sendError(conn, 'internal', 'internal server error');
  }

  private sendError(conn: Connection, code: ErrorCode, message: string): void {
    this.options.metrics.inc('signaling_errors_total', { code });
    this.send(conn, { type: 'error', code, message: message.slice(0, 1024) });
  }

  private send(conn: Connection, message: ServerMessage): void {
    if (conn.closed) return;
    if (conn.socket.bufferedAmount > this.options.limits.maxBufferedBytes) {
      this.options.log.warn('slow-consumer', { conn: conn.id, buffered: conn.socket.bufferedAmount });
      return this.closeConn(conn, CloseCode.policy, 'not reading fast enough');
    }
    this.sendRaw(conn.socket, message);
  }

  private sendRaw(socket: SignalingSocket, message: ServerMessage): void {
    socket.send(JSON.stringify(message));
    this.typed(this.messagesOut, 'signaling_messages_out_total', message.type).inc();
  }

  private closeConn(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    this.options.metrics.inc('signaling_closes_total', { code: String(code) });
    conn.socket.close(code, reason.slice(0, 120));
    // Forget the connection now: its transport may never report the close.
    this.drop(conn, reason);
  }

  private drop(conn: Connection, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    clearTimeout(conn.authTimer);
    this.conns.delete(conn);
    this.admission.release(conn.ip);
    const sameIp = this.requestersByIp.get(conn.ip);
    if (sameIp?.delete(conn) && sameIp.size === 0) this.requestersByIp.delete(conn.ip);
    this.options.log.debug('connection-closed', { conn: conn.id, peer: conn.peerId && short(conn.peerId), reason });
    if (!conn.peerId || !conn.role) return;
    const key = peerKey(conn.role, conn.peerId);
    if (this.byPeer.get(key) !== conn) return;
    this.byPeer.delete(key);
    // A stop forgets everything; shared, the others hear it once, from the closing state (instance-gone).
    if (this.shuttingDown) return;
    this.publishLeave({ op: 'leave', role: conn.role, peer: conn.peerId, conn: conn.id });
  }

  private tick(): void {
    for (const conn of [...this.conns]) {
      if (conn.missedPings >= C.HEARTBEAT_MISSES_ALLOWED) {
        this.options.log.info('heartbeat-timeout', { conn: conn.id, peer: conn.peerId && short(conn.peerId) });
        this.closeConn(conn, CloseCode.heartbeatTimeout, 'heartbeat timeout');
        continue;
      }
      conn.missedPings++;
      conn.socket.ping();
    }
    this.admission.sweep();
    if (this.pendingLeaves.length && this.shared.health().up)
      for (const leave of this.pendingLeaves.splice(0)) this.publishLeave(leave);
    this.receiptsByKey.sweep();
    this.receiptsByIp.sweep();
    this.ledger.pairings.expire();
  }

  /** Input must never crash the process (SPEC ABUSE3). */
  private safely(where: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.options.log.error('hub-error', { where, error });
    }
  }
}

const short = (peerId: string) => peerId.slice(0, 8);

function splitPeerKey(key: string): { role: Role; peer: string } {
  const space = key.indexOf(' ');
  return { role: key.slice(0, space) as Role, peer: key.slice(space + 1) };
}
