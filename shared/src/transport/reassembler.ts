/**
 * Receiver side: frames back into messages. The peer is untrusted, so every
 * frame is checked against the message it claims to continue, and a message's
 * declared size is checked against the limits before its buffer is allocated.
 * Nothing here throws: each frame yields nothing, a message, or a typed error
 * about one message, and the channel carries on.
 */
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_MAX_PARTIAL_MESSAGES } from './constants';
import { FrameError, IntegrityError, LimitError, TransportError } from './errors';
import { chunkOffset, decodeFrame, FrameFlag, type DecodedFrame } from './frame';
import { sameHash, type MessageHasher } from './hash';

export interface ReceiveLimits {
  maxMessageBytes: number;
  maxPartialMessages: number;
  maxPartialBytes: number;
}

export const DEFAULT_RECEIVE_LIMITS: ReceiveLimits = {
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxPartialMessages: DEFAULT_MAX_PARTIAL_MESSAGES,
  maxPartialBytes: DEFAULT_MAX_PARTIAL_BYTES,
};

export interface FramedMessage {
  stream: number;
  messageId: number;
  /** The whole message, in its own buffer (byteOffset 0). */
  bytes: Uint8Array<ArrayBuffer>;
}

export type ReassemblyResult =
  | { kind: 'pending' }
  | { kind: 'message'; message: FramedMessage }
  | { kind: 'error'; error: TransportError };

interface InProgress {
  messageId: number;
  hash: Uint8Array;
  buffer: Uint8Array<ArrayBuffer>;
  nextChunk: number;
  received: number;
}

const PENDING: ReassemblyResult = { kind: 'pending' };

export class Reassembler {
  private readonly partials = new Map<number, InProgress>();
  /** Per stream, a message refused on its first frame whose later frames we drop quietly. */
  private readonly skipping = new Map<number, number>();
  private reservedBytes = 0;
  private readonly limits: ReceiveLimits;

  constructor(
    private readonly hasher: MessageHasher,
    limits: Partial<ReceiveLimits> = {},
  ) {
    this.limits = { ...DEFAULT_RECEIVE_LIMITS, ...limits };
  }

  /** Bytes currently reserved by incomplete messages. */
  get partialBytes(): number {
    return this.reservedBytes;
  }

  get partialCount(): number {
    return this.partials.size;
  }

  push(raw: Uint8Array): ReassemblyResult {
    let frame: DecodedFrame;
    try {
      frame = decodeFrame(raw);
    } catch (error) {
      return { kind: 'error', error: error as FrameError };
    }
    return frame.chunkIndex === 0 ? this.start(frame) : this.continue(frame);
  }

  private start(frame: DecodedFrame): ReassemblyResult {
    const { stream, messageId, totalLength } = frame;
    const where = { stream, messageId };
    this.skipping.delete(stream);
    const previous = this.partials.get(stream);
    if (previous) {
      // Ordered delivery and one-message-at-a-time per stream make this a broken sender.
      this.drop(stream);
      if ((frame.flags & FrameFlag.last) === 0) this.skipping.set(stream, messageId);
      return {
        kind: 'error',
        error: new FrameError(
          `message ${messageId} started on stream ${stream} before message ${previous.messageId} finished`,
          where,
        ),
      };
    }
    const refuse = this.refusal(frame);
    if (refuse) {
      if ((frame.flags & FrameFlag.last) === 0) this.skipping.set(stream, messageId);
      return { kind: 'error', error: refuse };
    }
    if (frame.payload.length > totalLength)
      return {
        kind: 'error',
        error: new FrameError(
          `first frame carries ${frame.payload.length} bytes of a ${totalLength}-byte message`,
          where,
        ),
      };
    if ((frame.flags & FrameFlag.last) !== 0) {
      if (frame.payload.length !== totalLength)
        return {
          kind: 'error',
          error: new FrameError(`single-frame message carries ${frame.payload.length} of ${totalLength} bytes`, where),
        };
      return this.finish(stream, messageId, frame.hash!, frame.payload.slice());
    }
    if (frame.payload.length === 0)
      return { kind: 'error', error: new FrameError('a frame before the last must carry bytes', where) };
    const buffer = new Uint8Array(totalLength);
    buffer.set(frame.payload, 0);
    this.partials.set(stream, {
      messageId,
      hash: frame.hash!.slice(),
      buffer,
      nextChunk: 1,
      received: frame.payload.length,
    });
    this.reservedBytes += totalLength;
    return PENDING;
  }

