/**
 * An in-memory pair of data channels for tests: frames queue on the sending
 * side and count towards `bufferedAmount` until the simulated link delivers
 * them, `bufferedamountlow` fires when the buffer drains past the threshold,
 * and send() throws like Chromium's "send queue is full" past `capacity`.
 * Delivery is manual (`flush`) for step-by-step tests, or automatic at a
 * fixed number of bytes per timer tick.
 */
import type { DataChannelLike } from './data-channel';

export interface MemoryLinkOptions {
  /** Deliver automatically this many bytes per direction per timer tick; 0 = only on flush(). */
  bytesPerTick?: number;
  /** send() throws once bufferedAmount would exceed this (Chromium: 16 MiB). */
  capacity?: number;
  /** Sees each frame in flight; return a replacement, or null to drop it. */
  intercept?: (frame: Uint8Array<ArrayBuffer>, from: MemoryDataChannel) => Uint8Array<ArrayBuffer> | null;
}

export const CHROMIUM_SEND_QUEUE_BYTES = 16 * 1024 * 1024;

export class MemoryDataChannel implements DataChannelLike {
  readyState: RTCDataChannelState = 'open';
  binaryType: BinaryType = 'blob';
  bufferedAmountLowThreshold = 0;
  onbufferedamountlow: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: Event) => void) | null = null;
  onerror: ((event: RTCErrorEvent) => void) | null = null;
  /** Highest bufferedAmount ever reached: tests check backpressure with it. */
  peakBufferedAmount = 0;
  sendCalls = 0;
  peer!: MemoryDataChannel;
  private readonly outbox: Uint8Array<ArrayBuffer>[] = [];
  private buffered = 0;

  constructor(private readonly link: MemoryLink) {}

  get bufferedAmount(): number {
    return this.buffered;
  }

  send(data: Uint8Array<ArrayBuffer>): void {
    if (this.readyState !== 'open') throw new Error(`InvalidStateError: channel is ${this.readyState}`);
    if (this.buffered + data.byteLength > this.link.capacity) throw new Error('OperationError: send queue is full');
    this.sendCalls++;
    // A real channel serializes on send: later writes to `data` must not show.
    this.outbox.push(data.slice());
    this.buffered += data.byteLength;
    this.peakBufferedAmount = Math.max(this.peakBufferedAmount, this.buffered);
    this.link.wake();
  }

  close(): void {
    this.link.close();
  }

  /** Delivers up to `maxBytes` of queued frames to the peer; returns the bytes delivered. */
  deliver(maxBytes: number): number {
    let moved = 0;
    while (this.outbox.length > 0 && moved < maxBytes && this.readyState === 'open') {
      const frame = this.outbox.shift()!;
      const before = this.buffered;
      this.buffered -= frame.byteLength;
      moved += frame.byteLength;
      const arriving = this.link.intercept ? this.link.intercept(frame, this) : frame;
      if (arriving) this.peer.onmessage?.({ data: arriving.buffer } as MessageEvent);
      if (before > this.bufferedAmountLowThreshold && this.buffered <= this.bufferedAmountLowThreshold) {
        this.onbufferedamountlow?.(new Event('bufferedamountlow'));
      }
    }
    return moved;
  }

  get queuedFrames(): number {
    return this.outbox.length;
  }

  /** @internal */
  shut(): void {
    this.readyState = 'closed';
    this.outbox.length = 0;
    this.buffered = 0;
    this.onclose?.(new Event('close'));
  }
}

export class MemoryLink {
  readonly a: MemoryDataChannel;
  readonly b: MemoryDataChannel;
  readonly capacity: number;
  readonly intercept: MemoryLinkOptions['intercept'];
  private readonly bytesPerTick: number;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: MemoryLinkOptions = {}) {
    this.capacity = options.capacity ?? CHROMIUM_SEND_QUEUE_BYTES;
    this.bytesPerTick = options.bytesPerTick ?? 0;
    this.intercept = options.intercept;
    this.a = new MemoryDataChannel(this);
    this.b = new MemoryDataChannel(this);
    this.a.peer = this.b;
    this.b.peer = this.a;
  }

  /** Delivers everything queued both ways (including what delivery itself causes to be sent), up to `maxBytes` per direction per round. */
  flush(maxBytes = Infinity): number {
    let total = 0;
    for (;;) {
      const moved = this.a.deliver(maxBytes) + this.b.deliver(maxBytes);
      total += moved;
      if (moved === 0 || maxBytes !== Infinity) return total;
    }
  }

  close(): void {
    if (this.a.readyState === 'closed') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    // Like the browser: close events arrive as tasks, on both ends.
    setTimeout(() => {
      this.a.shut();
      this.b.shut();
    }, 0);
    this.a.readyState = 'closing';
    this.b.readyState = 'closing';
  }

  /** @internal */
  wake(): void {
    if (this.bytesPerTick <= 0 || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const moved = this.a.deliver(this.bytesPerTick) + this.b.deliver(this.bytesPerTick);
      if (moved > 0 || this.a.queuedFrames + this.b.queuedFrames > 0) this.wake();
    }, 0);
  }
}
