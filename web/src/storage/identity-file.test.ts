import { describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from '@shared/bytes';
import { createIdentity, sign, verify } from '@shared/identity';
import {
  exportIdentity,
  IdentityFileError,
  importIdentity,
  openIdentityFile,
  PBKDF2_ITERATIONS,
  sealIdentityFile,
  type IdentityFile,
  type IdentityFileErrorCode,
} from './identity-file';
import { loadOrCreateIdentity, storeIdentity } from './identity-store';
import { memoryStore } from './kv';

const PASS = 'correct horse battery staple';

async function failsWith(promise: Promise<unknown>, code: IdentityFileErrorCode): Promise<string> {
  const error = await promise.then(
    () => expect.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdentityFileError);
  expect((error as IdentityFileError).code).toBe(code);
  return (error as IdentityFileError).message;
}

const edit = (text: string, change: (f: IdentityFile) => unknown) =>
  JSON.stringify(change(JSON.parse(text) as IdentityFile));

describe('identity file (export / import)', () => {
  it('IDFILE1: round trip: the imported key is the same peer and signs for it', async () => {
    const identity = await createIdentity(true);
    const text = await exportIdentity(identity, 'provider', PASS);
    const file = JSON.parse(text) as IdentityFile;
    expect(file).toMatchObject({ format: 'basilica-identity', v: 1, role: 'provider', peerId: identity.peerId });
    expect(file.kdf).toMatchObject({ name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS });
    expect(text).not.toContain(JSON.stringify((await crypto.subtle.exportKey('jwk', identity.privateKey)).d));
    const back = await importIdentity(text, 'provider', PASS);
    expect(back.peerId).toBe(identity.peerId);
    const message = new TextEncoder().encode('hello');
    expect(await verify(identity.peerId, message, await sign(back, message))).toBe(true);
  });

  it('IDFILE2: a non-extractable key (made by an earlier version) says it cannot be exported', async () => {
    const old = await createIdentity(false);
    expect(await failsWith(exportIdentity(old, 'provider', PASS), 'not-extractable')).toMatch(/earlier version/);
  });

  it('IDFILE3: a passphrase under 8 characters is refused on export', async () => {
    await failsWith(exportIdentity(await createIdentity(true), 'provider', 'short'), 'weak-passphrase');
  });

  it('IDFILE4: a wrong passphrase, or any changed header field or ciphertext, is wrong-passphrase', async () => {
    const identity = await createIdentity(true);
    const text = await exportIdentity(identity, 'provider', PASS);
    expect(await failsWith(importIdentity(text, 'provider', `${PASS}!`), 'wrong-passphrase')).toMatch(/passphrase/);
    const other = await createIdentity(true);
    const swappedPeer = edit(text, (f) => ({ ...f, peerId: other.peerId }));
    await failsWith(importIdentity(swappedPeer, 'provider', PASS), 'wrong-passphrase');
    const flipped = edit(text, (f) => {
      const bytes = base64urlDecode(f.ciphertext);
      bytes[0]! ^= 1;
      return { ...f, ciphertext: base64urlEncode(bytes) };
    });
    await failsWith(importIdentity(flipped, 'provider', PASS), 'wrong-passphrase');
    const moreRounds = edit(text, (f) => ({ ...f, kdf: { ...f.kdf, iterations: f.kdf.iterations + 1 } }));
    await failsWith(importIdentity(moreRounds, 'provider', PASS), 'wrong-passphrase');
  });

  it('IDFILE5: not JSON, too large, wrong shape, weak or huge KDF cost, unknown version: not-a-file', async () => {
    const text = await exportIdentity(await createIdentity(true), 'provider', PASS);
    const bad = [
      'not json',
      ' '.repeat(17_000),
      '[]',
      edit(text, (f) => ({ ...f, v: 2 })),
      edit(text, (f) => ({ ...f, kdf: { ...f.kdf, iterations: 1000 } })),
      edit(text, (f) => ({ ...f, kdf: { ...f.kdf, iterations: 1e10 } })),
      edit(text, (f) => ({ ...f, kdf: { ...f.kdf, hash: 'SHA-1' } })),
      edit(text, (f) => ({ ...f, extra: 1 })),
      edit(text, (f) => ({ ...f, __proto__: { role: 'provider' }, role: undefined })),
    ];
    for (const b of bad)
      expect(await failsWith(importIdentity(b, 'provider', PASS), 'not-a-file')).toMatch(/not a Basilica identity/);
  });

  it('IDFILE6: a requester key is refused on the provider page', async () => {
    const text = await exportIdentity(await createIdentity(true), 'requester', PASS);
    expect(await failsWith(importIdentity(text, 'provider', PASS), 'wrong-role')).toMatch(/requester page/);
  });

  it('IDFILE7: a file whose key inside is not the named peer (re-sealed correctly) is key-mismatch', async () => {
    // A well-sealed file naming peer A but holding key B's private half (and A's public half).
    const a = await createIdentity(true);
    const b = await createIdentity(true);
    const jwkA = await crypto.subtle.exportKey('jwk', a.privateKey);
    const jwkB = await crypto.subtle.exportKey('jwk', b.privateKey);
    const text = await sealIdentityFile(
      { kty: 'OKP', crv: 'Ed25519', x: jwkA.x, d: jwkB.d },
      a.peerId,
      'provider',
      PASS,
    );
    await failsWith(importIdentity(text, 'provider', PASS), 'key-mismatch');
  });

  it('IDFILE9: the display name travels inside the encrypted part; a name the rules refuse is dropped, the key kept', async () => {
    const identity = await createIdentity(true);
    const text = await exportIdentity(identity, 'provider', PASS, { displayName: 'Ada Lovelace' });
    expect(text).not.toContain('Ada');
    expect(await openIdentityFile(text, 'provider', PASS)).toMatchObject({
      identity: { peerId: identity.peerId },
      displayName: 'Ada Lovelace',
    });
    const plain = await exportIdentity(identity, 'provider', PASS);
    expect((await openIdentityFile(plain, 'provider', PASS)).displayName).toBeNull();
    const jwk = await crypto.subtle.exportKey('jwk', identity.privateKey);
    const { kty, crv, x, d } = jwk;
    const spoof = await sealIdentityFile(
      { kty, crv, x, d, displayName: 'p\u0430ypal' },
      identity.peerId,
      'provider',
      PASS,
    );
    expect(await openIdentityFile(spoof, 'provider', PASS)).toMatchObject({
      identity: { peerId: identity.peerId },
      displayName: null,
    });
  });

  it('IDFILE8: new keys are extractable; a failed import leaves the stored key as it was', async () => {
    const kv = memoryStore();
    const { identity } = await loadOrCreateIdentity(kv, 'provider');
    expect(identity.privateKey.extractable).toBe(true);
    const stranger = await exportIdentity(await createIdentity(true), 'provider', PASS);
    const importAndStore = async (text: string, pass: string) =>
      storeIdentity(kv, 'provider', await importIdentity(text, 'provider', pass));
    await failsWith(importAndStore(stranger, 'wrong passphrase'), 'wrong-passphrase');
    expect((await loadOrCreateIdentity(kv, 'provider')).identity.peerId).toBe(identity.peerId);
    await importAndStore(stranger, PASS);
    expect((await loadOrCreateIdentity(kv, 'provider')).identity.peerId).toBe(JSON.parse(stranger).peerId);
  });
});