  /** Why a new message is refused before allocating, if it is. */
  private refusal(frame: DecodedFrame): TransportError | undefined {
    const { stream, messageId, totalLength } = frame;
    const where = { stream, messageId };
    const { maxMessageBytes, maxPartialMessages, maxPartialBytes } = this.limits;
    if (totalLength > maxMessageBytes)
      return new LimitError(`message of ${totalLength} bytes exceeds the ${maxMessageBytes}-byte limit`, where);
    if ((frame.flags & FrameFlag.last) !== 0) return undefined; // complete in this frame: nothing to reserve
    if (this.partials.size >= maxPartialMessages)
      return new LimitError(`more than ${maxPartialMessages} messages in progress at once`, where);
    if (this.reservedBytes + totalLength > maxPartialBytes)
      return new LimitError(
        `message of ${totalLength} bytes would put in-progress messages over ${maxPartialBytes} bytes`,
        where,
      );
    return undefined;
  }

  private continue(frame: DecodedFrame): ReassemblyResult {
    const { stream, messageId, chunkIndex, totalLength, payload } = frame;
    const where = { stream, messageId };
    const last = (frame.flags & FrameFlag.last) !== 0;
    if (this.skipping.get(stream) === messageId) {
      if (last) this.skipping.delete(stream);
      return PENDING;
    }
    const partial = this.partials.get(stream);
    if (!partial || partial.messageId !== messageId) {
      // A stream carries one message at a time, so the one in progress is broken too.
      this.drop(stream);
      return {
        kind: 'error',
        error: new FrameError(
          `frame ${chunkIndex} of message ${messageId} on stream ${stream} continues no message in progress`,
          where,
        ),
      };
    }
    const fail = (why: string): ReassemblyResult => {
      this.drop(stream);
      if (!last) this.skipping.set(stream, messageId);
      return { kind: 'error', error: new FrameError(why, where) };
    };
    if (chunkIndex !== partial.nextChunk) return fail(`frame ${chunkIndex} arrived where ${partial.nextChunk} was due`);
    if (totalLength !== partial.buffer.length)
      return fail(`frame declares ${totalLength} bytes, message declared ${partial.buffer.length}`);
    const offset = chunkOffset(chunkIndex);
    if (offset !== partial.received)
      return fail(`frame ${chunkIndex} starts at ${offset}, ${partial.received} bytes received`);
    if (offset + payload.length > totalLength)
      return fail(`frame ${chunkIndex} runs past the ${totalLength}-byte message`);
    if (last ? offset + payload.length !== totalLength : payload.length === 0)
      return fail(last ? 'last frame leaves the message short' : 'a frame before the last must carry bytes');
    partial.buffer.set(payload, offset);
    partial.received += payload.length;
    partial.nextChunk++;
    if (!last) return PENDING;
    this.drop(stream);
    return this.finish(stream, messageId, partial.hash, partial.buffer);
  }

  private finish(
    stream: number,
    messageId: number,
    hash: Uint8Array,
    bytes: Uint8Array<ArrayBuffer>,
  ): ReassemblyResult {
    if (!sameHash(this.hasher.digest(bytes), hash)) {
      return {
        kind: 'error',
        error: new IntegrityError(
          `message ${messageId} on stream ${stream} (${bytes.length} bytes) does not match its hash`,
          { stream, messageId },
        ),
      };
    }
    return { kind: 'message', message: { stream, messageId, bytes } };
  }

  private drop(stream: number): void {
    const partial = this.partials.get(stream);
    if (!partial) return;
    this.partials.delete(stream);
    this.reservedBytes -= partial.buffer.length;
  }
}
