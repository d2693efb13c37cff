/** Typed errors of the RL job's pure core; the code survives postMessage. */
export type RlErrorCode = 'task' | 'jsonl' | 'vocab' | 'config' | 'policy';

export class RlError extends Error {
  constructor(
    readonly code: RlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RlError';
  }
}
