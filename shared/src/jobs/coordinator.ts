/**
 * The requester's brain for one job: which unit goes to which provider, how
 * each result is verified, what is accepted, who is excluded and what runs
 * again. Pure and synchronous: the shell (the browser runner, the trust bench,
 * the tests) feeds it events — a provider became ready, a result arrived, a
 * check finished, a provider left — and carries out the commands it returns
 * (send a unit, run a check, store a result, reject a key). It does no I/O and
 * knows nothing of tensors: a job kind supplies how results compare.
 *
 * Verification is the JobVerifier's (SPEC TRUST-*): for redundancy ≥ 2 a unit
 * is opened with its replicas when first dispatched; for redundancy 1 it is
 * opened when its first result arrives, so the check is drawn on the
 * reputation of the key that actually answered (a speculative copy from a new
 * key is checked as a new key, whoever was sent the unit first).
 */
import type { PeerId } from '../identity';
import { QuorumStateError } from '../trust/errors';
import { JobVerifier, type AlgebraicVerdict, type VerifierAction } from '../trust/jobVerifier';
import type { JobPolicy } from '../trust/policy';
import type { Agree, ReplicaResult } from '../trust/quorum';
import type { RandomSource } from '../trust/random';
import type { ReputationBook } from '../trust/reputation';
import {
  MAX_PENDING_CHECKS_PER_PROVIDER,
  MAX_PROVIDER_FAILURES,
  MAX_SPECULATIVE_HOLDERS,
  MAX_UNIT_FAILURES,
  UNITS_IN_FLIGHT_PER_PROVIDER,
} from './constants';

export type CoordinatorCommand<R> =
  /** Send unit `unitId` to `peerId`. */
  | { type: 'send'; peerId: PeerId; unitId: number }
  /** Run the unit on the requester's own engine; answer with checkDone or checkUnavailable. */
  | { type: 'check'; unitId: number }
  /** The unit's result is decided: store it; `providers` earn credit. */
  | { type: 'accept'; unitId: number; result: R; providers: PeerId[]; checked: boolean }
  /** A replica that arrived after its unit was accepted agreed with it. */
  | { type: 'credit'; peerId: PeerId; unitId: number }
  /** `peerId` cannot run this job (its model does not load there, its device keeps failing): release it, blame nobody. */
  | { type: 'drop'; peerId: PeerId; reason: string }
  /** `peerId` is excluded from the job; `rerun` lists accepted units it alone vouched for, now to compute again. */
  | { type: 'reject'; peerId: PeerId; reason: string; rerun: number[] }
  /** A speculative copy arrived after its unit was decided: discarded. */
  | { type: 'duplicate'; peerId: PeerId; unitId: number }
  /** Replicas disagreed: another provider is asked. */
  | { type: 'disagreement'; unitId: number }
  /** The job cannot go on. */
  | { type: 'fail'; reason: string };

export interface CoordinatorOptions<R> {
  jobId: string;
  units: number;
  policy: JobPolicy;
  reputation: ReputationBook;
  agree: Agree<R>;
  /** Why two results disagree (the kind's words); the coordinator adds which check found it. */
  explain?: (canonical: ReplicaResult<R>, wrong: ReplicaResult<R>) => string;
  /** A check that decides a result alone, without re-execution (Freivalds for matrix products). */
  algebraicCheck?: (unitId: number, result: R) => AlgebraicVerdict;
  /**
   * Whether a unit's error says the model or its input is at fault (the kind's words); such an
   * error that repeats ends the job. Without it every repeated error does.
   */
  blamesModel?: (error: string) => boolean;
  /** Whether the requester can run units itself ('check' commands). */
  canCheck: boolean;
  /** Units already stored (a resumed job). */
  done?: Iterable<number>;
  /** Units stored but to compute again (their provider was caught before a reload). */
  rerun?: Iterable<number>;
  rng?: RandomSource;
}

