/** Tunables of the provider and requester cores, each with why. */

/** How long either side of a pairing waits for its data channel to open before ending the session (PeerSessions). */
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
