/** Structural checks on models handed to the codec by local callers. */

import { MAX_ELEMENTS_FORMAT } from './constants';
import { InvalidModelError } from './errors';
import { DTYPES, elementCount, type Model, type Tensor } from './types';

export function validateModel(model: Model): void {
  if (model === null || typeof model !== 'object' || !Array.isArray(model.tensors)) {
    throw new InvalidModelError('a model is { tensors: Tensor[] }');
  }
  const names = new Set<string>();
  const tensors: readonly Tensor[] = model.tensors;
  for (const t of tensors) {
    if (typeof t.name !== 'string') throw new InvalidModelError('tensor name must be a string');
    if (names.has(t.name)) throw new InvalidModelError(`duplicate tensor name ${JSON.stringify(t.name)}`);
    names.add(t.name);
    if (!Object.hasOwn(DTYPES, t.dtype)) throw new InvalidModelError(`tensor ${t.name}: unknown dtype`);
    const info = DTYPES[t.dtype];
    const expected = info.width === 16 ? Uint16Array : Uint32Array;
    if (!(t.data instanceof expected)) {
      throw new InvalidModelError(`tensor ${t.name}: ${t.dtype} data must be a ${expected.name} of bit patterns`);
    }
    const n = elementCount(t.shape, MAX_ELEMENTS_FORMAT);
    if (n < 0 || t.shape.length > 255) throw new InvalidModelError(`tensor ${t.name}: invalid shape`);
    if (t.data.length !== n)
      throw new InvalidModelError(`tensor ${t.name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
}
