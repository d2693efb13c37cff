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
import { DTYPES, type Model, type ModelHash } from './types';

let hasherPromise: Promise<IHasher> | null = null;

/** hash-wasm instantiates its WASM module asynchronously, once per realm (page, worker, Node process). */
function hasher(): Promise<IHasher> {
  hasherPromise ??= createXXHash128();
  return hasherPromise;
}

const textEncoder = new TextEncoder();

export async function hashModel(model: Model): Promise<ModelHash> {
  const h = await hasher();
  h.init();
  for (const t of model.tensors) {
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
    h.update(header);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const digest = h.digest('binary');
  if (digest.length !== HASH_BYTES) throw new Error('unexpected digest size');
  return digest;
}

export function hashToHex(hash: ModelHash): string {
  return bytesToHex(hash);
}

export function hashesEqual(a: ModelHash, b: ModelHash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
