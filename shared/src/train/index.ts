/** The training engine's portable core: configs, layout, reference layers, the step, state and data. */
export { ADAMW_DEFAULTS, clipScale, GRAD_CLIP } from './adamw';
export { type Backend, JsBackend } from './backend';
export {
  type GptConfig,
  LAYERNORM_EPS,
  MLP_CLASSIFIER,
  type MlpConfig,
  type ModelConfig,
  PRESETS,
  type PresetName,
  validateGptConfig,
} from './config';
export { TokenizerError, TrainConfigError, TrainDataError, TrainError, TrainStateError } from './errors';
export { initParams, normals } from './init';
export type { AdamWHyper, Kernels } from './kernels';
export { NONE } from './kernels';
export {
  type Arena,
  arenaFor,
  type Layout,
  offsets,
  SCALAR_GRAD_NORM,
  SCALAR_LOSS,
  type TensorSpec,
  tensorSpec,
} from './layout';
export {
  captureFrom,
  deserializeState,
  fromBf16,
  type LoaderPosition,
  newTrainState,
  paramLayout,
  restoreInto,
  serializeState,
  toBf16,
  type TrainState,
} from './state';
export {
  backward,
  type Batch,
  encodeForward,
  encodeTrainStep,
  evalLoss,
  forward,
  loadBatch,
  trainStep,
} from './step';
export { trainKernelsModule, WASM_MAX_BYTES, WasmBackend, wasmMemoryBytes } from './wasm/backend';
export { type Spawn, type WorkerInit, WORKER_SOURCE } from './wasm/threads';
export { detagBrown, type LoaderOptions, TokenLoader, textFromBytes, textFromJsonl } from './data';
export { Tokenizer, type TokenizerJson } from './tokenizer';
export {
  readHidden,
  readLogits,
  readProbs,
  readTargetLogprobs,
  weightedBackward,
  weightedTrainStep,
  weightedUpdate,
} from './policy';
export { gptForwardRows, gptHiddenAt, gptLogitsAt, gptLossWeightsAt } from './gpt';
