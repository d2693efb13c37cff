/**
 * Canonical, domain-separated byte encoding of the records the trust core signs
 * and hashes. Each field is `tag(1) | length(u32 BE) | payload`, after a leading
 * domain string, so no two different field lists encode to the same bytes and a
 * signature for one record kind can never verify as another.
 */
import { concatBytes } from '../bytes';
import { TrustArgumentError } from './errors';

export type Field = string | number | Uint8Array;

const TAG_STRING = 1;
const TAG_UINT = 2;
const TAG_BYTES = 3;
const utf8 = new TextEncoder();

function frame(tag: number, payload: Uint8Array): Uint8Array {
  const head = new Uint8Array(5);
  const view = new DataView(head.buffer);
  view.setUint8(0, tag);
  view.setUint32(1, payload.length, false);
  return concatBytes([head, payload]);
}

function encodeUint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new TrustArgumentError(`canonical integers are safe and non-negative, got ${value}`);
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32), false);
  view.setUint32(4, value >>> 0, false);
  return out;
}

/** `domain` first, then each field; numbers must be safe non-negative integers (ms, FLOPs, ids). */
export function encodeCanonical(domain: string, fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [frame(TAG_STRING, utf8.encode(domain))];
  for (const field of fields) {
    if (typeof field === 'string') parts.push(frame(TAG_STRING, utf8.encode(field)));
    else if (typeof field === 'number') parts.push(frame(TAG_UINT, encodeUint(field)));
    else parts.push(frame(TAG_BYTES, field));
  }
  return concatBytes(parts);
}
