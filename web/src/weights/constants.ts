/** Tunables of weight distribution (PULSE over the job's peer links). */

/**
 * Entries (anchors and patches) a publisher keeps to serve late joiners:
 * three anchor intervals of the default 10, so a provider up to ~30 versions
 * behind still gets patches; anyone older gets the newest anchor plus patches.
 */
export const MAX_PUBLISHED_ENTRIES = 32;

/**
 * Entries a provider keeps per model for forwarding to co-providers: one
 * anchor interval (10) plus its anchor and a spare, so it can bring a
 * co-provider up from any version of the current interval by patches.
 */
export const MAX_CACHED_ENTRIES = 12;

/** Models (by id) a provider keeps; the least recently updated goes first. Bounds IndexedDB use per tab. */
export const MAX_CACHED_MODELS = 4;

/**
 * How long a forwarder waits for a co-provider's link and answer before
 * telling the requester, which then sends directly. WebRTC setup between two
 * local tabs takes ~0.2–1 s here; ICE over the internet can take several.
 */
export const FORWARD_TIMEOUT_MS = 20_000;

/** Prefix of every key the provider cache writes in the tab's KeyValueStore. */
export const STORE_PREFIX = 'weights/';
