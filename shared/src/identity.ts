/**
 * Identity: an Ed25519 key pair made with WebCrypto (browser, worker and Node 20).
 * A peer id *is* the base64url raw public key, so anyone holding a peer id can
 * verify that peer's signatures without asking anyone.
 *
 * Verification is strict (RFC 8032 plus small-order rejection): a key has one
 * spelling, and a key that is a small-order or non-canonically encoded point is
 * refused before WebCrypto sees it. WebCrypto alone accepts the identity point
 * as a key with R = identity, S = 0 as a "signature" of every message.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base64urlDecode, base64urlEncode } from './bytes';

export type PeerId = string;

export interface Identity {
  peerId: PeerId;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

const ED25519 = { name: 'Ed25519' } as const;

/**
 * The one spelling of a 32-byte key: 43 base64url characters whose last one
 * carries 4 data bits and 2 zero padding bits (so it is one of A E I M Q U Y c g
 * k o s w 0 4 8). The 3 other spellings decode to the same bytes and would count
 * as different peers.
 */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** The one spelling of a 64-byte signature: 86 characters, the last with 4 zero padding bits. */
export const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{85}[AQgw]$/;

/**
 * Keys whose point check is remembered. The check (a square root on the curve)
 * costs ~80 µs in pure JS; peers reuse their key for every auth and receipt, and
 * 4,096 entries (~0.5 MiB) cover every key active on a busy server at once.
 */
const KEY_CHECK_CACHE_ENTRIES = 4_096;
const keyChecks = new Map<string, boolean>();

export async function createIdentity(extractable = false): Promise<Identity> {
  const pair = (await crypto.subtle.generateKey(ED25519, extractable, ['sign', 'verify'])) as CryptoKeyPair;
  return identityFromKeys(pair.publicKey, pair.privateKey);
}

export async function identityFromKeys(publicKey: CryptoKey, privateKey: CryptoKey): Promise<Identity> {
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
  return { peerId: base64urlEncode(raw), publicKey, privateKey };
}

export async function sign(identity: Identity, message: Uint8Array): Promise<string> {
  const signature = await crypto.subtle.sign(ED25519, identity.privateKey, message as BufferSource);
  return base64urlEncode(new Uint8Array(signature));
}

/** True when `peerId` is the one spelling of 32 bytes (two spellings of one key would be two peers). */
export function isCanonicalPeerId(peerId: string): boolean {
  return PEER_ID_PATTERN.test(peerId);
}

/**
 * True when `peerId` is canonically spelled and names a canonically encoded
 * curve point of large order: the only keys whose signatures mean anything.
 */
export function isStrictPublicKey(peerId: string): boolean {
  if (!isCanonicalPeerId(peerId)) return false;
  let ok = keyChecks.get(peerId);
  if (ok === undefined) {
    try {
      ok = !ed25519.Point.fromBytes(base64urlDecode(peerId), false).isSmallOrder();
    } catch {
      ok = false;
    }
    if (keyChecks.size >= KEY_CHECK_CACHE_ENTRIES) keyChecks.clear();
    keyChecks.set(peerId, ok);
  }
  return ok;
}

/**
 * Verifies `signature` over `message` by `peerId`. Returns false, never throws, on
 * malformed input, on any spelling but the canonical one, and on small-order or
 * non-canonical keys. WebCrypto then checks the rest of RFC 8032 (S < L, R as
 * re-encoded).
 */
export async function verify(peerId: PeerId, message: Uint8Array, signature: string): Promise<boolean> {
  try {
    if (!SIGNATURE_PATTERN.test(signature) || !isStrictPublicKey(peerId)) return false;
    const key = await crypto.subtle.importKey('raw', base64urlDecode(peerId) as BufferSource, ED25519, false, [
      'verify',
    ]);
    return await crypto.subtle.verify(
      ED25519,
      key,
      base64urlDecode(signature) as BufferSource,
      message as BufferSource,
    );
  } catch {
    return false;
  }
}

/** The bytes a client signs to answer a challenge: domain-separated and bound to the role it asked for. */
export function authMessage(nonce: string, role: string): Uint8Array {
  return new TextEncoder().encode(`basilica-auth/v1\n${nonce}\n${role}`);
}
