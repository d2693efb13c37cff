/** PULSE: lossless sparse weight patches. See SPEC.md for the rules and their IDs. */

export type {
  DType,
  Tensor,
  TensorData,
  Model,
  ModelHash,
  Patch,
  TensorPatch,
  FullTensorPatch,
  UlpTensorPatch,
  RawTensorPatch,
  ScaledTensorPatch,
  ConditionedTensorPatch,
} from './types';
export { DTYPES, allocData } from './types';
export { diff, snapshot, findChangesCpu, sparseTensorPatch, type ChangeFinder, type DiffOptions } from './diff';
export { encode, decode } from './container';
export { apply, type ApplyOptions } from './apply';
export { hashModel, hashToHex, hashesEqual } from './hash';
export { planPath, VersionChain, type CatalogEntry, type PublishedEntry } from './chain';
export { DEFAULT_LIMITS, DEFAULT_ANCHOR_INTERVAL, FORMAT_VERSION, type DecodeLimits } from './constants';
export * from './errors';
