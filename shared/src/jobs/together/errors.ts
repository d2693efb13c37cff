/** Why a contribution, a round patch or a round event was refused; `code` survives postMessage. */
export type TogetherErrorCode = 'contribution' | 'patch' | 'round' | 'config';

export class TogetherError extends Error {
  constructor(
    readonly code: TogetherErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TogetherError';
  }
}

/** A contribution's bytes are malformed, forged or for another job's shape. */
export class ContributionError extends TogetherError {
  constructor(message: string) {
    super('contribution', message);
    this.name = 'ContributionError';
  }
}

/** A round patch does not decode, or does not rebuild the version it names. */
export class RoundPatchError extends TogetherError {
  constructor(message: string) {
    super('patch', message);
    this.name = 'RoundPatchError';
  }
}

/** Training ahead was called off (the job closed, or the round it trained for will not come). */
export class AheadDroppedError extends TogetherError {
  constructor() {
    super('round', 'training ahead was dropped');
    this.name = 'AheadDroppedError';
  }
}
