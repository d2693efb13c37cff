/**
 * The volunteer's (or requester's) identity, kept in IndexedDB. The private
 * key is a non-extractable CryptoKey: IndexedDB stores it by structured clone,
 * so it survives reloads while page script can never read its bytes.
 */
import { createIdentity, identityFromKeys, type Identity } from '@shared/identity';
import type { Role } from '@shared/protocol';
import type { KeyValueStore } from './kv';

function isEd25519Key(value: unknown, type: KeyType): value is CryptoKey {
  return (
    typeof CryptoKey !== 'undefined' &&
    value instanceof CryptoKey &&
    value.algorithm.name === 'Ed25519' &&
    value.type === type
  );
}

/** Each role has its own key so one browser can be a provider and a requester at once. */
export async function loadOrCreateIdentity(
  store: KeyValueStore,
  role: Role,
): Promise<{ identity: Identity; created: boolean }> {
  const key = `identity:${role}`;
  const stored = (await store.get(key)) as { publicKey?: unknown; privateKey?: unknown } | undefined;
  if (stored && isEd25519Key(stored.publicKey, 'public') && isEd25519Key(stored.privateKey, 'private')) {
    return { identity: await identityFromKeys(stored.publicKey, stored.privateKey), created: false };
  }
  // Missing or unreadable: a fresh key. The old one (if any) was unusable anyway.
  const identity = await createIdentity(false);
  await store.set(key, { publicKey: identity.publicKey, privateKey: identity.privateKey });
  return { identity, created: true };
}
