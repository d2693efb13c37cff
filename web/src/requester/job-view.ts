/**
 * What the dashboard shows of one running job, kept apart from the runner
 * that decides: the runner reports what happened (a provider's state, a unit
 * stored, a receipt issued) and this turns it into the immutable JobView the
 * React layer renders.
 */
import {
  emptyFigures,
  newJobHistory,
  type CoordinatorStats,
  type JobEvent,
  type JobFigures,
  type JobSpec,
  type JobHistory,
} from '@shared/jobs';
import { Observable } from '../core/emitter';
import { ThroughputMeter } from '../core/throughput';
import type { JobStatus } from '../storage/job-store';
import type { VersionFigures } from './model-delivery';

export type ProviderLinkState =
  | 'connecting'
  | 'sending-model'
  | 'loading-model'
  | 'working'
  | 'paused'
  | 'gone'
  /** The job completed while it was linked: it left because the work was done. */
  | 'finished'
  /** It cannot run this job (the model does not load there, its device keeps failing); not faulty. */
  | 'declined'
  | 'rejected';

export interface ProviderStats {
  peerId: string;
  state: ProviderLinkState;
  backend?: string;
  gflops?: number;
  unitsDone: number;
  unitsFailed: number;
  meanComputeMs: number;
  modelCached?: boolean;
  note?: string;
}

export interface JobView {
  jobId: string;
  status: JobStatus;
  total: number;
  done: number;
  inFlight: number;
  providers: ProviderStats[];
  spotChecks: { checked: number; failed: number };
  /** Units whose result a check (spot check or replica) confirmed, accepted unchecked, and results refused, with why. */
  verification: { verified: number; unchecked: number; rejected: number; reasons: string[] };
  /** Receipts issued / acknowledged by the server's log. */
  receipts: { issued: number; logged: number };
  duplicatesDiscarded: number;
  rowsPerSecond: number;
  history: number[];
  /** The model's versions: 1 is the uploaded model, later ones were published while the job ran. */
  versions: VersionFigures[];
  message?: string;
  /** Why nothing runs now, while the job is running but no provider can take work. */
  waiting?: string;
  /** What the job did, as stored: the figures a reload shows (job-recorder.ts). */
  record: JobHistory;
  /** The newest events of its log. */
  events: JobEvent[];
}

/** A job's view with nothing happened yet: for a job that starts, or one shown from storage without running. */
export function emptyJobView(
  jobId: string,
  total: number,
  status: JobStatus,
  done = 0,
  message?: string,
  record: JobHistory = newJobHistory(jobId, 0),
  events: JobEvent[] = [],
): JobView {
  const f = record.figures;
  return {
    jobId,
    status,
    total,
    done,
    inFlight: 0,
    providers: [],
    spotChecks: { checked: f.checked, failed: f.checksFailed },
    verification: { verified: f.verified, unchecked: f.unchecked, rejected: f.rejected, reasons: [] },
    receipts: { issued: f.receiptsIssued, logged: f.receiptsLogged },
    duplicatesDiscarded: f.duplicates,
    rowsPerSecond: 0,
    history: [],
    versions: [],
    message,
    record,
    events,
  };
}

/** The counters a view shows, for the job's stored history. */
export function figuresOf(view: JobView): JobFigures {
  return {
    verified: view.verification.verified,
    unchecked: view.verification.unchecked,
    rejected: view.verification.rejected,
    checked: view.spotChecks.checked,
    checksFailed: view.spotChecks.failed,
    receiptsIssued: view.receipts.issued,
    receiptsLogged: view.receipts.logged,
    duplicates: view.duplicatesDiscarded,
  };
}

export class JobViewModel {
  readonly view: Observable<JobView>;
  private readonly providers = new Map<string, ProviderStats>();
  private readonly meter: ThroughputMeter;
  /** Counters stored by earlier sessions of this job: a resumed job counts on from them (defect 1). */
  private base: JobFigures = emptyFigures();

  constructor(jobId: string, total: number, now?: () => number) {
    this.meter = new ThroughputMeter(now);
    this.view = new Observable<JobView>(emptyJobView(jobId, total, 'running'));
  }

  /** Counts on from a resumed job's stored figures. */
  setBase(base: JobFigures): void {
    this.base = base;
    this.patch({ receipts: { issued: base.receiptsIssued, logged: base.receiptsLogged } });
  }

