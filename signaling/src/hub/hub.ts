/**
 * The connection logic: challenge/auth, role checks, limits, matchmaking and the
 * signal relay. It sees only SignalingSocket, so unit tests drive it with
 * in-memory sockets and the server feeds it `ws` sockets. Rules are in SPEC.md.
 *
 * This file owns the connections' lifecycle (accept, dispatch, drop, heartbeat);
 * each kind of request is handled by its own part: auth.ts, matching.ts,
 * relay.ts, receipts.ts, names.ts, and replica.ts applies the shared log.
 */
import { CloseCode, PROTOCOL_VERSION, type ClientMessage, type Role } from '@shared/protocol';
import { randomId } from '@shared/bytes';
import * as C from '../constants';
import { ProtocolError } from '../errors';
import { TrustLedger } from '../ledger';
import { Matchmaker } from '../matchmaker';
import { TokenBucket } from '../rate-limit';
import type { ReplicaSnapshot } from '../replica-snapshot';
import { MemorySharedState, type RelayedFrame, type SharedOp, type SharedState } from '../shared-state';
import type { SignalingSocket } from '../socket';
import { Admission } from './admission';
import { Auth } from './auth';
import { peerKey, safely, short, Wire, type Connection } from './connection';
import type { HubContext } from './context';
import { registerHubGauges } from './gauges';
import { FrameIntake } from './intake';
import { MatchRequests } from './matching';
import type { HubOptions } from './options';
import { DisplayNames } from './names';
import { Receipts } from './receipts';
import { Relay } from './relay';
import { Replica } from './replica';

const PROVIDER_ONLY = new Set<ClientMessage['type']>(['announce', 'status', 'display-name']);
const REQUESTER_ONLY = new Set<ClientMessage['type']>(['job-open', 'job-close', 'release', 'receipts', 'report']);

export class Hub {
  readonly shared: SharedState;
  readonly ledger: TrustLedger;
  private readonly ctx: HubContext;
  private readonly admission: Admission;
  private readonly intake: FrameIntake;
  private readonly replica: Replica;
  private readonly auth: Auth;
  private readonly matching: MatchRequests;
  private readonly relay: Relay;
  private readonly receipts: Receipts;
  private readonly names: DisplayNames;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private nextId = 1;
  private shuttingDown = false;
  /** Starts applying the shared log (a no-op in one process); the server awaits it before listening. */
  readonly startShared: () => Promise<void>;

  constructor(private readonly options: HubOptions) {
    const ledger = options.ledger ?? new TrustLedger({ now: options.now });
    this.ledger = ledger;
    const handlers = {
      apply: (op: SharedOp) =>
        this.safely('apply', () => {
          this.replica.apply(op);
          // A job of one of this instance's requesters opened or closed: the address's shared count follows.
          if ((op.op === 'job-open' || op.op === 'job-close') && op.instance === this.shared.instance) {
            const conn = this.ctx.byPeer.get(peerKey('requester', op.requester));
            if (conn) this.matching.jobsChanged(conn.ip);
          }
        }),
      deliver: (frame: RelayedFrame) => this.safely('relayed', () => this.relay.deliverRelayed(frame)),
      instancesHolding: () => this.replica.instancesHolding(),
      snapshot: () => this.replica.snapshot(),
      restore: (snapshot: ReplicaSnapshot) => this.replica.restore(snapshot),
    };
    if (options.shared) {
      this.shared = options.shared;
      this.startShared = () => options.shared!.start(handlers);
    } else {
      this.shared = new MemorySharedState(options.now, () => randomId(C.SESSION_ID_BYTES));
      this.startShared = async () => undefined;
    }
    this.ctx = {
      routes: { value: 0 },
      options,
      wire: new Wire(options, (conn, reason) => this.drop(conn, reason)),
      conns: new Set(),
      byPeer: new Map(),
      owners: new Map(),
      requestersByIp: new Map(),
      matchmaker: new Matchmaker((id) => ledger.reportWeight(id)),
      ledger,
      shared: this.shared,
    };
    this.relay = new Relay(this.ctx);
    this.admission = new Admission(this.ctx, this.shared.quotas(options.limits));
    this.replica = new Replica(this.ctx);
    this.auth = new Auth(this.ctx, this.replica);
    this.matching = new MatchRequests(this.ctx, this.replica, this.admission.quotas);
    this.receipts = new Receipts(this.ctx, this.replica, this.admission.quotas);
    this.names = new DisplayNames(this.ctx, this.replica);
    this.intake = new FrameIntake(options, this.ctx.wire, (conn, message, text) => this.handle(conn, message, text));
    if (this.shared instanceof MemorySharedState) this.shared.startNow(handlers);
    this.heartbeat = setInterval(() => this.safely('heartbeat', () => this.tick()), options.heartbeatMs);
    this.heartbeat.unref?.();
    registerHubGauges(options.metrics, this.ctx, () => this.connectionCounts());
  }

  connectionCounts(): Record<Role | 'unauthenticated', number> {
    const counts = { provider: 0, requester: 0, unauthenticated: 0 };
    for (const conn of this.ctx.conns) counts[conn.peerId && conn.role ? conn.role : 'unauthenticated']++;
    return counts;
  }

  /** This replica of the shared state as a snapshot keeps it (SPEC SCALE7). */
  replicaSnapshot(): ReplicaSnapshot {
    return this.replica.snapshot();
  }

