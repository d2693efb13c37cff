/**
 * Keeps one job's history and event log while it runs: running time, rows
 * written, per-provider units and rows, the card's counters, and what happened
 * (joins, leaves, checks, rejections, reissues, status changes). The history
 * rides the same transaction as each batch of results (so its rows never
 * disagree with what is stored); events and status changes are saved on their
 * own, one write at a time, the newest state winning.
 */
import {
  EVENTS_PER_CHUNK,
  newJobHistory,
  unitRange,
  type JobSpec,
  withProgressPoint,
  type JobEvent,
  type JobEventKind,
  type JobFigures,
  type JobHistory,
  type ProviderHistory,
} from '@shared/jobs';
import { messageOf } from '@shared/errors';
import { Observable } from '../core/emitter';
import { HistoryStore } from '../storage/history-store';
import { memoryStore } from '../storage/kv';

/** Events the card shows (the export has them all). */
export const RECENT_EVENTS = 50;

export interface RecorderState {
  history: JobHistory;
  recent: JobEvent[];
}

export interface JobRecorderDeps {
  store: HistoryStore;
  /** Rows of a unit (the last one may be short). */
  rowsOf(unitId: number): number;
  /** Replicas a unit is meant to have: sends beyond them are reissues. */
  redundancy: number;
  now?: () => number;
  /** A save failed: the job runs on, the card says why its history may lag. */
  warn?(message: string): void;
}

export class JobRecorder {
  readonly state: Observable<RecorderState>;
  private history: JobHistory;
  private runningSince?: number;
  private chunkIndex: number;
  private chunk: JobEvent[];
  private readonly dirty = new Map<number, JobEvent[]>();
  private readonly sends = new Map<number, number>();
  private saving?: Promise<void>;
  private saveAgain = false;
  private frozen = false;
  private readonly now: () => number;

  private constructor(
    private readonly deps: JobRecorderDeps,
    history: JobHistory,
    last: { index: number; events: JobEvent[] },
    /** No history was stored: the job is new (or from before histories were kept). */
    private readonly fresh: boolean,
  ) {
    this.now = deps.now ?? Date.now;
    this.history = history;
    this.chunkIndex = last.index;
    this.chunk = last.events;
    this.state = new Observable<RecorderState>({ history, recent: last.events.slice(-RECENT_EVENTS) });
  }

  /** The job's stored history (a new one for a new job, or one stored before histories were kept). */
  static async open(deps: JobRecorderDeps, job: { id: string; createdAt: number }): Promise<JobRecorder> {
    const stored = await deps.store.history(job.id).catch((error: unknown) => {
      deps.warn?.(`${messageOf(error)}; its history starts again`);
      return undefined;
    });
    const last = await deps.store.lastChunk(job.id).catch(() => ({ index: 0, events: [] }));
    return new JobRecorder(deps, stored ?? newJobHistory(job.id, job.createdAt), last, stored === undefined);
  }

  /**
   * The recorder of `spec`'s job: rows per unit from the spec, reissues counted
   * past its redundancy; without a `store` the history is kept in memory only.
   */
  static forJob(
    spec: JobSpec,
    store: HistoryStore = new HistoryStore(memoryStore()),
    now?: () => number,
    warn?: (message: string) => void,
  ): Promise<JobRecorder> {
    const rowsOf = (unitId: number) => {
      const { start, end } = unitRange(spec, unitId);
      return end - start;
    };
    return JobRecorder.open({ store, rowsOf, redundancy: spec.redundancy, now, warn }, spec);
  }

  /** The history now, running time included up to this moment. */
  snapshot(): JobHistory {
    const running = this.runningSince === undefined ? 0 : Math.max(0, this.now() - this.runningSince);
    return { ...this.history, activeMs: this.history.activeMs + running };
  }

  /** Base figures a resumed job adds its new session's counters to. */
  get figures(): JobFigures {
    return this.history.figures;
  }

  get notify(): boolean {
    return this.history.notify === true;
  }

  /** The job runs from now: running time counts. `doneUnits` are the units the store holds (the truth after a reload). */
  started(doneUnits: readonly number[]): void {
    const first = this.fresh && this.history.activeMs === 0;
    this.frozen = false;
    this.runningSince = this.now();
    this.history = {
      ...this.history,
      unitsDone: doneUnits.length,
      rowsDone: doneUnits.reduce((n, u) => n + this.deps.rowsOf(u), 0),
      figures: acceptedAtMost(this.history.figures, doneUnits.length),
      finishedAt: undefined,
    };
    this.event(first ? 'created' : 'started', first ? 'job created' : 'job resumed');
  }

  /** The job stopped (paused, cancelled, failed or done): running time stops and the record is final until it resumes. */
  async stopped(kind: Extract<JobEventKind, 'paused' | 'cancelled' | 'failed' | 'done'>, text: string): Promise<void> {
    if (this.frozen) return;
    this.event(kind, text);
    this.history = this.snapshot();
    this.runningSince = undefined;
    if (kind !== 'paused') this.history = { ...this.history, finishedAt: this.now() };
    this.frozen = true;
    this.publish();
    await this.save();
  }

