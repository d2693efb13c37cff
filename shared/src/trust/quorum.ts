/**
 * BOINC-style quorum for one unit, as a state machine driven by events.
 * Each event returns what the requester should do next; the machine never
 * does I/O, so the coordinator can persist what it decides.
 *
 * Results are grouped into clusters by `agree` against each cluster's first
 * member (tolerance comparison is not transitive; with tolerances ~100× above
 * honest drift the first member is as good a representative as any).
 * A cluster is canonical once it has ≥ quorum members and is a strict majority
 * of the results in hand. A trusted result (the requester's own re-execution)
 * decides on its own.
 */
import type { PeerId } from '../identity';
import { QuorumStateError } from './errors';
import { MAX_LOST_REPLICAS } from './constants';

export interface ReplicaResult<R> {
  peerId: PeerId;
  adapterClass: string;
  result: R;
  /** The requester's own device (or a provider it trusts): decides the unit alone. */
  trusted?: boolean;
}

export type Agree<R> = (a: ReplicaResult<R>, b: ReplicaResult<R>) => boolean;

export interface QuorumOptions {
  /** Replicas to dispatch up front (1 = no redundancy). */
  initialReplicas: number;
  /** Agreeing results needed to accept (≤ initialReplicas). */
  quorum: number;
  /** Untrusted replicas to try before handing the unit to the requester itself. */
  maxReplicas: number;
  /** Ask for a trusted re-execution once the first untrusted result is in (sampled check). */
  trustedCheck?: boolean;
}

export type QuorumAction<R> =
  | { kind: 'dispatch'; count: number; avoid: PeerId[] }
  | { kind: 'reexecute' }
  | { kind: 'wait' }
  | { kind: 'accept'; canonical: ReplicaResult<R>; agreeing: PeerId[]; rejected: PeerId[]; checked: boolean }
  | { kind: 'late'; peerId: PeerId; agrees: boolean };

export type QuorumStatus = 'open' | 'accepted';

export class UnitQuorum<R> {
  private readonly options: QuorumOptions;
  private readonly agree: Agree<R>;
  private readonly outstanding = new Set<PeerId>();
  private readonly everDispatched = new Set<PeerId>();
  private readonly clusters: ReplicaResult<R>[][] = [];
  private readonly results: ReplicaResult<R>[] = [];
  private target: number;
  private lost = 0;
  private reexecuteAsked = false;
  private settled: Extract<QuorumAction<R>, { kind: 'accept' }> | undefined;

  constructor(options: QuorumOptions, agree: Agree<R>) {
    if (
      !(
        options.initialReplicas >= 1 &&
        options.quorum >= 1 &&
        options.quorum <= options.initialReplicas &&
        options.maxReplicas >= options.initialReplicas
      )
    ) {
      throw new QuorumStateError(`bad quorum options ${JSON.stringify(options)}`);
    }
    this.options = options;
    this.agree = agree;
    this.target = options.initialReplicas;
  }

  get status(): QuorumStatus {
    return this.settled ? 'accepted' : 'open';
  }

  /** The accepted result, once settled. */
  get canonical(): ReplicaResult<R> | undefined {
    return this.settled?.canonical;
  }

  /** Whether `peerId` was sent this unit and has not answered or been lost. */
  isOutstanding(peerId: PeerId): boolean {
    return this.outstanding.has(peerId);
  }

  /** The first action: how many replicas to send. */
  start(): QuorumAction<R> {
    return this.next();
  }

  /**
   * The coordinator sent the unit to `peerId`. Replicas of one unit go to
   * distinct providers; a peer whose replica was lost (a dropped channel) may be
   * sent it again, since it never answered.
   */
  dispatched(peerId: PeerId): void {
    if (this.outstanding.has(peerId) || this.results.some((r) => r.peerId === peerId))
      throw new QuorumStateError(`unit already dispatched to ${peerId}`);
    this.everDispatched.add(peerId);
    this.outstanding.add(peerId);
  }

  resultArrived(replica: ReplicaResult<R>): QuorumAction<R> {
    if (replica.trusted) {
      if (!this.reexecuteAsked && !this.settled) this.reexecuteAsked = true;
    } else {
      if (!this.outstanding.has(replica.peerId))
        throw new QuorumStateError(`no replica outstanding for ${replica.peerId}`);
      this.outstanding.delete(replica.peerId);
    }
    if (this.settled) {
      if (replica.trusted) return this.settled;
      return { kind: 'late', peerId: replica.peerId, agrees: this.agree(this.settled.canonical, replica) };
    }
    this.results.push(replica);
    if (!replica.trusted) {
      const home = this.clusters.find((c) => this.agree(c[0]!, replica));
      if (home) home.push(replica);
      else this.clusters.push([replica]);
    }
    return this.next();
  }

  /**
   * The trusted check this unit waits for cannot run (the requester's engine
   * failed): the first untrusted result is accepted as unchecked, as if no
   * check had been drawn. Nothing is rejected on a check that never ran.
   */
  settleUnchecked(): QuorumAction<R> {
    if (this.settled) return this.settled;
    const first = this.results.find((r) => !r.trusted);
    if (!first) return { kind: 'wait' };
    const agreeing = this.results.filter((r) => !r.trusted && (r === first || this.agree(first, r)));
    this.settled = {
      kind: 'accept',
      canonical: first,
      agreeing: agreeing.map((r) => r.peerId),
      rejected: [],
      checked: false,
    };
    return this.settled;
  }

  replicaLost(peerId: PeerId): QuorumAction<R> {
    if (!this.outstanding.delete(peerId)) return this.settled ?? { kind: 'wait' };
    this.lost++;
    return this.next();
  }

  private next(): QuorumAction<R> {
    if (this.settled) return this.settled;
    const trusted = this.results.find((r) => r.trusted);
    if (trusted) return this.settle(trusted, true);

    const untrusted = this.results.length;
    const needsTrustedCheck = this.options.trustedCheck === true;
    if (!needsTrustedCheck) {
      const winner = this.clusters.find((c) => c.length >= this.options.quorum && 2 * c.length > untrusted);
      if (winner) return this.settle(winner[0]!, this.options.quorum >= 2);
    }
    if (needsTrustedCheck && untrusted >= 1 && !this.reexecuteAsked) {
      this.reexecuteAsked = true;
      return { kind: 'reexecute' };
    }
    if (needsTrustedCheck && this.reexecuteAsked) return { kind: 'wait' };

    const inHand = untrusted + this.outstanding.size;
    if (this.outstanding.size === 0 && untrusted >= this.target) this.target++; // all in, no majority: one more
    const exhausted = this.target > this.options.maxReplicas || this.lost > MAX_LOST_REPLICAS;
    if (exhausted) {
      if (this.outstanding.size > 0) return { kind: 'wait' };
      if (!this.reexecuteAsked) {
        this.reexecuteAsked = true;
        return { kind: 'reexecute' };
      }
      return { kind: 'wait' };
    }
    const missing = this.target - inHand;
    if (missing > 0) return { kind: 'dispatch', count: missing, avoid: [...this.everDispatched] };
    return { kind: 'wait' };
  }

  private settle(canonical: ReplicaResult<R>, checked: boolean): QuorumAction<R> {
    const agreeing: PeerId[] = [];
    const rejected: PeerId[] = [];
    for (const r of this.results) {
      if (r.trusted) continue;
      (r === canonical || this.agree(canonical, r) ? agreeing : rejected).push(r.peerId);
    }
    this.settled = { kind: 'accept', canonical, agreeing, rejected, checked: checked || rejected.length > 0 };
    return this.settled;
  }
}
