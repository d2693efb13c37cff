/**
 * The requester's verifier for one job: policy + reputation + one quorum per unit.
 * The coordinator feeds it what happened (dispatched, result, lost) and does what it
 * answers (dispatch replicas, re-execute locally, accept, exclude a provider and re-run
 * its unchecked units: each id in `rerun` is opened again with `openUnit`). No I/O.
 *
 * Flow: plan → dispatch → compute → verify → accept → persist. Signatures are
 * checked before a result gets here (signedResult.ts); receipts are issued from
 * `credits()` (job end, or batches), so a provider caught later loses the
 * credit for its unchecked units along with the units themselves.
 */
import type { PeerId } from '../identity';
import type { JobPolicy } from './policy';
import { cryptoRandom, type RandomSource } from './random';
import { UnitQuorum, type Agree, type QuorumAction, type ReplicaResult } from './quorum';
import type { ReputationBook } from './reputation';
import { blockLength, CheckSchedule, isTrusted, planCheck, type CheckPlan } from './sampling';
import { QuorumStateError } from './errors';

export type VerifierAction<R> =
  | { kind: 'dispatch'; unitId: number; count: number; avoid: PeerId[] }
  | { kind: 'reexecute'; unitId: number }
  | { kind: 'accept'; unitId: number; result: R; providers: PeerId[]; checked: boolean }
  | { kind: 'exclude'; peerId: PeerId; reason: string; rerun: number[] }
  /** A replica that arrived after its unit was accepted agreed with it: it earns credit too. */
  | { kind: 'credit'; unitId: number; peerId: PeerId };

export type AlgebraicVerdict = { ok: true } | { ok: false; reason: string };

export type UnitStatus = 'pending' | 'verified' | 'unchecked';

export interface UnitRecord {
  status: UnitStatus;
  plan: CheckPlan['check'];
  /** Results this unit rejected, and why: for the dashboard. */
  rejections: { peerId: PeerId; reason: string }[];
}

export interface JobVerifierOptions<R> {
  jobId: string;
  policy: JobPolicy;
  reputation: ReputationBook;
  agree: Agree<R>;
  /** Describes why two results disagree (for rejections); defaults to a generic reason. */
  explain?: (canonical: ReplicaResult<R>, wrong: ReplicaResult<R>, unitId: number) => string;
  /**
   * An algebraic check (e.g. Freivalds) that decides a result alone; replaces replication for this job.
   * `false` or `{ ok: false, reason }` rejects the result (the reason is shown to the requester).
   */
  algebraicCheck?: (unitId: number, result: R) => boolean | AlgebraicVerdict;
  rng?: RandomSource;
}

interface OpenUnit<R> {
  quorum: UnitQuorum<R>;
  results: Map<PeerId, ReplicaResult<R>>;
  /** A key whose result here was already counted as accepted (a disputed unit): counted once. */
  counted?: PeerId;
}

export class JobVerifier<R> {
  readonly jobId: string;
  private readonly options: JobVerifierOptions<R>;
  private readonly rng: RandomSource;
  private readonly open = new Map<number, OpenUnit<R>>();
  /** Settled units keep their quorum so a late replica is still judged against the canonical result. */
  private readonly settled = new Map<number, OpenUnit<R>>();
  private readonly units = new Map<number, UnitRecord>();
  private readonly accepted = new Map<number, { providers: PeerId[]; checked: boolean }>();
  private readonly excluded = new Set<PeerId>();
  /** Where each trusted key stands in its blocks of checks, this job (SPEC TRUST-A1). */
  private readonly schedule: CheckSchedule;

  constructor(options: JobVerifierOptions<R>) {
    this.jobId = options.jobId;
    this.options = options;
    this.rng = options.rng ?? cryptoRandom();
    this.schedule = new CheckSchedule(blockLength(options.policy.sampleRate));
  }

  isExcluded(peerId: PeerId): boolean {
    return this.excluded.has(peerId) || this.options.reputation.isExcluded(peerId);
  }

  /** Plans a unit whose primary is `primary`; the answer says how many providers (primary included) to send it to. */
  openUnit(unitId: number, primary: PeerId): VerifierAction<R>[] {
    if (this.open.has(unitId)) throw new QuorumStateError(`unit ${unitId} is already open`);
    this.settled.delete(unitId);
    const policy = this.options.policy;
    const reputation = this.options.reputation.get(primary);
    const plan: CheckPlan = this.options.algebraicCheck
      ? { check: 'none', replicas: 1, probability: 1 }
      : planCheck(policy, reputation, this.rng, this.schedule.position(primary));
    if (policy.adaptive && isTrusted(reputation)) this.schedule.advance(primary, plan.check !== 'none');
    const quorum = new UnitQuorum<R>(
      {
        initialReplicas: plan.replicas,
        quorum: plan.check === 'replica' ? Math.floor(plan.replicas / 2) + 1 : 1,
        maxReplicas: Math.max(policy.maxReplicas, plan.replicas),
        trustedCheck: plan.check === 'requester',
      },
      this.options.agree,
    );
    this.open.set(unitId, { quorum, results: new Map() });
    const previous = this.units.get(unitId);
    this.units.set(unitId, {
      status: 'pending',
      plan: this.options.algebraicCheck ? 'requester' : plan.check,
      rejections: previous?.rejections ?? [],
    });
    return this.translate(unitId, quorum.start());
  }

