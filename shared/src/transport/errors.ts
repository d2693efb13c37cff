/**
 * Typed errors of the framed transport. Errors about one message carry its
 * stream and message id so the application can retry or report just that one;
 * the channel keeps working after them.
 */

export type TransportErrorCode = 'frame' | 'limit' | 'integrity' | 'closed' | 'channel';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  /** The stream and message the error is about, when it is about one. */
  readonly stream: number | undefined;
  readonly messageId: number | undefined;

  constructor(code: TransportErrorCode, message: string, where?: { stream?: number; messageId?: number }) {
    super(message);
    // Literal names: minifiers rename classes, and logs and tests match on these.
    this.name = 'TransportError';
    this.code = code;
    this.stream = where?.stream;
    this.messageId = where?.messageId;
  }
}

/** A frame that breaks the framing rules: bad version, bad header, chunk out of sequence. */
export class FrameError extends TransportError {
  constructor(message: string, where?: { stream?: number; messageId?: number }) {
    super('frame', message, where);
    this.name = 'FrameError';
  }
}

/** A message the receiver refuses before allocating: too large, too many at once, over the memory budget. */
export class LimitError extends TransportError {
  constructor(message: string, where?: { stream?: number; messageId?: number }) {
    super('limit', message, where);
    this.name = 'LimitError';
  }
}

/** A complete message whose bytes do not match the hash its sender declared. */
export class IntegrityError extends TransportError {
  constructor(message: string, where: { stream: number; messageId: number }) {
    super('integrity', message, where);
    this.name = 'IntegrityError';
  }
}

/** The channel closed: pending and later sends reject with this. */
export class ChannelClosedError extends TransportError {
  constructor(message = 'channel closed') {
    super('closed', message);
    this.name = 'ChannelClosedError';
  }
}

/** The underlying data channel failed (threw on send, or reported an error). */
export class ChannelFailedError extends TransportError {
  constructor(message: string) {
    super('channel', message);
    this.name = 'ChannelFailedError';
  }
}
