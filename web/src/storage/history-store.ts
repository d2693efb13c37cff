/**
 * A job's history and event log in IndexedDB, beside the job (keys under
 * `job:<id>:` so deleting the job deletes them). The event log is chunked:
 * only the chunk that is filling is rewritten, so a long job's log costs one
 * small write per save however long it grows. Everything read back is checked
 * against the schemas in @shared/jobs.
 */
import * as v from 'valibot';
import { JobEventChunkSchema, JobHistorySchema, MAX_EVENT_CHUNKS, type JobEvent, type JobHistory } from '@shared/jobs';
import { StoredDataError, type KeyValueStore } from './kv';

const historyKey = (id: string) => `job:${id}:history`;
const eventPrefix = (id: string) => `job:${id}:events:`;
const eventKey = (id: string, chunk: number) => `${eventPrefix(id)}${chunk}`;

export class HistoryStore {
  constructor(private readonly store: KeyValueStore) {}

  /** The job's history, or undefined for a job stored before histories were kept. */
  async history(id: string): Promise<JobHistory | undefined> {
    const stored = await this.store.get(historyKey(id));
    if (stored === undefined) return undefined;
    const parsed = v.safeParse(JobHistorySchema, stored);
    if (!parsed.success)
      throw new StoredDataError(`stored history of job ${id} is unreadable (${parsed.issues[0].message})`);
    return parsed.output;
  }

  /** Entries that store `history` and the given chunks of its event log: for one transaction. */
  entries(history: JobHistory, chunks: ReadonlyMap<number, readonly JobEvent[]>): [string, unknown][] {
    const out: [string, unknown][] = [[historyKey(history.jobId), history]];
    for (const [chunk, events] of chunks) out.push([eventKey(history.jobId, chunk), [...events]]);
    return out;
  }

  async save(history: JobHistory, chunks: ReadonlyMap<number, readonly JobEvent[]>): Promise<void> {
    await this.store.setMany(this.entries(history, chunks));
    // Past the cap the oldest chunk goes; what remains still reads in order.
    const newest = Math.max(-1, ...chunks.keys());
    if (newest >= MAX_EVENT_CHUNKS) await this.store.del(eventKey(history.jobId, newest - MAX_EVENT_CHUNKS));
  }

  /** The chunk being filled (the newest), to append to after a reload: its index and events. */
  async lastChunk(id: string): Promise<{ index: number; events: JobEvent[] }> {
    const indexes = await this.chunkIndexes(id);
    const index = indexes.at(-1);
    if (index === undefined) return { index: 0, events: [] };
    return { index, events: await this.chunk(id, index) };
  }

  /** Every stored event, oldest first; an unreadable chunk fails the read rather than leaving a silent gap. */
  async events(id: string): Promise<JobEvent[]> {
    const out: JobEvent[] = [];
    for (const index of await this.chunkIndexes(id)) out.push(...(await this.chunk(id, index)));
    return out;
  }

  private async chunkIndexes(id: string): Promise<number[]> {
    const prefix = eventPrefix(id);
    return (await this.store.keys(prefix))
      .map((k) => Number(k.slice(prefix.length)))
      .filter((n) => Number.isInteger(n) && n >= 0)
      .sort((a, b) => a - b);
  }

  private async chunk(id: string, index: number): Promise<JobEvent[]> {
    const parsed = v.safeParse(JobEventChunkSchema, await this.store.get(eventKey(id, index)));
    if (!parsed.success)
      throw new StoredDataError(`stored event log of job ${id} is unreadable (${parsed.issues[0].message})`);
    return parsed.output;
  }
}
