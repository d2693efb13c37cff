/**
 * The dashboard's list of jobs, newest first: a running job as its runner's
 * view, a stored one (paused, ended, or never resumed) as its stored history
 * shows it.
 */
import { unitCount, type JobSpec } from '@shared/jobs';
import { Observable } from '../core/emitter';
import type { HistoryStore } from '../storage/history-store';
import type { JobStatus, JobStore } from '../storage/job-store';
import { JobRecorder } from './job-recorder';
import { emptyJobView, type JobView } from './job-view';

export interface JobSummary {
  spec: JobSpec;
  view: JobView;
}

export class JobSummaries {
  readonly jobs = new Observable<JobSummary[]>([]);
  private readonly summaries = new Map<string, JobSummary>();

  constructor(
    private readonly store: JobStore,
    private readonly histories: HistoryStore,
  ) {}

  get(id: string): JobSummary | undefined {
    return this.summaries.get(id);
  }

  names(): string[] {
    return [...this.summaries.values()].map((summary) => summary.spec.name);
  }

  publish(spec: JobSpec, view: JobView): void {
    this.summaries.set(spec.id, { spec, view });
    this.emit();
  }

  /** A stored job that is not running, shown from its stored history. */
  async publishStored(spec: JobSpec, status: JobStatus, message?: string): Promise<void> {
    const done = (await this.store.doneUnits(spec.id)).length;
    const recorder = await JobRecorder.forJob(spec, this.histories);
    const { history, recent } = recorder.state.get();
    this.publish(spec, emptyJobView(spec.id, unitCount(spec), status, done, message, history, recent));
  }

  remove(id: string): void {
    this.summaries.delete(id);
    this.emit();
  }

  private emit(): void {
    this.jobs.set([...this.summaries.values()].sort((a, b) => b.spec.createdAt - a.spec.createdAt));
  }
}