  get connectionCount(): number {
    return this.ctx.conns.size;
  }

  /** Takes ownership of a freshly opened socket. */
  accept(socket: SignalingSocket): void {
    const { metrics, limits, now, log } = this.options;
    const { wire } = this.ctx;
    if (!this.admission.admitHere(socket)) return;
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
          wire.fail(conn, new ProtocolError('auth', 'challenge expired before auth', CloseCode.authFailed));
      }, this.options.nonceTtlMs),
    };
    conn.authTimer.unref?.();
    this.ctx.conns.add(conn);
    metrics.inc('signaling_connections_total');
    // safely() inlined: a closure per frame is an allocation on the relay's hot path.
    socket.onmessage = (frame) => {
      try {
        this.intake.onFrame(conn, frame);
      } catch (error) {
        log.error('hub-error', { where: 'frame', error });
      }
    };
    socket.onpong = () => {
      conn.missedPings = 0;
    };
    socket.onclose = (code, reason) =>
      this.safely('close', () => this.drop(conn, `socket closed ${code} ${reason}`.trim()));
    log.debug('connection-open', { conn: conn.id, ip: conn.ip });
    // Shared, this instance's count is a first line; the network's is checked before the challenge goes out.
    const quotas = this.admission.quotas;
    if (quotas)
      this.intake.waitFor(
        conn,
        this.admission.admitShared(conn, quotas).then(() => this.challenge(conn)),
      );
    else this.challenge(conn);
  }

  private challenge(conn: Connection): void {
    if (conn.closed) return;
    this.ctx.wire.send(conn, {
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
    for (const conn of [...this.ctx.conns]) this.ctx.wire.closeConn(conn, CloseCode.goingAway, 'server shutting down');
  }

  /** Returns a promise only when the handler has to wait (signature checks); the rest runs synchronously. */
  private handle(conn: Connection, message: ClientMessage, text?: string): Promise<void> | void {
    if (message.type === 'hello') return this.auth.onHello(conn, message);
    if (message.type === 'auth') return this.auth.onAuth(conn, message);
    const peerId = conn.peerId;
    if (!peerId || !conn.role)
      throw new ProtocolError('not-authenticated', `${message.type} before auth; send hello and auth first`);
    if (PROVIDER_ONLY.has(message.type) && conn.role !== 'provider')
      throw new ProtocolError('wrong-role', `${message.type} is for providers`);
    if (REQUESTER_ONLY.has(message.type) && conn.role !== 'requester')
      throw new ProtocolError('wrong-role', `${message.type} is for requesters`);
    switch (message.type) {
      case 'announce':
        return this.matching.announce(conn, peerId, message);
      case 'status':
        return this.matching.status(conn, peerId, message);
      case 'job-open':
        return this.matching.openJob(conn, peerId, message);
      case 'job-close':
        return this.matching.closeJob(conn, peerId, message);
      case 'release':
        return this.matching.release(conn, peerId, message);
      case 'receipts':
        return this.receipts.onReceipts(conn, peerId, message);
      case 'report':
        return this.receipts.onReport(conn, peerId, message);
      case 'display-name':
        return this.names.onDisplayName(conn, peerId, message);
      case 'signal':
        return this.relay.relay(conn, peerId, conn.role, message, text);
      case 'ping':
        return this.ctx.wire.send(conn, { type: 'pong', t: message.t });
    }
  }

  private drop(conn: Connection, reason: string): void {
    if (conn.closed) return;
    const { ctx } = this;
    conn.closed = true;
    clearTimeout(conn.authTimer);
    ctx.conns.delete(conn);
    this.admission.release(conn.ip, this.shuttingDown);
    const sameIp = ctx.requestersByIp.get(conn.ip);
    const wasRequester = sameIp?.delete(conn) ?? false;
    if (wasRequester && sameIp!.size === 0) ctx.requestersByIp.delete(conn.ip);
    // Its jobs stop counting for its address here (a stopping instance's counts lapse with its liveness).
    if (wasRequester && !this.shuttingDown) this.matching.jobsChanged(conn.ip);
    this.options.log.debug('connection-closed', { conn: conn.id, peer: conn.peerId && short(conn.peerId), reason });
    if (!conn.peerId || !conn.role) return;
    const key = peerKey(conn.role, conn.peerId);
    if (ctx.byPeer.get(key) !== conn) return;
    ctx.byPeer.delete(key);
    ctx.routes.value++;
    // A stop forgets everything; shared, the others hear it once, from the closing state (instance-gone).
    if (this.shuttingDown) return;
    this.replica.publishLeave({ op: 'leave', role: conn.role, peer: conn.peerId, conn: conn.id });
  }

  private tick(): void {
    for (const conn of [...this.ctx.conns]) {
      if (conn.missedPings >= C.HEARTBEAT_MISSES_ALLOWED) {
        this.options.log.info('heartbeat-timeout', { conn: conn.id, peer: conn.peerId && short(conn.peerId) });
        this.ctx.wire.closeConn(conn, CloseCode.heartbeatTimeout, 'heartbeat timeout');
        continue;
      }
      conn.missedPings++;
      conn.socket.ping();
    }
    this.admission.sweep((ip) => this.matching.jobsOfIp(ip));
    this.replica.retryLeaves();
    this.receipts.sweep();
    this.ledger.pairings.expire();
  }

  private safely(where: string, fn: () => void): void {
    safely(this.options.log, where, fn);
  }
}
