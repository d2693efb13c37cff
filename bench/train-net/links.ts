/**
 * The simulated network of bench:train-net: every link has the case's bandwidth (both ways, as a home
 * uplink is the narrow side) and one-way latency. Compute is measured; only transfers are modelled.
 */
import { RELAY_FANOUT, RELAY_ROOTS, splitRelay } from '@shared/protocol';

export interface Link {
  readonly mbps: number;
  readonly latencyMs: number;
}

export const transferMs = (link: Link, bytes: number) => (bytes * 8) / (link.mbps * 1000);

/**
 * A patch fanned out as the product relays it (shared/src/protocol/relay.ts: the requester sends it to
 * RELAY_ROOTS providers, each forwards to RELAY_FANOUT with their share of the list), pipelined in chunks, so
 * it costs one latency per level of the tree splitRelay builds plus the busiest uplink's copies.
 */
export function broadcastMs(link: Link, providers: number, bytes: number): number {
  const depthOf = (peers: readonly number[], fanout: number): number =>
    Math.max(0, ...splitRelay(peers.map(String), fanout).map((b) => 1 + depthOf(b.relay.map(Number), RELAY_FANOUT)));
  const depth = depthOf(
    Array.from({ length: providers }, (_, i) => i),
    RELAY_ROOTS,
  );
  return depth * link.latencyMs + Math.max(RELAY_ROOTS, RELAY_FANOUT) * transferMs(link, bytes);
}

/** The part of a round after the slowest provider's compute that is spent waiting on the network. */
export interface RoundTimes {
  computeMs: number;
  commitMs: number;
  revealMs: number;
  scoringMs: number;
  broadcastMs: number;
  applyMs: number;
  backgroundExtraMs: number;
  dataMs: number;
}

export const roundWall = (t: RoundTimes) =>
  t.computeMs + t.commitMs + t.revealMs + t.scoringMs + t.broadcastMs + t.applyMs + t.backgroundExtraMs + t.dataMs;
