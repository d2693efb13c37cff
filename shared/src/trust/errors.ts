/** Typed errors of the trust core. `code` is stable; messages are for people. */

export type TrustErrorCode =
  | 'invalid-policy'
  | 'invalid-record'
  | 'invalid-receipt'
  | 'bad-signature'
  | 'wrong-recipient'
  | 'replay'
  | 'broken-chain'
  | 'quorum-state'
  | 'invalid-argument';

export class TrustError extends Error {
  readonly code: TrustErrorCode;
  constructor(code: TrustErrorCode, message: string) {
    super(message);
    this.name = 'TrustError';
    this.code = code;
  }
}

/** A job policy or reputation record failed validation. */
export class InvalidPolicyError extends TrustError {
  constructor(message: string) {
    super('invalid-policy', message);
    this.name = 'InvalidPolicyError';
  }
}

export class InvalidRecordError extends TrustError {
  constructor(message: string) {
    super('invalid-record', message);
    this.name = 'InvalidRecordError';
  }
}

/** A receipt that is malformed, mis-signed, for another key, or already seen. */
export class ReceiptError extends TrustError {
  constructor(code: 'invalid-receipt' | 'bad-signature' | 'wrong-recipient' | 'replay', message: string) {
    super(code, message);
    this.name = 'ReceiptError';
  }
}

/** The receipt log's hash chain does not verify. `index` is the first bad entry. */
export class ChainError extends TrustError {
  readonly index: number;
  constructor(index: number, message: string) {
    super('broken-chain', `entry ${index}: ${message}`);
    this.name = 'ChainError';
    this.index = index;
  }
}

/** An event that the unit's quorum state machine cannot take (result from a peer never dispatched, second result from one peer). */
export class QuorumStateError extends TrustError {
  constructor(message: string) {
    super('quorum-state', message);
    this.name = 'QuorumStateError';
  }
}

export class TrustArgumentError extends TrustError {
  constructor(message: string) {
    super('invalid-argument', message);
    this.name = 'TrustArgumentError';
  }
}
