/**
 * Content hash of a model: xxh3-128 over a canonical serialisation (for each
 * tensor in order: name length and UTF-8 name, dtype code, rank and dims as
 * u32 little-endian, then the value bits little-endian). xxh3 detects
 * corruption and wrong bases; it is not a signature: who may publish a model is
 * decided by the identity layer, not here.
 */

import { createXXHash128, type IHasher } from 'hash-wasm';
import { bytesToHex } from '../bytes';
import { HASH_BYTES } from './constants';
import { DTYPES, type Model, type ModelHash, type Tensor, type TensorData } from './types';

let hasherPromise: Promise<IHasher> | null = null;

/** hash-wasm instantiates its WASM module asynchronously, once per realm (page, worker, Node process). */
function hasher(): Promise<IHasher> {
  hasherPromise ??= createXXHash128();
  return hasherPromise;
}

const textEncoder = new TextEncoder();

/**
 * The canonical serialisation fed a piece at a time, so apply and diff can
 * hash each block of values while it is still in cache instead of reading the
 * whole model again afterwards. The hash-wasm instance is shared by the realm:
 * use a ModelHasher from begin() to digest() without awaiting in between.
 */
export interface ModelHasher {
  begin(): void;
  /** A tensor's name, dtype and shape; its values follow through update(). */
  tensor(t: Pick<Tensor, 'name' | 'dtype' | 'shape'>): void;
  update(values: TensorData): void;
  digest(): ModelHash;
}

export async function modelHasher(): Promise<ModelHasher> {
  const h = await hasher();
  return {
    begin: () => void h.init(),
    tensor: (t) => void h.update(tensorHeader(t)),
    update: (values) => void h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)),
    digest: () => {
      const digest = h.digest('binary');
      if (digest.length !== HASH_BYTES) throw new Error('unexpected digest size');
      return digest;
    },
  };
}

function tensorHeader(t: Pick<Tensor, 'name' | 'dtype' | 'shape'>): Uint8Array {
  const name = textEncoder.encode(t.name);
  const header = new Uint8Array(4 + name.length + 2 + 4 * t.shape.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, name.length, true);
  header.set(name, 4);
  let o = 4 + name.length;
  header[o++] = DTYPES[t.dtype].code;
  header[o++] = t.shape.length;
  for (const d of t.shape) {
    view.setUint32(o, d, true);
    o += 4;
  }
  return header;
}

export async function hashModel(model: Model): Promise<ModelHash> {
  const h = await modelHasher();
  h.begin();
  for (const t of model.tensors) {
    h.tensor(t);
    h.update(t.data);
  }
  return h.digest();
}

export function hashToHex(hash: ModelHash): string {
  return bytesToHex(hash);
}

export function hashesEqual(a: ModelHash, b: ModelHash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
