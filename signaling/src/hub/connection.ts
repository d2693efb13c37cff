/**
 * A connection as the hub holds it, and the wire to it: sends, error frames,
 * strikes and closes (SPEC ABUSE1, SCALE3). Everything that writes to a client
 * goes through Wire, so the slow-consumer check and the counters are in one place.
 */
import { CloseCode, type ClientMessage, type ErrorCode, type Role, type ServerMessage } from '@shared/protocol';
import { ProtocolError } from '../errors';
import type { Logger } from '../log';
import type { Counter, Metrics } from '../metrics';
import type { TokenBucket } from '../rate-limit';
import { SharedStateUnavailable } from '../shared-state';
import type { SignalingSocket } from '../socket';
import type { HubLimits } from './options';

export interface Connection {
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
  /** The last signal's checked route to a peer held here, valid while the route epoch is unchanged. */
  route?: { to: string; jobId: string; target: Connection; epoch: number };
}

/** Which instance holds a peer's connection, and which connection there. */
export interface Owner {
  instance: string;
  conn: number;
}

export const peerKey = (role: Role, peerId: string) => `${role} ${peerId}`;

export function splitPeerKey(key: string): { role: Role; peer: string } {
  const space = key.indexOf(' ');
  return { role: key.slice(0, space) as Role, peer: key.slice(space + 1) };
}

export const short = (peerId: string) => peerId.slice(0, 8);

/** Refused because shared state is out of reach: not the client's fault (SPEC SCALE3). */
export function unavailable(what: string, closeWith?: number): ProtocolError {
  return new ProtocolError(
    'unavailable',
    `shared state is unreachable, so this server ${what} for now; retry, or use another server`,
    closeWith,
  );
}

/** Input must never crash the process (SPEC ABUSE3). */
export function safely(log: Logger, where: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    log.error('hub-error', { where, error });
  }
}

/** Hot-path counters, resolved once per message type (no label work per message). */
export function typedCounter(cache: Map<string, Counter>, metrics: Metrics, name: string, type: string): Counter {
  let counter = cache.get(type);
  if (!counter) cache.set(type, (counter = metrics.counter(name, { type })));
  return counter;
}

export interface WireOptions {
  limits: HubLimits;
  log: Logger;
  metrics: Metrics;
}

export class Wire {
  private readonly messagesOut = new Map<string, Counter>();

  constructor(
    private readonly options: WireOptions,
    /** Forgets a connection the wire closed: its transport may never report the close. */
    private readonly drop: (conn: Connection, reason: string) => void,
  ) {}

  /** A protocol violation that does not end the connection by itself; too many do (SPEC ABUSE1). */
  strike(conn: Connection, code: ErrorCode, message: string): void {
    this.sendError(conn, code, message);
    if (++conn.protocolStrikes > this.options.limits.protocolStrikes)
      this.closeConn(conn, CloseCode.policy, 'too many protocol errors');
  }

  fail(conn: Connection, error: unknown): void {
    if (conn.closed) return;
    // Not the client's fault: refused with its own code, no strike (SPEC SCALE3).
    if (error instanceof SharedStateUnavailable) error = unavailable(error.message);
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

  sendError(conn: Connection, code: ErrorCode, message: string): void {
    this.options.metrics.inc('signaling_errors_total', { code });
    this.send(conn, { type: 'error', code, message: message.slice(0, 1024) });
  }

  send(conn: Connection, message: ServerMessage): void {
    if (conn.closed) return;
    if (conn.socket.bufferedAmount > this.options.limits.maxBufferedBytes) {
      this.options.log.warn('slow-consumer', { conn: conn.id, buffered: conn.socket.bufferedAmount });
      return this.closeConn(conn, CloseCode.policy, 'not reading fast enough');
    }
    this.sendRaw(conn.socket, message);
  }

  sendRaw(socket: SignalingSocket, message: ServerMessage): void {
    socket.send(JSON.stringify(message));
    typedCounter(this.messagesOut, this.options.metrics, 'signaling_messages_out_total', message.type).inc();
  }

  /** Sends a frame already serialised (a relayed signal's text, RELAY4), with send()'s checks and counting. */
  sendText(conn: Connection, text: string, type: ServerMessage['type']): void {
    if (conn.closed) return;
    if (conn.socket.bufferedAmount > this.options.limits.maxBufferedBytes) {
      this.options.log.warn('slow-consumer', { conn: conn.id, buffered: conn.socket.bufferedAmount });
      return this.closeConn(conn, CloseCode.policy, 'not reading fast enough');
    }
    conn.socket.send(text);
    typedCounter(this.messagesOut, this.options.metrics, 'signaling_messages_out_total', type).inc();
  }

  closeConn(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    this.options.metrics.inc('signaling_closes_total', { code: String(code) });
    conn.socket.close(code, reason.slice(0, 120));
    // Forget the connection now: its transport may never report the close.
    this.drop(conn, reason);
  }
}
