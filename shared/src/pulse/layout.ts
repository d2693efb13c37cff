/** A tensor's place in a patch payload, shared by the JS and WebAssembly coders. */
import type { DType, TensorPatch } from './types';

/** What the header promised for one tensor; sizes were checked against limits before this runs. */
export interface TensorLayout {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly kind: TensorPatch['kind'];
  readonly elements: number;
  readonly changes: number;
  /** Positions are run-coded (sparse kinds only). */
  readonly runs: boolean;
  /** Coded values: `elements` for a full tensor, else `changes` (streams.ts CodedLayout). */
  readonly count: number;
}
