/**
 * A job's history: what it did and when, kept beside the job so a reload or a
 * finished job shows the same figures it showed while it ran. Plain data with
 * its schemas (the browser stores it; anything read back is validated here)
 * and the arithmetic every view uses: the average is rows over the time the
 * job was running, never a window that decays once work stops.
 */
import * as v from 'valibot';
import { JobIdSchema } from '../ids';

export const JOB_HISTORY_SCHEMA_VERSION = 1;

/**
 * Progress points kept per job for its chart. A point per written batch would
 * grow without bound on a long job; past this many, every other point is
 * dropped (the curve keeps its shape at a chart's width of a few hundred px).
 */
export const MAX_PROGRESS_POINTS = 256;

/**
 * Events per stored chunk of the event log. A chunk is rewritten while it
 * fills, so its size bounds each write; 256 events are ~30 KB.
 */
export const EVENTS_PER_CHUNK = 256;

/** Chunks kept per job: the oldest go first past this (1,024 × 256 events ≈ 30 MB is already far past what one reads). */
export const MAX_EVENT_CHUNKS = 1024;

const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const Millis = v.pipe(v.number(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const PeerId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const Text = v.pipe(v.string(), v.maxLength(1000));

export const ProviderHistorySchema = v.strictObject({
  peerId: PeerId,
  units: Count,
  rows: Count,
  /** Job running time (ms, see `activeMs`) when it first joined and when its last unit was accepted. */
  joinedAt: Millis,
  lastUnitAt: v.optional(Millis),
});
export type ProviderHistory = v.InferOutput<typeof ProviderHistorySchema>;

/** Counters the job card shows, as they were last stored: a reload starts from these, not from zero. */
export const JobFiguresSchema = v.strictObject({
  verified: Count,
  unchecked: Count,
  rejected: Count,
  checked: Count,
  checksFailed: Count,
  receiptsIssued: Count,
  receiptsLogged: Count,
  duplicates: Count,
});
export type JobFigures = v.InferOutput<typeof JobFiguresSchema>;

export const JobHistorySchema = v.strictObject({
  schema: v.literal(JOB_HISTORY_SCHEMA_VERSION),
  jobId: JobIdSchema,
  createdAt: Millis,
  finishedAt: v.optional(Millis),
  /** Time the job spent running (not paused, not closed), summed over sessions. */
  activeMs: Millis,
  rowsDone: Count,
  unitsDone: Count,
  figures: JobFiguresSchema,
  providers: v.pipe(v.array(ProviderHistorySchema), v.maxLength(4096)),
  /** [activeMs, rowsDone] after each written batch, oldest first. */
  progress: v.pipe(v.array(v.tuple([Millis, Count])), v.maxLength(MAX_PROGRESS_POINTS * 2)),
  /** The requester asked to be notified when the job ends. */
  notify: v.optional(v.boolean()),
});
export type JobHistory = v.InferOutput<typeof JobHistorySchema>;

export const JOB_EVENT_KINDS = [
  'created',
  'started',
  'join',
  'leave',
  'check',
  'rejection',
  'reissue',
  'declined',
  'paused',
  'cancelled',
  'failed',
  'done',
] as const;
export type JobEventKind = (typeof JOB_EVENT_KINDS)[number];

export const JobEventSchema = v.strictObject({
  /** Wall-clock time (ms since the epoch). */
  at: Millis,
  kind: v.picklist(JOB_EVENT_KINDS),
  peerId: v.optional(PeerId),
  unitId: v.optional(Count),
  text: Text,
});
export type JobEvent = v.InferOutput<typeof JobEventSchema>;

export const JobEventChunkSchema = v.pipe(v.array(JobEventSchema), v.maxLength(EVENTS_PER_CHUNK));

export function emptyFigures(): JobFigures {
  return {
    verified: 0,
    unchecked: 0,
    rejected: 0,
    checked: 0,
    checksFailed: 0,
    receiptsIssued: 0,
    receiptsLogged: 0,
    duplicates: 0,
  };
}

export function newJobHistory(jobId: string, createdAt: number): JobHistory {
  return {
    schema: JOB_HISTORY_SCHEMA_VERSION,
    jobId,
    createdAt,
    activeMs: 0,
    rowsDone: 0,
    unitsDone: 0,
    figures: emptyFigures(),
    providers: [],
    progress: [],
  };
}

/** Rows per second over the whole time the job ran; 0 before any time has passed. */
export function averageRowsPerSecond(history: Pick<JobHistory, 'rowsDone' | 'activeMs'>): number {
  return history.activeMs > 0 ? history.rowsDone / (history.activeMs / 1000) : 0;
}

/** Time left at the average so far, in ms; undefined until there is an average, 0 when every row is done. */
export function etaMs(history: Pick<JobHistory, 'rowsDone' | 'activeMs'>, totalRows: number): number | undefined {
  const left = Math.max(0, totalRows - history.rowsDone);
  if (left === 0) return 0;
  const rate = averageRowsPerSecond(history);
  return rate > 0 ? (left / rate) * 1000 : undefined;
}

/**
 * A provider's rows per second from when it joined to its last accepted unit
 * (job running time): what it delivered while it was there.
 */
export function providerRowsPerSecond(provider: ProviderHistory): number {
  const span = (provider.lastUnitAt ?? provider.joinedAt) - provider.joinedAt;
  return span > 0 ? provider.rows / (span / 1000) : 0;
}

/** Adds a progress point, halving the series when it outgrows MAX_PROGRESS_POINTS (the newest point is kept). */
export function withProgressPoint(
  progress: readonly (readonly [number, number])[],
  point: readonly [number, number],
): [number, number][] {
  const next = [...progress, point].map(([t, r]) => [t, r] as [number, number]);
  if (next.length <= MAX_PROGRESS_POINTS) return next;
  const last = next[next.length - 1]!;
  const thinned = next.filter((_, i) => i % 2 === 0);
  if (thinned[thinned.length - 1] !== last) thinned.push(last);
  return thinned;
}

/** "1 h 02 min", "3 min 05 s", "12.4 s": a duration for the job list. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const sec = whole % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(sec).padStart(2, '0')} s`;
}

/** One event per line, as JSON (JSONL): what the event log's export downloads. */
export function eventsAsJsonl(events: readonly JobEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');
}
