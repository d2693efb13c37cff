/**
 * Messages of any size on numbered streams over one RTCDataChannel, with real
 * backpressure: frames go to the channel only while its `bufferedAmount` is
 * under the high-water mark, then we wait for `bufferedamountlow`. So the
 * browser's send queue never fills, and the scheduler (not the channel's FIFO)
 * decides what leaves next, which keeps control messages ahead of bulk ones.
 */
import {
  BUFFERED_AMOUNT_LOW_THRESHOLD,
  ChannelClosedError,
  ChannelFailedError,
  ChunkScheduler,
  DEFAULT_MAX_PARTIAL_BYTES,
  LimitError,
  HIGH_WATER_MARK_BYTES,
  MAX_WIRE_MESSAGE_BYTES,
  Reassembler,
  TransportError,
  assertStreamId,
  type FramedMessage,
  type MessageHasher,
  type ReceiveLimits,
} from '@shared/transport';
import type { DataChannelLike } from './data-channel';
import { messageOf } from '@shared/errors';

export type { FramedMessage };

export interface FramedChannelOptions {
  /** Stop handing frames to the channel above this many buffered bytes. */
  highWaterMark?: number;
  /** Resume when the channel's buffer drains to this (sets `bufferedAmountLowThreshold`). */
  lowWaterMark?: number;
  /** Receive limits against an untrusted peer. */
  limits?: Partial<ReceiveLimits>;
  /** Frames that arrived before this object took the channel over, in order. */
  earlyFrames?: readonly ArrayBuffer[];
}

export interface FramedChannelStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  errors: number;
}

type Settle = { resolve: () => void; reject: (error: Error) => void };
type Listener<T> = (value: T) => void;

