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
 *
 * Cost (MATCH9): the state is stable after every call (no free provider can serve
 * a hungry job, no move would narrow the spread), so a call only looks at what it
 * could have changed. A status that changes only `busy`, or pauses, does nothing;
 * fills and moves scan only hungry jobs that a free or movable provider's backend
 * can serve (jobs are indexed by backend), and validity checks only the provider
 * or job that changed. `work` counts the entries visited, for tests.
 */
import type { Backend, Capabilities, JobNeeds } from '@shared/protocol';

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

/** A matchmaker's whole state, in its maps' order: another replica restored from it matches the same way. */
export interface MatchmakerSnapshot {
  seq: number;
  providers: ProviderEntry[];
  jobs: Array<{
    requester: string;
    jobId: string;
    needs: JobNeeds;
    seq: number;
    assigned: string[];
    released: string[];
    served: string[];
  }>;
}

/** Index key of jobs that accept any backend. */
const ANY_BACKEND = '*';

export class Matchmaker {
  private readonly providers = new Map<string, ProviderEntry>();
  private readonly jobs = new Map<string, JobEntry>();
  /** Jobs with fewer providers than `maxProviders`, by each backend they accept (or ANY_BACKEND). */
  private readonly hungry = new Map<string, Set<JobEntry>>();
  /** Jobs holding at least two providers: the only possible donors (MATCH3). */
  private readonly rich = new Set<JobEntry>();
  private readonly jobsByRequester = new Map<string, Set<JobEntry>>();
  private seq = 0;
  /** Entries visited by matching so far; tests bound it per event (MATCH9). */
  work = 0;

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
    let provider = this.providers.get(id);
    if (provider) {
      provider.capabilities = capabilities;
      provider.slots = slots;
    } else {
      provider = { id, capabilities, slots, busy: status?.busy ?? 0, paused: status?.paused ?? false, jobs: [] };
      this.providers.set(id, provider);
    }
    const events: MatchEvent[] = [];
    this.dropInvalidAssignmentsOf(provider, events);
    return this.rebalance(events);
  }

  capabilitiesOf(id: string): Capabilities | undefined {
    return this.providers.get(id)?.capabilities;
  }

  jobsOfRequester(requester: string): number {
    return this.jobsByRequester.get(requester)?.size ?? 0;
  }

  setProviderStatus(id: string, busy: number, paused: boolean): MatchEvent[] {
    const provider = this.providers.get(id);
    if (!provider) return [];
    const unpaused = provider.paused && !paused;
    provider.busy = busy;
    provider.paused = paused;
    // Free capacity ignores `busy` (it only ranks), and pausing takes nothing away: only an unpause can match.
    return unpaused ? this.rebalance([]) : [];
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
    let job = this.jobs.get(key);
    const events: MatchEvent[] = [];
    if (job) {
      job.needs = needs;
      this.dropInvalidAssignmentsOf(job, events);
    } else {
      job = { key, requester, jobId, needs, seq: this.seq++, assigned: [], released: new Set(), served: new Set() };
      this.jobs.set(key, job);
      let mine = this.jobsByRequester.get(requester);
      if (!mine) this.jobsByRequester.set(requester, (mine = new Set()));
      mine.add(job);
    }
    this.reindex(job);
    return this.rebalance(events);
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
    for (const job of [...(this.jobsByRequester.get(requester) ?? [])]) this.dropJob(job, reason, events);
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

  snapshot(): MatchmakerSnapshot {
    return {
      seq: this.seq,
      providers: [...this.providers.values()].map((p) => ({ ...p, jobs: [...p.jobs] })),
      jobs: [...this.jobs.values()].map((j) => ({
        requester: j.requester,
        jobId: j.jobId,
        needs: j.needs,
        seq: j.seq,
        assigned: [...j.assigned],
        released: [...j.released],
        served: [...j.served],
      })),
    };
  }

  /**
   * Replaces this state with a snapshot. Matching orders by sorted keys (need,
   * seq, rank by id) and walks providers in map order, which the snapshot keeps,
   * so the restored replica decides as the one that took it.
   */
  restore(snapshot: MatchmakerSnapshot): void {
    this.providers.clear();
    this.jobs.clear();
    this.hungry.clear();
    this.rich.clear();
    this.jobsByRequester.clear();
    this.seq = snapshot.seq;
    for (const p of snapshot.providers) this.providers.set(p.id, { ...p, jobs: [...p.jobs] });
    for (const j of snapshot.jobs) {
      const job: JobEntry = {
        key: jobKey(j.requester, j.jobId),
        requester: j.requester,
        jobId: j.jobId,
        needs: j.needs,
        seq: j.seq,
        assigned: [...j.assigned],
        released: new Set(j.released),
        served: new Set(j.served),
      };
      this.jobs.set(job.key, job);
      let mine = this.jobsByRequester.get(job.requester);
      if (!mine) this.jobsByRequester.set(job.requester, (mine = new Set()));
      mine.add(job);
    }
    for (const job of this.jobs.values()) this.reindex(job);
  }

  // ------------------------------------------------------------------ internals

  private dropJob(job: JobEntry, reason: string, events: MatchEvent[]): void {
    for (const id of [...job.assigned]) {
      const provider = this.providers.get(id);
      if (provider) this.unassign(job, provider, reason, events);
    }
    this.jobs.delete(job.key);
    this.unindex(job);
    const mine = this.jobsByRequester.get(job.requester);
    mine?.delete(job);
    if (mine?.size === 0) this.jobsByRequester.delete(job.requester);
  }

  private assign(job: JobEntry, provider: ProviderEntry, events: MatchEvent[]): void {
    job.assigned.push(provider.id);
    job.served.add(provider.id);
    provider.jobs.push(job.key);
    this.reindex(job);
    events.push({ kind: 'matched', requester: job.requester, jobId: job.jobId, providerId: provider.id });
  }

  private unassign(job: JobEntry, provider: ProviderEntry, reason: string, events: MatchEvent[]): void {
    job.assigned = job.assigned.filter((id) => id !== provider.id);
    provider.jobs = provider.jobs.filter((key) => key !== job.key);
    this.reindex(job);
    events.push({ kind: 'unmatched', requester: job.requester, jobId: job.jobId, providerId: provider.id, reason });
  }

  /** Keeps the hungry and rich indexes in step with one job's assignments and needs. */
  private reindex(job: JobEntry): void {
    this.unindex(job);
    if (!this.jobs.has(job.key)) return;
    if (job.assigned.length < job.needs.maxProviders)
      for (const backend of job.needs.backends ?? [ANY_BACKEND]) {
        let set = this.hungry.get(backend);
        if (!set) this.hungry.set(backend, (set = new Set()));
        set.add(job);
      }
    if (job.assigned.length >= 2) this.rich.add(job);
  }

  private unindex(job: JobEntry): void {
    for (const set of this.hungry.values()) set.delete(job);
    this.rich.delete(job);
  }

  /** Hungry jobs that a provider with one of `backends` might serve, each once. */
  private hungryFor(backends: ReadonlySet<Backend>): JobEntry[] {
    const out = new Set<JobEntry>();
    for (const key of [ANY_BACKEND, ...backends])
      for (const job of this.hungry.get(key) ?? []) {
        this.work++;
        out.add(job);
      }
    return [...out];
  }

  private rebalance(events: MatchEvent[]): MatchEvent[] {
    this.fillRounds(events);
    this.rescueStarvedJobs(events);
    return events;
  }

  /** After a re-announce: drop the jobs this provider can no longer serve or hold. */
  private dropInvalidAssignmentsOf(target: ProviderEntry | JobEntry, events: MatchEvent[]): void {
    if ('slots' in target) {
      const provider = target;
      for (const key of [...provider.jobs]) {
        this.work++;
        const job = this.jobs.get(key);
        if (job && !capable(provider, job.needs)) this.unassign(job, provider, 'not-capable', events);
      }
      while (provider.jobs.length > provider.slots) {
        const job = this.jobs.get(provider.jobs[provider.jobs.length - 1]!);
        if (!job) break;
        this.unassign(job, provider, 'capacity', events);
      }
      return;
    }
    // After a job's needs changed: drop providers that no longer qualify, then any over maxProviders.
    const job = target;
    for (const id of [...job.assigned]) {
      this.work++;
      const provider = this.providers.get(id);
      if (provider && !capable(provider, job.needs)) this.unassign(job, provider, 'not-capable', events);
    }
    while (job.assigned.length > job.needs.maxProviders) {
      const provider = this.providers.get(job.assigned[job.assigned.length - 1]!);
      if (!provider) break;
      this.unassign(job, provider, 'capacity', events);
    }
  }

  /**
   * Rounds of one provider per hungry job, neediest first (MATCH3). Only jobs that a
   * provider free at the round's start can serve are visited: providers only fill
   * up during a round, so no other job could be served in it.
   */
  private fillRounds(events: MatchEvent[]): void {
    for (;;) {
      const free: ProviderEntry[] = [];
      const backends = new Set<Backend>();
      for (const provider of this.providers.values()) {
        this.work++;
        if (provider.paused || provider.jobs.length >= provider.slots) continue;
        free.push(provider);
        backends.add(provider.capabilities.backend);
      }
      if (!free.length) return;
      const candidates = this.hungryFor(backends).filter((job) =>
        free.some((provider) => {
          this.work++;
          return this.canServe(provider, job);
        }),
      );
      if (!candidates.length) return;
      let assignedAny = false;
      for (const job of candidates.sort(byNeed)) {
        if (job.assigned.length >= job.needs.maxProviders) continue;
        const best = this.bestFreeProvider(job, free);
        if (best) {
          this.assign(job, best, events);
          assignedAny = true;
        }
      }
      if (!assignedAny) return;
    }
  }

  /**
   * A job that wants providers but has at least two fewer than another takes one
   * from it. Only rich jobs (≥ 2 providers) can donate, and only hungry jobs that a
   * donor's provider backend can serve are looked at.
   */
  private rescueStarvedJobs(events: MatchEvent[]): void {
    // Each move strictly narrows the spread of assignment counts, so this terminates;
    // the bound is a guard, not a tuning knob.
    for (let guard = 0; guard < 10_000; guard++) {
      if (!this.rich.size) return;
      const donors = [...this.rich].sort((a, b) => b.assigned.length - a.assigned.length || b.seq - a.seq);
      const most = donors[0]!.assigned.length;
      const backends = new Set<Backend>();
      for (const job of donors)
        for (const id of job.assigned) {
          this.work++;
          const provider = this.providers.get(id);
          if (provider && !provider.paused) backends.add(provider.capabilities.backend);
        }
      const starved = this.hungryFor(backends)
        .filter((job) => job.assigned.length <= most - 2)
        .sort(byNeed);
      const move = this.firstMove(starved, donors);
      if (!move) return;
      this.unassign(move.job, move.provider, 'rebalanced', events);
      this.assign(move.starved, move.provider, events);
    }
  }

  private firstMove(
    starved: readonly JobEntry[],
    donors: readonly JobEntry[],
  ): { starved: JobEntry; job: JobEntry; provider: ProviderEntry } | null {
    for (const s of starved)
      for (const job of donors) {
        if (job.assigned.length < s.assigned.length + 2) break; // donors are sorted, richest first
        if (job === s) continue;
        for (let i = job.assigned.length - 1; i >= 0; i--) {
          this.work++;
          const provider = this.providers.get(job.assigned[i]!);
          if (provider && !provider.paused && this.canServe(provider, s)) return { starved: s, job, provider };
        }
      }
    return null;
  }

  private bestFreeProvider(job: JobEntry, free: readonly ProviderEntry[]): ProviderEntry | null {
    let best: ProviderEntry | null = null;
    for (const provider of free) {
      this.work++;
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

/** Neediest first: fewest providers, then oldest. */
const byNeed = (a: JobEntry, b: JobEntry) => a.assigned.length - b.assigned.length || a.seq - b.seq;

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
