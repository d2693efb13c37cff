/** Shared by this folder's tests: frames of a whole message, deterministic bytes. */
import { frameCount, encodeFrame } from './frame';
import type { MessageHasher } from './hash';

export function framesOf(
  stream: number,
  messageId: number,
  bytes: Uint8Array,
  hasher: MessageHasher,
): Uint8Array<ArrayBuffer>[] {
  const hash = hasher.digest(bytes);
  return Array.from({ length: frameCount(bytes.length) }, (_, i) => encodeFrame(stream, messageId, i, bytes, hash));
}

export function bytesOf(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