export class FramedChannel {
  readonly stats: FramedChannelStats = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    errors: 0,
  };
  private readonly scheduler = new ChunkScheduler<Settle>();
  private readonly reassembler: Reassembler;
  private readonly highWaterMark: number;
  private readonly messageListeners = new Set<Listener<FramedMessage>>();
  private readonly errorListeners = new Set<Listener<TransportError>>();
  private readonly closeListeners = new Set<Listener<TransportError | undefined>>();
  private nextMessageId = 0;
  private pumpQueued = false;
  private closedWith: { reason: TransportError | undefined } | undefined;
  private readonly held: FramedMessage[] = [];
  private heldBytes = 0;
  private readonly holdLimit: number;

  constructor(
    /** The underlying channel; this object owns its handlers from now on. */
    readonly channel: DataChannelLike,
    private readonly hasher: MessageHasher,
    options: FramedChannelOptions = {},
  ) {
    this.highWaterMark = options.highWaterMark ?? HIGH_WATER_MARK_BYTES;
    this.reassembler = new Reassembler(hasher, options.limits);
    this.holdLimit = options.limits?.maxPartialBytes ?? DEFAULT_MAX_PARTIAL_BYTES;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = Math.min(
      options.lowWaterMark ?? BUFFERED_AMOUNT_LOW_THRESHOLD,
      this.highWaterMark,
    );
    channel.onbufferedamountlow = () => this.pump();
    channel.onmessage = (event) => this.receive(event.data);
    channel.onclose = () => this.finish(undefined);
    channel.onerror = (event) =>
      this.finish(isPeerClose(event) ? undefined : new ChannelFailedError(describeChannelError(event)));
    for (const frame of options.earlyFrames ?? []) this.receive(frame);
    if (channel.readyState === 'closing' || channel.readyState === 'closed') this.finish(undefined);
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  /** Bytes queued in this object and in the data channel, not yet on the wire. */
  get bufferedAmount(): number {
    return this.scheduler.pendingBytes + (this.isOpen ? this.channel.bufferedAmount : 0);
  }

  /**
   * Queues a message on a stream. Resolves when its last frame has been handed
   * to the data channel (the browser then owns delivery), rejects with
   * ChannelClosedError if the channel closes first. The bytes must not change
   * until then: they are framed lazily, without a copy of the whole message.
   */
  send(stream: number, bytes: Uint8Array): Promise<void> {
    assertStreamId(stream);
    if (this.closedWith) return Promise.reject(this.closedWith.reason ?? new ChannelClosedError());
    if (bytes.length > MAX_WIRE_MESSAGE_BYTES)
      return Promise.reject(
        new RangeError(`message of ${bytes.length} bytes exceeds the wire limit of ${MAX_WIRE_MESSAGE_BYTES}`),
      );
    return new Promise<void>((resolve, reject) => {
      const messageId = this.nextMessageId;
      this.nextMessageId = (this.nextMessageId + 1) >>> 0;
      this.scheduler.enqueue({ stream, messageId, bytes, hash: this.hasher.digest(bytes), tag: { resolve, reject } });
      this.schedulePump();
    });
  }

  /**
   * Every complete, hash-checked message, on any stream. Returns an unsubscribe
   * function. Messages that arrive while no listener is subscribed (e.g. the
   * peer spoke first, before `ready` resolved here) are held, up to the
   * partial-bytes limit, and delivered in order, in a microtask, to the
   * listeners subscribed by then.
   */
  onMessage(listener: Listener<FramedMessage>): () => void {
    const off = subscribe(this.messageListeners, listener);
    if (this.held.length > 0) queueMicrotask(() => this.releaseHeld());
    return off;
  }

  /** Errors about one message (integrity, limits, framing); the channel stays open. */
  onError(listener: Listener<TransportError>): () => void {
    return subscribe(this.errorListeners, listener);
  }

  /** Called once when the channel closes; `reason` is set when it failed. */
  onClose(listener: Listener<TransportError | undefined>): () => void {
    if (this.closedWith) {
      const reason = this.closedWith.reason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    return subscribe(this.closeListeners, listener);
  }

  /** Resolves with the next message on `stream` (convenience for request/response code and tests). */
  nextMessage(stream: number): Promise<FramedMessage> {
    return new Promise((resolve, reject) => {
      const offMessage = this.onMessage((message) => {
        if (message.stream !== stream) return;
        done();
        resolve(message);
      });
      const offClose = this.onClose((reason) => {
        done();
        reject(reason ?? new ChannelClosedError());
      });
      const done = () => {
        offMessage();
        offClose();
      };
    });
  }

  close(): void {
    if (this.closedWith) return;
    this.finish(undefined);
    this.channel.close();
  }

  /** Batches synchronous send() calls into one scheduling pass, so priority applies among them. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closedWith && this.scheduler.hasPending && this.channel.bufferedAmount <= this.highWaterMark) {
      const next = this.scheduler.next()!;
      try {
        this.channel.send(next.frame);
      } catch (error) {
        this.finish(new ChannelFailedError(`data channel send failed: ${messageOf(error)}`));
        next.finished?.tag.reject(this.closedWith!.reason!);
        return;
      }
      this.stats.framesSent++;
      this.stats.bytesSent += next.frame.length;
      if (next.finished) {
        this.stats.messagesSent++;
        next.finished.tag.resolve();
      }
    }
    // Otherwise `bufferedamountlow` calls pump() again: bufferedAmount is above
    // the low threshold now, so the event is due when it drains.
  }

  private receive(data: unknown): void {
    if (this.closedWith) return;
    if (!(data instanceof ArrayBuffer)) {
      this.report(new TransportError('frame', `expected a binary frame, got ${typeof data}`));
      return;
    }
    this.stats.framesReceived++;
    this.stats.bytesReceived += data.byteLength;
    const result = this.reassembler.push(new Uint8Array(data));
    if (result.kind === 'message') {
      this.stats.messagesReceived++;
      this.deliver(result.message);
    } else if (result.kind === 'error') {
      this.report(result.error);
    }
  }

  private deliver(message: FramedMessage): void {
    if (this.messageListeners.size > 0 && this.held.length === 0) {
      for (const listener of this.messageListeners) listener(message);
      return;
    }
    if (this.heldBytes + message.bytes.length > this.holdLimit) {
      this.report(
        new LimitError(
          `message ${message.messageId} dropped: ${this.heldBytes} bytes already wait for a listener`,
          message,
        ),
      );
      return;
    }
    this.held.push(message);
    this.heldBytes += message.bytes.length;
  }

  private releaseHeld(): void {
    if (this.messageListeners.size === 0) return;
    const held = this.held.splice(0);
    this.heldBytes = 0;
    for (const message of held) for (const listener of this.messageListeners) listener(message);
  }

  private report(error: TransportError): void {
    this.stats.errors++;
    for (const listener of this.errorListeners) listener(error);
  }

  private finish(reason: TransportError | undefined): void {
    if (this.closedWith) return;
    this.closedWith = { reason };
    const closed = reason ?? new ChannelClosedError();
    for (const message of this.scheduler.drain()) message.tag.reject(closed);
    this.channel.onbufferedamountlow = null;
    this.channel.onmessage = null;
    for (const listener of this.closeListeners) listener(reason);
    this.closeListeners.clear();
  }
}

function subscribe<T>(set: Set<Listener<T>>, listener: Listener<T>): () => void {
  set.add(listener);
  return () => set.delete(listener);
}

/**
 * Chromium reports the peer's close() as an error event (SCTP ABORT with
 * cause 12, "User-Initiated Abort, reason=Close called") just before the
 * close event, as the WebRTC platform tests expect: a close, not a failure.
 * Which of the two events the channel saw first decided the send error.
 */
function isPeerClose(event: RTCErrorEvent): boolean {
  return event.error?.errorDetail === 'sctp-failure' && event.error.sctpCauseCode === 12;
}

function describeChannelError(event: RTCErrorEvent): string {
  return `data channel error: ${event.error?.message ?? event.type}`;
}
