/**
 * Pairings the matchmaker made, kept with the receipts: a receipt is credited
 * only for a (requester, job, provider) pairing that really happened, while it
 * lasts or within PAIRING_GRACE_MS after it ended, and only up to what the
 * server can check: the time paired × a FLOP/s ceiling for the announced
 * backend, and a unit cap (SPEC CREDIT10–CREDIT12).
 *
 * With --data the starts and ends are appended to DIR/pairings.jsonl; on open
 * the file is replayed, pairings left open by a stop are ended at start-up (so
 * their grace runs from then, and the downtime counts as time paired: the server
 * cannot tell when they really ended, and under-crediting an honest provider for
 * a crash it did not cause is the worse error), and expired pairings are
 * compacted away.
 */
import * as v from 'valibot';
import { BackendSchema, type Backend } from '@shared/protocol';
import type { Receipt } from '@shared/trust';
import * as C from './constants';
import { JsonlAppender, readJsonl, rewriteJsonl } from './jsonl';
import type { Logger } from './log';

export interface Pairing {
  requester: string;
  jobId: string;
  provider: string;
  backend: Backend;
  /** Units the job announced (needs.units): unit ids are below it. */
  jobUnits: number;
  /** Time paired in closed intervals. */
  pairedMs: number;
  /** Start of the current interval, or null when not paired now. */
  openSince: number | null;
  /** When the last interval ended; null while open. */
  endedAt: number | null;
  /** Credited so far (from the log). */
  units: number;
  flops: number;
}

export type PairingVerdict =
  | { ok: true }
  | { ok: false; reason: 'not-paired' | 'over-budget' | 'invalid-receipt'; message: string };

const Key = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/));
const Time = v.pipe(v.number(), v.integer(), v.minValue(0));
const RecordSchema = v.variant('op', [
  v.strictObject({
    op: v.literal('start'),
    requester: Key,
    jobId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/)),
    provider: Key,
    backend: BackendSchema,
    jobUnits: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000)),
    at: Time,
  }),
  v.strictObject({
    op: v.literal('end'),
    requester: Key,
    jobId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/)),
    provider: Key,
    at: Time,
  }),
]);
type PairingRecord = v.InferOutput<typeof RecordSchema>;

const pairingKey = (requester: string, jobId: string, provider: string) => `${requester} ${jobId} ${provider}`;

export interface PairingBookOptions {
  now: () => number;
  /** DIR/pairings.jsonl when given; memory only otherwise. */
  path?: string;
  log?: Logger;
}

export class PairingBook {
  private readonly pairings = new Map<string, Pairing>();
  private readonly file: JsonlAppender;

  constructor(private readonly options: PairingBookOptions) {
    this.file = new JsonlAppender(options.path);
  }

  get size(): number {
    return this.pairings.size;
  }

  /** Replays and compacts the file (a no-op in memory). Call once before serving. */
  async open(): Promise<void> {
    const path = this.options.path;
    if (!path) return;
    for (const record of await readJsonl(path, RecordSchema, this.options.log)) this.apply(record);
    const now = this.options.now();
    for (const p of this.pairings.values()) {
      if (p.openSince === null) continue;
      p.pairedMs += Math.max(0, now - p.openSince);
      p.openSince = null;
      p.endedAt = now;
    }
    this.expire(now);
    // Compact: one start and one end per live pairing, so the file stays bounded by pairings in grace.
    const compact: PairingRecord[] = [];
    for (const p of this.pairings.values()) {
      const { requester, jobId, provider } = p;
      const endedAt = p.endedAt ?? now;
      compact.push(
        { op: 'start', requester, jobId, provider, backend: p.backend, jobUnits: p.jobUnits, at: endedAt - p.pairedMs },
        { op: 'end', requester, jobId, provider, at: endedAt },
      );
    }
    await rewriteJsonl(path, compact);
  }

  /** The matchmaker paired them (MATCH8). */
  start(
    requester: string,
    jobId: string,
    provider: string,
    backend: Backend,
    jobUnits: number,
    at = this.options.now(),
  ): void {
    const record: PairingRecord = {
      op: 'start',
      requester,
      jobId,
      provider,
      backend,
      jobUnits,
      at,
    };
    this.apply(record);
    this.persist(record);
  }

