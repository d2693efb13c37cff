/**
 * The simulated network of bench:train-net: every link has the case's bandwidth (both ways, as a home
 * uplink is the narrow side) and one-way latency. Compute is measured; only transfers are modelled.
 */
export interface Link {
  readonly mbps: number;
  readonly latencyMs: number;
}

export const transferMs = (link: Link, bytes: number) => (bytes * 8) / (link.mbps * 1000);

/**
 * A patch fanned out by forwarding (requester → 2 providers → 4 → …), pipelined in chunks, so it costs one
 * latency per level plus two copies' worth of one uplink.
 */
export function broadcastMs(link: Link, providers: number, bytes: number): number {
  let depth = 0;
  for (let reached = 0, width = 2; reached < providers; width *= 2) {
    reached += width;
    depth++;
  }
  return depth * link.latencyMs + 2 * transferMs(link, bytes);
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
