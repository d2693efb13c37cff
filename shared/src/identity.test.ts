import { describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from './bytes';
import { createIdentity, isCanonicalPeerId, isStrictPublicKey, sign, verify } from './identity';

const message = new TextEncoder().encode('any message at all');

/** The 8 points of order dividing 8 on edwards25519 (canonical encodings; libsodium's blocklist). */
const SMALL_ORDER_HEX = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity, order 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
];
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));

/** Another spelling of the same 32 bytes: the last base64url character's two padding bits set. */
function respell(peerId: string, bits: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return peerId.slice(0, -1) + alphabet[alphabet.indexOf(peerId.at(-1)!) ^ bits];
}

describe('strict Ed25519 identities', () => {
  it('ID1: every key has one spelling; the 3 other spellings of its 32 bytes are refused', async () => {
    const id = await createIdentity();
    const signature = await sign(id, message);
    expect(isCanonicalPeerId(id.peerId)).toBe(true);
    expect(await verify(id.peerId, message, signature)).toBe(true);
    for (const bits of [1, 2, 3]) {
      const other = respell(id.peerId, bits);
      expect(base64urlDecode(other)).toEqual(base64urlDecode(id.peerId)); // same bytes, other text
      expect(isCanonicalPeerId(other)).toBe(false);
      expect(await verify(other, message, signature)).toBe(false);
    }
  });

  it('ID1: a signature has one spelling too (its last character carries 4 padding bits)', async () => {
    const id = await createIdentity();
    const signature = await sign(id, message);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const other = signature.slice(0, -1) + alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1];
    expect(base64urlDecode(other)).toEqual(base64urlDecode(signature));
    expect(await verify(id.peerId, message, other)).toBe(false);
  });

  it('ID2: a small-order key with R = identity, S = 0 "signs" everything for WebCrypto; strict verify refuses it', async () => {
    const identityPoint = hex(SMALL_ORDER_HEX[0]!);
    const forged = new Uint8Array(64);
    forged.set(identityPoint, 0); // R = identity, S = 0
    const key = await crypto.subtle.importKey('raw', identityPoint as BufferSource, { name: 'Ed25519' }, false, [
      'verify',
    ]);
    // The abuse: WebCrypto alone accepts this for any message.
    expect(await crypto.subtle.verify({ name: 'Ed25519' }, key, forged as BufferSource, message as BufferSource)).toBe(
      true,
    );
    expect(await verify(base64urlEncode(identityPoint), message, base64urlEncode(forged))).toBe(false);
  });

  it('ID2: all 8 small-order points are refused as keys', async () => {
    for (const h of SMALL_ORDER_HEX) {
      const peerId = base64urlEncode(hex(h));
      expect(isStrictPublicKey(peerId), h).toBe(false);
      const forged = new Uint8Array(64);
      forged.set(hex(h), 0);
      expect(await verify(peerId, message, base64urlEncode(forged)), h).toBe(false);
    }
  });

  it('ID2: a non-canonical point encoding (y ≥ p) is refused', () => {
    // y = p + 1 encodes the same point as y = 1 (the identity) in a lax decoder.
    const bytes = hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(isStrictPublicKey(base64urlEncode(bytes))).toBe(false);
  });

  it('ID2: a malleated signature (S + L) is refused', async () => {
    const id = await createIdentity();
    const sig = base64urlDecode(await sign(id, message));
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    s += 2n ** 252n + 27742317777372353535851937790883648493n;
    const malleated = sig.slice();
    for (let i = 32; i < 64; i++) {
      malleated[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    expect(s).toBe(0n); // S + L < 2^256 still fits the 32 bytes
    expect(await verify(id.peerId, message, base64urlEncode(malleated))).toBe(false);
  });

  it('ID2: honest keys made by WebCrypto are strict', async () => {
    for (let i = 0; i < 20; i++) expect(isStrictPublicKey((await createIdentity()).peerId)).toBe(true);
  });
});
