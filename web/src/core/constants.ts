/** Tunables of the provider and requester cores, each with why. */

/**
 * Units a requester keeps in flight per provider. Two hide one round trip
 * (the next unit is already there when a result leaves) without letting a
 * slow provider hoard work that a faster one could take.
 */
export const UNITS_IN_FLIGHT_PER_PROVIDER = 2;

/**
 * Results a provider may have waiting for the requester's own spot check
 * before it gets more work. A new key is checked on every unit and the
 * requester's WASM engine is slower than a GPU provider, so without this an
 * adversary computed 100–200 units (e2e/trust.spec.ts) before its first check
 * ran; with it, it is excluded within a few units and little work is wasted.
 */
export const MAX_PENDING_CHECKS_PER_PROVIDER = 2;

/** How long a requester waits for a provider's data channel to open before giving it back. */
export const PEER_CONNECT_TIMEOUT_MS = 30_000;

/** Window over which throughput (rows/s) is shown. */
export const THROUGHPUT_WINDOW_MS = 10_000;

/** Points kept for the throughput chart (one per second). */
export const THROUGHPUT_HISTORY_POINTS = 120;

/** Slots a provider announces: jobs it serves at once. One keeps its GPU to one model. */
export const PROVIDER_SLOTS = 1;

/**
 * Reconnect attempts to a provider the server still pairs with us after its
 * data channel died, spaced by DELAY × attempt. Three covers a network blip or
 * a tab that was briefly frozen; beyond that the provider is handed back.
 */
export const MAX_PEER_RECONNECTS = 3;
export const PEER_RECONNECT_DELAY_MS = 1_000;
