/**
 * An in-memory SignalingSocket for unit tests: the hub talks to `socket`, the test
 * plays the client through `deliver*` and reads what the hub sent with `take`.
 */
import { decodeServerMessage, type ServerMessage, type ServerMessageOf } from '@shared/protocol';
import type { IncomingFrame, SignalingSocket } from '../socket';

export class MemorySocket implements SignalingSocket {
  bufferedAmount = 0;
  onmessage: ((frame: IncomingFrame) => void) | null = null;
  onpong: (() => void) | null = null;
  onclose: ((code: number, reason: string) => void) | null = null;
  /** Every frame the hub sent, decoded; unparseable ones fail the test in take(). */
  readonly sent: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  /** Set false to play a dead peer that never answers pings. */
  answerPings = true;
  pings = 0;
  private readonly taken = new Set<number>();
  private readonly waiters = new Set<() => void>();

  constructor(readonly remoteAddress = '127.0.0.1') {}

  send(text: string): void {
    if (this.closed) return;
    const decoded = decodeServerMessage(text);
    if (!decoded.ok) throw new Error(`server sent an invalid frame: ${decoded.error}: ${text.slice(0, 200)}`);
    this.sent.push(decoded.message);
    this.notify();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    queueMicrotask(() => this.onclose?.(code, reason));
    this.notify();
  }

  ping(): void {
    this.pings++;
    if (this.answerPings && !this.closed) queueMicrotask(() => this.onpong?.());
  }

  // ---------------------------------------------------------------- client side

  deliver(message: unknown): void {
    this.deliverText(JSON.stringify(message));
  }

  deliverText(text: string): void {
    if (this.closed) return;
    this.onmessage?.({ kind: 'text', text, bytes: Buffer.byteLength(text) });
  }

  deliverBinary(bytes: number): void {
    if (this.closed) return;
    this.onmessage?.({ kind: 'binary', bytes });
  }

  /** The client goes away (tab closed). */
  disconnect(): void {
    if (this.closed) return;
    this.closed = { code: 1006, reason: 'client gone' };
    this.onclose?.(1006, 'client gone');
  }

  /** The next not-yet-taken frame of `type` (optionally matching `filter`), waiting for it if needed. */
  async take<T extends ServerMessage['type']>(
    type: T,
    filter: (m: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<ServerMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.sent.findIndex(
        (m, i) => !this.taken.has(i) && m.type === type && filter(m as ServerMessageOf<T>),
      );
      if (index >= 0) {
        this.taken.add(index);
        return this.sent[index] as ServerMessageOf<T>;
      }
      if (Date.now() > deadline)
        throw new Error(`no ${type} frame; got ${JSON.stringify(this.sent.map((m) => m.type))}`);
      await this.changed(deadline - Date.now());
    }
  }

  /** Resolves when the hub closes this socket; returns the close code. */
  async closedWith(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline)
        throw new Error(`socket not closed; got ${JSON.stringify(this.sent.map((m) => m.type))}`);
      await this.changed(deadline - Date.now());
    }
    return this.closed.code;
  }

  /** Frames of `type` sent so far. */
  all<T extends ServerMessage['type']>(type: T): ServerMessageOf<T>[] {
    return this.sent.filter((m) => m.type === type) as ServerMessageOf<T>[];
  }

  private changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, timeoutMs));
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
