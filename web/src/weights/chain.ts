/**
 * The publisher's version chain: the codec's VersionChain (anchor every
 * `anchorInterval` versions, a patch from each version to the next) with the
 * change scan pluggable so the browser diffs in a Web Worker, a bound on what
 * it keeps, and no new version for a model identical to the latest.
 * Payloads are encoded PULSE containers.
 */
import {
  DEFAULT_ANCHOR_INTERVAL,
  hashModel,
  hashToHex,
  planPath,
  VersionChain,
  type ChangeFinder,
  type Model,
  type PublishedEntry,
} from '@shared/pulse';
import { MAX_PUBLISHED_ENTRIES } from './constants';

export interface PublishedVersion {
  version: number;
  hash: string;
  entries: PublishedEntry[];
}

export class PublisherChain {
  private readonly chain: VersionChain;

  constructor(
    private readonly findChanges?: ChangeFinder,
    readonly anchorInterval = DEFAULT_ANCHOR_INTERVAL,
    maxEntries = MAX_PUBLISHED_ENTRIES,
  ) {
    this.chain = new VersionChain(anchorInterval, maxEntries);
  }

  get latest(): { version: number; hash: string } | null {
    return this.chain.latest;
  }

  async publish(model: Model): Promise<PublishedVersion> {
    const latest = this.chain.latest;
    if (latest !== null && hashToHex(await hashModel(model)) === latest.hash)
      return { version: latest.version, hash: latest.hash, entries: [] };
    return this.chain.publish(model, this.findChanges ? { findChanges: this.findChanges } : {});
  }

  catalog(): readonly PublishedEntry[] {
    return this.chain.catalog();
  }
}

/**
 * Fewest bytes from any version the receiver holds (or from nothing) to
 * `target`; [] when it already holds it. Throws NoPathError if the catalog
 * cannot get there (cannot happen while the catalog holds an anchor of target's chain).
 */
export function planFrom<E extends { from: string | null; to: string; bytes: number }>(
  catalog: readonly E[],
  held: readonly string[],
  target: string,
): E[] {
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
