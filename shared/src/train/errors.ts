/** Typed errors of the training engine; `code` survives postMessage (the class does not). */

export type TrainErrorCode = 'config' | 'state' | 'data' | 'tokenizer' | 'backend';

export class TrainError extends Error {
  constructor(
    readonly code: TrainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TrainError';
  }
}

export class TrainConfigError extends TrainError {
  constructor(message: string) {
    super('config', message);
    this.name = 'TrainConfigError';
  }
}

export class TrainStateError extends TrainError {
  constructor(message: string) {
    super('state', message);
    this.name = 'TrainStateError';
  }
}

export class TrainDataError extends TrainError {
  constructor(message: string) {
    super('data', message);
    this.name = 'TrainDataError';
  }
}

export class TokenizerError extends TrainError {
  constructor(message: string) {
    super('tokenizer', message);
    this.name = 'TokenizerError';
  }
}
