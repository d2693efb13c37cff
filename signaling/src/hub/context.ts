/** What the parts of the hub share: its options, the wire, who is connected where, and the replicas. */
import type { TrustLedger } from '../ledger';
import type { Matchmaker } from '../matchmaker';
import type { SharedState } from '../shared-state';
import type { Connection, Owner, Wire } from './connection';
import type { HubOptions } from './options';

/**
 * Bumped whenever who is paired with whom or who holds which key may have
 * changed (an op applied, a peer welcomed or gone): a relay route cached under
 * an older value is looked up again.
 */
export interface RouteEpoch {
  value: number;
}

export interface HubContext {
  readonly routes: RouteEpoch;
  readonly options: HubOptions;
  readonly wire: Wire;
  readonly conns: Set<Connection>;
  /** Connections held by this instance, by role and key. */
  readonly byPeer: Map<string, Connection>;
  /** Who holds every authenticated peer of the network, this instance's included: part of the shared replica. */
  readonly owners: Map<string, Owner>;
  /** Authenticated requester connections per IP, to count open jobs per IP (SPEC RATE7). */
  readonly requestersByIp: Map<string, Set<Connection>>;
  readonly matchmaker: Matchmaker;
  readonly ledger: TrustLedger;
  readonly shared: SharedState;
}