  dispatched(unitId: number, peerId: PeerId): void {
    this.mustOpen(unitId).quorum.dispatched(peerId);
  }

  /** A result whose signature already verified. Results from excluded keys count as lost. */
  resultArrived(unitId: number, replica: ReplicaResult<R>): VerifierAction<R>[] {
    const openUnit = this.open.get(unitId);
    const unit = openUnit ?? this.settled.get(unitId);
    if (!unit) return []; // unknown or re-opened: a straggler
    if (!openUnit && (replica.trusted || this.options.algebraicCheck)) return []; // already decided
    if (!replica.trusted && this.isExcluded(replica.peerId)) return this.replicaLost(unitId, replica.peerId);
    if (!replica.trusted) this.options.reputation.recordPending(replica.peerId);
    unit.results.set(replica.peerId, replica);
    if (this.options.algebraicCheck && !replica.trusted) {
      if (!unit.quorum.isOutstanding(replica.peerId))
        throw new QuorumStateError(`no replica outstanding for ${replica.peerId}`);
      this.open.delete(unitId);
      const verdict = this.options.algebraicCheck(unitId, replica.result);
      if (verdict === true || (typeof verdict === 'object' && verdict.ok)) {
        this.options.reputation.recordAccepted(replica.peerId, true);
        this.accepted.set(unitId, { providers: [replica.peerId], checked: true });
        this.units.get(unitId)!.status = 'verified';
        return [{ kind: 'accept', unitId, result: replica.result, providers: [replica.peerId], checked: true }];
      }
      const why = typeof verdict === 'object' && !verdict.ok ? verdict.reason : 'algebraic check failed';
      const actions = this.reject(unitId, replica.peerId, why);
      for (const a of actions) if (a.kind === 'exclude') a.rerun.unshift(unitId);
      return actions;
    }
    return this.translate(unitId, unit.quorum.resultArrived(replica));
  }

  /**
   * A copy of a decided unit (speculative, computed anyway) is judged, not discarded
   * (TRUST-Q7). Undefined when the unit is not decided here (open, unknown, re-run since).
   */
  copyArrived(unitId: number, copy: ReplicaResult<R>): VerifierAction<R>[] | undefined {
    const [unit, accepted] = [this.settled.get(unitId), this.accepted.get(unitId)];
    const canonical = unit?.quorum.canonical;
    const checksNothing = !this.options.policy.adaptive && this.options.policy.sampleRate === 0; // judges no copy
    if (!unit || !accepted || !canonical || copy.trusted || this.options.algebraicCheck || checksNothing) return;
    if (this.isExcluded(copy.peerId) || unit.results.has(copy.peerId)) return;
    if (this.options.agree(canonical, copy)) {
      unit.results.set(copy.peerId, copy);
      this.options.reputation.recordAccepted(copy.peerId, true);
      if (!accepted.checked) for (const p of accepted.providers) this.options.reputation.recordVerified(p);
      accepted.checked = true;
      accepted.providers.push(copy.peerId);
      this.units.get(unitId)!.status = 'verified';
      return [{ kind: 'credit', unitId, peerId: copy.peerId }];
    }
    if (accepted.checked) return this.reject(unitId, copy.peerId, 'its copy disagrees with the verified result');
    return this.dispute(unitId, canonical, copy);
  }

  replicaLost(unitId: number, peerId: PeerId): VerifierAction<R>[] {
    const unit = this.open.get(unitId);
    if (!unit) return [];
    return this.translate(unitId, unit.quorum.replicaLost(peerId));
  }

  /**
   * The requester's check of an open unit cannot run (its engine failed): the
   * unit is accepted unchecked on the results in hand, and nobody is rejected.
   */
  checkUnavailable(unitId: number): VerifierAction<R>[] {
    const unit = this.open.get(unitId);
    if (!unit) return [];
    return this.translate(unitId, unit.quorum.settleUnchecked());
  }

  /**
   * `peerId` broke the protocol outside any replica comparison (a bad
   * signature, a result of the wrong shape): excluded like a caught cheat.
   */
  exclude(peerId: PeerId, reason: string): VerifierAction<R>[] {
    return this.reject(undefined, peerId, reason);
  }

  isOpen(unitId: number): boolean {
    return this.open.has(unitId);
  }

