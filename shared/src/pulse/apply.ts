/**
 * apply(base, patch): builds a new model and proves it by hash. The base is
 * only read; on any failure nothing the caller holds has changed.
 */

import { hashModel, hashToHex, hashesEqual } from './hash';
import { HashMismatchError, WrongBaseError } from './errors';
import { validateModel } from './model';
import { DTYPES, type Model, type ModelHash, type Patch, type Tensor, type TensorData, type TensorPatch } from './types';

export interface ApplyOptions {
  /**
   * The hash of `base` if the caller already knows it (e.g. from its cache
   * index). Without it, apply hashes the base to check it is the one the
   * patch was diffed against.
   */
  readonly baseHash?: ModelHash;
}

export async function apply(base: Model | null, patch: Patch, options: ApplyOptions = {}): Promise<Model> {
  let byName = new Map<string, Tensor>();
  if (patch.baseHash !== null) {
    if (base === null) throw new WrongBaseError(`patch needs base ${hashToHex(patch.baseHash)}, none given`);
    validateModel(base);
    const actual = options.baseHash ?? (await hashModel(base));
    if (!hashesEqual(actual, patch.baseHash)) {
      throw new WrongBaseError(`patch is against ${hashToHex(patch.baseHash)}, base is ${hashToHex(actual)}`);
    }
    byName = new Map(base.tensors.map((t) => [t.name, t]));
  }
  const tensors = patch.tensors.map((t) => applyTensor(byName.get(t.name), t));
  const result: Model = { tensors };
  const resultHash = await hashModel(result);
  if (!hashesEqual(resultHash, patch.resultHash)) throw new HashMismatchError(hashToHex(patch.resultHash), hashToHex(resultHash));
  return result;
}

function applyTensor(old: Tensor | undefined, t: TensorPatch): Tensor {
  const header = { name: t.name, dtype: t.dtype, shape: [...t.shape] };
  if (t.kind === 'full') return { ...header, data: t.data.slice() };
  if (old === undefined || old.dtype !== t.dtype || old.shape.length !== t.shape.length || old.shape.some((d, i) => d !== t.shape[i])) {
    throw new WrongBaseError(`base has no ${t.dtype} tensor ${JSON.stringify(t.name)} of shape [${t.shape.join(', ')}]`);
  }
  const data: TensorData = old.data.slice();
  const n = data.length;
  const positions = t.positions;
  const checkPosition = (p: number): void => {
    if (p >= n) throw new WrongBaseError(`tensor ${t.name}: position ${p} beyond ${n} elements`);
  };
  if (t.kind === 'raw') {
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      checkPosition(p);
      data[p] = t.bits[i]!;
    }
    return { ...header, data };
  }
  const width = DTYPES[t.dtype].width;
  const magMask = width === 16 ? 0x7fff : 0x7fffffff;
  const sign = width === 16 ? 0x8000 : 0x80000000;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    checkPosition(p);
    const o = data[p]!;
    const magnitude = ((o & magMask) + t.magnitudeDeltas[i]!) & magMask;
    // `>>> 0` keeps f32 patterns unsigned; Uint32Array would wrap them anyway.
    data[p] = (((o & sign) ^ (t.signFlips[i] ? sign : 0)) | magnitude) >>> 0;
  }
  return { ...header, data };
}
