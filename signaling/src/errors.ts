/** Typed errors of the signaling server, in one place. */
import type { ErrorCode } from '@shared/protocol';

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

/** The receipt log file does not verify at start-up (SPEC CREDIT6): the server refuses to start. */
export class ReceiptLogFileError extends Error {
  override readonly name = 'ReceiptLogFileError';
  constructor(
    readonly path: string,
    /** 1-based line number of the first bad line. */
    readonly line: number,
    why: string,
  ) {
    super(
      `receipt log ${path}, line ${line}: ${why}. The file was edited or damaged; restore it from a backup, or move it away to start a new log.`,
    );
  }
}

/** A line other than a torn last one of a JSON-lines file (pairings, reports) does not parse (SPEC CREDIT12, REP5). */
export class JsonlFileError extends Error {
  override readonly name = 'JsonlFileError';
  constructor(
    readonly path: string,
    readonly line: number,
    why: string,
  ) {
    super(`${path}, line ${line}: ${why}. Restore it from a backup, or move it away.`);
  }
}

/** The shared receipt log moved on between reading its head and appending: read it again and retry. */
export class LogConflictError extends Error {
  override readonly name = 'LogConflictError';
}
