/**
 * The provider's weight cache on disk (IndexedDB through KeyValueStore), by
 * content hash: per model an index (the version held and the chain entries
 * kept for forwarding), the held version as a PULSE anchor, and the entries'
 * PULSE bytes. Everything read back is validated: the index by schema, the
 * held version by decoding it and checking its hash; an entry's bytes are
 * checked by the codec when used. Anything invalid is dropped, never trusted.
 */
import * as v from 'valibot';
import { apply, decode, encode, hashToHex, snapshot, type DecodeLimits, type Model } from '@shared/pulse';
import type { KeyValueStore } from '../storage/kv';
import { MAX_CACHED_ENTRIES, MAX_CACHED_MODELS, STORE_PREFIX } from './constants';

const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/));
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 53));

const StoredEntrySchema = v.strictObject({ from: v.nullable(Hash), to: Hash, bytes: Count, version: Count });
export type StoredEntry = v.InferOutput<typeof StoredEntrySchema>;

const ModelIndexSchema = v.strictObject({
  modelId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/)),
  held: Hash,
  version: Count,
  /** Bytes of the held version's anchor on disk. */
  heldBytes: Count,
  updatedAt: Count,
  entries: v.pipe(v.array(StoredEntrySchema), v.maxLength(1024)),
});
export type ModelIndex = v.InferOutput<typeof ModelIndexSchema>;

const indexKey = (modelId: string) => `${STORE_PREFIX}index/${modelId}`;
const modelKey = (modelId: string, hash: string) => `${STORE_PREFIX}model/${modelId}/${hash}`;
const entryKey = (modelId: string, from: string | null, to: string) =>
  `${STORE_PREFIX}entry/${modelId}/${from ?? 'anchor'}-${to}`;

export class WeightsStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly limits: DecodeLimits,
    private readonly maxEntries = MAX_CACHED_ENTRIES,
    private readonly maxModels = MAX_CACHED_MODELS,
    private readonly now: () => number = Date.now,
  ) {}

  async index(modelId: string): Promise<ModelIndex | null> {
    const parsed = v.safeParse(ModelIndexSchema, await this.kv.get(indexKey(modelId)));
    return parsed.success && parsed.output.modelId === modelId ? parsed.output : null;
  }

  async indexes(): Promise<ModelIndex[]> {
    const ids = (await this.kv.keys(`${STORE_PREFIX}index/`)).map((k) => k.slice(`${STORE_PREFIX}index/`.length));
    const all = await Promise.all(ids.map((id) => this.index(id)));
    return all.filter((i): i is ModelIndex => i !== null);
  }

  /** The held version, decoded and proven by hash; null (and forgotten) if missing or not what its key says. */
  async model(modelId: string, hash: string): Promise<Model | null> {
    const bytes = await this.anchor(modelId, hash);
    if (bytes === null) return null;
    try {
      const patch = decode(bytes, this.limits);
      if (patch.baseHash !== null || hashToHex(patch.resultHash) !== hash)
        throw new Error('not an anchor of this hash');
      return await apply(null, patch);
    } catch {
      await this.kv.del(modelKey(modelId, hash));
      return null;
    }
  }

  /** The held version's stored anchor bytes (unchecked: the receiver of a forward checks them). */
  async anchor(modelId: string, hash: string): Promise<Uint8Array | null> {
    const bytes = await this.kv.get(modelKey(modelId, hash));
    return bytes instanceof Uint8Array ? bytes : null;
  }

  async entry(modelId: string, from: string | null, to: string): Promise<Uint8Array | null> {
    const bytes = await this.kv.get(entryKey(modelId, from, to));
    return bytes instanceof Uint8Array ? bytes : null;
  }

  /**
   * Makes `model` (hashing to `hash`) the held version of `modelId` and keeps
   * `added` for forwarding. New blobs are written before the index that names
   * them and old ones deleted after, so a tab closed half-way leaves the old
   * version usable or the new one complete.
   */
  async commit(
    modelId: string,
    hash: string,
    version: number,
    model: Model,
    added: readonly (StoredEntry & { payload: Uint8Array })[],
  ): Promise<ModelIndex> {
    const before = await this.index(modelId);
    const anchor = encode(await snapshot(model));
    await this.kv.set(modelKey(modelId, hash), anchor);
    for (const e of added) await this.kv.set(entryKey(modelId, e.from, e.to), e.payload.slice());
    const merged = [
      ...(before?.entries ?? []).filter((e) => !added.some((a) => a.from === e.from && a.to === e.to)),
      ...added.map(({ payload: _, ...e }) => e),
    ];
    merged.sort((a, b) => a.version - b.version);
    const kept = merged.slice(Math.max(0, merged.length - this.maxEntries));
    const index: ModelIndex = {
      modelId,
      held: hash,
      version,
      heldBytes: anchor.length,
      updatedAt: this.now(),
      entries: kept,
    };
    await this.kv.set(indexKey(modelId), index);
    for (const e of merged) if (!kept.includes(e)) await this.kv.del(entryKey(modelId, e.from, e.to));
    if (before && before.held !== hash) await this.kv.del(modelKey(modelId, before.held));
    await this.evictModels();
    return index;
  }

  /** Keeps the `maxModels` most recently updated models. */
  private async evictModels(): Promise<void> {
    const all = (await this.indexes()).sort((a, b) => b.updatedAt - a.updatedAt);
    for (const old of all.slice(this.maxModels)) {
      for (const e of old.entries) await this.kv.del(entryKey(old.modelId, e.from, e.to));
      await this.kv.del(modelKey(old.modelId, old.held));
      await this.kv.del(indexKey(old.modelId));
    }
  }
}