  status(unitId: number): UnitRecord | undefined {
    return this.units.get(unitId);
  }

  /** verified / unchecked / pending units and rejected results: what the dashboard shows. */
  counts(): { verified: number; unchecked: number; pending: number; rejectedResults: number } {
    const c = { verified: 0, unchecked: 0, pending: 0, rejectedResults: 0 };
    for (const u of this.units.values()) {
      c[u.status]++;
      c.rejectedResults += u.rejections.length;
    }
    return c;
  }

  /** (unit, provider) pairs that earned a receipt: accepted and not from a key excluded since. */
  credits(): { unitId: number; provider: PeerId }[] {
    const out: { unitId: number; provider: PeerId }[] = [];
    for (const [unitId, a] of this.accepted)
      for (const p of a.providers) if (!this.isExcluded(p)) out.push({ unitId, provider: p });
    return out;
  }

  private mustOpen(unitId: number): OpenUnit<R> {
    const unit = this.open.get(unitId);
    if (!unit) throw new QuorumStateError(`unit ${unitId} is not open`);
    return unit;
  }

  private translate(unitId: number, action: QuorumAction<R>): VerifierAction<R>[] {
    switch (action.kind) {
      case 'wait':
        return [];
      case 'dispatch':
        return [{ kind: 'dispatch', unitId, count: action.count, avoid: action.avoid }];
      case 'reexecute':
        return [{ kind: 'reexecute', unitId }];
      case 'late':
        if (!action.agrees) return this.reject(unitId, action.peerId, 'late result disagrees with the accepted one');
        this.options.reputation.recordAccepted(action.peerId, true);
        this.accepted.get(unitId)?.providers.push(action.peerId);
        return [{ kind: 'credit', unitId, peerId: action.peerId }];
      case 'accept': {
        const unit = this.open.get(unitId) ?? this.settled.get(unitId)!;
        this.open.delete(unitId);
        this.settled.set(unitId, unit);
        const out: VerifierAction<R>[] = [];
        for (const peerId of action.rejected) {
          const wrong = unit.results.get(peerId);
          const why =
            wrong && this.options.explain
              ? this.options.explain(action.canonical, wrong, unitId)
              : 'disagrees with the canonical result';
          out.push(...this.reject(unitId, peerId, why));
        }
        const providers = action.agreeing.filter((p) => !this.isExcluded(p));
        for (const p of providers)
          if (p === unit.counted) this.options.reputation.recordVerified(p);
          else this.options.reputation.recordAccepted(p, action.checked);
        this.accepted.set(unitId, { providers, checked: action.checked });
        const record = this.units.get(unitId)!;
        record.status = action.checked ? 'verified' : 'unchecked';
        out.unshift({ kind: 'accept', unitId, result: action.canonical.result, providers, checked: action.checked });
        return out;
      }
    }
  }

  /** Two results of a unit accepted unchecked disagree: it is open again, both in hand, until a third decides. */
  private dispute(unitId: number, first: ReplicaResult<R>, copy: ReplicaResult<R>): VerifierAction<R>[] {
    const { maxReplicas, checkWith } = this.options.policy;
    const options = { initialReplicas: 2, quorum: 2, maxReplicas: Math.max(maxReplicas, 2) };
    const quorum = new UnitQuorum<R>({ ...options, trustedCheck: checkWith === 'requester' }, this.options.agree);
    const results = new Map([first, copy].map((r) => [r.peerId, r]));
    this.settled.delete(unitId);
    this.accepted.delete(unitId);
    this.open.set(unitId, { quorum, results, counted: first.peerId });
    Object.assign(this.units.get(unitId)!, { status: 'pending', plan: checkWith });
    this.options.reputation.recordPending(copy.peerId);
    for (const r of [first, copy]) quorum.dispatched(r.peerId);
    const [asked, more] = [quorum.resultArrived(first), quorum.resultArrived(copy)];
    return [...this.translate(unitId, asked), ...this.translate(unitId, more)];
  }

  /** Records a caught wrong result, excludes the key, and re-opens every unit it alone vouched for. */
  private reject(unitId: number | undefined, peerId: PeerId, reason: string): VerifierAction<R>[] {
    if (unitId !== undefined) this.units.get(unitId)?.rejections.push({ peerId, reason });
    if (this.excluded.has(peerId)) return [];
    const where = unitId === undefined ? '' : ` unit ${unitId}`;
    this.options.reputation.recordRejected(peerId, `job ${this.jobId}${where}: ${reason}`);
    this.excluded.add(peerId);
    const rerun: number[] = [];
    for (const [id, a] of this.accepted) {
      if (a.checked || !a.providers.includes(peerId)) continue;
      this.accepted.delete(id);
      const record = this.units.get(id);
      if (record) record.status = 'pending';
      rerun.push(id);
    }
    return [{ kind: 'exclude', peerId, reason, rerun }];
  }
}
