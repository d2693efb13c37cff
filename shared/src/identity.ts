/**
 * Identity: an Ed25519 key pair made with WebCrypto (browser, worker and Node 20).
 * A peer id *is* the base64url raw public key, so anyone holding a peer id can
 * verify that peer's signatures without asking anyone.
 */
import { base64urlDecode, base64urlEncode } from './bytes';

export type PeerId = string;

export interface Identity {
  peerId: PeerId;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

const ED25519 = { name: 'Ed25519' } as const;

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

/** Verifies `signature` over `message` by `peerId`. Returns false, never throws, on malformed input. */
export async function verify(peerId: PeerId, message: Uint8Array, signature: string): Promise<boolean> {
  try {
    const keyBytes = base64urlDecode(peerId);
    const sigBytes = base64urlDecode(signature);
    if (keyBytes.length !== 32 || sigBytes.length !== 64) return false;
    const key = await crypto.subtle.importKey('raw', keyBytes as BufferSource, ED25519, false, ['verify']);
    return await crypto.subtle.verify(ED25519, key, sigBytes as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

/** The bytes a client signs to answer a challenge: domain-separated and bound to the role it asked for. */
export function authMessage(nonce: string, role: string): Uint8Array {
  return new TextEncoder().encode(`basilica-auth/v1\n${nonce}\n${role}`);
}
