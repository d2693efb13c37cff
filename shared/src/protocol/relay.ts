/**
 * Volunteers forward each new version to each other, so the requester's upload per version does not grow
 * with their number (issues 19 and 22). The requester sends a patch to its first RELAY_ROOTS holders and
 * names, in the patch's header, the volunteers each of them is responsible for; a volunteer that applied
 * the patch and rebuilt the announced hash splits its own list the same way and forwards the same patch
 * over a direct link to each co-volunteer (signaling RELAY3). Everyone else gets a bodiless notice from
 * the requester with the hashes to expect, so a forwarder can delay a patch but never change it: a patch
 * that does not rebuild the notice's hash is dropped, and the requester sends it itself after a deadline.
 */
import * as v from 'valibot';
import { PeerIdSchema } from './signaling';

/** How many volunteers the requester sends a version to: one upload per version, whatever their number. */
export const RELAY_ROOTS = 1;
/** How many co-volunteers each volunteer forwards a version to. */
export const RELAY_FANOUT = 2;
/** The most volunteers one header names: a job's providers are capped far below this. */
export const MAX_RELAY_PEERS = 256;

export const RelayListSchema = v.pipe(v.array(PeerIdSchema), v.maxLength(MAX_RELAY_PEERS));

export interface RelayBranch {
  /** The volunteer this node sends to. */
  readonly peerId: string;
  /** The volunteers that one forwards to in turn (its subtree, without itself). */
  readonly relay: readonly string[];
}

/**
 * The first `fanout` peers of `peers`, each with an equal contiguous share of the rest to forward to. Applied
 * at every node, it builds a tree of depth ⌈log_fanout(n)⌉ in which every peer appears exactly once.
 */
export function splitRelay(peers: readonly string[], fanout: number = RELAY_FANOUT): RelayBranch[] {
  if (!Number.isInteger(fanout) || fanout < 1) throw new RangeError(`relay fanout ${fanout} is not a positive integer`);
  const heads = peers.slice(0, fanout);
  const rest = peers.slice(heads.length);
  const branches: RelayBranch[] = [];
  let at = 0;
  heads.forEach((peerId, i) => {
    const share = Math.floor(rest.length / heads.length) + (i < rest.length % heads.length ? 1 : 0);
    branches.push({ peerId, relay: rest.slice(at, at + share) });
    at += share;
  });
  return branches;
}
