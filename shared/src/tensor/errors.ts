/** Typed errors for everything users upload: each says what is wrong and what to do. */

export type TensorErrorCode =
  | 'npy-magic'
  | 'npy-version'
  | 'npy-header'
  | 'npy-header-too-big'
  | 'npy-fortran-order'
  | 'unsupported-dtype'
  | 'truncated'
  | 'trailing-bytes'
  | 'too-large'
  | 'bad-shape'
  | 'bad-json'
  | 'bad-value'
  | 'safetensors-header';

export class TensorError extends Error {
  override readonly name = 'TensorError';
  constructor(
    readonly code: TensorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type OnnxErrorCode =
  | 'not-onnx'
  | 'too-large'
  | 'no-inputs'
  | 'no-outputs'
  | 'unsupported-dtype'
  | 'external-data';

export class OnnxModelError extends Error {
  override readonly name = 'OnnxModelError';
  constructor(
    readonly code: OnnxErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type InputMismatchCode =
  | 'missing-input'
  | 'unknown-input'
  | 'wrong-dtype'
  | 'wrong-rank'
  | 'wrong-dim'
  | 'inconsistent-dim'
  | 'wrong-length';

/** Given inputs do not fit a model's declared inputs. `input` names the culprit. */
export class InputMismatchError extends Error {
  override readonly name = 'InputMismatchError';
  constructor(
    readonly code: InputMismatchCode,
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}
