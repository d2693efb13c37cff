/** Errors of weight distribution. The codec's own (wrong base, hash mismatch, corrupt patch) are PulseErrors from shared/src/pulse. */
import type { WeightsErrorCode } from '@shared/protocol';

export class WeightsError extends Error {
  constructor(
    readonly code: WeightsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WeightsError';
  }
}
