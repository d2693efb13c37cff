/** Batch inference, the first job kind: rows of input tensors in, rows of output tensors out. */
export * from './algebraic';
export * from './tensors';
export * from './kind';
export * from './model-errors';
export * from './model-io';