/** What the dashboard shows about verification, kept by the coordinator as it decides. */
export interface CoordinatorStats {
  /** Requester-side checks (re-execution or algebraic) run, and how many caught a wrong result. */
  checks: { checked: number; failed: number };
  verified: number;
  unchecked: number;
  rejected: number;
  reasons: string[];
  duplicates: number;
}

interface ProviderSlot {
  adapterClass: string;
  ready: boolean;
  inFlight: Set<number>;
  /** Results of this provider waiting for a requester check. */
  pendingChecks: number;
  /** Units it failed in a row with errors that blame its device. */
  deviceFailures: number;
  /** It cannot run this job (providerDeclined, or MAX_PROVIDER_FAILURES): it gets no more work. */
  dropped: boolean;
}

interface Wanted {
  count: number;
  avoid: Set<PeerId>;
  /** Asked for after results disagreed (not the unit's initial plan): may fall to the requester. */
  escalate: boolean;
}

const MAX_REASONS_KEPT = 20;

export class JobCoordinator<R> {
  readonly verifier: JobVerifier<R>;
  private readonly options: CoordinatorOptions<R>;
  private readonly providers = new Map<PeerId, ProviderSlot>();
  private readonly done: Uint8Array;
  private doneCount = 0;
  private readonly rerun = new Set<number>();
  /** Peers holding each unit now. */
  private readonly holders = new Map<number, Set<PeerId>>();
  /** Peers the verifier was told hold the unit (planned replicas): only their late results are judged. */
  private readonly planned = new Map<number, Set<PeerId>>();
  private readonly wanted = new Map<number, Wanted>();
  /** Units waiting for a requester check → the peers whose results wait with them. */
  private readonly checking = new Map<number, PeerId[]>();
  private cursor = 0;
  private failed = false;
  /** Errors each unit failed with so far. */
  private readonly failures = new Map<number, string[]>();
  readonly stats: CoordinatorStats = {
    checks: { checked: 0, failed: 0 },
    verified: 0,
    unchecked: 0,
    rejected: 0,
    reasons: [],
    duplicates: 0,
  };

  constructor(options: CoordinatorOptions<R>) {
    this.options = options;
    this.done = new Uint8Array(options.units);
    for (const u of options.rerun ?? []) if (u >= 0 && u < options.units) this.rerun.add(u);
    for (const u of options.done ?? []) {
      if (u < 0 || u >= options.units || this.done[u] || this.rerun.has(u)) continue;
      this.done[u] = 1;
      this.doneCount++;
    }
    const algebraic = options.algebraicCheck;
    this.verifier = new JobVerifier<R>({
      jobId: options.jobId,
      policy: options.policy,
      reputation: options.reputation,
      agree: options.agree,
      explain: (canonical, wrong, unitId) => {
        const detail = options.explain?.(canonical, wrong);
        const why = detail ? ` (${detail})` : '';
        return canonical.trusted
          ? `unit ${unitId} failed the spot check${why}`
          : `unit ${unitId}: its replica disagreed with the majority${why}`;
      },
      algebraicCheck: algebraic
        ? (unitId, result) => {
            this.stats.checks.checked++;
            const verdict = algebraic(unitId, result);
            if (verdict.ok) return verdict;
            this.stats.checks.failed++;
            return { ok: false, reason: `unit ${unitId} failed the algebraic check: ${verdict.reason}` };
          }
        : undefined,
      rng: options.rng,
    });
  }

  get units(): number {
    return this.done.length;
  }

  get finished(): number {
    return this.doneCount;
  }

  get complete(): boolean {
    return this.doneCount === this.done.length;
  }

  /** Units stored whose results must be computed again; persist with the job. */
  rerunUnits(): number[] {
    return [...this.rerun];
  }

