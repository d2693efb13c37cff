/**
 * Every model this browser holds, requester and provider alike, in one
 * IndexedDB store, by version hash (tensor/model-version.ts). A version is its
 * frame (shared by every version of one model, stored once) and its float
 * weights as a PULSE anchor. What is read back is proven before use: the frame
 * by its hash, the weights by PULSE's hash on decode, the version by both.
 *
 * Quota: at most MODEL_STORE_QUOTA_BYTES on disk and MAX_STORED_VERSIONS
 * versions; the least recently used version goes first (never the one being
 * stored), and a frame goes with its last version.
 */
import * as v from 'valibot';
import { apply, decode, DEFAULT_LIMITS, encode, hashModel, hashToHex, snapshot, type Model } from '@shared/pulse';
import {
  frameHashOf,
  joinOnnx,
  MODEL_HASH_PATTERN,
  modelVersion,
  versionHashOf,
  type ModelVersion,
} from '@shared/tensor';
import type { KeyValueStore } from './kv';

/** 1 GiB: four of the largest uploads (256 MiB); a browser grants an origin far more, but a volunteer's disk is theirs. */
export const MODEL_STORE_QUOTA_BYTES = 1024 * 1024 * 1024;
/** A job's versions plus a few earlier models: more versions than this are never the base of a short patch chain. */
export const MAX_STORED_VERSIONS = 16;

const PREFIX = 'models/';
const versionKey = (hash: string) => `${PREFIX}version/${hash}`;
const weightsKey = (hash: string) => `${PREFIX}weights/${hash}`;
const frameKey = (hash: string) => `${PREFIX}frame/${hash}`;
/** Keys the releases before one store wrote: SHA-256-named .onnx files and the demo's PULSE cache. */
const LEGACY_PREFIXES = ['model:', 'weights/'];

const Hash = v.pipe(v.string(), v.regex(MODEL_HASH_PATTERN));
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 53));
const StoredVersionSchema = v.strictObject({
  hash: Hash,
  frameHash: Hash,
  weightsHash: Hash,
  /** Bytes on disk of the anchor, and of the frame (stored once for all versions that share it). */
  weightsBytes: Count,
  frameBytes: Count,
  usedAt: Count,
});
type StoredVersion = v.InferOutput<typeof StoredVersionSchema>;

export interface ModelStoreOptions {
  quotaBytes?: number;
  maxVersions?: number;
  now?: () => number;
}

export class ModelStore {
  private readonly quotaBytes: number;
  private readonly maxVersions: number;
  private readonly now: () => number;

