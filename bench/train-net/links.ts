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

/** What one round cost: the slowest provider's compute (measured) and the network and requester after it. */
export interface RoundTimes {
  computeMs: number;
  /** Commit: the slowest provider's signed digest reaches the requester. */
  commitMs: number;
  /** "Reveal now" to every provider, then the reveals into the requester. */
  revealMs: number;
  /** The requester's scoring before it can publish (measured). */
  scoringMs: number;
  /** The requester's background scoring after it published (measured). */
  backgroundMs: number;
  /**
   * The requester's forwards for this round's loss tests that need no contribution (TogetherRounds.prepare,
   * measured): after the round before's background scoring, while providers train.
   */
  prepareMs: number;
  broadcastMs: number;
  applyMs: number;
  /** The first round's data windows (later rounds' stream while the round before trains). */
  dataMs: number;
}

/** Without overlap: each round's compute waits for the version the round before published. */
export const serialWall = (times: readonly RoundTimes[]) =>
  times.reduce(
    (s, t, r) =>
      s +
      t.dataMs +
      t.computeMs +
      t.commitMs +
      t.revealMs +
      t.scoringMs +
      t.broadcastMs +
      t.applyMs +
      // The round before's background scoring and this round's prepared forwards hold the close only for
      // what this round's compute does not cover.
      Math.max(0, (times[r - 1]?.backgroundMs ?? 0) + t.prepareMs - t.computeMs),
    // The last round's background scoring: no round's compute follows it.
    times.at(-1)?.backgroundMs ?? 0,
  );

/**
 * With overlap (RoundTrainer.trainAhead, as the product trains): a provider starts the next round the
 * moment it commits, and moves onto that round's version when it arrives. A round ends when its steps are
 * done and its version and the requester's "train" (two latencies after the version is in) are there.
 */
export class OverlapTimeline {
  private committed = 0;
  private requesterFree = 0;
  private arrived = 0;

  constructor(readonly link: Link) {}

  /** Inner steps a provider takes before the next round's version reaches it, at `stepMs` a step. */
  stepsBeforeVersion(stepMs: number, steps: number): number {
    if (this.arrived === 0) return 0;
    return Math.min(steps, Math.max(0, Math.floor((this.arrived - this.committed) / Math.max(stepMs, 1e-6))));
  }

  add(t: RoundTimes): void {
    const first = this.arrived === 0;
    this.requesterFree += t.prepareMs;
    this.committed = first
      ? t.dataMs + t.computeMs
      : Math.max(this.committed + t.computeMs, this.arrived + 2 * this.link.latencyMs);
    const closed = Math.max(this.committed + t.commitMs, this.requesterFree) + t.revealMs + t.scoringMs;
    this.requesterFree = closed + t.backgroundMs;
    this.arrived = closed + t.broadcastMs + t.applyMs;
  }

  /** Wall time until every provider holds the last version. */
  get wallMs(): number {
    return this.arrived;
  }
}
