/**
 * The volunteer's (or requester's) identity, kept in IndexedDB as CryptoKeys
 * (structured clone), so it survives reloads.
 *
 * Why new private keys are extractable: a non-extractable key dies with the
 * site data, and with it every credit the volunteer earned; the issue asks for
 * an export. WebCrypto cannot wrap a non-extractable key, so the only ways out
 * are an extractable key or none. Extractable costs little: a script injected
 * into this page can already sign anything with the key while it runs; what
 * it gains is a copy that outlives the tab. We accept that, and the page's own
 * code only ever takes the key out through `exportIdentity` (identity-file.ts),
 * encrypted under the volunteer's passphrase. Keys made before this change
 * stay non-extractable (no way to change that) and the page says they cannot
 * be exported.
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
  const identity = await createIdentity(true);
  await storeIdentity(store, role, identity);
  return { identity, created: true };
}

/** Replaces the stored key for `role` (an import that has already been fully checked). */
export async function storeIdentity(store: KeyValueStore, role: Role, identity: Identity): Promise<void> {
  await store.set(`identity:${role}`, { publicKey: identity.publicKey, privateKey: identity.privateKey });
}
