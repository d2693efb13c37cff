/**
 * apply(base, patch): builds a new model and proves it by hash. The base is
 * only read; on any failure nothing the caller holds has changed.
 */

import { hashModel, hashToHex, hashesEqual } from './hash';
import { HashMismatchError, WrongBaseError } from './errors';
import { validateModel } from './model';
import { applyScaled } from './scaled';
import { type Model, type ModelHash, type Patch, type Tensor, type TensorData, type TensorPatch } from './types';

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
  // One tight pass before anything is written (hand-made patches need not be sorted).
  let max = -1;
  for (let i = 0; i < positions.length; i++) if (positions[i]! > max) max = positions[i]!;
  if (max >= n) throw new WrongBaseError(`tensor ${t.name}: position ${max} beyond ${n} elements`);
  if (t.kind === 'raw') {
    const bits = t.bits;
    for (let i = 0; i < positions.length; i++) data[positions[i]!] = bits[i]!;
    return { ...header, data };
  }
  if (t.kind === 'scaled') {
    applyScaled(t.name, t.dtype, data, positions, t.symbols, t.low);
    return { ...header, data };
  }
  if (data instanceof Uint16Array) applyUlp16(data, positions, t.signFlips, t.magnitudeDeltas);
  else applyUlp32(data, positions, t.signFlips, t.magnitudeDeltas);
  return { ...header, data };
}

function applyUlp16(data: Uint16Array, positions: Uint32Array, flips: Uint8Array, deltas: Uint32Array): void {
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    const o = data[p]!;
    data[p] = ((o ^ (flips[i]! << 15)) & 0x8000) | (((o & 0x7fff) + deltas[i]!) & 0x7fff);
  }
}

function applyUlp32(data: Uint32Array, positions: Uint32Array, flips: Uint8Array, deltas: Uint32Array): void {
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    const o = data[p]!;
    // Uint32Array stores the low 32 bits, so signed intermediate results are fine.
    data[p] = ((o ^ (flips[i]! << 31)) & 0x80000000) | (((o & 0x7fffffff) + deltas[i]!) & 0x7fffffff);
  }
}
