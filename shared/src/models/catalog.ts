import { imageFilter } from './image-filter';
import { matmul256 } from './matmul-256';
import { mlpClassifier } from './mlp-classifier';
import type { BuiltinModel } from './types';

export const BUILTIN_MODELS: readonly BuiltinModel[] = [mlpClassifier, matmul256, imageFilter];

export function getBuiltinModel(id: string): BuiltinModel | undefined {
  return BUILTIN_MODELS.find((m) => m.id === id);
}