  inFlight(peerId?: PeerId): number {
    if (peerId !== undefined) return this.providers.get(peerId)?.inFlight.size ?? 0;
    let n = 0;
    for (const p of this.providers.values()) n += p.inFlight.size;
    return n;
  }

  /** Whether `peerId` was sent `unitId` and has not answered it. */
  holds(peerId: PeerId, unitId: number): boolean {
    return this.providers.get(peerId)?.inFlight.has(unitId) ?? false;
  }

  isExcluded(peerId: PeerId): boolean {
    return this.verifier.isExcluded(peerId);
  }

  /** `peerId` can take work (its link is open and its model loaded, or it resumed after a pause). */
  providerReady(peerId: PeerId, adapterClass: string): CoordinatorCommand<R>[] {
    let slot = this.providers.get(peerId);
    if (!slot) {
      slot = { adapterClass, ready: false, inFlight: new Set(), pendingChecks: 0, deviceFailures: 0, dropped: false };
      this.providers.set(peerId, slot);
    }
    slot.adapterClass = adapterClass;
    slot.ready = !this.isExcluded(peerId) && !slot.dropped;
    return this.pump(peerId);
  }

  /** `peerId` paused: it keeps what it holds but takes nothing new. */
  providerPaused(peerId: PeerId): void {
    const slot = this.providers.get(peerId);
    if (slot) slot.ready = false;
  }

