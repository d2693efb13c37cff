/**
 * Every failure the PULSE codec reports. Callers branch on the class (or on
 * `code`, which survives structured cloning to and from workers); messages are
 * for humans. Input from peers is untrusted, so anything a patch can make go
 * wrong ends in one of these, never in a RangeError from deep inside.
 */

export type PulseErrorCode =
  | 'invalid-model'
  | 'corrupt-patch'
  | 'unsupported-version'
  | 'limit-exceeded'
  | 'wrong-base'
  | 'hash-mismatch'
  | 'no-path';

export class PulseError extends Error {
  readonly code: PulseErrorCode;
  constructor(code: PulseErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A model given to diff/snapshot/apply is malformed (length ≠ shape, wrong array type, duplicate names). */
export class InvalidModelError extends PulseError {
  constructor(message: string) {
    super('invalid-model', message);
  }
}

/** The bytes are not a well-formed PULSE container (bad magic, truncated, out-of-range values). */
export class CorruptPatchError extends PulseError {
  constructor(message: string) {
    super('corrupt-patch', message);
  }
}

/** The container announces a format version this build does not read. */
export class UnsupportedVersionError extends PulseError {
  readonly version: number;
  constructor(version: number) {
    super('unsupported-version', `PULSE container version ${version} is not supported`);
    this.version = version;
  }
}

/** A size declared in the header exceeds the receiver's limits (checked before allocating). */
export class LimitExceededError extends PulseError {
  readonly limit: string;
  constructor(limit: string, value: number, max: number) {
    super('limit-exceeded', `${limit} = ${value} exceeds the limit ${max}`);
    this.limit = limit;
  }
}

/** The patch was diffed against a different model than the one it is applied to. */
export class WrongBaseError extends PulseError {
  constructor(message: string) {
    super('wrong-base', message);
  }
}

/** The reconstructed model does not hash to the hash the patch promised. */
export class HashMismatchError extends PulseError {
  constructor(expected: string, actual: string) {
    super('hash-mismatch', `result hash ${actual} does not match the patch's ${expected}`);
  }
}

/** The chain planner found no sequence of patches/anchors reaching the target. */
export class NoPathError extends PulseError {
  constructor(message: string) {
    super('no-path', message);
  }
}