  get status(): JobStatus {
    return this.view.get().status;
  }

  provider(peerId: string): ProviderStats | undefined {
    return this.providers.get(peerId);
  }

  /** Whether the job is done with `peerId` (caught, or it cannot run the job): it is not reconnected. */
  isSettled(peerId: string): boolean {
    const state = this.providers.get(peerId)?.state;
    return state === 'rejected' || state === 'declined' || state === 'finished';
  }

  /** The job is complete: every provider still linked leaves as finished, not gone. */
  allFinished(): void {
    for (const [peerId, p] of this.providers)
      if (p.state !== 'rejected' && p.state !== 'declined' && p.state !== 'gone')
        this.setProvider(peerId, { state: 'finished', note: undefined });
  }

  /** Why nothing runs, in words for the card. */
  private waitingReason(): string {
    const declined = [...this.providers.values()].filter((p) => p.state === 'declined');
    const last = declined.at(-1);
    return last
      ? `waiting: ${declined.length} provider${declined.length > 1 ? 's' : ''} could not run this model (${last.note ?? 'no reason given'}); another provider may`
      : 'waiting for providers: open the provider page in another tab or on another machine';
  }

  /** Creates or changes a provider's row. */
  setProvider(peerId: string, change: Partial<ProviderStats>): ProviderStats {
    const previous = this.providers.get(peerId) ?? {
      peerId,
      state: 'connecting',
      unitsDone: 0,
      unitsFailed: 0,
      meanComputeMs: 0,
    };
    const next = { ...previous, ...change };
    this.providers.set(peerId, next);
    return next;
  }

  /** A provider's unit was accepted; `computeMs` is what it claimed for it. */
  unitCredited(peerId: string, computeMsTotal: number): void {
    const p = this.providers.get(peerId);
    if (!p) return;
    const unitsDone = p.unitsDone + 1;
    this.setProvider(peerId, { unitsDone, meanComputeMs: computeMsTotal / unitsDone });
  }

  unitStored(size: number): void {
    this.meter.record(size);
  }

  receiptIssued(): void {
    const r = this.view.get().receipts;
    this.patch({ receipts: { ...r, issued: r.issued + 1 } });
  }

  receiptsLogged(count: number): void {
    const r = this.view.get().receipts;
    this.patch({ receipts: { ...r, logged: r.logged + count } });
  }

  /** Redraws from the coordinator's figures and the providers' rows. */
  refresh(figures: {
    done: number;
    inFlight: number;
    stats: CoordinatorStats;
    versions: VersionFigures[];
    canRun?: boolean;
  }): void {
    const { stats } = figures;
    this.patch({
      versions: figures.versions,
      waiting: figures.canRun === false && this.status === 'running' ? this.waitingReason() : undefined,
      done: figures.done,
      inFlight: figures.inFlight,
      providers: [...this.providers.values()],
      spotChecks: {
        checked: this.base.checked + stats.checks.checked,
        failed: this.base.checksFailed + stats.checks.failed,
      },
      verification: {
        verified: this.base.verified + stats.verified,
        unchecked: this.base.unchecked + stats.unchecked,
        rejected: this.base.rejected + stats.rejected,
        reasons: [...stats.reasons],
      },
      duplicatesDiscarded: this.base.duplicates + stats.duplicates,
      rowsPerSecond: this.meter.rate(),
      history: this.meter.history(),
    });
  }

  patch(change: Partial<JobView>): void {
    this.view.set({ ...this.view.get(), ...change });
  }
}

/** A view whose counters are the stored history's, for a job that stopped. */
export function storedJobView(view: JobView): JobView {
  const stored = emptyJobView(view.jobId, view.total, view.status, view.done, view.message, view.record, view.events);
  return {
    ...view,
    inFlight: 0,
    spotChecks: stored.spotChecks,
    verification: { ...stored.verification, reasons: view.verification.reasons },
    receipts: stored.receipts,
    duplicatesDiscarded: stored.duplicatesDiscarded,
  };
}

/** What a notification says when a job ends; undefined for a pause. */
export function endNotice(spec: JobSpec, view: JobView): { title: string; body: string } | undefined {
  if (view.status === 'done')
    return { title: `Job done: ${spec.name}`, body: `${spec.rows.toLocaleString()} rows computed` };
  if (view.status === 'failed') return { title: `Job failed: ${spec.name}`, body: view.message ?? 'see its card' };
  return undefined;
}
