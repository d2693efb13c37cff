export * from './types';
export * from './catalog';
export { mlpClassifier } from './mlp-classifier';
export { matmul256 } from './matmul-256';
export { imageFilter } from './image-filter';
export { mulberry32, uniformFloats } from './random';
