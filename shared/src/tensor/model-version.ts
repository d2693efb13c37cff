/**
 * One name for one version of a model, used on the wire and on disk: the
 * xxh3-128 of the version's frame hash and its weights' PULSE hash. The frame
 * (graph, integer constants, metadata) is hashed once as bytes; the float
 * weights are hashed by PULSE's canonical model hash, the hash every patch is
 * proven by. So a provider that applied a patch (which proves the weights) and
 * holds the frame (proven by its own hash) knows the version it built without
 * hashing the whole model again. xxh3-128, not SHA-256: `npm run bench:model-hash`
 * measured it 6–32× faster on models of 1–64 MB, and PULSE already uses it.
 */
import { createXXHash128, type IHasher } from 'hash-wasm';
import { hashModel, hashToHex } from '../pulse/hash';
import { hexToBytes } from '../bytes';
import { splitOnnx, type OnnxParts } from './onnx-weights';

/** A version hash: 32 lowercase hex characters (xxh3-128). */
export const MODEL_HASH_PATTERN = /^[0-9a-f]{32}$/;

export interface ModelVersion {
  /** The version's name: xxh3-128 over `frameHash ‖ weightsHash`. */
  hash: string;
  /** xxh3-128 of the frame bytes. */
  frameHash: string;
  /** PULSE's hash of the float weights. */
  weightsHash: string;
  parts: OnnxParts;
}

let hasher: Promise<IHasher> | null = null;

async function xxh3(bytes: Uint8Array): Promise<string> {
  hasher ??= createXXHash128();
  const h = await hasher;
  // One shared instance: init → update → digest with no await in between.
  h.init();
  h.update(bytes);
  return h.digest('hex');
}

export function frameHashOf(frame: Uint8Array): Promise<string> {
  return xxh3(frame);
}

export async function versionHashOf(frameHash: string, weightsHash: string): Promise<string> {
  const both = new Uint8Array(32);
  both.set(hexToBytes(frameHash), 0);
  both.set(hexToBytes(weightsHash), 16);
  return xxh3(both);
}

export async function versionOfParts(parts: OnnxParts): Promise<ModelVersion> {
  const [frameHash, weightsHash] = [await frameHashOf(parts.frame), hashToHex(await hashModel(parts.weights))];
  return { hash: await versionHashOf(frameHash, weightsHash), frameHash, weightsHash, parts };
}

/** Splits an .onnx file and names the version; throws OnnxModelError for what cannot be split (external data, size). */
export async function modelVersion(bytes: Uint8Array, maxBytes?: number): Promise<ModelVersion> {
  return versionOfParts(splitOnnx(bytes, maxBytes));
}