  constructor(
    private readonly kv: KeyValueStore,
    options: ModelStoreOptions = {},
  ) {
    this.quotaBytes = options.quotaBytes ?? MODEL_STORE_QUOTA_BYTES;
    this.maxVersions = options.maxVersions ?? MAX_STORED_VERSIONS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Drops what earlier releases stored (their hashes name nothing here) and
   * returns how many entries went, for the page to say so. Models come again
   * from the requesters that need them.
   */
  async migrate(): Promise<number> {
    let dropped = 0;
    for (const prefix of LEGACY_PREFIXES)
      for (const key of await this.kv.keys(prefix)) {
        await this.kv.del(key);
        dropped++;
      }
    return dropped;
  }

  async has(hash: string): Promise<boolean> {
    return (await this.entry(hash)) !== undefined;
  }

  /** Version hashes held, newest use first. */
  async list(): Promise<string[]> {
    return (await this.entries()).map((e) => e.hash);
  }

  /** Versions held of the model whose frame is `frameHash`, newest use first: the bases a patch can start from. */
  async held(frameHash: string): Promise<string[]> {
    return (await this.entries()).filter((e) => e.frameHash === frameHash).map((e) => e.hash);
  }

  /** The weights of a held version of this frame whose weights hash is `weightsHash`: the base a patch names. */
  async weightsByHash(frameHash: string, weightsHash: string): Promise<Model | undefined> {
    const entry = (await this.entries()).find((e) => e.frameHash === frameHash && e.weightsHash === weightsHash);
    return entry && this.weights(entry.hash);
  }

  async hasFrame(frameHash: string): Promise<boolean> {
    return (await this.frame(frameHash)) !== undefined;
  }

  /** The frame's bytes, or undefined if absent or not what its hash says (then it is forgotten). */
  async frame(frameHash: string): Promise<Uint8Array | undefined> {
    const bytes = await this.kv.get(frameKey(frameHash));
    if (!(bytes instanceof Uint8Array)) return undefined;
    if ((await frameHashOf(bytes)) === frameHash) return bytes;
    await this.kv.del(frameKey(frameHash));
    return undefined;
  }

  /** The weights of a held version, proven by hash; undefined (and the version forgotten) when unreadable. */
  async weights(hash: string): Promise<Model | undefined> {
    const entry = await this.entry(hash);
    if (!entry) return undefined;
    const bytes = await this.kv.get(weightsKey(hash));
    try {
      if (!(bytes instanceof Uint8Array)) throw new Error('missing');
      const patch = decode(bytes, DEFAULT_LIMITS);
      if (patch.baseHash !== null) throw new Error('not an anchor');
      // apply proves the result against the hash the container names; that hash must be the version's.
      const model = await apply(null, patch);
      if ((await versionOfWeights(entry.frameHash, model)) !== hash) throw new Error('not this version');
      return model;
    } catch {
      await this.forget(entry);
      return undefined;
    }
  }

  /** A held version as parts and hashes, everything proven; undefined when it is not (or no longer) held. */
  async version(hash: string): Promise<ModelVersion | undefined> {
    const entry = await this.entry(hash);
    if (!entry) return undefined;
    const [frame, weights] = [await this.frame(entry.frameHash), await this.weights(hash)];
    if (!frame || !weights) {
      await this.forget(entry);
      return undefined;
    }
    await this.kv.set(versionKey(hash), { ...entry, usedAt: this.now() } satisfies StoredVersion);
    return { hash, frameHash: entry.frameHash, weightsHash: entry.weightsHash, parts: { frame, weights } };
  }

  /** The version as an .onnx file for onnxruntime, or undefined when not held. */
  async onnx(hash: string): Promise<Uint8Array | undefined> {
    const version = await this.version(hash);
    return version && joinOnnx(version.parts);
  }

  /** Splits, names and stores an .onnx file; returns its version. */
  async putOnnx(bytes: Uint8Array): Promise<ModelVersion> {
    const version = await modelVersion(bytes);
    await this.put(version);
    return version;
  }

  /**
   * Stores a version whose hashes the caller computed from these very parts
   * (modelVersion, versionOfParts, or a proven patch). Blobs go before the
   * entry that names them, so a tab closed half-way leaves no entry without them.
   */
  async put(version: ModelVersion): Promise<void> {
    const { hash, frameHash, weightsHash, parts } = version;
    if (await this.has(hash)) {
      await this.touch(hash);
      return;
    }
    const frameStored = (await this.kv.get(frameKey(frameHash))) instanceof Uint8Array;
    if (!frameStored) await this.kv.set(frameKey(frameHash), parts.frame.slice());
    const anchor = encode(await snapshot(parts.weights));
    await this.kv.set(weightsKey(hash), anchor);
    const entry: StoredVersion = {
      hash,
      frameHash,
      weightsHash,
      weightsBytes: anchor.length,
      frameBytes: parts.frame.length,
      usedAt: this.now(),
    };
    await this.kv.set(versionKey(hash), entry);
    await this.evict(hash);
  }

  async touch(hash: string): Promise<void> {
    const entry = await this.entry(hash);
    if (entry) await this.kv.set(versionKey(hash), { ...entry, usedAt: this.now() } satisfies StoredVersion);
  }

  /** Bytes the store holds on disk. */
  async bytes(): Promise<number> {
    return diskBytes(await this.entries());
  }

  private async entry(hash: string): Promise<StoredVersion | undefined> {
    if (!MODEL_HASH_PATTERN.test(hash)) return undefined;
    const parsed = v.safeParse(StoredVersionSchema, await this.kv.get(versionKey(hash)));
    return parsed.success && parsed.output.hash === hash ? parsed.output : undefined;
  }

  /** Every readable entry, newest use first; unreadable ones are dropped. */
  private async entries(): Promise<StoredVersion[]> {
    const out: StoredVersion[] = [];
    for (const key of await this.kv.keys(`${PREFIX}version/`)) {
      const parsed = v.safeParse(StoredVersionSchema, await this.kv.get(key));
      if (parsed.success && key === versionKey(parsed.output.hash)) out.push(parsed.output);
      else await this.kv.del(key);
    }
    return out.sort((a, b) => b.usedAt - a.usedAt);
  }

  private async evict(keep: string): Promise<void> {
    let kept = await this.entries();
    for (const old of [...kept].reverse()) {
      if (diskBytes(kept) <= this.quotaBytes && kept.length <= this.maxVersions) break;
      if (old.hash === keep) continue;
      await this.forget(old);
      kept = kept.filter((e) => e !== old);
    }
  }

  /** Drops a version, and its frame when no other version uses it. */
  private async forget(entry: StoredVersion): Promise<void> {
    await this.kv.del(versionKey(entry.hash));
    await this.kv.del(weightsKey(entry.hash));
    const others = (await this.entries()).filter((e) => e.frameHash === entry.frameHash);
    if (others.length === 0) await this.kv.del(frameKey(entry.frameHash));
  }
}

async function versionOfWeights(frameHash: string, weights: Model): Promise<string> {
  return versionHashOf(frameHash, hashToHex(await hashModel(weights)));
}

/** Every anchor, and each frame once. */
function diskBytes(entries: readonly StoredVersion[]): number {
  const frames = new Map(entries.map((e) => [e.frameHash, e.frameBytes]));
  return entries.reduce((sum, e) => sum + e.weightsBytes, 0) + [...frames.values()].reduce((a, b) => a + b, 0);
}
