/**
 * Version chains. A publisher emits a full anchor every `anchorInterval`
 * versions and a patch from each version to the next; a receiver holding some
 * version (or nothing) reaches the newest by the path of fewest bytes through
 * whatever patches and anchors are on offer.
 */

import { DEFAULT_ANCHOR_INTERVAL } from './constants';
import { encode } from './container';
import { diff, snapshot, type DiffOptions } from './diff';
import { NoPathError } from './errors';
import { hashToHex } from './hash';
import type { Model } from './types';

/** One transferable item: a patch from `from` to `to` (hex hashes), or an anchor (`from` null). */
export interface CatalogEntry {
  readonly from: string | null;
  readonly to: string;
  readonly bytes: number;
}

/**
 * Cheapest way from `held` (hex hash, or null for a receiver with nothing) to
 * `target`: Dijkstra over bytes, ties broken by fewer steps. Returns the
 * entries to fetch and apply in order ([] when held is already the target).
 * Throws NoPathError if the catalog cannot get there.
 */
export function planPath<E extends CatalogEntry>(catalog: readonly E[], held: string | null, target: string): E[] {
  if (held === target) return [];
  // Anchors need nothing, so they leave from a sentinel that costs nothing to stand on.
  const NOTHING = '\u0000nothing';
  const outgoing = new Map<string, E[]>();
  for (const e of catalog) {
    if (!Number.isFinite(e.bytes) || e.bytes < 0) continue;
    const from = e.from ?? NOTHING;
    const list = outgoing.get(from);
    if (list === undefined) outgoing.set(from, [e]);
    else list.push(e);
  }
  type Best = { bytes: number; steps: number; via: E | null; prev: string | null };
  const best = new Map<string, Best>([[NOTHING, { bytes: 0, steps: 0, via: null, prev: null }]]);
  if (held !== null) best.set(held, { bytes: 0, steps: 0, via: null, prev: null });
  const better = (a: Best, b: Best): boolean => a.bytes < b.bytes || (a.bytes === b.bytes && a.steps < b.steps);
  const done = new Set<string>();
  for (;;) {
    let current: string | null = null;
    for (const [k, b] of best) if (!done.has(k) && (current === null || better(b, best.get(current)!))) current = k;
    if (current === null) throw new NoPathError(`no chain of patches or anchors reaches ${target}`);
    if (current === target) break;
    done.add(current);
    const here = best.get(current)!;
    for (const e of outgoing.get(current) ?? []) {
      const candidate: Best = { bytes: here.bytes + e.bytes, steps: here.steps + 1, via: e, prev: current };
      const known = best.get(e.to);
      if (!done.has(e.to) && (known === undefined || better(candidate, known))) best.set(e.to, candidate);
    }
  }
  const path: E[] = [];
  for (let b = best.get(target)!; b.via !== null; b = best.get(b.prev!)!) path.push(b.via);
  return path.reverse();
}

export interface PublishedEntry extends CatalogEntry {
  /** Version number in this chain (0 = first). */
  readonly version: number;
  /** The encoded PULSE container. */
  readonly payload: Uint8Array;
}

/** Publisher side: turns a sequence of models into anchors and patches. */
export class VersionChain {
  private entries: PublishedEntry[] = [];
  private previous: { model: Model; hash: Uint8Array } | null = null;
  private version = -1;

  /**
   * `maxEntries` bounds what catalog() keeps (oldest dropped first); keep it
   * above `anchorInterval` so an anchor always survives.
   */
  constructor(
    readonly anchorInterval: number = DEFAULT_ANCHOR_INTERVAL,
    readonly maxEntries: number = Infinity,
  ) {
    if (!Number.isInteger(anchorInterval) || anchorInterval < 1)
      throw new RangeError('anchorInterval must be a positive integer');
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  }

  /** The newest published version and its hex hash, or null before the first. */
  get latest(): { version: number; hash: string } | null {
    return this.previous && { version: this.version, hash: hashToHex(this.previous.hash) };
  }

  /**
   * Adds the next version; returns what was published for it (a patch from
   * the previous version and/or an anchor). `options` go to diff (e.g. a Web
   * Worker change finder); a `baseHash` there is ignored, the chain knows it.
   */
  async publish(
    model: Model,
    options: DiffOptions = {},
  ): Promise<{ version: number; hash: string; entries: PublishedEntry[] }> {
    const version = ++this.version;
    const published: PublishedEntry[] = [];
    const prev = this.previous;
    let hash: Uint8Array;
    if (prev !== null) {
      const patch = await diff(prev.model, model, { ...options, baseHash: prev.hash });
      hash = patch.resultHash;
      const payload = encode(patch);
      published.push({ version, from: hashToHex(prev.hash), to: hashToHex(hash), bytes: payload.length, payload });
    }
    if (prev === null || version % this.anchorInterval === 0) {
      const anchor = await snapshot(model);
      hash = anchor.resultHash;
      const payload = encode(anchor);
      published.push({ version, from: null, to: hashToHex(hash), bytes: payload.length, payload });
    }
    this.previous = { model, hash: hash! };
    this.entries.push(...published);
    if (this.entries.length > this.maxEntries) this.entries = this.entries.slice(this.entries.length - this.maxEntries);
    return { version, hash: hashToHex(hash!), entries: published };
  }

  catalog(): readonly PublishedEntry[] {
    return this.entries;
  }
}
