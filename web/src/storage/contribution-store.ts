/**
 * The provider's own tally of work done, by UTC day, kept in IndexedDB under
 * `contribution:<YYYY-MM-DD>` so "units done" survives a reload like the
 * receipts do. Receipts are the proof (signed by requesters); this tally also
 * counts units no receipt covers yet. Values read back are validated.
 */
import * as v from 'valibot';
import type { KeyValueStore } from './kv';

const PREFIX = 'contribution:';
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

export const DayTallySchema = v.strictObject({
  day: v.pipe(v.string(), v.regex(DAY)),
  units: Count,
  rows: Count,
  computeMs: v.pipe(v.number(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
});
export type DayTally = v.InferOutput<typeof DayTallySchema>;

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class ContributionStore {
  private readonly days = new Map<string, DayTally>();
  private loaded?: Promise<number>;
  /** Writes run one after another, so two quick units never overwrite each other's count. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KeyValueStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads the stored days; returns how many were unreadable and skipped. */
  load(): Promise<number> {
    this.loaded ??= (async () => {
      let skipped = 0;
      for (const key of await this.kv.keys(PREFIX)) {
        const parsed = v.safeParse(DayTallySchema, await this.kv.get(key));
        if (parsed.success && key === PREFIX + parsed.output.day) this.days.set(parsed.output.day, parsed.output);
        else skipped++;
      }
      return skipped;
    })();
    return this.loaded;
  }

  async record(rows: number, computeMs: number): Promise<void> {
    await this.load();
    const day = dayOf(this.now());
    const old = this.days.get(day) ?? { day, units: 0, rows: 0, computeMs: 0 };
    const next = { day, units: old.units + 1, rows: old.rows + rows, computeMs: old.computeMs + computeMs };
    this.days.set(day, next);
    this.writing = this.writing.then(() => this.kv.set(PREFIX + day, this.days.get(day)));
    await this.writing;
  }

  /** Days with work, oldest first. */
  byDay(): DayTally[] {
    return [...this.days.values()].sort((a, b) => a.day.localeCompare(b.day));
  }

  lifetime(): { units: number; rows: number; computeMs: number } {
    let units = 0;
    let rows = 0;
    let computeMs = 0;
    for (const d of this.days.values()) {
      units += d.units;
      rows += d.rows;
      computeMs += d.computeMs;
    }
    return { units, rows, computeMs };
  }
}