  /** `peerId` left (or its link broke): what it held goes back to the queue. */
  providerGone(peerId: PeerId): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    if (!slot) return [];
    this.providers.delete(peerId);
    const out: CoordinatorCommand<R>[] = [];
    for (const unitId of slot.inFlight) out.push(...this.release(unitId, peerId));
    return [...out, ...this.pumpAll()];
  }

  /**
   * The provider did not compute the unit: it goes back to the queue.
   * `error`: what went wrong, or undefined when the provider only declined it
   * (paused). An error that repeats for one unit — on one provider or two —
   * and says the model or its input is at fault (options.blamesModel) fails
   * the job with it rather than re-sending the unit forever; so does the
   * MAX_UNIT_FAILURES-th failure of one unit, of any kind. An error that
   * blames the provider's device may repeat, and counts against the provider
   * too: after MAX_PROVIDER_FAILURES in a row it is dropped from the job.
   * Nobody is blamed for any of them.
   */
  unitFailed(peerId: PeerId, unitId: number, error?: string): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    if (!slot?.inFlight.delete(unitId)) return [];
    const out = this.release(unitId, peerId);
    if (error !== undefined) {
      const modelFault = this.options.blamesModel?.(error) ?? true;
      if (!modelFault && ++slot.deviceFailures >= MAX_PROVIDER_FAILURES)
        out.push(...this.drop(peerId, `failed ${slot.deviceFailures} units in a row: ${error}`));
      const errors = this.failures.get(unitId) ?? [];
      const repeated = modelFault && errors.includes(error);
      errors.push(error);
      this.failures.set(unitId, errors);
      // Device errors count towards the unit's cap too: one that only ever fails "out of memory" is too big to run.
      if (repeated || errors.length >= MAX_UNIT_FAILURES) {
        this.failed = true;
        const why = repeated ? 'fails the same way on every try' : `failed ${errors.length} times`;
        return [...out, { type: 'fail', reason: `unit ${unitId} ${why}: ${error}` }];
      }
    }
    return [...out, ...this.pumpAll()];
  }

  /**
   * `peerId` cannot run this job (e.g. the model does not load on its backend): what it holds goes
   * back to the queue, it gets nothing more, and it is not counted as faulty.
   */
  providerDeclined(peerId: PeerId, reason: string): CoordinatorCommand<R>[] {
    if (!this.providers.has(peerId))
      this.providers.set(peerId, {
        adapterClass: '',
        ready: false,
        inFlight: new Set(),
        pendingChecks: 0,
        deviceFailures: 0,
        dropped: false,
      });
    return [...this.drop(peerId, reason), ...this.pumpAll()];
  }

  /** Whether any provider can take work now; false while the job waits for one. */
  get canRun(): boolean {
    for (const [peerId, slot] of this.providers)
      if ((slot.ready || slot.inFlight.size > 0) && !this.isExcluded(peerId)) return true;
    return this.checking.size > 0;
  }

  private drop(peerId: PeerId, reason: string): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    if (!slot || slot.dropped) return [];
    slot.dropped = true;
    slot.ready = false;
    const out: CoordinatorCommand<R>[] = [{ type: 'drop', peerId, reason }];
    for (const unitId of [...slot.inFlight]) {
      slot.inFlight.delete(unitId);
      out.push(...this.release(unitId, peerId));
    }
    return out;
  }

  /**
   * A result whose signature and shape the shell already checked. A result
   * for a unit the provider does not hold (late after a re-pair) is ignored.
   */
  resultArrived(peerId: PeerId, unitId: number, result: R): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    if (!slot?.inFlight.delete(unitId)) return [];
    this.holders.get(unitId)?.delete(peerId);
    slot.deviceFailures = 0;
    const out = this.judge(slot, peerId, unitId, result);
    return [...out, ...this.pumpAll()];
  }

  /** The shell refused what `peerId` sent (bad signature, wrong shape, malformed message): it is excluded. */
  refuse(peerId: PeerId, reason: string, unitId?: number): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    if (slot && unitId !== undefined && slot.inFlight.delete(unitId)) this.holders.get(unitId)?.delete(peerId);
    return [...this.carryOut(this.verifier.exclude(peerId, reason)), ...this.pumpAll()];
  }

  /** The requester's own result for a unit it was asked to check. */
  checkDone(unitId: number, result: R, adapterClass: string): CoordinatorCommand<R>[] {
    if (!this.endCheck(unitId)) return [];
    this.stats.checks.checked++;
    const actions = this.verifier.resultArrived(unitId, { peerId: 'requester', adapterClass, result, trusted: true });
    if (actions.some((a) => a.kind === 'exclude')) this.stats.checks.failed++;
    return [...this.carryOut(actions), ...this.pumpAll()];
  }

  /** The requester's check could not run (its engine failed): the unit is accepted unchecked. */
  checkUnavailable(unitId: number): CoordinatorCommand<R>[] {
    if (!this.endCheck(unitId)) return [];
    return [...this.carryOut(this.verifier.checkUnavailable(unitId)), ...this.pumpAll()];
  }

  /** Fills every ready provider's window. */
  pumpAll(): CoordinatorCommand<R>[] {
    const out: CoordinatorCommand<R>[] = [];
    for (const peerId of this.providers.keys()) out.push(...this.pump(peerId));
    out.push(...this.escalateStalled());
    return out;
  }

  private pump(peerId: PeerId): CoordinatorCommand<R>[] {
    const slot = this.providers.get(peerId);
    const out: CoordinatorCommand<R>[] = [];
    if (!slot) return out;
    if (slot.ready && this.isExcluded(peerId)) slot.ready = false;
    while (
      !this.failed &&
      slot.ready &&
      slot.inFlight.size < UNITS_IN_FLIGHT_PER_PROVIDER &&
      slot.pendingChecks < MAX_PENDING_CHECKS_PER_PROVIDER
    ) {
      const unitId = this.assign(peerId, out);
      if (unitId === undefined) break;
      slot.inFlight.add(unitId);
      this.holdersOf(unitId).add(peerId);
      if (this.verifier.isOpen(unitId)) this.plan(unitId, peerId);
      out.push({ type: 'send', peerId, unitId });
    }
    return out;
  }

  /** Replicas a unit is waiting for first, then the next fresh unit, then (redundancy 1) a speculative copy. */
  private assign(peerId: PeerId, out: CoordinatorCommand<R>[]): number | undefined {
    for (const [unitId, want] of this.wanted) {
      if (want.count <= 0 || want.avoid.has(peerId) || this.holdersOf(unitId).has(peerId)) continue;
      want.count--;
      want.avoid.add(peerId);
      if (want.count === 0) this.wanted.delete(unitId);
      return unitId;
    }
    const fresh = this.nextFresh();
    if (fresh !== undefined) {
      if (this.options.policy.redundancy >= 2) out.push(...this.open(fresh, peerId, false));
      return fresh;
    }
    if (this.options.policy.redundancy === 1) return this.speculative(peerId);
    return undefined;
  }

  private nextFresh(): number | undefined {
    while (this.cursor < this.done.length && this.done[this.cursor]) this.cursor++;
    for (let u = this.cursor; u < this.done.length; u++) {
      if (this.done[u] || this.verifier.isOpen(u) || this.holdersOf(u).size > 0) continue;
      return u;
    }
    return undefined;
  }

  /** The lowest undecided unit held only elsewhere, not waiting on a check. */
  private speculative(peerId: PeerId): number | undefined {
    for (let u = this.cursor; u < this.done.length; u++) {
      if (this.done[u] || this.checking.has(u) || this.wanted.has(u)) continue;
      const holders = this.holdersOf(u);
      if (holders.size === 0 || holders.size >= MAX_SPECULATIVE_HOLDERS || holders.has(peerId)) continue;
      if (this.planned.get(u)?.has(peerId)) continue;
      return u;
    }
    return undefined;
  }

  /**
   * Opens the unit in the verifier with `primary` as its first replica.
   * `escalate`: replicas the plan asks for may fall to the requester when no
   * provider can take them (a sampled check); a job's own redundancy waits.
   */
  private open(unitId: number, primary: PeerId, escalate: boolean): CoordinatorCommand<R>[] {
    const actions = this.verifier.openUnit(unitId, primary);
    const out: CoordinatorCommand<R>[] = [];
    for (const a of actions) {
      if (a.kind === 'dispatch') {
        // The primary is one of the `count`; the rest go to other providers.
        const extra = a.count - 1;
        if (extra > 0) this.wanted.set(unitId, { count: extra, avoid: new Set([...a.avoid, primary]), escalate });
      } else out.push(...this.carryOut([a]));
    }
    return out;
  }

  private plan(unitId: number, peerId: PeerId): void {
    let set = this.planned.get(unitId);
    if (!set) this.planned.set(unitId, (set = new Set()));
    if (set.has(peerId)) return;
    set.add(peerId);
    this.verifier.dispatched(unitId, peerId);
  }

  private judge(slot: ProviderSlot, peerId: PeerId, unitId: number, result: R): CoordinatorCommand<R>[] {
    const replica: ReplicaResult<R> = { peerId, adapterClass: slot.adapterClass, result };
    const planned = this.planned.get(unitId)?.has(peerId) ?? false;
    if (this.done[unitId] && !planned) return this.judgeCopy(peerId, unitId, replica);
    const out: CoordinatorCommand<R>[] = [];
    if (!this.verifier.isOpen(unitId) && !this.done[unitId]) {
      // Redundancy 1: the unit is opened on the key that answered first, and the check drawn for it.
      out.push(...this.open(unitId, peerId, true));
      this.plan(unitId, peerId);
      if (this.verifier.status(unitId)?.plan !== 'none') {
        // Copies already out elsewhere count as replicas of the check.
        for (const other of this.holdersOf(unitId)) {
          this.plan(unitId, other);
          const want = this.wanted.get(unitId);
          if (want && --want.count <= 0) this.wanted.delete(unitId);
        }
      }
    }
    try {
      out.push(...this.carryOut(this.verifier.resultArrived(unitId, replica), peerId));
    } catch (error) {
      if (!(error instanceof QuorumStateError)) throw error;
      // Not a replica the verifier is owed (decided and forgotten): nothing to judge.
      this.stats.duplicates++;
      out.push({ type: 'duplicate', peerId, unitId });
    }
    return out;
  }

  /**
   * A copy of a decided unit (speculative, computed anyway) is judged against it (SPEC
   * TRUST-Q7): agreement verifies the unit, a copy that contradicts a checked result is
   * caught, and one that contradicts an unchecked result reopens the unit until a third
   * result decides. A copy the verifier cannot judge is discarded.
   */
  private judgeCopy(peerId: PeerId, unitId: number, replica: ReplicaResult<R>): CoordinatorCommand<R>[] {
    const wasUnchecked = this.verifier.status(unitId)?.status === 'unchecked';
    const actions = this.verifier.copyArrived(unitId, replica);
    if (!actions) {
      this.options.reputation.recordDropped(peerId);
      this.stats.duplicates++;
      return [{ type: 'duplicate', peerId, unitId }];
    }
    const now = this.verifier.status(unitId)?.status;
    if (wasUnchecked && now !== 'unchecked') this.stats.unchecked = Math.max(0, this.stats.unchecked - 1);
    if (wasUnchecked && now === 'verified') this.stats.verified++;
    if (this.verifier.isOpen(unitId)) {
      // Disputed: not done until a third result decides; both holders are owed nothing more.
      this.done[unitId] = 0;
      this.doneCount--;
      this.cursor = Math.min(this.cursor, unitId);
      this.planned.get(unitId)?.add(peerId) ?? this.planned.set(unitId, new Set([peerId]));
    }
    return this.carryOut(actions, peerId);
  }

  /** Translates the verifier's actions into commands and keeps the queue in step. */
  private carryOut(actions: VerifierAction<R>[], from?: PeerId): CoordinatorCommand<R>[] {
    const out: CoordinatorCommand<R>[] = [];
    for (const a of actions) {
      switch (a.kind) {
        case 'dispatch': {
          // The verifier's count is what is missing now, not an increment: replicas it already
          // asked for and that are not sent yet are in `wanted`. More than that means disagreement.
          const want = this.wanted.get(a.unitId);
          const more = a.count > (want?.count ?? 0);
          if (want) {
            want.count = a.count;
            for (const p of a.avoid) want.avoid.add(p);
            want.escalate ||= more;
          } else this.wanted.set(a.unitId, { count: a.count, avoid: new Set(a.avoid), escalate: more });
          if (more) out.push({ type: 'disagreement', unitId: a.unitId });
          break;
        }
        case 'reexecute':
          out.push(...this.startCheck(a.unitId, from));
          break;
        case 'accept': {
          this.wanted.delete(a.unitId);
          if (a.providers.length === 0 && this.verifier.status(a.unitId)?.plan === 'requester') {
            // A spot check caught the only result: the unit goes back to the providers (the requester's
            // own run was a check, not the job's work, and earns nobody a receipt).
            this.planned.delete(a.unitId);
            this.cursor = Math.min(this.cursor, a.unitId);
            break;
          }
          if (!this.done[a.unitId]) {
            this.done[a.unitId] = 1;
            this.doneCount++;
          }
          this.rerun.delete(a.unitId);
          if (a.checked) this.stats.verified++;
          else this.stats.unchecked++;
          out.push({ type: 'accept', unitId: a.unitId, result: a.result, providers: a.providers, checked: a.checked });
          break;
        }
        case 'credit':
          out.push({ type: 'credit', peerId: a.peerId, unitId: a.unitId });
          break;
        case 'exclude':
          out.push(...this.excluded(a.peerId, a.reason, a.rerun));
          break;
      }
    }
    return out;
  }

  private startCheck(unitId: number, from: PeerId | undefined): CoordinatorCommand<R>[] {
    if (this.checking.has(unitId)) return [];
    if (!this.options.canCheck) {
      this.failed = true;
      return [
        {
          type: 'fail',
          reason: `replicas of unit ${unitId} never agreed and this browser has no engine to decide between them`,
        },
      ];
    }
    this.wanted.delete(unitId);
    const waiting = from !== undefined ? [from] : [];
    for (const p of waiting) {
      const slot = this.providers.get(p);
      if (slot) slot.pendingChecks++;
    }
    this.checking.set(unitId, waiting);
    return [{ type: 'check', unitId }];
  }

  private endCheck(unitId: number): boolean {
    const waiting = this.checking.get(unitId);
    if (!waiting) return false;
    this.checking.delete(unitId);
    for (const p of waiting) {
      const slot = this.providers.get(p);
      if (slot && slot.pendingChecks > 0) slot.pendingChecks--;
    }
    return true;
  }

  private excluded(peerId: PeerId, reason: string, rerun: number[]): CoordinatorCommand<R>[] {
    this.stats.rejected++;
    this.stats.reasons = [...this.stats.reasons, `${peerId.slice(0, 8)}…: ${reason}`].slice(-MAX_REASONS_KEPT);
    const slot = this.providers.get(peerId);
    const out: CoordinatorCommand<R>[] = [];
    if (slot) {
      slot.ready = false;
      for (const unitId of [...slot.inFlight]) {
        slot.inFlight.delete(unitId);
        out.push(...this.release(unitId, peerId));
      }
    }
    for (const unitId of rerun) {
      if (!this.done[unitId]) continue;
      this.done[unitId] = 0;
      this.doneCount--;
      this.rerun.add(unitId);
      this.planned.delete(unitId);
      this.stats.unchecked = Math.max(0, this.stats.unchecked - 1);
      this.cursor = Math.min(this.cursor, unitId);
    }
    if (rerun.length > 0)
      this.stats.reasons = [
        ...this.stats.reasons,
        `${peerId.slice(0, 8)}…: ${rerun.length} unverified units re-queued`,
      ].slice(-MAX_REASONS_KEPT);
    return [{ type: 'reject', peerId, reason, rerun }, ...out];
  }

  /** `peerId` no longer holds `unitId`: an owed replica is lost, a fresh unit becomes fresh again. */
  private release(unitId: number, peerId: PeerId): CoordinatorCommand<R>[] {
    this.holders.get(unitId)?.delete(peerId);
    this.cursor = Math.min(this.cursor, unitId);
    if (!this.planned.get(unitId)?.delete(peerId)) return [];
    // The verifier re-offers a lost replica itself (a 'dispatch' action) or decides without it.
    const actions = this.verifier.replicaLost(unitId, peerId);
    const want = this.wanted.get(unitId);
    const out = this.carryOut(actions.filter((a) => a.kind !== 'dispatch'));
    for (const a of actions) {
      if (a.kind !== 'dispatch') continue;
      if (want) want.count = a.count;
      else this.wanted.set(unitId, { count: a.count, avoid: new Set(a.avoid), escalate: false });
    }
    return out;
  }

  /**
   * A unit whose replicas disagreed and that no live provider may take (each
   * already answered it) is settled by the requester's own check rather than
   * waiting for a provider that may never come.
   */
  private escalateStalled(): CoordinatorCommand<R>[] {
    if (!this.options.canCheck) return [];
    const out: CoordinatorCommand<R>[] = [];
    for (const [unitId, want] of this.wanted) {
      if (!want.escalate || this.holdersOf(unitId).size > 0) continue;
      const someoneCan = [...this.providers].some(
        ([p, slot]) => slot.ready && !want.avoid.has(p) && !this.isExcluded(p),
      );
      if (!someoneCan) out.push(...this.startCheck(unitId, undefined));
    }
    return out;
  }

  private holdersOf(unitId: number): Set<PeerId> {
    let set = this.holders.get(unitId);
    if (!set) this.holders.set(unitId, (set = new Set()));
    return set;
  }
}
