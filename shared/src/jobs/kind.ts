/**
 * What differs between job kinds. The coordinator (scheduling, verification,
 * re-runs) and the runner (peers, sessions, persistence, receipts) own the
 * rest, so a kind says only how its work is cut into units, what a unit
 * carries, how a result is checked and compared, and how much work it was. No
 * kind is assumed to be rows of a tensor: a training round or a batch of RL
 * rollouts is a unit too.
 */
import type { AlgebraicVerdict } from '../trust/jobVerifier';
import type { ReplicaResult } from '../trust/quorum';

export interface JobKind<Unit, Result> {
  /** The kind's name, as the server's matchmaker knows it. */
  readonly name: string;
  /** Units the job is cut into. */
  readonly units: number;
  /** What unit `unitId` carries to a provider. */
  unit(unitId: number): Unit;
  /** Work in the kind's own measure (rows, tokens, steps), for throughput. */
  size(unitId: number): number;
  /** Work in FLOPs, for receipts; 0 when unknown. */
  flops(unitId: number): number;
  /** Why `result` cannot be unit `unitId`'s from its structure alone (a provider fault), or undefined. */
  validate(unitId: number, result: Result): string | undefined;
  /** Whether two results of one unit agree (replicas, or a result and the requester's own). */
  agree(a: ReplicaResult<Result>, b: ReplicaResult<Result>): boolean;
  /** Why two results disagree, in words for the dashboard. */
  explain?(canonical: ReplicaResult<Result>, wrong: ReplicaResult<Result>): string;
  /** Whether a unit's error says the unit itself is at fault (it repeats on any provider), not the provider. */
  blamesModel?(error: string): boolean;
  /** A check that decides a result alone (e.g. Freivalds), where the kind has one. */
  algebraicCheck?(unitId: number, result: Result): AlgebraicVerdict;
}
