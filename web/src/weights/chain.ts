/**
 * The publisher's version chain: like the codec's VersionChain (anchor every
 * `anchorInterval` versions, a patch from each version to the next), with the
 * change scan pluggable so the browser diffs in a Web Worker, and a bound on
 * what it keeps. Payloads are encoded PULSE containers.
 */
import { DEFAULT_ANCHOR_INTERVAL, diff, encode, hashModel, hashToHex, planPath, snapshot, type ChangeFinder, type Model, type PublishedEntry } from '../../../shared/src/pulse/index';
import { MAX_PUBLISHED_ENTRIES } from './constants';

export interface PublishedVersion {
  version: number;
  hash: string;
  entries: PublishedEntry[];
}

export class PublisherChain {
  private entries: PublishedEntry[] = [];
  private previous: { model: Model; hash: Uint8Array } | null = null;
  private version = -1;

  constructor(
    private readonly findChanges?: ChangeFinder,
    readonly anchorInterval = DEFAULT_ANCHOR_INTERVAL,
    private readonly maxEntries = MAX_PUBLISHED_ENTRIES,
  ) {}

  get latest(): { version: number; hash: string } | null {
    return this.previous && { version: this.version, hash: hashToHex(this.previous.hash) };
  }

  async publish(model: Model): Promise<PublishedVersion> {
    const prev = this.previous;
    const hash = await hashModel(model);
    const hex = hashToHex(hash);
    if (prev !== null && hashToHex(prev.hash) === hex) return { version: this.version, hash: hex, entries: [] };
    const version = ++this.version;
    const published: PublishedEntry[] = [];
    if (prev !== null) {
      const patch = await diff(prev.model, model, { baseHash: prev.hash, findChanges: this.findChanges });
      const payload = encode(patch);
      published.push({ version, from: hashToHex(prev.hash), to: hex, bytes: payload.length, payload });
    }
    if (prev === null || version % this.anchorInterval === 0) {
      const payload = encode(await snapshot(model));
      published.push({ version, from: null, to: hex, bytes: payload.length, payload });
    }
    this.previous = { model, hash };
    this.entries.push(...published);
    // Oldest first; an anchor always survives because one is published every anchorInterval < maxEntries versions.
    if (this.entries.length > this.maxEntries) this.entries = this.entries.slice(this.entries.length - this.maxEntries);
    return { version, hash: hex, entries: published };
  }

  catalog(): readonly PublishedEntry[] {
    return this.entries;
  }
}

/**
 * Fewest bytes from any version the receiver holds (or from nothing) to
 * `target`; [] when it already holds it. Throws NoPathError if the catalog
 * cannot get there (cannot happen while the catalog holds an anchor of target's chain).
 */
export function planFrom<E extends { from: string | null; to: string; bytes: number }>(catalog: readonly E[], held: readonly string[], target: string): E[] {
  if (held.includes(target)) return [];
  let best: E[] | null = null;
  let error: unknown = null;
  for (const start of [null, ...held]) {
    try {
      const path = planPath(catalog, start, target);
      const bytes = path.reduce((sum, e) => sum + e.bytes, 0);
      if (best === null || bytes < best.reduce((sum, e) => sum + e.bytes, 0)) best = path;
    } catch (e) {
      error = e;
    }
  }
  if (best === null) throw error;
  return best;
}