  /** The pairing ended (unmatched for any reason). */
  end(requester: string, jobId: string, provider: string, at = this.options.now()): void {
    const record: PairingRecord = { op: 'end', requester, jobId, provider, at };
    if (!this.pairings.get(pairingKey(requester, jobId, provider))) return;
    this.apply(record);
    this.persist(record);
  }

  get(requester: string, jobId: string, provider: string): Pairing | undefined {
    return this.pairings.get(pairingKey(requester, jobId, provider));
  }

  /** Whether `receipt` may be credited now (SPEC CREDIT10–CREDIT12); does not change anything. */
  check(receipt: Receipt, at = this.options.now()): PairingVerdict {
    const p = this.pairings.get(pairingKey(receipt.requester, receipt.jobId, receipt.provider));
    if (!p) return { ok: false, reason: 'not-paired', message: 'the server never paired this provider with this job' };
    if (p.openSince === null && p.endedAt !== null && at > p.endedAt + C.PAIRING_GRACE_MS)
      return { ok: false, reason: 'not-paired', message: 'the pairing ended longer ago than the grace period' };
    if (receipt.unitId >= p.jobUnits)
      return {
        ok: false,
        reason: 'invalid-receipt',
        message: `unit ${receipt.unitId} is outside the job's ${p.jobUnits} units`,
      };
    const maxUnits = Math.min(p.jobUnits, C.MAX_UNITS_PER_PAIRING);
    if (p.units >= maxUnits)
      return {
        ok: false,
        reason: 'over-budget',
        message: `the pairing is already credited with its ${maxUnits} units`,
      };
    const budget = (pairedMs(p, at) / 1000) * C.FLOPS_CEILING_PER_SECOND[p.backend];
    if (p.flops + receipt.flops > budget)
      return {
        ok: false,
        reason: 'over-budget',
        message: `credit would exceed ${budget.toExponential(2)} FLOPs: the time paired × the ${p.backend} ceiling`,
      };
    return { ok: true };
  }

  /** Counts a logged receipt against its pairing (also while the log is replayed at start-up). */
  credit(receipt: Receipt): void {
    const p = this.pairings.get(pairingKey(receipt.requester, receipt.jobId, receipt.provider));
    if (!p) return;
    p.units++;
    p.flops += receipt.flops;
  }

  /** Every pairing, credits included, in map order (SPEC SCALE7). */
  snapshot(): Pairing[] {
    return [...this.pairings.values()].map((p) => ({ ...p }));
  }

  /** Replaces every pairing with a snapshot's; nothing is written to the file (shared state keeps no file). */
  restore(pairings: readonly Pairing[]): void {
    this.pairings.clear();
    for (const p of pairings) this.pairings.set(pairingKey(p.requester, p.jobId, p.provider), { ...p });
  }

  /** Resolves when every record so far is on disk; throws if a write failed. */
  flushed(): Promise<void> {
    return this.file.flushed();
  }

  /** Forgets pairings past their grace, so memory is bounded by pairings made within PAIRING_GRACE_MS. */
  expire(at = this.options.now()): void {
    for (const [key, p] of this.pairings)
      if (p.openSince === null && p.endedAt !== null && at > p.endedAt + C.PAIRING_GRACE_MS) this.pairings.delete(key);
  }

  private apply(record: PairingRecord): void {
    const key = pairingKey(record.requester, record.jobId, record.provider);
    let p = this.pairings.get(key);
    if (record.op === 'start') {
      if (!p) {
        p = {
          requester: record.requester,
          jobId: record.jobId,
          provider: record.provider,
          backend: record.backend,
          jobUnits: record.jobUnits,
          pairedMs: 0,
          openSince: null,
          endedAt: null,
          units: 0,
          flops: 0,
        };
        this.pairings.set(key, p);
      }
      p.backend = record.backend;
      p.jobUnits = Math.max(p.jobUnits, record.jobUnits);
      if (p.openSince === null) p.openSince = record.at;
      p.endedAt = null;
      return;
    }
    if (!p || p.openSince === null) return;
    p.pairedMs += Math.max(0, record.at - p.openSince);
    p.openSince = null;
    p.endedAt = record.at;
  }

  private persist(record: PairingRecord): void {
    this.file.append(record);
  }
}

function pairedMs(p: Pairing, at: number): number {
  return p.pairedMs + (p.openSince === null ? 0 : Math.max(0, at - p.openSince));
}
