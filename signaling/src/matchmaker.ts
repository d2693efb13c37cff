/**
 * The matchmaker: a pure state machine with no I/O. It holds provider presence
 * and open jobs, and after every change re-runs assignment and returns the
 * matched/unmatched events the hub must deliver (SPEC MATCH*).
 *
 * Rules, in order:
 *  - capability: a provider serves a job only if its backend is in `needs.backends`
 *    and its measured GFLOP/s reach `needs.minGflops` (MATCH1);
 *  - capacity: a provider holds at most `slots` jobs; paused providers get no new
 *    jobs but keep the ones they have (MATCH4);
 *  - fairness: assignment goes in rounds, one provider per job per round, jobs with
 *    the fewest providers first, so one job cannot take everyone (MATCH3); a job left
 *    with none takes one from a job that has at least two more (rebalanced);
 *  - reputation: within a round, providers reported by fewer requesters win
 *    (REP2); a report excludes only from the reporting job (REP1);
 *  - load: then the least loaded, then fastest, provider wins (MATCH2).
 */
import type { Capabilities, JobNeeds } from '../../shared/src/protocol/signaling';

export interface ProviderEntry {
  id: string;
  capabilities: Capabilities;
  slots: number;
  busy: number;
  paused: boolean;
  /** Job keys in assignment order, so capacity cuts drop the newest first. */
  jobs: string[];
}

export interface JobEntry {
  key: string;
  requester: string;
  jobId: string;
  needs: JobNeeds;
  seq: number;
  /** Provider ids in assignment order. */
  assigned: string[];
  /** Providers the requester released or reported: never re-matched to this job. */
  released: Set<string>;
  /** Every provider ever assigned while the job was open: who the requester may report. */
  served: Set<string>;
}

/** How many distinct requesters reported a provider; the matchmaker only orders by it. */
export type ReportsOf = (providerId: string) => number;

export type MatchEvent =
  | { kind: 'matched'; requester: string; jobId: string; providerId: string }
  | { kind: 'unmatched'; requester: string; jobId: string; providerId: string; reason: string };

export const jobKey = (requester: string, jobId: string) => `${requester} ${jobId}`;

export class Matchmaker {
  private readonly providers = new Map<string, ProviderEntry>();
  private readonly jobs = new Map<string, JobEntry>();
  private seq = 0;

  constructor(private readonly reportsOf: ReportsOf = () => 0) {}

  get providerCount(): number {
    return this.providers.size;
  }

  get jobCount(): number {
    return this.jobs.size;
  }

  /** Announce (or re-announce) a provider; `status` is one it sent before announcing. */
  upsertProvider(
    id: string,
    capabilities: Capabilities,
    slots: number,
    status?: { busy: number; paused: boolean },
  ): MatchEvent[] {
    const existing = this.providers.get(id);
    if (existing) {
      existing.capabilities = capabilities;
      existing.slots = slots;
    } else {
      this.providers.set(id, {
        id,
        capabilities,
        slots,
        busy: status?.busy ?? 0,
        paused: status?.paused ?? false,
        jobs: [],
      });
    }
    return this.rebalance([]);
  }

  capabilitiesOf(id: string): Capabilities | undefined {
    return this.providers.get(id)?.capabilities;
  }

  jobsOfRequester(requester: string): number {
    let n = 0;
    for (const job of this.jobs.values()) if (job.requester === requester) n++;
    return n;
  }

  setProviderStatus(id: string, busy: number, paused: boolean): MatchEvent[] {
    const provider = this.providers.get(id);
    if (!provider) return [];
    provider.busy = busy;
    provider.paused = paused;
    return this.rebalance([]);
  }

  removeProvider(id: string, reason = 'provider-left'): MatchEvent[] {
    const provider = this.providers.get(id);
    if (!provider) return [];
    const events: MatchEvent[] = [];
    for (const key of [...provider.jobs]) {
      const job = this.jobs.get(key);
      if (job) this.unassign(job, provider, reason, events);
    }
    this.providers.delete(id);
    return this.rebalance(events);
  }

