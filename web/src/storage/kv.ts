/**
 * Key-value persistence behind one small interface: idb-keyval in the
 * browser, a Map in tests. Values read back are untrusted (another version of
 * the app, a user's devtools, a corrupted profile wrote them) and every reader
 * validates them.
 */
import { createStore, del, get, keys, set, setMany } from 'idb-keyval';

export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  /** Several values in one transaction: all or none. IndexedDB serialises write transactions, so batching is what keeps up. */
  setMany(entries: [string, unknown][]): Promise<void>;
  del(key: string): Promise<void>;
  keys(prefix: string): Promise<string[]>;
}

export function idbStore(dbName = 'basilica', storeName = 'kv'): KeyValueStore {
  const store = createStore(dbName, storeName);
  return {
    get: (key) => get(key, store),
    set: (key, value) => set(key, value, store),
    setMany: (entries) => setMany(entries, store),
    del: (key) => del(key, store),
    keys: async (prefix) => (await keys(store)).map(String).filter((k) => k.startsWith(prefix)),
  };
}

export function memoryStore(): KeyValueStore & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (key) => map.get(key),
    set: async (key, value) => void map.set(key, value),
    setMany: async (entries) => entries.forEach(([key, value]) => map.set(key, value)),
    del: async (key) => void map.delete(key),
    keys: async (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)),
  };
}

export class StoredDataError extends Error {
  override name = 'StoredDataError';
}
