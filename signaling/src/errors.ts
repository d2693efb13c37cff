/** Typed errors of the signaling server, in one place. */
import type { ErrorCode } from '../../shared/src/protocol/signaling';

/** A client broke a protocol rule; `code` is what goes back in the error frame. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** A close code when this error ends the connection. */
    readonly closeWith?: number,
  ) {
    super(message);
  }
}

/** Bad command-line flags or environment values. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
