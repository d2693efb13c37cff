/**
 * Models by content hash (SHA-256 of the .onnx bytes). A returning volunteer
 * already holding a model does not download it again. Bytes are re-hashed on
 * read: IndexedDB is a trust boundary and a wrong model would mean wrong results.
 */
import { sha256Hex } from '@shared/bytes';
import type { KeyValueStore } from './kv';

export class ModelStore {
  constructor(private readonly store: KeyValueStore) {}

  async has(hash: string): Promise<boolean> {
    return (await this.get(hash)) !== undefined;
  }

  async get(hash: string): Promise<Uint8Array | undefined> {
    const value = await this.store.get(`model:${hash}`);
    if (!(value instanceof Uint8Array)) return undefined;
    if ((await sha256Hex(value)) !== hash) {
      await this.store.del(`model:${hash}`);
      return undefined;
    }
    return value;
  }

  /** Stores bytes under their own hash; refuses bytes that don't match the hash they were announced with. */
  async put(hash: string, bytes: Uint8Array): Promise<void> {
    const actual = await sha256Hex(bytes);
    if (actual !== hash)
      throw new Error(`model bytes hash to ${actual.slice(0, 12)}…, not the announced ${hash.slice(0, 12)}…`);
    await this.store.set(`model:${hash}`, bytes);
  }

  async list(): Promise<string[]> {
    return (await this.store.keys('model:')).map((k) => k.slice('model:'.length));
  }
}