  /** Opens a job, or updates its needs if this requester already has it open. */
  openJob(requester: string, jobId: string, needs: JobNeeds): MatchEvent[] {
    const key = jobKey(requester, jobId);
    const existing = this.jobs.get(key);
    if (existing) existing.needs = needs;
    else
      this.jobs.set(key, {
        key,
        requester,
        jobId,
        needs,
        seq: this.seq++,
        assigned: [],
        released: new Set(),
        served: new Set(),
      });
    return this.rebalance([]);
  }

  /** Returns null when the requester has no such job. */
  closeJob(requester: string, jobId: string, reason = 'job-closed'): MatchEvent[] | null {
    const job = this.jobs.get(jobKey(requester, jobId));
    if (!job) return null;
    const events: MatchEvent[] = [];
    this.dropJob(job, reason, events);
    return this.rebalance(events);
  }

  removeRequester(requester: string, reason = 'requester-left'): MatchEvent[] {
    const events: MatchEvent[] = [];
    for (const job of [...this.jobs.values()]) if (job.requester === requester) this.dropJob(job, reason, events);
    return this.rebalance(events);
  }

  /** The requester lets a provider go; returns null unless they were paired. */
  release(requester: string, jobId: string, providerId: string): MatchEvent[] | null {
    const job = this.jobs.get(jobKey(requester, jobId));
    const provider = this.providers.get(providerId);
    if (!job || !provider || !job.assigned.includes(providerId)) return null;
    const events: MatchEvent[] = [];
    job.released.add(providerId);
    this.unassign(job, provider, 'released', events);
    return this.rebalance(events);
  }

  /** Whether `providerId` was ever assigned to this open job (it may have left or been released since). */
  hasServed(requester: string, jobId: string, providerId: string): boolean {
    return this.jobs.get(jobKey(requester, jobId))?.served.has(providerId) ?? false;
  }

  /**
   * A requester caught `providerId` in this job (SPEC REP1): like release, it is
   * unmatched (reason `reported`) if still paired and never matched to the job
   * again. Returns null unless it served the job.
   */
  report(requester: string, jobId: string, providerId: string): MatchEvent[] | null {
    const job = this.jobs.get(jobKey(requester, jobId));
    if (!job || !job.served.has(providerId)) return null;
    const events: MatchEvent[] = [];
    job.released.add(providerId);
    const provider = this.providers.get(providerId);
    if (provider && job.assigned.includes(providerId)) this.unassign(job, provider, 'reported', events);
    return this.rebalance(events);
  }

  isPaired(requester: string, jobId: string, providerId: string): boolean {
    return this.jobs.get(jobKey(requester, jobId))?.assigned.includes(providerId) ?? false;
  }

  needsOf(requester: string, jobId: string): JobNeeds | undefined {
    return this.jobs.get(jobKey(requester, jobId))?.needs;
  }

  hasJob(requester: string, jobId: string): boolean {
    return this.jobs.has(jobKey(requester, jobId));
  }

  assignmentsOf(requester: string, jobId: string): readonly string[] {
    return this.jobs.get(jobKey(requester, jobId))?.assigned ?? [];
  }

  jobsOfProvider(providerId: string): readonly string[] {
    return this.providers.get(providerId)?.jobs ?? [];
  }

  // ------------------------------------------------------------------ internals

  private dropJob(job: JobEntry, reason: string, events: MatchEvent[]): void {
    for (const id of [...job.assigned]) {
      const provider = this.providers.get(id);
      if (provider) this.unassign(job, provider, reason, events);
    }
    this.jobs.delete(job.key);
  }

  private assign(job: JobEntry, provider: ProviderEntry, events: MatchEvent[]): void {
    job.assigned.push(provider.id);
    job.served.add(provider.id);
    provider.jobs.push(job.key);
    events.push({ kind: 'matched', requester: job.requester, jobId: job.jobId, providerId: provider.id });
  }

  private unassign(job: JobEntry, provider: ProviderEntry, reason: string, events: MatchEvent[]): void {
    job.assigned = job.assigned.filter((id) => id !== provider.id);
    provider.jobs = provider.jobs.filter((key) => key !== job.key);
    events.push({ kind: 'unmatched', requester: job.requester, jobId: job.jobId, providerId: provider.id, reason });
  }

  private rebalance(events: MatchEvent[]): MatchEvent[] {
    this.dropInvalidAssignments(events);
    this.fillRounds(events);
    this.rescueStarvedJobs(events);
    return events;
  }

