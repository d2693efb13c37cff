/**
 * Frame intake: message rate, frame size and decoding are checked before a
 * frame reaches a handler, and frames are handled strictly in order (SPEC
 * RATE3, RATE6, ABUSE1).
 */
import { CloseCode, MAX_FRAME_BYTES, decodeClientMessage, type ClientMessage } from '@shared/protocol';
import type { Counter } from '../metrics';
import type { IncomingFrame } from '../socket';
import { safely, typedCounter, type Connection, type Wire } from './connection';
import type { HubOptions } from './options';

/**
 * Handles one message; returns a promise only when it has to wait. `text` is the
 * frame it was decoded from, when at hand (the relay forwards a signal's text, RELAY4).
 */
export type MessageHandler = (conn: Connection, message: ClientMessage, text?: string) => Promise<void> | void;

export class FrameIntake {
  private readonly messagesIn = new Map<string, Counter>();

  constructor(
    private readonly options: HubOptions,
    private readonly wire: Wire,
    private readonly handle: MessageHandler,
  ) {}

  onFrame(conn: Connection, frame: IncomingFrame): void {
    if (conn.closed) return;
    const { limits, metrics } = this.options;
    const wire = this.wire;
    conn.missedPings = 0;
    if (!conn.bucket.take()) {
      metrics.inc('signaling_rate_limited_total', { scope: 'messages' });
      if (++conn.rateStrikes > limits.rateLimitStrikes) return wire.closeConn(conn, CloseCode.policy, 'rate limited');
      return wire.sendError(conn, 'rate-limited', 'too many messages; slow down');
    }
    conn.rateStrikes = 0;
    if (frame.kind === 'binary')
      return wire.strike(conn, 'invalid', 'binary frames are not part of the protocol; send JSON text');
    if (frame.bytes > MAX_FRAME_BYTES) {
      if (++conn.oversizeStrikes > limits.oversizeStrikes)
        return wire.closeConn(conn, CloseCode.tooBig, 'frames too large');
      return wire.sendError(conn, 'too-large', `frame of ${frame.bytes} bytes exceeds ${MAX_FRAME_BYTES}`);
    }
    const decoded = decodeClientMessage(frame.text);
    if (!decoded.ok) return wire.strike(conn, decoded.code, decoded.error);
    const message = decoded.message;
    typedCounter(this.messagesIn, metrics, 'signaling_messages_in_total', message.type).inc();
    // Frames are handled strictly in order. Nothing in flight: handle now. Otherwise
    // wait behind the async handler (auth, receipts); past the cap refuse this frame
    // alone — a burst the message bucket admitted never closes the connection (SPEC RATE6).
    if (conn.inFlight) {
      if (conn.backlog.length >= limits.maxPendingFrames) {
        metrics.inc('signaling_rate_limited_total', { scope: 'pending' });
        return wire.sendError(conn, 'rate-limited', 'too many frames waiting behind a slow one; slow down');
      }
      conn.backlog.push(message);
      return;
    }
    this.run(conn, message, frame.text);
  }

  /** Handles one message; when its handler goes async, later frames wait in the backlog until it settles. */
  private run(conn: Connection, message: ClientMessage, text?: string): void {
    let pending: Promise<void> | void;
    try {
      pending = this.handle(conn, message, text);
    } catch (error) {
      return this.wire.fail(conn, error);
    }
    if (pending) this.waitFor(conn, pending);
  }

  /** Holds the connection's frames in its backlog until `pending` settles; a rejection fails the connection. */
  waitFor(conn: Connection, pending: Promise<void>): void {
    conn.inFlight = true;
    const log = this.options.log;
    pending.then(
      () => safely(log, 'drain', () => this.drain(conn)),
      (error: unknown) =>
        safely(log, 'drain', () => {
          this.wire.fail(conn, error);
          this.drain(conn);
        }),
    );
  }

  private drain(conn: Connection): void {
    conn.inFlight = false;
    while (!conn.closed && !conn.inFlight && conn.backlog.length) this.run(conn, conn.backlog.shift()!);
    if (conn.closed) conn.backlog.length = 0;
  }
}
