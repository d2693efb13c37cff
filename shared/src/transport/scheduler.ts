/**
 * Sender side: which frame goes next. Messages on one stream leave in order,
 * one at a time; busy streams take turns one frame each (round-robin), and
 * the control stream goes before all of them. So a 50 MB model upload on one
 * stream delays a small message on another by at most one frame per busy
 * stream, not by the whole upload.
 */
import { CONTROL_STREAM } from './constants';
import { encodeFrame, frameCount } from './frame';

export interface OutgoingMessage<T> {
  stream: number;
  messageId: number;
  bytes: Uint8Array;
  hash: Uint8Array;
  /** Opaque to the scheduler: the caller's handle (e.g. the promise to settle). */
  tag: T;
}

interface Cursor<T> {
  message: OutgoingMessage<T>;
  nextChunk: number;
  chunks: number;
}

export interface ScheduledFrame<T> {
  frame: Uint8Array<ArrayBuffer>;
  stream: number;
  /** Set when this frame was the message's last: the whole message has left. */
  finished: OutgoingMessage<T> | undefined;
}

export class ChunkScheduler<T> {
  private readonly queues = new Map<number, Cursor<T>[]>();
  /** Non-control streams with queued messages, in turn order. */
  private readonly ring: number[] = [];
  private turn = 0;
  private queuedBytes = 0;

  enqueue(message: OutgoingMessage<T>): void {
    let queue = this.queues.get(message.stream);
    if (!queue) {
      queue = [];
      this.queues.set(message.stream, queue);
      if (message.stream !== CONTROL_STREAM) this.ring.push(message.stream);
    }
    queue.push({ message, nextChunk: 0, chunks: frameCount(message.bytes.length) });
    this.queuedBytes += message.bytes.length;
  }

  get hasPending(): boolean {
    return this.queues.size > 0;
  }

  /** Bytes of messages not yet fully framed (for stats and tests). */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  next(): ScheduledFrame<T> | undefined {
    const stream = this.pickStream();
    if (stream === undefined) return undefined;
    const queue = this.queues.get(stream)!;
    const cursor = queue[0]!;
    const { message } = cursor;
    const frame = encodeFrame(stream, message.messageId, cursor.nextChunk, message.bytes, message.hash);
    cursor.nextChunk++;
    if (cursor.nextChunk < cursor.chunks) return { frame, stream, finished: undefined };
    queue.shift();
    this.queuedBytes -= message.bytes.length;
    if (queue.length === 0) this.retire(stream);
    return { frame, stream, finished: message };
  }

  /** Removes everything queued and returns it, so the caller can reject the senders. */
  drain(): OutgoingMessage<T>[] {
    const all: OutgoingMessage<T>[] = [];
    for (const queue of this.queues.values()) for (const cursor of queue) all.push(cursor.message);
    this.queues.clear();
    this.ring.length = 0;
    this.turn = 0;
    this.queuedBytes = 0;
    return all;
  }

  private pickStream(): number | undefined {
    if (this.queues.has(CONTROL_STREAM)) return CONTROL_STREAM;
    if (this.ring.length === 0) return undefined;
    if (this.turn >= this.ring.length) this.turn = 0;
    const stream = this.ring[this.turn]!;
    // Advance now; retire() steps back if this stream leaves the ring.
    this.turn++;
    return stream;
  }

  private retire(stream: number): void {
    this.queues.delete(stream);
    if (stream === CONTROL_STREAM) return;
    const at = this.ring.indexOf(stream);
    this.ring.splice(at, 1);
    if (at < this.turn) this.turn--;
  }
}
