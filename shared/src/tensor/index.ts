export * from './types';
export * from './errors';
export * from './constants';
export * from './tensor';
export * from './npy';
export * from './json';
export * from './check-inputs';
export * from './onnx-model';
