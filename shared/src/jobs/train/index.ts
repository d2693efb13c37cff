/** The Train job kind's pure part: spec, memory estimate, schedule, checkpoints, the loop and its engine view. */
export * from './spec';
export * from './estimate';
export * from './schedule';
export * from './checkpoint';
export * from './engine';
export * from './sample';
export * from './session';
export * from './safetensors-state';
export * from './onnx-export';
export * from './remote';