  setNotify(notify: boolean): Promise<void> {
    this.history = { ...this.history, notify };
    this.publish();
    return this.save();
  }

  setFigures(figures: JobFigures): void {
    if (this.frozen) return;
    this.history = { ...this.history, figures };
  }

  joined(peerId: string): void {
    if (!this.history.providers.some((p) => p.peerId === peerId)) {
      const joinedAt = this.snapshot().activeMs;
      this.history = {
        ...this.history,
        providers: [...this.history.providers, { peerId, units: 0, rows: 0, joinedAt }],
      };
    }
    this.event('join', 'joined the job', { peerId });
  }

  left(peerId: string, reason: string): void {
    this.event('leave', `left: ${reason}`, { peerId });
  }

  declined(peerId: string, reason: string): void {
    this.event('declined', `cannot run this job: ${reason}`, { peerId });
  }

  checked(unitId: number, passed: boolean): void {
    this.event('check', passed ? 'checked on this browser: matches' : 'checked on this browser: does not match', {
      unitId,
    });
  }

  rejected(peerId: string, reason: string): void {
    this.event('rejection', reason, { peerId });
  }

  /** A unit went to a provider; past its replicas, that is a reissue. */
  sent(peerId: string, unitId: number): void {
    const count = (this.sends.get(unitId) ?? 0) + 1;
    this.sends.set(unitId, count);
    if (count > this.deps.redundancy) this.event('reissue', 'sent again', { peerId, unitId });
  }

  /** A provider's unit was accepted. */
  credited(peerId: string, unitId: number): void {
    if (this.frozen) return;
    const at = this.snapshot().activeMs;
    const rows = this.deps.rowsOf(unitId);
    const providers = this.history.providers.some((p) => p.peerId === peerId)
      ? this.history.providers
      : [...this.history.providers, { peerId, units: 0, rows: 0, joinedAt: at }];
    this.history = {
      ...this.history,
      providers: providers.map(
        (p): ProviderHistory =>
          p.peerId === peerId ? { ...p, units: p.units + 1, rows: p.rows + rows, lastUnitAt: at } : p,
      ),
    };
  }

  /**
   * The entries that store the history as it is once `unitIds` are written,
   * with the events not yet stored: for the batch's own transaction.
   */
  batchEntries(unitIds: readonly number[]): [string, unknown][] {
    const rows = unitIds.reduce((n, u) => n + this.deps.rowsOf(u), 0);
    const unitsDone = this.history.unitsDone + unitIds.length;
    const rowsDone = this.history.rowsDone + rows;
    const at = this.snapshot().activeMs;
    this.history = {
      ...this.history,
      unitsDone,
      rowsDone,
      progress: withProgressPoint(this.history.progress, [at, rowsDone]),
    };
    this.publish();
    return this.deps.store.entries(this.snapshot(), this.takeDirty());
  }

  /** Writes the history and new events; a write under way is followed by one more with the newest state. */
  save(): Promise<void> {
    if (this.saving) {
      this.saveAgain = true;
      return this.saving;
    }
    this.saving = (async () => {
      do {
        this.saveAgain = false;
        await this.deps.store
          .save(this.snapshot(), this.takeDirty())
          .catch((error: unknown) => this.deps.warn?.(`could not store the job's history: ${messageOf(error)}`));
      } while (this.saveAgain);
      this.saving = undefined;
    })();
    return this.saving;
  }

  private takeDirty(): Map<number, JobEvent[]> {
    const chunks = new Map(this.dirty);
    this.dirty.clear();
    return chunks;
  }

  private event(kind: JobEventKind, text: string, about: { peerId?: string; unitId?: number } = {}): void {
    if (this.frozen) return;
    if (this.chunk.length >= EVENTS_PER_CHUNK) {
      this.chunkIndex++;
      this.chunk = [];
    }
    this.chunk.push({ at: this.now(), kind, ...about, text: text.slice(0, 1000) });
    this.dirty.set(this.chunkIndex, this.chunk);
    this.publish();
    void this.save();
  }

  private publish(): void {
    const recent = this.state.get().recent;
    const last = this.chunk.at(-1);
    const next = last && recent.at(-1) !== last ? [...recent, last].slice(-RECENT_EVENTS) : recent;
    this.state.set({ history: this.snapshot(), recent: next });
  }
}

/**
 * Counters stored with a batch may count units accepted but not yet written
 * when the page closed; those run again after a reload and are counted again.
 * Taken off here (unchecked first), accepted units never exceed stored ones.
 */
export function acceptedAtMost(figures: JobFigures, stored: number): JobFigures {
  const excess = figures.verified + figures.unchecked - stored;
  if (excess <= 0) return figures;
  const unchecked = Math.max(0, figures.unchecked - excess);
  const verified = Math.max(0, figures.verified - (excess - (figures.unchecked - unchecked)));
  return { ...figures, unchecked, verified };
}
