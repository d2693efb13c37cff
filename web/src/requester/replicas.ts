/**
 * Redundancy with quorum (SPEC TRUST-Q1..Q6) for one job: one UnitQuorum per
 * open unit, comparing replicas with the tolerance their adapter classes call
 * for in the job's table (TRUST-C1/C2, TRUST-J2). The runner feeds it dispatches, results and losses and
 * carries out the actions it returns; nothing here does I/O.
 */
import type { RawTensor } from '@shared/protocol';
import type { Capabilities } from '@shared/protocol';
import {
  adapterClassKey,
  compareOutputs,
  DEFAULT_MAX_REPLICAS,
  toleranceFor,
  UnitQuorum,
  type QuorumAction,
  type ReplicaResult,
  type ToleranceTable,
} from '@shared/trust';
import { asUnitOutputs } from '@shared/jobs';

export type Replica = ReplicaResult<RawTensor[]>;
export type ReplicaAction = QuorumAction<RawTensor[]>;

/** The class a provider's results are compared under, from what it announced. */
export function providerAdapterClass(capabilities: Pick<Capabilities, 'backend' | 'adapter'> | undefined): string {
  return adapterClassKey({
    backend: capabilities?.backend ?? 'unknown',
    vendor: capabilities?.adapter?.vendor,
    architecture: capabilities?.adapter?.architecture,
  });
}

/** `table`: the job's tolerances (jobVerification); the replicas' adapter classes pick the row. */
export function replicasAgree(a: Replica, b: Replica, table: ToleranceTable): boolean {
  return compareOutputs(
    asUnitOutputs(a.result),
    asUnitOutputs(b.result),
    toleranceFor(a.adapterClass, b.adapterClass, table),
  ).agree;
}

export class ReplicaQuorums {
  private readonly open = new Map<number, UnitQuorum<RawTensor[]>>();

  constructor(
    private readonly redundancy: number,
    private readonly tolerance: ToleranceTable,
  ) {}

  private quorum(unitId: number): UnitQuorum<RawTensor[]> {
    let q = this.open.get(unitId);
    if (!q) {
      // Majority of the replicas sent up front; more only after a disagreement.
      q = new UnitQuorum(
        {
          initialReplicas: this.redundancy,
          quorum: Math.floor(this.redundancy / 2) + 1,
          maxReplicas: Math.max(DEFAULT_MAX_REPLICAS, this.redundancy),
        },
        (a, b) => replicasAgree(a, b, this.tolerance),
      );
      this.open.set(unitId, q);
    }
    return q;
  }

  dispatched(unitId: number, peerId: string): void {
    this.quorum(unitId).dispatched(peerId);
  }

  resultArrived(unitId: number, replica: Replica): ReplicaAction {
    return this.quorum(unitId).resultArrived(replica);
  }

  /** Every open unit `peerId` still owed a replica for: each returns what to do next. */
  peerLost(peerId: string): { unitId: number; action: ReplicaAction }[] {
    const out: { unitId: number; action: ReplicaAction }[] = [];
    for (const [unitId, q] of this.open)
      if (q.isOutstanding(peerId)) out.push({ unitId, action: q.replicaLost(peerId) });
    return out;
  }

  /** A stored unit needs its quorum only to judge late replicas; forget it when none is owed. */
  forgetIfIdle(unitId: number, peers: Iterable<string>): void {
    const q = this.open.get(unitId);
    if (q && q.status === 'accepted' && ![...peers].some((p) => q.isOutstanding(p))) this.open.delete(unitId);
  }
}