  private dropInvalidAssignments(events: MatchEvent[]): void {
    for (const provider of this.providers.values()) {
      for (const key of [...provider.jobs]) {
        const job = this.jobs.get(key);
        if (job && !capable(provider, job.needs)) this.unassign(job, provider, 'not-capable', events);
      }
      while (provider.jobs.length > provider.slots) {
        const job = this.jobs.get(provider.jobs[provider.jobs.length - 1]!);
        if (!job) break;
        this.unassign(job, provider, 'capacity', events);
      }
    }
    for (const job of this.jobs.values()) {
      while (job.assigned.length > job.needs.maxProviders) {
        const provider = this.providers.get(job.assigned[job.assigned.length - 1]!);
        if (!provider) break;
        this.unassign(job, provider, 'capacity', events);
      }
    }
  }

  private fillRounds(events: MatchEvent[]): void {
    for (;;) {
      let assignedAny = false;
      for (const job of this.jobsByNeed()) {
        if (job.assigned.length >= job.needs.maxProviders) continue;
        const best = this.bestFreeProvider(job);
        if (best) {
          this.assign(job, best, events);
          assignedAny = true;
        }
      }
      if (!assignedAny) return;
    }
  }

  /** A job that wants providers but has at least two fewer than another takes one from it. */
  private rescueStarvedJobs(events: MatchEvent[]): void {
    // Each move strictly narrows the spread of assignment counts, so this terminates;
    // the bound is a guard, not a tuning knob.
    for (let guard = 0; guard < 10_000; guard++) {
      let moved = false;
      for (const starved of this.jobsByNeed()) {
        if (starved.assigned.length >= starved.needs.maxProviders) continue;
        const donor = this.donorFor(starved);
        if (!donor) continue;
        this.unassign(donor.job, donor.provider, 'rebalanced', events);
        this.assign(starved, donor.provider, events);
        moved = true;
        break;
      }
      if (!moved) return;
    }
  }

  private donorFor(starved: JobEntry): { job: JobEntry; provider: ProviderEntry } | null {
    const donors = [...this.jobs.values()]
      .filter((j) => j !== starved && j.assigned.length >= starved.assigned.length + 2)
      .sort((a, b) => b.assigned.length - a.assigned.length || b.seq - a.seq);
    for (const job of donors) {
      for (let i = job.assigned.length - 1; i >= 0; i--) {
        const provider = this.providers.get(job.assigned[i]!);
        if (provider && !provider.paused && this.canServe(provider, starved)) return { job, provider };
      }
    }
    return null;
  }

  private jobsByNeed(): JobEntry[] {
    return [...this.jobs.values()].sort((a, b) => a.assigned.length - b.assigned.length || a.seq - b.seq);
  }

  private bestFreeProvider(job: JobEntry): ProviderEntry | null {
    let best: ProviderEntry | null = null;
    for (const provider of this.providers.values()) {
      if (provider.paused || provider.jobs.length >= provider.slots || !this.canServe(provider, job)) continue;
      if (!best || this.rank(provider, best) < 0) best = provider;
    }
    return best;
  }

  /** Negative when `a` should be chosen before `b`: fewer reports, then less loaded, then faster, then stable by id. */
  private rank(a: ProviderEntry, b: ProviderEntry): number {
    return this.reportsOf(a.id) - this.reportsOf(b.id) || rankByLoad(a, b);
  }

  private canServe(provider: ProviderEntry, job: JobEntry): boolean {
    return !job.assigned.includes(provider.id) && !job.released.has(provider.id) && capable(provider, job.needs);
  }
}

export function capable(provider: Pick<ProviderEntry, 'capabilities'>, needs: JobNeeds): boolean {
  const { backend, gflops } = provider.capabilities;
  if (needs.backends && !needs.backends.includes(backend)) return false;
  if (needs.minGflops !== undefined && gflops < needs.minGflops) return false;
  return true;
}

const load = (p: ProviderEntry) => Math.max(p.jobs.length, p.busy) / p.slots;

function rankByLoad(a: ProviderEntry, b: ProviderEntry): number {
  return load(a) - load(b) || b.capabilities.gflops - a.capabilities.gflops || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
