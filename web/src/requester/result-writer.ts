/**
 * Where a job's accepted results go: IndexedDB, through the JobStore, in
 * batches. IndexedDB serialises write transactions, and one per unit fell
 * minutes behind a fast job; a batch is everything accepted while the last
 * one was written, in one transaction. The units to re-run (results vouched
 * for by a provider later caught) are written with each batch when they
 * changed, and on their own when a rejection changes them.
 */
import { messageOf } from '@shared/errors';
import type { RawTensor } from '@shared/protocol';
import type { JobStore } from '../storage/job-store';

interface Unwritten {
  unitId: number;
  outputs: RawTensor[];
  modelHash: string;
}

export interface ResultWriterDeps {
  jobs: JobStore;
  jobId: string;
  /** Entries to store in the same transaction as a batch (the job's history as it is once the batch is written). */
  alsoWrite?(unitIds: number[]): [string, unknown][];
  /** The coordinator's current list of units to run again. */
  rerunUnits(): number[];
  /** A batch landed: these units are safe from a reload. */
  written(unitIds: number[]): void;
  /** The store refused a batch: the job cannot go on. */
  failed(message: string): void;
  /** Re-run list could not be written (the job goes on; a reload might trust those results). */
  warn(message: string): void;
}

export class ResultWriter {
  private readonly unwritten: Unwritten[] = [];
  private writing = 0;
  private flushing?: Promise<void>;
  /** The re-run list as last written, joined, to skip writes that change nothing. */
  private rerunStored = '';

  constructor(private readonly deps: ResultWriterDeps) {}

  /** Accepted units not yet written: not yet safe from a reload. */
  get pending(): number {
    return this.writing;
  }

  /** The re-run list the job started with (already on disk). */
  async loadRerun(): Promise<number[]> {
    const units = await this.deps.jobs.rerunUnits(this.deps.jobId);
    this.rerunStored = units.join();
    return units;
  }

  /** Queues an accepted unit's outputs; resolves when every queued result is written (or the store failed). */
  write(unitId: number, outputs: RawTensor[], modelHash: string): Promise<void> {
    this.writing++;
    this.unwritten.push({ unitId, outputs, modelHash });
    this.flushing ??= this.flush();
    return this.flushing;
  }

  async persistRerun(): Promise<void> {
    const units = this.deps.rerunUnits();
    if (units.join() === this.rerunStored) return;
    this.rerunStored = units.join();
    await this.deps.jobs.setRerunUnits(this.deps.jobId, units).catch((error: unknown) => {
      this.deps.warn(`could not store the units to re-run: ${messageOf(error)}`);
    });
  }

  private async flush(): Promise<void> {
    while (this.unwritten.length > 0) {
      const batch = this.unwritten.splice(0);
      try {
        const also = this.deps.alsoWrite?.(batch.map((u) => u.unitId)) ?? [];
        await this.deps.jobs.putUnitResults(this.deps.jobId, batch, also);
        await this.persistRerun();
      } catch (error) {
        this.writing -= batch.length;
        this.flushing = undefined;
        this.deps.failed(`could not store results (${messageOf(error)}); free some disk space and resume the job`);
        return;
      }
      this.writing -= batch.length;
      this.deps.written(batch.map((u) => u.unitId));
    }
    this.flushing = undefined;
  }
}
